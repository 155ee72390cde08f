#!/usr/bin/python3
"""fake_k8s.py — a fake Kubernetes API server for despotify's tests, demo and
benchmarks. Standard library only.

It speaks HTTP/1.1 with keep-alive over TLS (or plain HTTP with --plain) and
answers the small part of the API that despotify and `kubectl drain` use,
with the JSON shapes a real API server returns:

  GET    /api /apis /api/v1 /apis/policy/v1 /apis/apps/v1 /version   discovery (for kubectl)
  GET    /api/v1/nodes[/NAME]                                        NodeList / Node
  PATCH  /api/v1/nodes/NAME        application/merge-patch+json       RFC 7386 merge patch
                                   application/strategic-merge-patch+json
                                   (strategic merge as the real server does it for a Node:
                                   spec.taints is an atomic list and is replaced whole,
                                   status.conditions/addresses merge by "type",
                                   metadata.ownerReferences by "uid", $patch/$setElementOrder
                                   directives understood). A metadata.resourceVersion in the
                                   patch that is not the current one gives 409 Conflict.
                                   Taints are validated (effect, no duplicate key+effect: 422).
  PUT    /api/v1/nodes/NAME        replace (resourceVersion checked)
  GET    /api/v1/pods, /api/v1/namespaces/NS/pods
         ?fieldSelector=spec.nodeName%3DN,status.phase!=X&labelSelector=a=b&limit=N&continue=T
                                   PodList, sorted by namespace/name, paginated with real-looking
                                   continue tokens (base64 JSON) and remainingItemCount; over
                                   50 items it is streamed as kube-apiserver 1.33+ does: chunked,
                                   metadata first, items encoded and sent as they come
  GET    /api/v1/namespaces/NS/pods/NAME                              Pod / 404 Status
  DELETE /api/v1/namespaces/NS/pods/NAME[?gracePeriodSeconds=N]       body DeleteOptions allowed
                                   (preconditions.uid / resourceVersion checked: 409 if stale,
                                   for deletions and evictions alike)
  POST   /api/v1/namespaces/NS/pods/NAME/eviction                     policy/v1 (or v1beta1) Eviction:
                                   201 Success Status; 404 if the pod is gone; PDBs honoured:
                                   one PDB with no disruption allowed -> 429 "Cannot evict pod as it
                                   would violate the pod's disruption budget."; two or more PDBs
                                   covering the pod -> 500 "This pod has more than one
                                   PodDisruptionBudget, which the eviction subresource does not support."
  GET    /apis/apps/v1/namespaces/NS/daemonsets/NAME                 for kubectl drain's DaemonSet check
  GET    /apis/policy/v1/[namespaces/NS/]poddisruptionbudgets        PDBs with status computed
  POST   /api/v1/namespaces/NS/events                                Event recorded (201)

Authentication: "Authorization: Bearer T" with T one of the accepted tokens
(--token, POST /_fake/tokens to rotate), or a client certificate signed by
--client-ca. Anything else: 401 with the real Status body. /_fake/* needs none.

Node identities, as a kubelet has: a client certificate with CN
"system:node:N" and O "system:nodes", or an EKS token ("k8s-aws-v1." +
base64url of a presigned STS GetCallerIdentity URL) checked the way
aws-iam-authenticator does: the URL decoded; https, the host of --sts-url,
path "/", Action=GetCallerIdentity, x-k8s-aws-id among the signed headers,
X-Amz-Date no more than 15 minutes old; then the URL is fetched from the
(fake) STS with "x-k8s-aws-id: --eks-cluster", which verifies the signature,
and the caller's role (the assumed-role ARN made an IAM role ARN) is mapped
to a node by --eks-role ARN=NODE. Either way the user is "system:node:N" in
group system:nodes, and NodeRestriction applies, with the real messages
(403 Forbidden): a node may patch only its own Node ('nodes "M" is
forbidden: node "N" is not allowed to modify node "M"'), not its taints
('node "N" is not allowed to modify taints') nor labels under kubernetes.io
or k8s.io but node.kubernetes.io/ and kubelet.kubernetes.io/ ('is not
allowed to modify labels: ...'), and may evict or delete only pods bound to
it ('node N can only evict pods with spec.nodeName set to itself', 'node "N"
can only delete pods with spec.nodeName set to itself'). Lists, reads and
Events are allowed, as the system:node role and the Node authorizer allow
them for what despotify asks.

Pods that are evicted or deleted get metadata.deletionTimestamp and go away
after min(their grace period, their "terminate_s") seconds (default
--terminate-s 0: at once). A pod owned by a ReplicaSet, StatefulSet or
ReplicationController that goes away is replaced, after --replace-delay-s
seconds (-1: never), by a Running pod on --replacement-node, as its
controller would do; that is what lets a PDB allow the next eviction.

Options:
  --port N (0: pick one)  --port-file F (the chosen port is written there)
  --bind 127.0.0.1        --plain (HTTP instead of HTTPS)
  --cert F --key F        server certificate and key (test/lib/pki.py server_crt/server_key)
  --client-ca F           trust client certificates signed by this CA
  --token T               an accepted bearer token (repeatable)
  --sts-url URL           the STS that EKS tokens must name (and are checked against), e.g.
                          test/fakes/fake_aws.py's https://127.0.0.1:PORT
  --sts-ca F              the CA to trust for --sts-url
  --eks-cluster C         the cluster id EKS tokens must be for (x-k8s-aws-id)
  --eks-role ARN=NODE     an IAM role whose sessions are node NODE (repeatable)
  --latency-ms N          added to every API request (not /_fake) before it is answered
  --rate-limit RPS        token bucket over all API requests; past it: 429 + Retry-After: 1 (APF)
  --terminate-s S         default seconds a pod takes to go away after eviction/deletion
  --replace-delay-s S     controller replacement delay (default 1; -1: no replacements)
  --replacement-node N    node the replacements land on (default "replacement-node")
  --start-delay-s S       bind the port (and write the port file) but accept no connection
                          for S seconds: clients get "connection refused" (API server down)
  --log F                 append one line per request (method path status ms) to F
  --seed F                JSON list of [control-endpoint, body] pairs applied before the first
                          connection is accepted, e.g. [["node", {"name": "n1"}],
                          ["generate", {"node": "n1", "count": 20}]] (useful with --start-delay-s)

Control API (no auth, JSON bodies, all answer JSON):
  POST /_fake/reset      {}                           forget everything (keeps tokens/options)
  POST /_fake/node       {"name", "labels":{}, "taints":[{key,value,effect}], "unschedulable":false,
                          "annotations":{}}           create or replace a node
  POST /_fake/pods       {"node", "pods":[SPEC...]}   add pods; SPEC = {"name", "namespace":"default",
                          "owner":"ReplicaSet|StatefulSet|DaemonSet|Job|ReplicationController|Node|none",
                          "owner_name", "labels":{}, "annotations":{}, "emptydir":false, "mirror":false,
                          "phase":"Running", "grace":30 (null: field absent), "terminate_s":S}
                          or {"raw": POD_JSON}
  POST /_fake/generate   {"node", "count":110, "prefix":"pod", "mix":true, "namespace":"default",
                          "size":null, "big":[[INDEX, BYTES]...]}
                          makes count pods; with mix, by index i: i%10==0 DaemonSet, i%10==1 no
                          controller, i%10==2 emptyDir (ReplicaSet), i%20==3 mirror, i%20==4
                          Succeeded (Job), i%20==5 StatefulSet, else ReplicaSet; without mix
                          all ReplicaSet-owned. size: null for small pods, "production" or a
                          byte count for production-shaped ones (test/lib/prodpod.py: sidecar,
                          init container, env, probes, managedFields); big: pods of their own
                          size (the long tail). Returns the names by category.
  POST /_fake/nodes      {"count":200, "prefix":"node-", "pods_per_node":110, "mix":true, "size":null}  many nodes
  POST /_fake/pdbs       {"pdbs":[{"name","namespace","selector":{labels},"minAvailable"|"maxUnavailable":
                          N or "N%"}]} replace the PDB set
  POST /_fake/tokens     {"tokens":[...]}             replace the accepted tokens (rotation)
  POST /_fake/config     {"latency_ms", "rate_limit", "terminate_s", "replace_delay_s",
                          "node_restriction_taints": true}  change options; the last refuses every change
                          of a node's taints with NodeRestriction's 403 (node_restriction_taints())
  POST /_fake/conflicts  {"node", "count":N}          the next N writes to the node first meet a
                          concurrent change (a label fake/concurrent-K and a new resourceVersion),
                          so a write carrying the old resourceVersion gets 409
  POST /_fake/faults     {"rules":[RULE...]} or {"clear":true}; RULE as in test/fakes/fakeserver.py
                          (its FAULTS table is the vocabulary); "path" is searched in the path+query;
                          "status" answers a Status body, and 429 as API Priority and Fairness does
                          (Retry-After: "retry_after", default 1, also in the details)
  POST /_fake/pod_phase  {"namespace","name","phase"} set a pod's phase (a pod finishing by itself)
  POST /_fake/remove_pod {"namespace","name"}         make a pod vanish at once
  GET  /_fake/state[?node=N]   {"node": NODE_JSON, "pods":[{namespace,name,uid,phase,terminating,
                          node}], "evictions":[{namespace,name,node,grace,status,t}],
                          "deletions":[...], "events":[EVENT_JSON...], "requests":{"GET node":3,...},
                          "statuses":{"429":4}, "peak_evictions_inflight":N, "auth_failures":N,
                          "inflight":{"POST eviction":2,...} (requests being answered now),
                          "request_log":[{m,path,status,t,user,eks_age,cert_serial}] (last 5000;
                          eks_age: the EKS token's age in seconds when one authenticated the
                          request; cert_serial: the client certificate's serial number),
                          "forbidden":[{m,path,user,message}] (NodeRestriction's refusals),
                          "eks_rejections":[{reason,t}] (EKS tokens refused, and why)}
                          without node: every node's name, unschedulable and pod count instead.

Times in the state ("t") are seconds on the fake's monotonic clock.
"""
import argparse
import base64
import calendar
import copy
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import fakeserver
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import prodpod  # noqa: E402  (test/lib: production-shaped pods)

REPLACEABLE = ("ReplicaSet", "StatefulSet", "ReplicationController")
LIST_STREAM_MIN = 50         # pod lists longer than this are streamed (chunked, item by item)
LIST_STREAM_CHUNK = 32768    # bytes of items per chunk of a streamed list
CONTROLLER_API = {
    "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
    "Job": "batch/v1", "ReplicationController": "v1", "Node": "v1",
}
REQUEST_LOG_MAX = 5000
BODY_MAX = 3 * 1024 * 1024   # bytes of a request body (kube-apiserver's limit)
EKS_PREFIX = "k8s-aws-v1."
EKS_TOKEN_LIFE_S = 15 * 60


def node_identity(user):
    """The node name of a node identity ("system:node:N", made only for group system:nodes), else None."""
    return user[len("system:node:"):] if user and user.startswith("system:node:") else None


def label_forbidden(key):
    """NodeRestriction: labels under kubernetes.io / k8s.io a node may not change itself, but for the
    node.kubernetes.io/ and kubelet.kubernetes.io/ prefixes and the labels the kubelet sets."""
    if "/" not in key:
        return False
    domain = key.split("/", 1)[0]
    if not (domain in ("kubernetes.io", "k8s.io") or domain.endswith(".kubernetes.io") or domain.endswith(".k8s.io")):
        return False
    if domain.endswith("node.kubernetes.io") or domain.endswith("kubelet.kubernetes.io"):
        return False
    return key not in ("kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
                       "beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
                       "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
                       "topology.kubernetes.io/zone", "topology.kubernetes.io/region")


def now_rfc3339(wall=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall if wall is not None else time.time()))


def status_body(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:   # some errors have none (the eviction's 500 for several PDBs)
        s["reason"] = reason
    if details is not None:
        s["details"] = details
    s["code"] = code   # after details, in the real server's order
    return s


# The "reason" of a validation cause, by the start of its message (as the real server names them).
CAUSE_REASONS = {"Unsupported value": "FieldValueNotSupported", "Duplicate value": "FieldValueDuplicate",
                 "Required value": "FieldValueRequired"}

# Lists whose managedFields entries are keyed by a field ("k:{...}"); other lists are atomic.
MANAGED_LIST_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
                     "ownerReferences": "uid", "volumeMounts": "mountPath", "conditions": "type",
                     "addresses": "type", "ports": "containerPort"}


def fields_v1(obj):
    """A managedFields entry's fieldsV1 for obj: "f:KEY" per field, keyed lists as "k:{...}"."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            out["f:" + k] = dict({".": {}}, **fields_v1(v))
        elif isinstance(v, list) and v and k in MANAGED_LIST_KEYS and all(isinstance(i, dict) for i in v):
            key = MANAGED_LIST_KEYS[k]
            out["f:" + k] = dict({".": {}}, **{"k:" + json.dumps({key: i.get(key)}, separators=(",", ":")):
                                              dict({".": {}}, **fields_v1(i)) for i in v})
        else:
            out["f:" + k] = {}
    return out


def managed_fields(obj, api_version, manager, status_manager=None):
    """metadata.managedFields as the real server keeps them (server-side apply's
    record of who set what; every object it returns carries them): one
    Update entry for what manager wrote, one for status_manager's status."""
    md = {k: v for k, v in obj.get("metadata", {}).items()
          if k in ("labels", "annotations", "generateName", "ownerReferences")}
    main = dict({k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}, metadata=md)
    when = obj.get("metadata", {}).get("creationTimestamp") or now_rfc3339()
    entry = lambda m, f: {"manager": m, "operation": "Update", "apiVersion": api_version, "time": when,
                          "fieldsType": "FieldsV1", "fieldsV1": fields_v1(f)}
    out = [entry(manager, main)]
    if status_manager and obj.get("status"):
        out.append(dict(entry(status_manager, {"status": obj["status"]}), subresource="status"))
    return out


def success_status(code=201):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, details)
        self.headers = headers or {}


def check_preconditions(pre, pod):
    """DeleteOptions.preconditions: a uid (or resourceVersion) that is not the pod's -> 409."""
    if not isinstance(pre, dict):
        return
    md = pod["metadata"]
    for k in ("uid", "resourceVersion"):
        if pre.get(k) is not None and pre[k] != md.get(k):
            raise ApiError(409, "Conflict", f'Precondition failed: {k.upper() if k == "uid" else k} in precondition: '
                           f'{pre[k]}, {k.upper() if k == "uid" else k} in object meta: {md.get(k)}',
                           {"name": md["name"], "kind": "pods"})


def not_found(kind, name):
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


# ---- patches -------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# Lists of a Node that strategic merge merges by a key; every other list is
# atomic (replaced whole), spec.taints included (NodeSpec.Taints carries no
# patchStrategy in k8s.io/api).
SMP_MERGE_KEYS = {
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",
    ("status", "images"): None,
}
SMP_PRIMITIVE_MERGE = {("metadata", "finalizers"), ("spec", "podCIDRs")}


def strategic_merge(target, patch, path=()):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k == "$retainKeys" or k == "$patch":
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list) and isinstance(v, list):
                out[name] = [x for x in out[name] if x not in v]
            continue
        sub = path + (k,)
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and sub in SMP_MERGE_KEYS and SMP_MERGE_KEYS[sub]:
            key = SMP_MERGE_KEYS[sub]
            cur = [copy.deepcopy(x) for x in (out.get(k) or [])]
            for item in v:
                if not isinstance(item, dict):
                    raise ApiError(400, "BadRequest", f"{'.'.join(sub)}: element is not an object")
                idx = next((i for i, x in enumerate(cur) if x.get(key) == item.get(key)), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        del cur[idx]
                elif idx is None:
                    cur.append({a: b for a, b in item.items() if a != "$patch"})
                else:
                    cur[idx] = strategic_merge(cur[idx], item, sub)
            out[k] = cur
        elif isinstance(v, list) and sub in SMP_PRIMITIVE_MERGE:
            cur = list(out.get(k) or [])
            for x in v:
                if x not in cur:
                    cur.append(x)
            out[k] = cur
        elif isinstance(v, dict):
            r = strategic_merge(out.get(k), v, sub)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        else:
            out[k] = copy.deepcopy(v)
    return out


def node_restriction_taints(name, old, new):
    """NodeRestriction's rule for a node's own identity: it may make its Node
    unschedulable and label it, but not change its taints. Returns the error
    the real API server answers for a change of taints, or None."""
    if (old.get("spec", {}).get("taints") or []) == (new.get("spec", {}).get("taints") or []):
        return None
    return ApiError(403, "Forbidden", f'nodes "{name}" is forbidden: node "{name}" is not allowed to modify taints',
                    {"name": name, "kind": "nodes"})


def validate_node(node):
    errs = []
    labels = node.get("metadata", {}).get("labels") or {}
    if not isinstance(labels, dict):
        errs.append("metadata.labels: Invalid value: must be an object")
    else:
        for k, v in labels.items():
            if not isinstance(v, str):
                errs.append(f"metadata.labels: Invalid value: {json.dumps(v)}: label values must be strings")
    taints = node.get("spec", {}).get("taints") or []
    if not isinstance(taints, list):
        errs.append("spec.taints: Invalid value: must be a list")
        taints = []
    seen = set()
    for i, t in enumerate(taints):
        if not isinstance(t, dict) or not t.get("key"):
            errs.append(f"spec.taints[{i}].key: Required value")
            continue
        if t.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(f'spec.taints[{i}].effect: Unsupported value: "{t.get("effect")}": supported values: '
                        '"NoSchedule", "PreferNoSchedule", "NoExecute"')
        ke = (t.get("key"), t.get("effect"))
        if ke in seen:
            errs.append(f'spec.taints[{i}]: Duplicate value: core.Taint{{Key:"{ke[0]}", Effect:"{ke[1]}"}}')
        seen.add(ke)
    us = node.get("spec", {}).get("unschedulable", False)
    if not isinstance(us, bool):
        errs.append("spec.unschedulable: Invalid value: must be a boolean")
    return errs


# ---- selectors -----------------------------------------------------------

def parse_field_selector(s):
    terms = []
    for part in filter(None, s.split(",")):
        m = re.match(r"^([A-Za-z.]+)(==|!=|=)(.*)$", part)
        if not m:
            raise ApiError(400, "BadRequest", f'unable to parse requirement: invalid field selector "{part}"')
        field, op, val = m.groups()
        if field not in ("spec.nodeName", "metadata.name", "metadata.namespace", "status.phase",
                         "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName"):
            raise ApiError(400, "BadRequest",
                           f'field label not supported: {field}')
        terms.append((field, op != "!=", val))
    return terms


def field_value(pod, field):
    a, b = field.split(".", 1)
    return (pod.get(a) or {}).get(b, "") or ""


def parse_label_selector(s):
    terms = []
    for part in filter(None, s.split(",")):
        m = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)\s*(\S*)\s*$", part)
        if m:
            terms.append((m.group(1), m.group(2) != "!=", m.group(3)))
        elif re.match(r"^\s*[A-Za-z0-9./_-]+\s*$", part):
            terms.append((part.strip(), None, None))
        else:
            raise ApiError(400, "BadRequest", f'unable to parse requirement: "{part}"')
    return terms


def labels_match(terms, labels):
    for key, eq, val in terms:
        if eq is None:
            if key not in labels:
                return False
        elif (labels.get(key) == val) != eq:
            return False
    return True


# ---- the state -----------------------------------------------------------

def request_kind(method, path):
    """The kind a request is counted under in state()["requests"] ("PATCH node",
    "POST eviction", "LIST pods", ...); test/lib/realk8s.py counts the real server's the same way."""
    parts = path.strip("/").split("/")
    if path.endswith("/eviction"):
        return method + " eviction"
    if path.startswith("/api/v1/nodes"):
        return method + (" node" if len(parts) > 3 else " nodes")
    if "/pods" in path:
        if len(parts) in (3, 5) and parts[-1] == "pods":
            return "LIST pods" if method == "GET" else method + " pods"
        return method + " pod"
    if path.endswith("/events"):
        return method + " event"
    return method + " other"


class State:
    def __init__(self, opts):
        self.lock = threading.Lock()
        self.opts = opts
        self.tokens = set(opts.token or [])
        self.latency_ms = opts.latency_ms
        self.rate_limit = opts.rate_limit
        self.terminate_s = opts.terminate_s
        self.replace_delay_s = opts.replace_delay_s
        self.replacement_node = opts.replacement_node
        self.node_restriction_taints = False
        self.bucket = float(opts.rate_limit or 0)
        self.bucket_t = time.monotonic()
        self.t0 = time.monotonic()
        self.eks_cluster = opts.eks_cluster
        self.eks_roles = dict(r.split("=", 1) for r in (opts.eks_role or []))
        self.sts_url = opts.sts_url
        self.sts_ctx = ssl.create_default_context(cafile=opts.sts_ca) if opts.sts_ca else None
        self.rules = fakeserver.Rules()     # the fault rules, here so that reset and --seed reach them
        self.reset()

    def reset(self):
        self.rv = 1000
        self.nodes = {}            # name -> node
        self.pods = {}             # (ns, name) -> pod
        self.by_node = {}          # node -> set of keys
        self.fake = {}             # (ns, name) -> {"terminate_s": S, "remove_at": t}
        self.pending = {}          # (ns, name) -> monotonic time the terminating pod goes away
        self.daemonsets = set()    # (ns, name)
        self.pdbs = []
        self.events = []
        self.evictions = []
        self.deletions = []
        self.requests = {}
        self.statuses = {}
        self.rules.set([], clear=True)
        self.conflicts = {}        # node -> count
        self.inflight = {}         # kind -> n
        self.peak = {}
        self.auth_failures = 0
        self.request_log = []
        self.forbidden = []
        self.eks_rejections = []
        self.eks_cache = {}        # token -> user, for tokens STS vouched for
        self.timers = []           # (t, fn, args)
        self.serial = 0

    def t(self):
        return round(time.monotonic() - self.t0, 3)

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    # Nodes.
    def make_node(self, spec):
        name = spec["name"]
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m5.large",
                  "topology.kubernetes.io/zone": "us-east-1a",
                  "eks.amazonaws.com/capacityType": "SPOT"}
        labels.update(spec.get("labels") or {})
        node = {
            "kind": "Node", "apiVersion": "v1",
            "metadata": {
                "name": name, "uid": str(uuid.uuid4()), "resourceVersion": self.next_rv(),
                "creationTimestamp": now_rfc3339(time.time() - 86400), "labels": labels,
                "annotations": dict({"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
                                    **(spec.get("annotations") or {})),
            },
            "spec": {"providerID": f"aws:///us-east-1a/i-{uuid.uuid4().hex[:17]}"},
            "status": {
                "capacity": {"cpu": "2", "memory": "7910348Ki", "pods": "110"},
                "allocatable": {"cpu": "1930m", "memory": "7220172Ki", "pods": "110"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                     "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339(time.time() - 86000),
                     "message": "kubelet has sufficient memory available"},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339(time.time() - 86000),
                     "message": "kubelet is posting ready status"},
                ],
                "addresses": [{"type": "InternalIP", "address": "10.0.1.23"},
                              {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"kubeletVersion": "v1.32.4-eks-1234567", "containerRuntimeVersion": "containerd://1.7.27",
                             "kernelVersion": "6.1.130", "osImage": "Amazon Linux 2023", "operatingSystem": "linux",
                             "architecture": "amd64", "kubeProxyVersion": "v1.32.4-eks-1234567",
                             "machineID": uuid.uuid4().hex, "systemUUID": str(uuid.uuid4()),
                             "bootID": str(uuid.uuid4())},
            },
        }
        if spec.get("taints"):
            node["spec"]["taints"] = copy.deepcopy(spec["taints"])
        if spec.get("unschedulable"):
            node["spec"]["unschedulable"] = True
        node["metadata"]["managedFields"] = managed_fields(node, "v1", "kubelet", "kubelet")
        self.nodes[name] = node
        self.by_node.setdefault(name, set())
        return node

    # Pods.
    def make_pod(self, node, spec):
        if "raw" in spec:
            pod = copy.deepcopy(spec["raw"])
            pod.setdefault("metadata", {}).setdefault("namespace", "default")
            pod["metadata"].setdefault("uid", str(uuid.uuid4()))
            pod["metadata"]["resourceVersion"] = self.next_rv()
            pod.setdefault("spec", {})["nodeName"] = pod["spec"].get("nodeName") or node
            pod.setdefault("status", {}).setdefault("phase", "Running")
            pod.pop("kind", None)
            pod.pop("apiVersion", None)
            self.add_pod(pod, spec.get("terminate_s"))
            return pod
        ns = spec.get("namespace", "default")
        name = spec["name"]
        owner = spec.get("owner", "ReplicaSet")
        labels = dict(spec.get("labels") or {"app": name.rsplit("-", 1)[0]})
        annotations = dict(spec.get("annotations") or {})
        refs = []
        owner_name = spec.get("owner_name")
        if owner == "Node" or spec.get("mirror"):
            annotations["kubernetes.io/config.mirror"] = uuid.uuid4().hex
            annotations["kubernetes.io/config.source"] = "file"
            annotations["kubernetes.io/config.hash"] = annotations["kubernetes.io/config.mirror"]
            refs.append({"apiVersion": "v1", "kind": "Node", "name": node, "uid": str(uuid.uuid4()),
                         "controller": True})
        elif owner and owner != "none":
            if not owner_name:
                owner_name = labels.get("app", name) + ("-7d9c5b6f8" if owner == "ReplicaSet" else "")
            refs.append({"apiVersion": CONTROLLER_API.get(owner, "apps/v1"), "kind": owner, "name": owner_name,
                         "uid": str(uuid.uuid4()), "controller": True, "blockOwnerDeletion": True})
            if owner == "DaemonSet":
                self.daemonsets.add((ns, owner_name))
            if owner == "ReplicaSet":
                labels.setdefault("pod-template-hash", "7d9c5b6f8")
        volumes = [{"name": "kube-api-access-" + uuid.uuid4().hex[:5], "projected": {
            "defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]
        if spec.get("emptydir"):
            volumes.append({"name": "scratch", "emptyDir": {}})
        if spec.get("hostpath"):
            volumes.append({"name": "host", "hostPath": {"path": "/var/log", "type": ""}})
        phase = spec.get("phase", "Running")
        created = now_rfc3339(time.time() - 3600)
        pod = {
            "metadata": {
                "name": name, "namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": self.next_rv(),
                "creationTimestamp": created, "labels": labels,
            },
            "spec": {
                "volumes": volumes,
                "containers": [{
                    "name": "main", "image": "public.ecr.aws/docker/library/nginx:1.27",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    "volumeMounts": [{"name": volumes[0]["name"], "readOnly": True,
                                      "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"}],
                "restartPolicy": "Never" if owner == "Job" else "Always",
                "dnsPolicy": "ClusterFirst", "serviceAccountName": "default", "serviceAccount": "default",
                "nodeName": node, "securityContext": {}, "schedulerName": "default-scheduler",
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": 300}],
                "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
            },
            "status": {
                "phase": phase,
                "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False",
                                "lastProbeTime": None, "lastTransitionTime": created}],
                "hostIP": "10.0.1.23", "podIP": "10.0.1.%d" % (len(self.pods) % 250 + 2),
                "podIPs": [{"ip": "10.0.1.%d" % (len(self.pods) % 250 + 2)}],
                "startTime": created, "qosClass": "Burstable",
                "containerStatuses": [{"name": "main", "ready": phase == "Running", "restartCount": 0,
                                       "image": "public.ecr.aws/docker/library/nginx:1.27",
                                       "imageID": "sha256:" + "ab" * 32, "started": phase == "Running",
                                       "lastState": {},
                                       "containerID": "containerd://" + uuid.uuid4().hex,
                                       "state": {"running": {"startedAt": created}} if phase == "Running"
                                       else {"terminated": {"exitCode": 0, "reason": "Completed",
                                                             "startedAt": created, "finishedAt": created}}}],
            },
        }
        grace = spec.get("grace", 30)
        if grace is not None:
            pod["spec"]["terminationGracePeriodSeconds"] = grace
        if annotations:
            pod["metadata"]["annotations"] = annotations
        if refs:
            pod["metadata"]["ownerReferences"] = refs
        if spec.get("generateName", owner in ("ReplicaSet", "Job")):
            pod["metadata"]["generateName"] = name.rsplit("-", 1)[0] + "-"
        pod["metadata"]["managedFields"] = managed_fields(pod, "v1", "kube-controller-manager", "kubelet")
        self.add_pod(pod, spec.get("terminate_s"))
        return pod

    def add_pod(self, pod, terminate_s=None):
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if key in self.pods:
            self.drop_pod(key)
        self.pods[key] = pod
        self.by_node.setdefault(pod["spec"].get("nodeName", ""), set()).add(key)
        self.fake[key] = {"terminate_s": terminate_s, "remove_at": None}

    def drop_pod(self, key):
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        self.by_node.get(pod["spec"].get("nodeName", ""), set()).discard(key)
        self.fake.pop(key, None)
        self.pending.pop(key, None)
        return pod

    def generate(self, node, count, prefix="pod", mix=True, ns="default", size=None, big=()):
        """count pods on node (see /_fake/generate). size: None for the small
        pods, "production" or a byte count for test/lib/prodpod.py's; big:
        [[index, bytes], ...] pods of their own size (the long tail)."""
        made = {"evictable": [], "daemonset": [], "bare": [], "emptydir": [], "mirror": [],
                "succeeded": [], "statefulset": []}
        if size == "production":
            size = prodpod.TYPICAL
        sizes = {int(i): int(b) for i, b in big}
        for i in range(count):
            name = f"{prefix}-{i:03d}"
            spec = {"name": name, "namespace": ns, "labels": {"app": f"{prefix}-app{i % 7}"}}
            cat = "evictable"
            if mix:
                if i % 10 == 0:
                    spec.update(owner="DaemonSet", owner_name=f"{prefix}-ds{i % 3}")
                    cat = "daemonset"
                elif i % 10 == 1:
                    spec.update(owner="none")
                    cat = "bare"
                elif i % 10 == 2:
                    spec.update(emptydir=True)
                    cat = "emptydir"
                elif i % 20 == 3:
                    spec.update(mirror=True, namespace="kube-system")
                    cat = "mirror"
                elif i % 20 == 4:
                    spec.update(owner="Job", owner_name=f"{prefix}-job{i}", phase="Succeeded")
                    cat = "succeeded"
                elif i % 20 == 5:
                    spec.update(owner="StatefulSet", owner_name=f"{prefix}-sts")
                    cat = "statefulset"
            if size is not None or i in sizes:
                spec = {"raw": self.production_pod(node, spec, sizes.get(i, size or prodpod.TYPICAL))}
            self.make_pod(node, spec)
            made[cat].append(f"{spec['raw']['metadata']['namespace'] if 'raw' in spec else spec['namespace']}/{name}")
        return made

    def production_pod(self, node, spec, size):
        """A prodpod of about size bytes, reshaped for spec's category."""
        owner = spec.get("owner", "ReplicaSet")
        kind = owner if owner in ("DaemonSet", "Job", "StatefulSet") else "ReplicaSet"
        pod = prodpod.prod_pod(spec["name"], node, spec.get("namespace", "default"), size, kind,
                               spec.get("owner_name"), spec.get("phase", "Running"))
        md = pod["metadata"]
        if owner == "DaemonSet":
            self.daemonsets.add((md["namespace"], spec["owner_name"]))
        if owner == "none":
            del md["ownerReferences"]
        if spec.get("mirror"):
            md["annotations"]["kubernetes.io/config.mirror"] = prodpod._hex(32, spec["name"], "mirror")
            md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                      "uid": prodpod._uid(node), "controller": True}]
        if spec.get("emptydir"):
            pod["spec"]["volumes"].append({"name": "scratch", "emptyDir": {}})
        return pod

    # Termination and replacement.
    def terminate(self, key, grace):
        pod = self.pods[key]
        md = pod["metadata"]
        if "deletionTimestamp" not in md:
            md["deletionTimestamp"] = now_rfc3339(time.time() + grace)
            md["deletionGracePeriodSeconds"] = grace
        md["resourceVersion"] = self.next_rv()
        f = self.fake[key]
        delay = f["terminate_s"] if f["terminate_s"] is not None else self.terminate_s
        delay = min(delay, grace)
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            delay = 0
        at = time.monotonic() + max(0, delay)
        if f["remove_at"] is None or at < f["remove_at"]:
            f["remove_at"] = at
            self.pending[key] = at
        if delay <= 0:
            self.remove_now(key)

    def remove_now(self, key):
        pod = self.drop_pod(key)
        if pod is None:
            return
        ref = next((r for r in pod["metadata"].get("ownerReferences", []) if r.get("controller")), None)
        if ref and ref.get("kind") in REPLACEABLE and self.replace_delay_s >= 0 \
                and pod["status"].get("phase") not in ("Succeeded", "Failed"):
            self.timers.append((time.monotonic() + self.replace_delay_s, self.replace, (pod,)))

    def replace(self, old):
        pod = copy.deepcopy(old)
        md = pod["metadata"]
        md.pop("deletionTimestamp", None)
        md.pop("deletionGracePeriodSeconds", None)
        ref = next(r for r in md["ownerReferences"] if r.get("controller"))
        if ref["kind"] != "StatefulSet":
            self.serial += 1
            md["name"] = (md.get("generateName") or md["name"] + "-") + "r%04d" % self.serial
        md["uid"] = str(uuid.uuid4())
        md["resourceVersion"] = self.next_rv()
        md["creationTimestamp"] = now_rfc3339()
        pod["spec"]["nodeName"] = self.replacement_node
        pod["status"]["phase"] = "Running"
        key = (md["namespace"], md["name"])
        if key in self.pods:
            return
        self.add_pod(pod)

    def tick(self):
        """Runs due removals and replacements; called with the lock held."""
        now = time.monotonic()
        for key, at in list(self.pending.items()):
            if at <= now:
                self.remove_now(key)
        due = [x for x in self.timers if x[0] <= now]
        if due:
            self.timers = [x for x in self.timers if x[0] > now]
            for _, fn, args in due:
                fn(*args)

    # PDBs.
    def pdb_matching(self, pod):
        ns = pod["metadata"]["namespace"]
        labels = pod["metadata"].get("labels") or {}
        return [p for p in self.pdbs if p.get("namespace", "default") == ns and
                all(labels.get(k) == v for k, v in (p.get("selector") or {}).items())]

    def pdb_status(self, pdb):
        ns = pdb.get("namespace", "default")
        sel = pdb.get("selector") or {}
        expected = healthy = 0
        for (pns, _), pod in self.pods.items():
            if pns != ns:
                continue
            labels = pod["metadata"].get("labels") or {}
            if not all(labels.get(k) == v for k, v in sel.items()):
                continue
            if pod["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            expected += 1
            if pod["status"].get("phase") == "Running" and "deletionTimestamp" not in pod["metadata"]:
                healthy += 1
        if "expected" in pdb:
            expected = pdb["expected"]

        def amount(v):
            if isinstance(v, str) and v.endswith("%"):
                return -(-expected * int(v[:-1]) // 100)
            return int(v)
        if "minAvailable" in pdb:
            desired = amount(pdb["minAvailable"])
        else:
            desired = max(0, expected - amount(pdb.get("maxUnavailable", 0)))
        return {"expectedPods": expected, "currentHealthy": healthy, "desiredHealthy": desired,
                "disruptionsAllowed": max(0, healthy - desired)}

    def pdb_json(self, pdb):
        spec = {"selector": {"matchLabels": pdb.get("selector") or {}}}
        for k in ("minAvailable", "maxUnavailable"):
            if k in pdb:
                spec[k] = pdb[k]
        st = self.pdb_status(pdb)
        st["observedGeneration"] = 1
        out = {"metadata": {"name": pdb["name"], "namespace": pdb.get("namespace", "default"),
                            "uid": pdb.setdefault("uid", str(uuid.uuid4())), "resourceVersion": str(self.rv),
                            "generation": 1, "creationTimestamp": now_rfc3339(time.time() - 3600)},
               "spec": spec, "status": st}
        out["metadata"]["managedFields"] = managed_fields(out, "policy/v1", "kubectl-create",
                                                          "kube-controller-manager")
        return out


# ---- the server ----------------------------------------------------------

class Handler(fakeserver.Handler):
    server_version = "fake-kube-apiserver"

    @property
    def st(self):
        return self.server.state

    # Plumbing.
    def send_json(self, code, obj, headers=None, fault=None):
        body = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        self.respond(code, body, [("Content-Type", "application/json"), ("Audit-Id", str(uuid.uuid4())),
                                  ("Cache-Control", "no-cache, private")] + list((headers or {}).items()), fault)

    def fault_answer(self, fault):
        code = int(fault.get("status", 503))
        if code == 429:
            # As API Priority and Fairness answers: the Retry-After also in the Status's details.
            fault.setdefault("retry_after", 1)
            body = status_body(429, "TooManyRequests", "Too many requests, please try again later.",
                               {"retryAfterSeconds": int(fault["retry_after"])})
        else:
            # The reason kube-apiserver gives with each code (metav1.StatusReason).
            reason = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                      410: "Expired", 422: "Invalid"}.get(code, "InternalError" if code >= 500 else "BadRequest")
            body = status_body(code, reason, fault.get("message", f"fault injected: {code}"))
        return code, json.dumps(body, separators=(",", ":")).encode(), {}

    def send_list_streamed(self, obj):
        """A long list as kube-apiserver (1.33+) sends one: chunked, each item
        encoded and written as the encoder reaches it, metadata first."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self._headers_buffer.append(b"\r\n")
        out = [b"".join(self._headers_buffer)]
        self._headers_buffer = []
        pending = [json.dumps({k: v for k, v in obj.items() if k != "items"},
                              separators=(",", ":"))[:-1].encode() + b',"items":[']
        size = len(pending[0])

        def flush(last=False):
            data = b"".join(pending)
            out.append(b"%x\r\n" % len(data) + data + b"\r\n" + (b"0\r\n\r\n" if last else b""))
            self.wfile.write(b"".join(out))
            self.wfile.flush()
            out.clear()
            pending.clear()

        for i, item in enumerate(obj["items"]):
            b = (b"," if i else b"") + json.dumps(item, separators=(",", ":")).encode()
            pending.append(b)
            size += len(b)
            if size >= LIST_STREAM_CHUNK:
                flush()
                size = 0
        pending.append(b"]}")
        flush(last=True)
        self.last_status = 200

    def json_body(self, raw):
        try:
            return json.loads(raw.decode() or "null")
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, "BadRequest", f"error decoding body: {e}")

    def route(self):
        method = self.command
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        try:
            raw = self.read_body(BODY_MAX)
        except ValueError as e:
            self.send_json(413, status_body(413, "RequestEntityTooLarge", str(e)))
            self.close_connection = True
            return
        if path.startswith("/_fake/"):
            try:
                self.control(method, path, query, raw)
            except ApiError as e:
                self.send_json(e.code, e.body)
            except Exception as e:  # a bad control request is a test bug: say so
                self.send_json(400, {"error": f"{type(e).__name__}: {e}"})
            return
        self.api(method, path, u.query, query, raw)

    # The API.
    def api(self, method, path, rawq, query, raw):
        st = self.st
        t_start = time.monotonic()
        kind = request_kind(method, path)
        user = self.authenticate()
        fault = self.server.rules.match(method, path + ("?" + rawq if rawq else ""))
        with st.lock:
            st.requests[kind] = st.requests.get(kind, 0) + 1
            st.requests["total"] = st.requests.get("total", 0) + 1
            st.inflight[kind] = st.inflight.get(kind, 0) + 1
            st.peak[kind] = max(st.peak.get(kind, 0), st.inflight[kind])
            limited = False
            if st.rate_limit:
                now = time.monotonic()
                st.bucket = min(float(st.rate_limit), st.bucket + (now - st.bucket_t) * st.rate_limit)
                st.bucket_t = now
                if st.bucket >= 1:
                    st.bucket -= 1
                else:
                    limited = True
            latency = st.latency_ms
        try:
            if latency:
                time.sleep(latency / 1000.0)
            if self.fault_before(fault):
                return
            instead = self.fault_instead(fault)
            if instead is not None:
                self.send_json(*instead)
                return
            if limited:
                self.send_json(429, status_body(429, "TooManyRequests", "Too many requests, please try again later.",
                                                {"retryAfterSeconds": 1}), {"Retry-After": 1}, fault)
                return
            if user is None:
                with st.lock:
                    st.auth_failures += 1
                self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"), fault=fault)
                return
            try:
                code, obj, hdrs = self.handle_api(method, path, query, raw, user)
            except ApiError as e:
                code, obj, hdrs = e.code, e.body, e.headers
            if kind == "LIST pods" and code == 200 and not fault and len(obj["items"]) > LIST_STREAM_MIN:
                self.send_list_streamed(obj)
                return
            self.send_json(code, obj, hdrs, fault)
        except (OSError, ssl.SSLError):
            self.close_connection = True
        finally:
            with st.lock:
                st.inflight[kind] -= 1
                st.statuses[str(self.last_status)] = st.statuses.get(str(self.last_status), 0) + 1
                st.request_log.append({"m": method, "path": path + ("?" + rawq if rawq else ""),
                                       "status": self.last_status, "t": round(t_start - st.t0, 3),
                                       "ms": round((time.monotonic() - t_start) * 1000, 1),
                                       "user": user or "", "eks_age": getattr(self, "eks_age", None),
                                       "cert_serial": getattr(self, "cert_serial", None)})
                if len(st.request_log) > REQUEST_LOG_MAX:
                    del st.request_log[:len(st.request_log) - REQUEST_LOG_MAX]
            if self.server.log_file:
                with st.lock:
                    self.server.log_file.write(f"{method} {path} {self.last_status} "
                                               f"{(time.monotonic() - t_start) * 1000:.0f}ms\n")
                    self.server.log_file.flush()

    def authenticate(self):
        self.eks_age = None
        self.cert_serial = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            if tok.startswith(EKS_PREFIX):
                return self.eks_user(tok)
            with self.st.lock:
                if tok in self.st.tokens:
                    return "token:" + tok[:6]
            return None
        if self.server.ctx is not None and hasattr(self.request, "getpeercert"):
            try:
                cert = self.request.getpeercert()
            except (ValueError, OSError):
                cert = None
            if cert:
                attrs = {}
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        attrs.setdefault(k, []).append(v)
                cn = (attrs.get("commonName") or [""])[0]
                self.cert_serial = cert.get("serialNumber")
                if cn.startswith("system:node:") and "system:nodes" in attrs.get("organizationName", []):
                    return cn
                return "cert:" + cn
        return None

    def eks_reject(self, reason):
        with self.st.lock:
            self.st.eks_rejections.append({"reason": reason, "t": self.st.t()})
        return None

    def eks_user(self, tok):
        """The node an EKS token stands for, checked as aws-iam-authenticator does; None if refused."""
        st = self.st
        try:
            b = tok[len(EKS_PREFIX):]
            url = base64.urlsafe_b64decode(b + "=" * (-len(b) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return self.eks_reject("input token was not properly formatted")
        u = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        sts = urllib.parse.urlsplit(st.sts_url or "")
        if u.scheme != "https" or u.netloc != sts.netloc:
            return self.eks_reject(f"unexpected hostname {u.netloc!r} in pre-signed URL")
        if u.path != "/" or q.get("Action") != "GetCallerIdentity":
            return self.eks_reject("unexpected action parameter in pre-signed URL")
        if "x-k8s-aws-id" not in q.get("X-Amz-SignedHeaders", "").split(";"):
            return self.eks_reject("client did not sign the x-k8s-aws-id header in the pre-signed URL")
        try:
            date = calendar.timegm(time.strptime(q.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return self.eks_reject("X-Amz-Date parameter is malformed")
        if time.time() > date + EKS_TOKEN_LIFE_S:
            return self.eks_reject("X-Amz-Date parameter is expired (15 minute expiration) "
                                   f"{q.get('X-Amz-Date')}")
        self.eks_age = round(time.time() - date, 1)
        with st.lock:
            hit = st.eks_cache.get(tok)
        if hit is not None:
            return hit
        req = urllib.request.Request(url, headers={"x-k8s-aws-id": st.eks_cluster or ""})
        try:
            with urllib.request.urlopen(req, timeout=10, context=st.sts_ctx) as r:
                body = r.read().decode()
        except urllib.error.HTTPError as e:
            return self.eks_reject(f"sts getCallerIdentity failed: {e.code} {e.read().decode()[:300]}")
        except OSError as e:
            return self.eks_reject(f"sts getCallerIdentity failed: {e}")
        m = re.search(r"<Arn>arn:aws:sts::(\d+):assumed-role/([^/<]+)/[^<]*</Arn>", body)
        if m is None:
            return self.eks_reject("no assumed-role ARN in the GetCallerIdentity answer")
        role = f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}"
        node = st.eks_roles.get(role)
        if node is None:
            return self.eks_reject(f"ARN is not mapped: {role}")
        user = "system:node:" + node
        with st.lock:
            st.eks_cache[tok] = user
        return user

    def handle_api(self, method, path, query, raw, user):
        st = self.st
        q1 = lambda k, d=None: (query.get(k) or [d])[0]
        parts = path.strip("/").split("/")
        # Discovery, for kubectl.
        if method == "GET" and path in ("/api", "/api/"):
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]}, None
        if method == "GET" and path in ("/apis", "/apis/"):
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}
                for g in ("apps", "policy", "batch", "events.k8s.io")]}, None
        if method == "GET" and path == "/version":
            return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.4-fake", "platform": "linux/amd64",
                         "goVersion": "go1.23.8", "compiler": "gc"}, None
        if method == "GET" and path.rstrip("/") in ("/api/v1", "/apis/policy/v1", "/apis/apps/v1",
                                                     "/apis/batch/v1", "/apis/events.k8s.io/v1"):
            return 200, self.resource_list(path.rstrip("/")), None
        with st.lock:
            st.tick()
            # Nodes.
            if parts[:3] == ["api", "v1", "nodes"]:
                if len(parts) == 3 and method == "GET":
                    return 200, {"kind": "NodeList", "apiVersion": "v1",
                                 "metadata": {"resourceVersion": str(st.rv)},
                                 "items": [self.strip_kind(n) for n in st.nodes.values()]}, None
                if len(parts) == 4:
                    return self.node_op(method, parts[3], raw, user)
            # Pods.
            if parts[:3] == ["api", "v1", "pods"] and len(parts) == 3 and method == "GET":
                return self.list_pods(None, query)
            if parts[:3] == ["api", "v1", "namespaces"] and len(parts) >= 5:
                ns = parts[3]
                if parts[4] == "pods":
                    if len(parts) == 5 and method == "GET":
                        return self.list_pods(ns, query)
                    if len(parts) == 6:
                        return self.pod_op(method, ns, parts[5], query, raw, user)
                    if len(parts) == 7 and parts[6] == "eviction" and method == "POST":
                        return self.evict(ns, parts[5], raw, user)
                if parts[4] == "events" and len(parts) == 5:
                    if method == "POST":
                        return self.post_event(ns, raw)
                    if method == "GET":
                        return 200, {"kind": "EventList", "apiVersion": "v1", "metadata": {},
                                     "items": [e for e in st.events if e["metadata"]["namespace"] == ns]}, None
            if parts[:3] == ["apis", "apps", "v1"] and len(parts) == 7 and parts[5] == "daemonsets" \
                    and method == "GET":
                ns, name = parts[4], parts[6]
                if (ns, name) not in st.daemonsets:
                    raise not_found("daemonsets.apps", name)
                return 200, {"kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": {
                    "name": name, "namespace": ns, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, ns + "/" + name)),
                    "resourceVersion": str(st.rv), "generation": 1}, "spec": {}, "status": {}}, None
            if parts[:3] == ["apis", "policy", "v1"] and parts[-1] == "poddisruptionbudgets" and method == "GET":
                ns = parts[4] if len(parts) == 6 else None
                return 200, {"kind": "PodDisruptionBudgetList", "apiVersion": "policy/v1",
                             "metadata": {"resourceVersion": str(st.rv)},
                             "items": [st.pdb_json(p) for p in st.pdbs
                                       if ns is None or p.get("namespace", "default") == ns]}, None
        raise ApiError(404, "NotFound", "the server could not find the requested resource",
                       {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})

    @staticmethod
    def strip_kind(obj):
        o = dict(obj)
        o.pop("kind", None)
        o.pop("apiVersion", None)
        return o

    def resource_list(self, path):
        gv = path[len("/apis/"):] if path.startswith("/apis/") else "v1"

        def res(name, kind, namespaced, verbs, group=None, version=None, short=None):
            r = {"name": name, "singularName": "" if "/" in name else name.rstrip("s"), "namespaced": namespaced,
                 "kind": kind, "verbs": verbs}
            if group is not None:
                r["group"], r["version"] = group, version
            if short:
                r["shortNames"] = short
            return r
        rl = []
        if gv == "v1":
            rl = [res("nodes", "Node", False, ["create", "delete", "get", "list", "patch", "update", "watch"],
                      short=["no"]),
                  res("pods", "Pod", True, ["create", "delete", "deletecollection", "get", "list", "patch",
                                            "update", "watch"], short=["po"]),
                  res("pods/eviction", "Eviction", True, ["create"], group="policy", version="v1"),
                  res("events", "Event", True, ["create", "delete", "get", "list", "patch", "update", "watch"],
                      short=["ev"]),
                  res("namespaces", "Namespace", False, ["create", "delete", "get", "list", "patch", "update",
                                                         "watch"], short=["ns"])]
        elif gv == "policy/v1":
            rl = [res("poddisruptionbudgets", "PodDisruptionBudget", True,
                      ["create", "delete", "get", "list", "patch", "update", "watch"], short=["pdb"])]
        elif gv == "apps/v1":
            rl = [res("daemonsets", "DaemonSet", True, ["get", "list"], short=["ds"]),
                  res("replicasets", "ReplicaSet", True, ["get", "list"], short=["rs"]),
                  res("statefulsets", "StatefulSet", True, ["get", "list"], short=["sts"])]
        elif gv == "batch/v1":
            rl = [res("jobs", "Job", True, ["get", "list"])]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rl}

    def forbid(self, resource, name, user, message):
        """NodeRestriction's refusal (called with st.lock held)."""
        self.st.forbidden.append({"m": self.command, "path": self.path, "user": user, "message": message})
        return ApiError(403, "Forbidden", f'{resource} "{name}" is forbidden: {message}',
                        {"name": name, "kind": resource})

    def node_op(self, method, name, raw, user=None):
        st = self.st
        me = node_identity(user)
        node = st.nodes.get(name)
        if node is None:
            raise not_found("nodes", name)
        if method == "GET":
            return 200, node, None
        if method not in ("PATCH", "PUT"):
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource")
        if me is not None and me != name:
            raise self.forbid("nodes", name, user, f'node "{me}" is not allowed to modify node "{name}"')
        # A concurrent writer gets there first.
        if st.conflicts.get(name, 0) > 0:
            st.conflicts[name] -= 1
            st.serial += 1
            node["metadata"].setdefault("labels", {})[f"fake/concurrent-{st.serial}"] = "true"
            node["metadata"]["resourceVersion"] = st.next_rv()
        body = self.json_body(raw)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if method == "PUT":
            new = copy.deepcopy(body)
        elif ctype == "application/merge-patch+json":
            new = merge_patch(node, body)
        elif ctype == "application/strategic-merge-patch+json":
            new = strategic_merge(node, body)
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types include: "
                           f"application/json-patch+json, application/merge-patch+json, "
                           f"application/apply-patch+yaml, application/strategic-merge-patch+json")
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv is not None and want_rv != node["metadata"]["resourceVersion"] or \
                method == "PUT" and want_rv is None:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on nodes "{name}": the object has been modified; '
                           'please apply your changes to the latest version and try again',
                           {"name": name, "kind": "nodes"})
        if st.node_restriction_taints:
            refused = node_restriction_taints(name, node, new)
            if refused is not None:
                raise refused
        new.setdefault("metadata", {})
        for k in ("name", "uid", "creationTimestamp"):
            new["metadata"][k] = node["metadata"][k]
        new["kind"], new["apiVersion"] = "Node", "v1"
        if me is not None:
            self.node_restriction(me, user, node, new)
        errs = validate_node(new)
        if errs:
            raise ApiError(422, "Invalid", f'Node "{name}" is invalid: ' + ", ".join(errs),
                           {"name": name, "kind": "Node", "causes": [
                               {"reason": CAUSE_REASONS.get(e.split(": ", 2)[1], "FieldValueInvalid")
                                if e.count(": ") >= 2 else "FieldValueInvalid", "message": e.split(": ", 1)[-1],
                                "field": e.split(":", 1)[0]} for e in errs]})
        if not new.get("spec", {}).get("unschedulable", True):
            new["spec"].pop("unschedulable", None)
        if new != node:
            new["metadata"]["resourceVersion"] = st.next_rv()
        st.nodes[name] = new
        return 200, new, None

    def node_restriction(self, me, user, old, new):
        """What NodeRestriction lets a node change on its own Node object."""
        if (new.get("spec") or {}).get("taints") != (old.get("spec") or {}).get("taints"):
            raise self.forbid("nodes", me, user, f'node "{me}" is not allowed to modify taints')
        ol = (old.get("metadata") or {}).get("labels") or {}
        nl = (new.get("metadata") or {}).get("labels") or {}
        bad = sorted(k for k in set(ol) | set(nl) if ol.get(k) != nl.get(k) and label_forbidden(k))
        if bad:
            raise self.forbid("nodes", me, user, "is not allowed to modify labels: " + ", ".join(bad))

    def list_pods(self, ns, query):
        st = self.st
        q1 = lambda k, d="": (query.get(k) or [d])[0]
        fterms = parse_field_selector(q1("fieldSelector"))
        lterms = parse_label_selector(q1("labelSelector"))
        try:
            limit = int(q1("limit", "0") or 0)
        except ValueError:
            raise ApiError(400, "BadRequest", "limit: invalid value")
        start = ""
        cont = q1("continue")
        list_rv = st.rv
        if cont:
            try:
                c = json.loads(base64.b64decode(cont + "=" * (-len(cont) % 4)).decode())
                start = c["start"]
                list_rv = c["rv"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start "
                                                  "resourceVersion (version meta.k8s.io/v1)")
        node_filter = [v for f, eq, v in fterms if f == "spec.nodeName" and eq]
        if node_filter:
            keys = set(st.by_node.get(node_filter[0], ()))
        else:
            keys = set(st.pods)
        items = []
        for key in sorted(keys):
            if ns is not None and key[0] != ns:
                continue
            if key[0] + "/" + key[1] + "\x00" <= start and start:
                continue
            pod = st.pods[key]
            if not all((field_value(pod, f) == v) == eq for f, eq, v in fterms):
                continue
            if not labels_match(lterms, pod["metadata"].get("labels") or {}):
                continue
            items.append(pod)
        meta = {"resourceVersion": str(list_rv)}
        if limit > 0 and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            last = items[-1]["metadata"]
            tok = {"v": "meta.k8s.io/v1", "rv": list_rv,
                   "start": last["namespace"] + "/" + last["name"] + "\x00"}
            meta["continue"] = base64.b64encode(json.dumps(tok, separators=(",", ":")).encode()).decode()
            meta["remainingItemCount"] = rest
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}, None

    def delete_grace(self, query, raw, pod):
        grace = None
        body = None
        if raw:
            body = self.json_body(raw)
            if isinstance(body, dict) and body.get("gracePeriodSeconds") is not None:
                grace = body["gracePeriodSeconds"]
        q = query.get("gracePeriodSeconds")
        if q:
            grace = int(q[0])
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if not isinstance(grace, int) or grace < 0:
            raise ApiError(422, "Invalid", "gracePeriodSeconds: Invalid value: must be >= 0")
        if raw and isinstance(body, dict):
            check_preconditions(body.get("preconditions"), pod)
        return grace

    def pod_op(self, method, ns, name, query, raw, user=None):
        st = self.st
        me = node_identity(user)
        pod = st.pods.get((ns, name))
        if pod is None:
            raise not_found("pods", name)
        if method == "GET":
            return 200, dict(pod, kind="Pod", apiVersion="v1"), None
        if method == "DELETE" and me is not None and pod["spec"].get("nodeName") != me:
            raise self.forbid("pods", name, user, f'node "{me}" can only delete pods with spec.nodeName set to itself')
        if method == "DELETE":
            grace = self.delete_grace(query, raw, pod)
            st.deletions.append({"namespace": ns, "name": name, "node": pod["spec"].get("nodeName"),
                                 "grace": grace, "t": st.t()})
            st.terminate((ns, name), grace)
            return 200, dict(pod, kind="Pod", apiVersion="v1"), None
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def evict(self, ns, name, raw, user=None):
        st = self.st
        body = self.json_body(raw)
        rec = {"namespace": ns, "name": name, "t": st.t(), "grace": None, "status": None}
        st.evictions.append(rec)
        if not isinstance(body, dict) or body.get("kind") != "Eviction" or \
                body.get("apiVersion") not in ("policy/v1", "policy/v1beta1"):
            rec["status"] = 400
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        md = body.get("metadata") or {}
        if md.get("name") != name or md.get("namespace", ns) != ns:
            rec["status"] = 400
            raise ApiError(400, "BadRequest", "name in URL does not match name in Eviction object")
        pod = st.pods.get((ns, name))
        if pod is None:
            rec["status"] = 404
            raise not_found("pods", name)
        rec["node"] = pod["spec"].get("nodeName")
        me = node_identity(user)
        if me is not None and rec["node"] != me:
            rec["status"] = 403
            raise self.forbid("pods", name, user, f"node {me} can only evict pods with spec.nodeName set to itself")
        opts = body.get("deleteOptions") or {}
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if not isinstance(grace, int) or grace < 0:
            rec["status"] = 422
            raise ApiError(422, "Invalid", "deleteOptions.gracePeriodSeconds: Invalid value: must be >= 0")
        rec["grace"] = grace
        try:
            check_preconditions(opts.get("preconditions"), pod)
        except ApiError:
            rec["status"] = 409
            raise
        terminal = pod["status"].get("phase") in ("Succeeded", "Failed", "Pending")
        if not terminal and "deletionTimestamp" not in pod["metadata"]:
            pdbs = st.pdb_matching(pod)
            if len(pdbs) > 1:
                rec["status"] = 500
                raise ApiError(500, None, "This pod has more than one PodDisruptionBudget, which "
                               "the eviction subresource does not support.")
            if pdbs:
                s = st.pdb_status(pdbs[0])
                if s["disruptionsAllowed"] <= 0:
                    rec["status"] = 429
                    raise ApiError(429, "TooManyRequests",
                                   "Cannot evict pod as it would violate the pod's disruption budget.",
                                   {"causes": [{"reason": "DisruptionBudget", "message":
                                                f"The disruption budget {pdbs[0]['name']} needs "
                                                f"{s['desiredHealthy']} healthy pods and has "
                                                f"{s['currentHealthy']} currently"}]})
        rec["status"] = 201
        st.terminate((ns, name), grace)
        return 201, success_status(201), None

    def post_event(self, ns, raw):
        st = self.st
        ev = self.json_body(raw)
        if not isinstance(ev, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        md = ev.setdefault("metadata", {})
        errs = []
        if md.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        if not md.get("name") and not md.get("generateName"):
            errs.append("metadata.name: Required value: name or generateName is required")
        io = ev.get("involvedObject") or {}
        if not io.get("kind") or not io.get("name"):
            errs.append("involvedObject: Required value")
        if not io.get("namespace") and ns not in ("default", ""):
            errs.append(f"involvedObject.namespace: Invalid value: \"\": does not match event.namespace")
        if ev.get("type") not in ("Normal", "Warning"):
            errs.append(f'type: Unsupported value: "{ev.get("type")}": supported values: "Normal", "Warning"')
        if not ev.get("reason"):
            errs.append("reason: Required value")
        if errs:
            raise ApiError(422, "Invalid", f'Event "{md.get("name", "")}" is invalid: ' + ", ".join(errs))
        if not md.get("name"):
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        md["namespace"] = ns
        md["uid"] = str(uuid.uuid4())
        md["resourceVersion"] = st.next_rv()
        md["creationTimestamp"] = now_rfc3339()
        # Fields the real server always returns, null or empty when not sent.
        for k in ("firstTimestamp", "lastTimestamp", "eventTime"):
            ev.setdefault(k, None)
        for k in ("reportingComponent", "reportingInstance"):
            ev.setdefault(k, "")
        md["managedFields"] = managed_fields(ev, "v1", "despotify")
        ev["kind"], ev["apiVersion"] = "Event", "v1"
        if len(st.events) < 100000:
            st.events.append(ev)
        return 201, ev, None

    # Control.
    def control(self, method, path, query, raw):
        st = self.st
        body = json.loads(raw.decode() or "{}") if raw else {}
        name = path[len("/_fake/"):]
        with st.lock:
            st.tick()
            if method == "GET" and name == "state":
                out = self.state_json((query.get("node") or [None])[0])
            elif method != "POST":
                raise ApiError(405, "MethodNotAllowed", "control endpoints take POST (or GET /_fake/state)")
            else:
                out = control_apply(st, name, body)
        self.send_json(200, out)


    def state_json(self, node):
        st = self.st
        out = {"requests": dict(st.requests), "statuses": dict(st.statuses), "peak_inflight": dict(st.peak),
               "inflight": dict(st.inflight),
               "peak_evictions_inflight": st.peak.get("POST eviction", 0), "auth_failures": st.auth_failures,
               "t": st.t(), "rv": st.rv, "forbidden": list(st.forbidden),
               "eks_rejections": list(st.eks_rejections)}
        if node is None:
            out["nodes"] = [{"name": n, "unschedulable": bool(v["spec"].get("unschedulable")),
                             "taints": v["spec"].get("taints", []), "pods": len(st.by_node.get(n, ()))}
                            for n, v in st.nodes.items()]
            out["evictions"] = len(st.evictions)
            out["deletions"] = len(st.deletions)
            out["events"] = len(st.events)
            return out
        out["node"] = st.nodes.get(node)
        pods = []
        for key in sorted(st.by_node.get(node, ())):
            p = st.pods[key]
            pods.append({"namespace": key[0], "name": key[1], "uid": p["metadata"]["uid"],
                         "phase": p["status"].get("phase"), "terminating": "deletionTimestamp" in p["metadata"]})
        out["pods"] = pods
        out["evictions"] = [e for e in st.evictions if e.get("node") in (node, None)]
        out["deletions"] = [d for d in st.deletions if d.get("node") == node]
        out["events"] = [e for e in st.events if (e.get("involvedObject") or {}).get("name") == node]
        out["all_events"] = len(st.events)
        out["request_log"] = list(st.request_log)
        out["pdbs"] = [st.pdb_json(p) for p in st.pdbs]
        return out


def control_apply(st, name, body):
    """One control request (see the module docstring); called with st.lock held
    (or before the server starts). Returns the JSON answer."""
    out = {"ok": True}
    if name == "reset":
        st.reset()
    elif name == "node":
        out["node"] = st.make_node(body)
    elif name == "nodes":
        for i in range(body.get("count", 1)):
            n = f"{body.get('prefix', 'node-')}{i:03d}"
            st.make_node({"name": n})
            if body.get("pods_per_node"):
                st.generate(n, body["pods_per_node"], prefix=n, mix=body.get("mix", True),
                            ns=body.get("namespace", "default"), size=body.get("size"))
    elif name == "pods":
        out["uids"] = [st.make_pod(body["node"], p)["metadata"]["uid"] for p in body.get("pods", [])]
    elif name == "generate":
        out["made"] = st.generate(body["node"], body.get("count", 110), body.get("prefix", "pod"),
                                  body.get("mix", True), body.get("namespace", "default"),
                                  body.get("size"), body.get("big", ()))
    elif name == "pdbs":
        st.pdbs = list(body.get("pdbs", []))
    elif name == "tokens":
        st.tokens = set(body.get("tokens", []))
    elif name == "config":
        for k in ("latency_ms", "rate_limit", "terminate_s", "replace_delay_s", "replacement_node",
                  "node_restriction_taints"):
            if k in body:
                setattr(st, k, body[k])
        if "rate_limit" in body:
            st.bucket = float(body["rate_limit"] or 0)
    elif name == "conflicts":
        st.conflicts[body["node"]] = int(body.get("count", 1))
    elif name == "faults":
        out = {"rules": st.rules.set(body.get("rules", []), bool(body.get("clear")))}
    elif name == "pod_phase":
        pod = st.pods[(body.get("namespace", "default"), body["name"])]
        pod["status"]["phase"] = body["phase"]
        pod["metadata"]["resourceVersion"] = st.next_rv()
    elif name == "remove_pod":
        st.remove_now((body.get("namespace", "default"), body["name"]))
    else:
        raise ApiError(404, "NotFound", f"no control endpoint {name}")
    return out


def arg_parser():
    """The fake's options; test/lib/realk8s.py takes their defaults for the object builders of State."""
    ap = argparse.ArgumentParser(description="fake Kubernetes API server (see the module docstring)")
    fakeserver.common_args(ap)
    ap.add_argument("--client-ca")
    ap.add_argument("--token", action="append")
    ap.add_argument("--sts-url")
    ap.add_argument("--sts-ca")
    ap.add_argument("--eks-cluster")
    ap.add_argument("--eks-role", action="append")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--rate-limit", type=float, default=0)
    ap.add_argument("--terminate-s", type=float, default=0)
    ap.add_argument("--replace-delay-s", type=float, default=1)
    ap.add_argument("--replacement-node", default="replacement-node")
    ap.add_argument("--start-delay-s", type=float, default=0)
    ap.add_argument("--seed", help="JSON file: a list of [control-endpoint, body] pairs applied at start, "
                                   'e.g. [["node", {"name": "n1"}], ["generate", {"node": "n1", "count": 20}]]')
    return ap


def main():
    ap = arg_parser()
    opts = ap.parse_args()

    srv = fakeserver.Server(Handler, opts.bind, opts.port, fakeserver.tls_of(ap, opts), opts.client_ca,
                            ssl.CERT_OPTIONAL, activate=False)
    srv.state = State(opts)
    srv.rules = srv.state.rules
    srv.log_file = open(opts.log, "a") if opts.log else None
    if opts.seed:
        with open(opts.seed) as f:
            for name, body in json.load(f):
                control_apply(srv.state, name, body)
    if opts.port_file:
        srv.write_port(opts.port_file)
    if opts.start_delay_s > 0:
        # Bound but not listening: connections are refused, as with an API server that is down.
        time.sleep(opts.start_delay_s)
    srv.server_activate()
    threading.Thread(target=reap, args=(srv.state,), daemon=True).start()
    fakeserver.serve(srv)


def reap(st):
    while True:
        time.sleep(0.1)
        with st.lock:
            st.tick()


if __name__ == "__main__":
    main()
