/*
 * probe_k8s.c — drives src/k8s.c and src/drain.c against test/fakes/fake_k8s.py.
 *
 *   probe k8s [options] cordon NODE
 *   probe k8s [options] uncordon NODE     (undoes what the Node's cordon record says)
 *   probe k8s [options] drain NODE        (cordons beside the drain, as the daemon
 *                                         does, unless --no-cordon)
 *   probe k8s [options] list NODE
 *   probe k8s [options] event NODE TYPE REASON MESSAGE
 *
 * Options (each sets the config key of the same meaning; defaults are the
 * built-in ones):
 *   --api URL                 api_server
 *   --token-file F            token_file
 *   --ca F                    ca_file
 *   --client-cert F --client-key F
 *   --server-name N           tls_server_name
 *   --kubeconfig F            kubeconfig
 *   --eks-cluster C           eks_cluster_name
 *   --region R                region (an EKS token's, unless the kubeconfig names one)
 *   --sts URL                 sts_endpoint
 *   --aws-ca F                aws_ca_file
 *   --eks-refresh-ms N        make the EKS token again this often (default 5 minutes)
 *   --taint T                 taint ("" for none)
 *   --no-lb                   exclude_from_lb = false
 *   --no-emptydir             delete_emptydir_data = false
 *   --no-force                force = false
 *   --concurrency N           eviction_concurrency
 *   --pdb-retry-ms N          pdb_retry_interval
 *   --delete-blocked-at-ms N  delete_blocked_at (0: never)
 *   --no-events               events = false
 *   --dry-run
 *   --pod-name N --pod-namespace NS   despotify's own pod
 *   --deadline-s S            the deadline, from the start (default 30)
 *   --no-cordon               drain: skip the cordon
 *   --cause C                 cordon, drain: record C on the Node as the cordon's cause
 *                             (k8s_cordon_record); without it nothing is recorded
 *   --event-thread            drain: post an Event from a second thread every 100 ms
 *                             meanwhile (k8s_event's thread safety)
 *   --level LEVEL             log level of the modules' lines on stderr (default DEBUG)
 *
 * Output on stdout:
 *   cordon: "cordon rc=0 ms=N" (and "error ..." on failure)
 *   uncordon: "uncordon rc=0 undone=0|1 cause=C did=N" (and "error ..." on failure)
 *   drain:  "cordon rc=N ms=N", then "result rc=N found=N evicted=N deleted=N gone=N skipped=N
 *           left=N terminating=N deadline_hit=N cordon_ms=N last_eviction_ms=N total_ms=N token_reads=N",
 *           one "left NS/NAME" line per name kept, "summary ..." (drain_result_summary),
 *           "events_posted=N" with --event-thread, and "vmhwm_kb=N cpu_ms=N" (peak
 *           memory, CPU time used)
 *   list:   one "pod NS/NAME uid=U grace=G flags=F" line per pod, then "count=N"
 *   event:  "event done"
 * Exit status: 0 if the command worked (drain: nothing left), 1 otherwise, 2 on usage errors.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "drain.h"
#include "k8s.h"
#include "log.h"
#include "probe.h"
#include "util.h"

extern char **environ;

static int
usage(void)
{
	fprintf(stderr, "usage: probe k8s [options] cordon NODE | uncordon NODE | drain NODE | list NODE | "
	    "event NODE TYPE REASON MESSAGE (see probe_k8s.c)\n");
	return 2;
}

static long
vmhwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static long
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
}

static int
print_pod(void *arg, const struct k8s_pod *p)
{
	int *n = arg;

	printf("pod %s/%s uid=%s grace=%d flags=%u\n", p->ns, p->name, p->uid, p->grace, p->flags);
	(*n)++;
	return 0;
}

struct evthread {
	struct k8s *k;
	const char *node;
	int stop;                   /* atomic: set by the main thread */
	int posted;
};

/* The drain command's cordon, on a thread of its own as in the daemon. */
struct cordon_job {
	struct k8s *k;
	const char *node;
	const char *cause;
	int64_t *deadline;
	struct drain_ctl *ctl;
	struct k8s_cordon_result *cr;
	int rc;
};

static void
cordon_answered(void *arg)
{
	drain_ctl_open(arg);
}

static void *
cordon_main(void *arg)
{
	struct cordon_job *cj = arg;

	/* k8s_cordon calls cordon_answered once, at the latest when it returns. */
	cj->rc = k8s_cordon(cj->k, cj->node, cj->cause, cj->deadline, cordon_answered, cj->ctl, cj->cr);
	return NULL;
}

static void *
event_loop(void *arg)
{
	struct evthread *et = arg;

	while (!__atomic_load_n(&et->stop, __ATOMIC_ACQUIRE)) {
		k8s_event(et->k, et->node, "Normal", "ProbeTick", "tick %d from a second thread",
		    et->posted);
		et->posted++;
		util_sleep_ms(100);
	}
	return NULL;
}

static void
set(char *dst, const char *v)
{
	snprintf(dst, CONFIG_MAX_STR, "%s", v);
}

int
probe_k8s(int argc, char **argv)
{
	static struct config cfg;
	static struct k8s k;
	static struct drain_result r;
	struct log lg;
	enum log_level level = LV_DEBUG;
	char err[1024], summary[4096];
	char *empty_env[] = { NULL };
	double deadline_s = 30;
	int i, no_cordon = 0, event_thread = 0, rc, n;
	const char *cause = NULL;
	int64_t t0, deadline, eks_refresh_ms = 0;
	const char *cmd, *node;

	if (config_load(&cfg, "/nonexistent/despotify.ini", 0, empty_env, err, sizeof err) < 0) {
		fprintf(stderr, "probe k8s: config: %s\n", err);
		return 1;
	}
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--no-lb") == 0) {
			cfg.exclude_from_lb = 0;
		} else if (strcmp(o, "--no-emptydir") == 0) {
			cfg.delete_emptydir_data = 0;
		} else if (strcmp(o, "--no-force") == 0) {
			cfg.force = 0;
		} else if (strcmp(o, "--no-events") == 0) {
			cfg.events = 0;
		} else if (strcmp(o, "--dry-run") == 0) {
			cfg.dry_run = 1;
		} else if (strcmp(o, "--no-cordon") == 0) {
			no_cordon = 1;
		} else if (strcmp(o, "--event-thread") == 0) {
			event_thread = 1;
		} else if (v == NULL) {
			return usage();
		} else {
			i++;
			if (strcmp(o, "--api") == 0)
				set(cfg.api_server, v);
			else if (strcmp(o, "--token-file") == 0)
				set(cfg.token_file, v);
			else if (strcmp(o, "--ca") == 0)
				set(cfg.ca_file, v);
			else if (strcmp(o, "--client-cert") == 0)
				set(cfg.client_cert_file, v);
			else if (strcmp(o, "--client-key") == 0)
				set(cfg.client_key_file, v);
			else if (strcmp(o, "--server-name") == 0)
				set(cfg.tls_server_name, v);
			else if (strcmp(o, "--kubeconfig") == 0)
				set(cfg.kubeconfig, v);
			else if (strcmp(o, "--eks-cluster") == 0)
				set(cfg.eks_cluster_name, v);
			else if (strcmp(o, "--region") == 0)
				set(cfg.region, v);
			else if (strcmp(o, "--sts") == 0)
				set(cfg.sts_endpoint, v);
			else if (strcmp(o, "--aws-ca") == 0)
				set(cfg.aws_ca_file, v);
			else if (strcmp(o, "--eks-refresh-ms") == 0)
				eks_refresh_ms = atoll(v);
			else if (strcmp(o, "--cause") == 0)
				cause = v;
			else if (strcmp(o, "--taint") == 0)
				set(cfg.taint, v);
			else if (strcmp(o, "--pod-name") == 0)
				set(cfg.pod_name, v);
			else if (strcmp(o, "--pod-namespace") == 0)
				set(cfg.pod_namespace, v);
			else if (strcmp(o, "--concurrency") == 0)
				cfg.eviction_concurrency = atoi(v);
			else if (strcmp(o, "--pdb-retry-ms") == 0)
				cfg.pdb_retry_interval_ms = atoll(v);
			else if (strcmp(o, "--delete-blocked-at-ms") == 0)
				cfg.delete_blocked_at_ms = atoll(v);
			else if (strcmp(o, "--deadline-s") == 0)
				deadline_s = atof(v);
			else if (strcmp(o, "--level") == 0) {
				if (log_level_parse(v, &level) < 0)
					return usage();
			} else
				return usage();
		}
	}
	if (i + 2 > argc)
		return usage();
	cmd = argv[i];
	node = argv[i + 1];
	log_init(&lg, level, 0);
	t0 = util_now_ms();
	deadline = t0 + (int64_t)(deadline_s * 1000);
	if (k8s_init(&k, &cfg, &lg, environ, err, sizeof err) < 0) {
		printf("init error %s\n", err);
		return 1;
	}
	if (eks_refresh_ms > 0)
		k.eks_refresh_ms = eks_refresh_ms;
	rc = 1;
	if (strcmp(cmd, "cordon") == 0) {
		struct k8s_cordon_result cr;

		rc = k8s_cordon(&k, node, cause, &deadline, NULL, NULL, &cr) == 0 ? 0 : 1;
		printf("cordon rc=%d ms=%lld tainted=%d taint_refused=%d\n", rc,
		    (long long)(util_now_ms() - t0), cr.tainted, cr.taint_refused);
		if (rc != 0)
			printf("error %s\n", cr.err);
	} else if (strcmp(cmd, "uncordon") == 0) {
		struct k8s_cordon_record rec;

		n = k8s_uncordon(&k, node, deadline, NULL, NULL, &rec, err, sizeof err);
		rc = n < 0;
		printf("uncordon rc=%d undone=%d cause=%s did=%u\n", rc, n > 0, n > 0 ? rec.cause : "",
		    n > 0 ? rec.did : 0);
		if (rc != 0)
			printf("error %s\n", err);
	} else if (strcmp(cmd, "list") == 0) {
		n = 0;
		rc = k8s_list_pods(&k, node, print_pod, &n, deadline, NULL, err, sizeof err) < 0;
		printf("count=%d\n", n);
		if (rc != 0)
			printf("error %s\n", err);
	} else if (strcmp(cmd, "event") == 0) {
		if (i + 5 > argc) {
			k8s_close(&k);
			return usage();
		}
		k8s_event(&k, node, argv[i + 2], argv[i + 3], "%s", argv[i + 4]);
		printf("event done\n");
		rc = 0;
	} else if (strcmp(cmd, "drain") == 0) {
		struct evthread et = { &k, node, 0, 0 };
		struct k8s_cordon_result cr = { .ms = -1 };
		struct drain_ctl ctl;
		pthread_t tid;
		int crc = 0, started = 0;

		/* As the daemon does: the cordon beside the drain, whose evictions wait for its first answer. */
		struct cordon_job cj = { &k, node, cause, &deadline, &ctl, &cr, 0 };
		pthread_t ctid;
		int cstarted = 0;

		drain_ctl_init(&ctl, deadline, no_cordon);
		if (!no_cordon && !(cstarted = pthread_create(&ctid, NULL, cordon_main, &cj) == 0))
			drain_ctl_open(&ctl);
		if (event_thread)
			started = pthread_create(&tid, NULL, event_loop, &et) == 0;
		rc = drain_node(&k, node, &ctl, &r) == 0 ? 0 : 1;
		if (cstarted) {
			pthread_join(ctid, NULL);
			crc = cj.rc;
			printf("cordon rc=%d ms=%lld\n", crc, (long long)cr.ms);
			if (crc != 0)
				printf("cordon error %s\n", cr.err);
		}
		drain_ctl_destroy(&ctl);
		if (started) {
			__atomic_store_n(&et.stop, 1, __ATOMIC_RELEASE);
			pthread_join(tid, NULL);
			printf("events_posted=%d\n", et.posted);
		}
		printf("result rc=%d found=%d evicted=%d deleted=%d gone=%d skipped=%d left=%d "
		    "terminating=%d deadline_hit=%d cordon_ms=%lld last_eviction_ms=%lld total_ms=%lld "
		    "token_reads=%u cert_loads=%u\n",
		    rc, r.found, r.evicted, r.deleted, r.gone, r.skipped, r.left, r.terminating,
		    r.deadline_hit,
		    (long long)cr.ms, (long long)r.last_eviction_ms, (long long)r.total_ms,
		    k.token_reads, k.cert_loads);
		for (n = 0; n < r.nleft_names; n++)
			printf("left %s\n", r.left_names[n]);
		printf("summary %s\n", drain_result_summary(&r, summary, sizeof summary));
		printf("vmhwm_kb=%ld cpu_ms=%ld\n", vmhwm_kb(), cpu_ms());
	} else {
		k8s_close(&k);
		return usage();
	}
	fflush(stdout);
	k8s_close(&k);
	return rc;
}
