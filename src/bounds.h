/*
 * bounds.h — every size limit despotify enforces, in one place.
 *
 * Going over any of these is an error with a message naming the limit, never
 * a silent truncation and never a crash. The numbers are sized for the
 * largest legitimate input seen from IMDS, AWS and the Kubernetes API, with
 * room to spare, while keeping the whole process within a few MiB.
 */
#ifndef DESPOTIFY_BOUNDS_H
#define DESPOTIFY_BOUNDS_H

/* Waits a server asks for (Retry-After, util_retry_after_cap). */
#define RETRY_AFTER_MAX_MS 30000        /* a throttled request is tried again at least this often */
#define RETRY_AFTER_LEFT_DIV 4          /* and never waits more than a quarter of the time left */

/* Configuration. */
#define INI_MAX_FILE      (64 * 1024)   /* bytes in despotify.ini */
#define INI_MAX_LINE      1024          /* bytes in one line of it */
#define CONFIG_MAX_STR    512           /* bytes in one string setting (URLs, paths, names) */
#define CONFIG_MAX_WARN   8             /* warnings kept while loading the config */

/* Kubeconfig (yaml.c, kubeconfig.c). */
#define YAML_MAX_FILE     (256 * 1024)  /* bytes in a kubeconfig: a few clusters, each with ~3 KiB of base64 CA */
#define YAML_MAX_DEPTH    32            /* nested blocks; kubeconfigs use 6 */
#define KUBECONFIG_MAX_NODES 4096       /* YAML nodes in one kubeconfig (~20 per cluster, user or context) */
#define KUBECONFIG_MAX_ARGS 16          /* arguments of an exec credential plugin */

/* Logging. */
#define LOG_MAX_LINE      2048          /* bytes in one formatted log line; longer messages are cut with "..." */

/* Files read at run time (tokens, keys, certificates). */
#define FILE_MAX_TOKEN    (16 * 1024)   /* a service-account or web-identity token */
#define FILE_MAX_PEM      (512 * 1024)  /* a PEM bundle of CA certificates or a key */

/* URLs. */
#define URL_MAX_HOST      256
#define URL_MAX_PATH      2048

/* HTTP. */
#define HTTP_MAX_HEAD     (16 * 1024)   /* status line + headers of one response */
#define HTTP_MAX_HEADERS  64            /* header fields in one response */
#define HTTP_MAX_REQ_HEAD (8 * 1024)    /* request line + headers we send */
#define HTTP_MAX_CHUNK_LINE 256         /* one chunk-size line with extensions */
#define HTTP_IDLE_REUSE_MS 50000        /* don't reuse a keep-alive connection idle longer */
#define HTTP_MAX_INTERIM  8             /* 1xx responses skipped before the final one */

/* TLS. */
#define TLS_MAX_EE_CERT   (16 * 1024)   /* a server certificate checked against an IP address */

/* JSON. */
#define JSON_MAX_TOKENS   8192          /* tokens in one parsed document */
#define JSON_MAX_DEPTH    64            /* nesting of objects and arrays */
#define JSON_STREAM_MAX_KEY 64          /* a root member's name a streamed list matches (longer: no match) */

/* XML (AWS Query API responses). */
#define XML_MAX_DEPTH     32            /* nested elements */
#define XML_MAX_DOC       (256 * 1024)  /* bytes in one document */

/* AWS: SigV4, credentials and the Auto Scaling / STS calls. */
#define SIGV4_MAX_HEADERS 16            /* headers signed in one request (besides date and token) */
#define SIGV4_MAX_QUERY_PARAMS 32       /* query parameters in a signed URL */
#define SIGV4_MAX_CANON   (8 * 1024)    /* bytes of one canonical request */
#define SIGV4_MAX_AUTH    1024          /* bytes of one Authorization header */
#define AWS_MAX_KEY       128           /* an access key id or a secret access key */
#define AWS_MAX_TOKEN     4096          /* a session token (it travels in a request header) */
#define AWS_MAX_RESPONSE  (64 * 1024)   /* body of one Auto Scaling, STS or credentials response */
#define AWS_EKS_TOKEN_MAX (6 * 1024)   /* "k8s-aws-v1." + base64url(presigned URL): ~3 KiB with a session token; it travels in a header */
#define AWS_EKS_TOKEN_EXPIRES 60        /* X-Amz-Expires of the presigned URL, as aws-iam-authenticator sets it */
#define AWS_MAX_REQ_BODY  (4 * FILE_MAX_TOKEN) /* an STS body carries the web-identity token */

/* IMDS: notices, instance facts, role credentials. */
#define IMDS_MAX_BODY     (16 * 1024)   /* one IMDS response body */
#define IMDS_MAX_JSON_TOKENS 512        /* tokens in one IMDS JSON body (a custom notice's list too) */
#define IMDS_MAX_TOKEN    256           /* an IMDSv2 session token (AWS's are 56 bytes) */
#define IMDS_MAX_FACT     128           /* an instance id, type, region, zone, account or IP */
#define IMDS_MAX_HOSTNAME 256           /* local-hostname */
#define IMDS_MAX_EVENTS   16            /* scheduled events in one document (AWS lists a handful) */
#define IMDS_MAX_EVENT_ID 64            /* an EventId, "instance-event-0d59937288b749b32" */
#define IMDS_MAX_EVENT_CODE 32          /* an event Code, "instance-retirement" */
#define IMDS_MAX_ROLE     128           /* an IAM role name (AWS allows 64) */
#define IMDS_MAX_KEY      AWS_MAX_KEY   /* an access key id or secret access key */
#define IMDS_MAX_SESSION_TOKEN AWS_MAX_TOKEN /* a role credential's session token */
#define IMDS_BACKOFF_MAX_MS 10000       /* longest wait between failing polls (notices give 120 s) */

/* Kubernetes API (k8s.c, drain.c). */
#define K8S_MAX_NS        64            /* a namespace: a DNS label, 63 bytes */
#define K8S_MAX_NAME      254           /* a pod or node name: a DNS subdomain, 253 bytes */
#define K8S_MAX_UID       64            /* an object uid (36 bytes in practice) */
#define K8S_MAX_RV        64            /* a resourceVersion */
#define K8S_MAX_TAINT_KEY 318           /* "prefix/name": 253 + 1 + 63 */
#define K8S_MAX_TAINT_VALUE 64          /* a label value: 63 bytes */
#define K8S_MAX_CAUSE     96            /* why despotify cordoned a node: "maintenance/" + an EventId */
#define K8S_MAX_TAINTS    64            /* taints on one node (the patch keeps them all) */
#define K8S_MAX_BODY      (1024 * 1024) /* one Node */
#define K8S_MAX_TOKENS    16384         /* JSON tokens in one Node */
#define K8S_MAX_POD       (1024 * 1024) /* one pod of a streamed PodList (etcd's object limit is 1.5 MiB; real pods are 10-300 KB) */
#define K8S_POD_MAX_TOKENS 131072       /* JSON tokens in one such pod (real pods: one per ~10 bytes) */
#define K8S_MAX_PAGE      (512LL * 1024 * 1024) /* one streamed PodList page: 500 pods near the pod cap */
#define K8S_MAX_SMALL_BODY (64 * 1024)  /* an eviction, deletion (the whole pod) or event response */
#define K8S_MAX_SMALL_TOKENS 512        /* JSON tokens in one such response */
#define K8S_MAX_REQ_BODY  (64 * 1024)   /* a node patch (it carries every existing taint) */
#define K8S_MAX_CONTINUE  1024          /* a list continue token */
#define K8S_LIST_LIMIT    500           /* pods asked for in one page, as kubectl drain does */
#define K8S_MAX_PODS      4096          /* pods on one node tracked by a drain */
#define K8S_MAX_EVENT_MSG 1024          /* the message of one Event */
#define K8S_EVENT_TIMEOUT_MS 2000       /* an Event is best effort: never waited on longer */
#define K8S_EVENT_PAUSE_MS 10000        /* after a failed Event, the next ones are dropped this long */
#define K8S_RETRY_MIN_MS  200           /* first backoff after a transient fault */
#define K8S_RETRY_MAX_MS  5000          /* longest backoff between tries of one request */
#define K8S_GRACE_MARGIN_MS 5000        /* eviction grace ends this long before the deadline */
#define K8S_WAIT_POLL_MS  1500          /* re-list period while waiting for evicted pods to go */
#define K8S_REQUEST_TIMEOUT_MS 10000   /* one API request, so that a hung one is retried in time */
#define K8S_REPORT_RESERVE_MS 1000     /* a drain stops this long before its deadline to report */
#define K8S_MAX_TLS_RETIRED 16         /* client certificate rotations kept loaded (the kubelet rotates yearly) */
#define K8S_EKS_TOKEN_REFRESH_MS (5 * 60 * 1000)  /* an EKS token is made again this old (valid 15 min) */
#define K8S_EKS_TOKEN_MAX_AGE_MS (13 * 60 * 1000) /* never sent older: 2 minutes' margin for clock skew */
#define DRAIN_ADVISORY_LIST_MS 15000   /* one listing of an advisory drain (it has no deadline) */
#define DRAIN_MAX_LEFT    32            /* names of pods left kept in a drain result */
#define DRAIN_MAX_WORKERS 64            /* eviction_concurrency is capped here */
#define DRAIN_WORKER_STACK (256 * 1024) /* stack of one eviction thread */

/* The /healthz and /metrics listener (serve.c) and its counters (metrics.c). */
#define SERVE_MAX_CONNS   8             /* clients served at once (a probe and a scraper need two); more get 503 */
#define SERVE_MAX_REQ_HEAD 4096         /* request line + headers of one request (curl sends ~100 bytes); over: 431 */
#define SERVE_READ_MS     2000          /* the whole request head must arrive within this, else 408 */
#define SERVE_WRITE_MS    2000          /* a client must take its answer within this, else it is dropped */
#define SERVE_LINGER_MS   500           /* after answering, unread request bytes are drained this long so a reset does not eat the answer */
#define SERVE_LINGER_MAX  (64 * 1024)   /* ... and no more than this many bytes */
#define SERVE_MAX_BODY    (16 * 1024)   /* one response body; /metrics is about 6 KiB with fixed labels */
#define SERVE_ACCEPT_BURST 64           /* connections accepted per wake-up, so a flood cannot starve the clients being served */
#define SERVE_BACKLOG     128           /* pending connections the kernel queues for us */
#define SERVE_WAIT_MS     1000          /* longest poll() of the listener, so a stop is noticed without a wake-up too */
#define SERVE_MAX_METHOD  16            /* bytes of a request method; longer is garbage (400) */
#define SERVE_STACK       (128 * 1024)  /* the listener thread's stack: its buffers live in struct serve */
#define METRICS_MAX_REASON 256          /* the IMDS error /healthz reports (longer ones are cut with "...": a message, not data) */

#endif
