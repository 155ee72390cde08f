"""A real Kubernetes API server for tests: etcd (Debian's etcd-server) and the
kube-apiserver of ../shared/kube-apiserver/ (see its README), on 127.0.0.1,
with the test PKI, RBAC + the Node authorizer + NodeRestriction, the shipped
deploy/rbac.yaml applied, and despotify's ServiceAccount token from a
TokenRequest. There is no kubelet and no controller: a thread here plays the
parts a test needs (pods Running, terminating pods finished after their grace,
replacements for controller-owned pods, PDB status as the disruption
controller keeps it).

    rk = RealK8s(tmpdir)                 # raises Unavailable when no server can run
    rk.node("ip-10-0-1-23", taints=[...])  # the driver methods of k8sfake.FakeK8s
    rk.generate("ip-10-0-1-23", 110)
    st = rk.state("ip-10-0-1-23")        # {"node", "pods", "events", "evictions", "requests", ...}
    rk.stop()                            # always: kills both servers, removes the data

Objects are built by test/fakes/fake_k8s.py's own builders (State.make_node,
make_pod, generate), so both servers hold the same objects. Requests are
counted from the API server's audit log, for the users under test only (not
the harness's own admin).

KUBE_APISERVER=PATH runs another, already decompressed kube-apiserver; its
sha256 must be the README's unless KUBE_APISERVER_SHA256 gives another one.
"""
import base64
import calendar
import copy
import hashlib
import http.client
import itertools
import json
import lzma
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fakeproc import free_port, stop_process, write_kubeconfig
from pki import make_pki, node_cert

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "kube-apiserver")
XZ_SHA256 = "d5490ed4fffbcb9932fe3262b28b4d6876e370ed79f63115569c2d1944657aa0"
BIN_SHA256 = "3358ba90b92b10f61433e268a7e9a89f5f2605444361fa32547762061bf52ffe"
ETCD = "/usr/bin/etcd"
KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else None)
READY_TIMEOUT = 90       # seconds for etcd + kube-apiserver to answer /readyz on a busy machine
REQUEST_TIMEOUT = 30     # seconds for one request of the harness
TICK = 0.1               # seconds between two rounds of the kubelet/controller thread
ADMIN = "despotify-test-admin"
MARKER = "despotify-test-audit-marker"
HARNESS_USERS = (ADMIN, MARKER, "system:apiserver")
REPLACEABLE = ("ReplicaSet", "StatefulSet", "ReplicationController")

sys.path.insert(0, os.path.join(ROOT, "test", "fakes"))
import fake_k8s  # noqa: E402  (the object builders, shared with the fake)


class Unavailable(Exception):
    """No real API server can run here; the message says why (a test skips with it)."""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def apiserver_binary():
    """The path of a verified kube-apiserver: $KUBE_APISERVER, or the shared
    .xz decompressed once into build/kube-apiserver/. Raises Unavailable."""
    if not os.path.exists(ETCD):
        raise Unavailable(f"{ETCD} is missing (Debian package etcd-server)")
    env = os.environ.get("KUBE_APISERVER")
    if env:
        want = os.environ.get("KUBE_APISERVER_SHA256") or BIN_SHA256
        if not os.access(env, os.X_OK):
            raise Unavailable(f"KUBE_APISERVER={env} is not an executable file")
        if sha256(env) != want:
            raise Unavailable(f"KUBE_APISERVER={env}: sha256 is not {want} (set KUBE_APISERVER_SHA256)")
        return env
    xz = os.path.join(SHARED, "kube-apiserver.xz")
    if not os.path.exists(xz):
        raise Unavailable(f"{xz} is missing (no ../shared beside the checkout) and KUBE_APISERVER is not set")
    out_dir = os.path.join(ROOT, "build", "kube-apiserver")
    out = os.path.join(out_dir, "kube-apiserver")
    stamp = out + ".verified"
    if os.path.exists(stamp) and os.path.exists(out) and \
            os.path.getmtime(stamp) >= os.path.getmtime(out) and os.path.getsize(out) > 0:
        return out
    if sha256(xz) != XZ_SHA256:
        raise Unavailable(f"{xz}: sha256 is not the README's {XZ_SHA256}")
    os.makedirs(out_dir, exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"
    h = hashlib.sha256()
    with lzma.open(xz) as src, open(tmp, "wb") as dst:
        for b in iter(lambda: src.read(1 << 20), b""):
            h.update(b)
            dst.write(b)
    if h.hexdigest() != BIN_SHA256:
        os.unlink(tmp)
        raise Unavailable(f"{xz} decompresses to a file whose sha256 is not the README's {BIN_SHA256}")
    os.chmod(tmp, 0o755)
    os.rename(tmp, out)
    open(stamp, "w").close()
    return out


def parse_ts(s):
    """An audit timestamp ("2024-01-02T03:04:05.123456Z") as seconds since the epoch."""
    base, _, frac = s.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac) if frac else 0.0)


# Only what the clients under test send; evictions and deletions with their
# bodies (the grace period asked for).
AUDIT_POLICY = f"""apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["{ADMIN}", "system:apiserver"]
- level: None
  nonResourceURLs: ["/readyz", "/livez", "/healthz"]
- level: Request
  verbs: ["create", "delete"]
  resources: [{{group: "", resources: ["pods", "pods/eviction"]}}]
- level: Metadata
"""

VERB_METHOD = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
               "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}


class ApiError(Exception):
    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path}: {status} {json.dumps(body)[:400]}")
        self.status, self.body = status, body


class Api:
    """A small JSON client for the API server: a bearer token or a client
    certificate, one keep-alive connection per thread."""

    def __init__(self, port, ca, token=None, cert=None):
        self.port, self.token = port, token
        self.ctx = ssl.create_default_context(cafile=ca)
        if cert:
            self.ctx.load_cert_chain(*cert)
        self.local = threading.local()
        self.conns = []              # every thread's connection, for close()
        self.conns_lock = threading.Lock()

    def _conn(self, fresh=False):
        c = getattr(self.local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=REQUEST_TIMEOUT)
            self.local.conn = c
            with self.conns_lock:
                self.conns.append(c)
        return c

    def close(self):
        with self.conns_lock:
            for c in self.conns:
                c.close()
            self.conns = []

    def request(self, method, path, body=None, ctype="application/json"):
        """Returns (status, decoded JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = ctype
        if self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        for attempt in (0, 1):
            c = self._conn(fresh=attempt > 0)
            try:
                c.request(method, path, body=data, headers=hdrs)
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                c.close()
                self.local.conn = None
                if attempt:
                    raise
        try:
            obj = json.loads(raw.decode()) if raw else None
        except ValueError:
            obj = {"raw": raw.decode(errors="replace")}
        return r.status, obj

    def must(self, method, path, body=None, ctype="application/json", ok=(200, 201)):
        status, obj = self.request(method, path, body, ctype)
        if status not in ok:
            raise ApiError(method, path, status, obj)
        return obj


def pod_path(ns, name=""):
    return f"/api/v1/namespaces/{ns}/pods" + (f"/{name}" if name else "")


class Gate:
    """A TCP port in front of the API server, as a load balancer with a
    health check is: close() refuses connections (and cuts those open),
    open() takes them again on the same port."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.lock = threading.Lock()
        self.listener = None
        self.conns = []
        self.threads = []

    def open(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        with self.lock:
            self.listener = ls
        self._thread(self._accept, ls)

    def _thread(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        with self.lock:
            self.threads = [x for x in self.threads if x.is_alive()] + [t]
        t.start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            self._thread(self._pipe, c, u)
            self._thread(self._pipe, u, c)

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        with self.lock:
            ls, self.listener = self.listener, None
            conns, self.conns = self.conns, []
            threads = list(self.threads)
        if ls:
            ls.shutdown(socket.SHUT_RDWR)   # wakes the accept()
            ls.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        for t in threads:
            t.join(10)


class Webhook(ThreadingHTTPServer):
    """A validating admission webhook on 127.0.0.1 over TLS, registered for
    node UPDATEs (a PATCH is one) and pod eviction CREATEs. What it answers is
    set through RealK8s.webhook(): node_patch "allow", "deny" (allowed false,
    a 403 Status) or "error500" (HTTP 500: the API server fails closed);
    eviction_delay_ms (latency for evictions); conflicts (the next N node
    PATCHes first meet a concurrent write, made by the harness's admin)."""
    daemon_threads = True

    def __init__(self, crt, key):
        super().__init__(("127.0.0.1", 0), WebhookHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.lock = threading.Lock()
        self.node_patch = "allow"
        self.eviction_delay_ms = 0
        self.conflicts = {}          # node -> count
        self.concurrent_write = None  # fn(node) set by RealK8s
        self.reviews = []            # (kind, operation, user, answer)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def handle_error(self, request, client_address):
        pass

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(10)


class WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        review = json.loads(self.rfile.read(n).decode() or "{}")
        req = review.get("request") or {}
        srv = self.server
        path = self.path.split("?", 1)[0]   # the API server adds ?timeout=...
        user = (req.get("userInfo") or {}).get("username", "")
        answer = {"uid": req.get("uid"), "allowed": True}
        code = 200
        if path == "/evictions":
            time.sleep(srv.eviction_delay_ms / 1000.0)
        elif path == "/nodes" and user != ADMIN:
            node = req.get("name")
            with srv.lock:
                mode = srv.node_patch
                conflict = srv.conflicts.get(node, 0) > 0
                if conflict:
                    srv.conflicts[node] -= 1
            if conflict and srv.concurrent_write:
                srv.concurrent_write(node)
            if mode == "deny":
                answer = {"uid": req.get("uid"), "allowed": False,
                          "status": {"code": 403, "message": "node changes are frozen by the test webhook"}}
            elif mode == "error500":
                code = 500
        with srv.lock:
            srv.reviews.append((path, req.get("operation"), user, code if code != 200 else answer["allowed"]))
        body = b"internal error" if code == 500 else json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if code == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RealK8s:
    """etcd + kube-apiserver + the webhook + the kubelet/controller thread for
    one test class. Every process and file it makes is under tmpdir; stop()
    ends them (call it from tearDownClass, or addClassCleanup)."""

    def __init__(self, tmpdir, terminate_s=0, replace_delay_s=1, replacement_node="replacement-node",
                 eviction_webhook=True):
        """eviction_webhook False: no admission webhook on evictions (no
        latency_ms then), so they cost what the API server alone makes them cost."""
        self.dir = tmpdir
        self.eviction_webhook = eviction_webhook
        self.terminate_s, self.replace_delay_s, self.replacement_node = terminate_s, replace_delay_s, replacement_node
        self.defaults = (terminate_s, replace_delay_s)
        self.procs = {}
        self.gates = []
        self.webhook_srv = None
        self.thread = None
        self.halt = threading.Event()
        self.lock = threading.RLock()   # one round of the controller, or one test-driven change, at a time
        self.t0 = time.time()
        self.errors = []
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    # Start-up.
    def _start(self):
        binary = apiserver_binary()
        self.pki = make_pki(os.path.join(self.dir, "pki"))
        self.data = os.path.join(self.dir, "k8s-data")
        os.makedirs(self.data, exist_ok=True)
        sa_key = os.path.join(self.data, "sa.key")
        subprocess.run(["openssl", "genrsa", "-out", sa_key, "2048"], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.admin_token = "admin-" + os.urandom(12).hex()
        self.marker_token = "marker-" + os.urandom(12).hex()
        tokens = os.path.join(self.data, "tokens.csv")
        with open(tokens, "w") as f:
            f.write(f'{self.admin_token},{ADMIN},uid-admin,"system:masters"\n')
            f.write(f"{self.marker_token},{MARKER},uid-marker\n")
        self.audit_log = os.path.join(self.data, "audit.log")
        policy = os.path.join(self.data, "audit-policy.yaml")
        with open(policy, "w") as f:
            f.write(AUDIT_POLICY)
        p1, p2, self.port = free_port(), free_port(), free_port()
        self._spawn("etcd", [ETCD, "--data-dir", os.path.join(self.data, "etcd"),
                             "--listen-client-urls", f"http://127.0.0.1:{p1}",
                             "--advertise-client-urls", f"http://127.0.0.1:{p1}",
                             "--listen-peer-urls", f"http://127.0.0.1:{p2}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{p2}",
                             "--initial-cluster", f"default=http://127.0.0.1:{p2}", "--name", "default",
                             "--log-level", "warn"])
        self.apiserver_cmd = [
            binary, f"--etcd-servers=http://127.0.0.1:{p1}", "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={self.pki['server_crt']}", f"--tls-private-key-file={self.pki['server_key']}",
            f"--client-ca-file={self.pki['ca']}", f"--token-auth-file={tokens}",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
            "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={sa_key}",
            f"--service-account-signing-key-file={sa_key}", "--service-cluster-ip-range=10.0.0.0/24",
            f"--cert-dir={os.path.join(self.data, 'certs')}", "--endpoint-reconciler-type=none",
            "--profiling=false", f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}",
            "--audit-log-mode=blocking", "--audit-log-format=json"]
        self.url = f"https://127.0.0.1:{self.port}"
        self.admin = Api(self.port, self.pki["ca"], token=self.admin_token)
        self.start_apiserver()
        self._apply_rbac()
        self.token = self._token_request("kube-system", "despotify")
        self.token_file = os.path.join(self.dir, "despotify-token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        self.namespaces = set()
        self.made_refs = set()      # ServiceAccounts (ns, name) and PriorityClasses made for pods
        self.refs_lock = threading.Lock()
        for ns in ("default", "kube-system"):
            self.ensure_namespace(ns)
        self._start_webhook()
        self._reset_local()
        # Who owns the threads: this object; stop() sets halt and joins both.
        self.cache = None           # uid -> pod, kept by the watch thread (None until its first list)
        self.cache_lock = threading.Lock()
        self.watcher = threading.Thread(target=self._watch, name="realk8s-watch", daemon=True)
        self.watcher.start()
        self.thread = threading.Thread(target=self._loop, name="realk8s-controllers", daemon=True)
        self.thread.start()

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, name + ".stderr"), "ab")
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)
        log.close()

    def start_apiserver(self):
        """Starts kube-apiserver (again, on the same port) and waits for /readyz."""
        self._spawn("kube-apiserver", self.apiserver_cmd)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}; see {self.dir}/{name}.stderr")
            try:
                if self.admin.request("GET", "/readyz")[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kube-apiserver not ready in {READY_TIMEOUT} s; see {self.dir}")
            time.sleep(0.2)

    def gate(self):
        """A Gate (open) in front of this API server; stop() closes it."""
        g = Gate(self.port)
        g.open()
        self.gates.append(g)
        return g

    def stop_apiserver(self):
        """Ends kube-apiserver (etcd and the data stay): the API server is down."""
        self._end("kube-apiserver")

    def _end(self, name):
        p = self.procs.pop(name, None)
        if p is None:
            return
        stop_process(p, 15)

    def _apply_rbac(self):
        """deploy/rbac.yaml as shipped: with kubectl when there is one, else
        the same objects POSTed one by one (python3-yaml reads the file)."""
        rbac = os.path.join(ROOT, "deploy", "rbac.yaml")
        if KUBECTL:
            kc = self.kubeconfig(os.path.join(self.dir, "admin.kubeconfig"), self.admin_token)
            p = subprocess.run([KUBECTL, "--kubeconfig", kc, "--request-timeout=30s", "apply", "-f", rbac],
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, HOME=self.dir, KUBECACHEDIR=os.path.join(self.dir, "kc")))
            if p.returncode != 0:
                raise RuntimeError(f"kubectl apply -f deploy/rbac.yaml: {p.stderr}")
            return
        import yaml
        with open(rbac) as f:
            for obj in filter(None, yaml.safe_load_all(f)):
                kind, md = obj["kind"], obj["metadata"]
                base = "/api/v1" if obj["apiVersion"] == "v1" else "/apis/" + obj["apiVersion"]
                res = {"ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles",
                       "ClusterRoleBinding": "clusterrolebindings"}[kind]
                path = base + (f"/namespaces/{md['namespace']}" if "namespace" in md else "") + "/" + res
                self.admin.must("POST", path, obj)

    def _token_request(self, ns, sa):
        tr = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
              "spec": {"expirationSeconds": 3600}}
        return self.admin.must("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token", tr)["status"]["token"]

    def _start_webhook(self):
        self.webhook_srv = Webhook(self.pki["server_crt"], self.pki["server_key"])
        self.webhook_srv.concurrent_write = self._concurrent_write
        with open(self.pki["ca"], "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        wport = self.webhook_srv.server_address[1]

        def hook(name, path, resource, op):
            return {"name": f"{name}.despotify.test", "failurePolicy": "Fail", "sideEffects": "None",
                    "admissionReviewVersions": ["v1"], "timeoutSeconds": 15,
                    "clientConfig": {"url": f"https://127.0.0.1:{wport}{path}", "caBundle": ca},
                    "rules": [{"operations": [op], "apiGroups": [""], "apiVersions": ["v1"],
                               "resources": [resource]}]}
        self.admin.must("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "despotify-test"},
            "webhooks": [hook("nodes", "/nodes", "nodes", "UPDATE")] +
                        ([hook("evictions", "/evictions", "pods/eviction", "CREATE")] if self.eviction_webhook else [])})
        # The API server picks the configuration up through a watch: wait
        # until the webhook sees a node update.
        self.admin.must("POST", "/api/v1/nodes", {"metadata": {"name": "webhook-check"}})
        deadline = time.monotonic() + 30
        last = None
        while not any(r[0] == "/nodes" for r in self.webhook_srv.reviews):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test admission webhook was never called: {last}")
            last = self.admin.request("PATCH", "/api/v1/nodes/webhook-check",
                               {"metadata": {"labels": {"check": str(time.monotonic())}}},
                               "application/merge-patch+json")
            time.sleep(0.1)
        self.admin.must("DELETE", "/api/v1/nodes/webhook-check")

    def _concurrent_write(self, node):
        # In a webhook thread, while the API server waits: self.lock may be held by the test's thread.
        label = f"fake/concurrent-{next(self.conflict_serial)}"
        self.admin.request("PATCH", f"/api/v1/nodes/{node}", {"metadata": {"labels": {label: "true"}}},
                           "application/merge-patch+json")

    def kubeconfig(self, path, token=None, cert=None):
        """Writes a kubeconfig for this server with a bearer token or a client certificate (crt, key)."""
        user = [f"token: {token}"] if token else [f"client-certificate: {cert[0]}", f"client-key: {cert[1]}"]
        return write_kubeconfig(path, "real", self.url, self.pki["ca"], user)

    def node_cert(self, node):
        """The kubelet identity of node: a client certificate CN=system:node:NODE, O=system:nodes."""
        pem = node_cert(self.pki["dir"], node, "node-" + node)
        return pem, pem

    def ensure_namespace(self, ns):
        if ns in self.namespaces:
            return
        self.admin.must("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}, ok=(201, 409))
        # No controller manager: the "default" ServiceAccount the pods name is ours to make.
        self.admin.must("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "default"}},
                        ok=(201, 409))
        self.namespaces.add(ns)

    def stop(self):
        """Stops everything this instance started and removes its data directory."""
        self.halt.set()
        for g in self.gates:
            g.close()
        for t in (self.thread, getattr(self, "watcher", None)):
            if t:
                t.join(30)
        if self.webhook_srv:
            self.webhook_srv.stop()
            self.webhook_srv = None
        for name in ("kube-apiserver", "etcd"):
            self._end(name)
        if getattr(self, "admin", None):
            self.admin.close()
        shutil.rmtree(os.path.join(self.dir, "k8s-data"), ignore_errors=True)

    # The driver methods of k8sfake.FakeK8s.
    def _reset_local(self):
        self.builder = fake_k8s.State(fake_k8s.arg_parser().parse_args(["--replace-delay-s", "-1"]))
        self.pod_node = {}          # (ns, name) -> [(t created, node)...]: whose eviction state() shows
        self.terminate_of = {}      # uid -> seconds the pod takes to go after its eviction (None: default)
        self.terminating = {}       # uid -> monotonic time first seen terminating
        self.replacements = []      # (monotonic due time, pod)
        self.serial = 0
        self.conflict_serial = itertools.count(1)
        self.audit_offset = os.path.getsize(self.audit_log) if os.path.exists(self.audit_log) else 0

    def reset(self):
        """Forgets every node, pod, PDB and Event (deleted at once), and the
        request counts; options back to those given to the constructor."""
        with self.lock:
            for ns in sorted(self.namespaces):
                self.admin.must("DELETE", f"/api/v1/namespaces/{ns}/pods?gracePeriodSeconds=0")
                self.admin.must("DELETE", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets")
                self.admin.must("DELETE", f"/api/v1/namespaces/{ns}/events")
            self.admin.must("DELETE", "/api/v1/nodes")
            self.webhook(node_patch="allow", eviction_delay_ms=0)
            self.webhook_srv.conflicts.clear()
            self.terminate_s, self.replace_delay_s = self.defaults
            self._reset_local()

    def ctl(self, name, body=None):
        body = body or {}
        if name == "reset":
            return self.reset()
        if name == "conflicts":
            with self.webhook_srv.lock:
                self.webhook_srv.conflicts[body["node"]] = int(body.get("count", 1))
            return None
        if name == "remove_pod":
            ns = body.get("namespace", "default")
            return self.admin.request("DELETE", pod_path(ns, body["name"]) + "?gracePeriodSeconds=0")
        if name == "pod_phase":
            ns = body.get("namespace", "default")
            return self.admin.must("PATCH", pod_path(ns, body["name"]) + "/status",
                                   {"status": {"phase": body["phase"]}}, "application/merge-patch+json")
        raise NotImplementedError(f"the real API server has no control endpoint {name}")

    def webhook(self, node_patch=None, eviction_delay_ms=None):
        """What the admission webhook answers from now on (see Webhook)."""
        with self.webhook_srv.lock:
            if node_patch is not None:
                self.webhook_srv.node_patch = node_patch
            if eviction_delay_ms is not None:
                self.webhook_srv.eviction_delay_ms = eviction_delay_ms

    def config(self, latency_ms=None, terminate_s=None, replace_delay_s=None, replacement_node=None, rate_limit=0):
        """Like the fake's: terminate_s, replace_delay_s, replacement_node; latency_ms
        is added to evictions only (by the webhook). There is no rate_limit here."""
        if rate_limit:
            raise NotImplementedError("the real API server has no rate limit to set (APF is on, unlimited here)")
        with self.lock:
            if terminate_s is not None:
                self.terminate_s = terminate_s
            if replace_delay_s is not None:
                self.replace_delay_s = replace_delay_s
            if replacement_node is not None:
                self.replacement_node = replacement_node
        if latency_ms:
            if not self.eviction_webhook:
                raise NotImplementedError("latency_ms needs the eviction webhook (eviction_webhook=True)")
        if latency_ms is not None:
            self.webhook(eviction_delay_ms=latency_ms)

    def node(self, name, **kw):
        """Creates the node (or replaces it: labels, taints, unschedulable) and sets its status."""
        with self.lock:
            built = self.builder.make_node(dict(kw, name=name))
            md = {k: built["metadata"][k] for k in ("name", "labels", "annotations")}
            status, cur = self.admin.request("GET", f"/api/v1/nodes/{name}")
            if status == 404:
                # TaintNodesByCondition adds node.kubernetes.io/not-ready on
                # create; the node controller lifts it once the node is Ready:
                # the PUT below leaves the taints the test asked for.
                cur = self.admin.must("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                                "metadata": md, "spec": built["spec"]})
            md["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if cur["spec"].get("providerID"):   # set once, never changed
                built["spec"]["providerID"] = cur["spec"]["providerID"]
            self.admin.must("PUT", f"/api/v1/nodes/{name}", {"apiVersion": "v1", "kind": "Node",
                                                             "metadata": md, "spec": built["spec"]})
            return self.admin.must("PATCH", f"/api/v1/nodes/{name}/status", {"status": built["status"]},
                                   "application/merge-patch+json")

    def pods(self, node, pods):
        with self.lock:
            made = [self.builder.make_pod(node, p) for p in pods]
            return {"uids": self._create_pods(made, [p.get("terminate_s") for p in pods])}

    def generate(self, node, count=110, prefix="pod", mix=True, namespace="default"):
        with self.lock:
            before = set(self.builder.pods)
            made = self.builder.generate(node, count, prefix, mix, namespace)
            new = [p for k, p in self.builder.pods.items() if k not in before]
            self._create_pods(new, [None] * len(new))
            return made

    def _create_pods(self, pods, terminate_s):
        for p in pods:
            self.ensure_namespace(p["metadata"]["namespace"])
        workers = min(8, max(1, len(pods)))
        out = [None] * len(pods)

        def work(i):
            out[i] = self._create_pod(pods[i], terminate_s[i])
        threads = [threading.Thread(target=lambda k=k: [work(i) for i in range(k, len(pods), workers)])
                   for k in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if None in out:
            raise RuntimeError("creating pods failed: " + "; ".join(self.errors[-3:]))
        return out

    def _create_pod(self, pod, terminate_s=None):
        """Creates a pod built by fake_k8s, bound to its node, then sets its
        status as the kubelet would. Returns its uid (None on failure)."""
        md = {k: v for k, v in pod["metadata"].items()
              if k not in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                           "deletionGracePeriodSeconds", "managedFields")}
        spec = copy.deepcopy(pod["spec"])
        if "kubernetes.io/config.mirror" in (md.get("annotations") or {}):
            # A mirror pod names no ServiceAccount (the ServiceAccount admission refuses it).
            spec.pop("serviceAccountName", None)
            spec.pop("serviceAccount", None)
            spec["volumes"] = [v for v in spec.get("volumes", []) if "projected" not in v]
            for c in spec["containers"]:
                c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if not m["name"].startswith("kube-api")]
        ns = md["namespace"]
        try:
            self._ensure_refs(ns, spec)
            made = self.admin.must("POST", pod_path(ns), {"apiVersion": "v1", "kind": "Pod", "metadata": md,
                                                          "spec": spec})
            self.admin.must("PATCH", pod_path(ns, md["name"]) + "/status", {"status": pod["status"]},
                            "application/merge-patch+json")
        except (ApiError, OSError, http.client.HTTPException) as e:
            self.errors.append(str(e))
            return None
        uid = made["metadata"]["uid"]
        self.pod_node.setdefault((ns, md["name"]), []).append((time.time() - self.t0, spec.get("nodeName")))
        self.terminate_of[uid] = terminate_s
        return uid

    def _ensure_refs(self, ns, spec):
        """What admission wants to exist before a pod naming it: its
        ServiceAccount and its PriorityClass (no controller makes them here)."""
        sa = spec.get("serviceAccountName")
        with self.refs_lock:   # not self.lock: the pod-creating threads run while their caller holds it
            if sa and (ns, sa) not in self.made_refs:
                self.admin.must("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": sa}},
                                ok=(201, 409))
                self.made_refs.add((ns, sa))
            pc = spec.get("priorityClassName")
            if pc and pc not in self.made_refs:
                self.admin.must("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", {
                    "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": pc},
                    "value": spec.get("priority", 0)}, ok=(201, 409))
                self.made_refs.add(pc)

    def pdbs(self, pdbs):
        """Replaces the PDB set (the fake's {"name", "namespace", "selector", "minAvailable"|"maxUnavailable"})
        and sets their status before returning."""
        with self.lock:
            for ns in sorted(self.namespaces):
                self.admin.must("DELETE", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets")
            for p in pdbs:
                ns = p.get("namespace", "default")
                self.ensure_namespace(ns)
                spec = self.builder.pdb_json(dict(p))["spec"]
                self.admin.must("POST", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", {
                    "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": p["name"], "namespace": ns}, "spec": spec})
            self._tick(self.admin.must("GET", "/api/v1/pods")["items"])

    # The kubelet and the controllers.
    def _loop(self):
        while not self.halt.wait(TICK):
            try:
                with self.lock:
                    self._tick()
            except (ApiError, OSError, http.client.HTTPException) as e:
                # The API server may be down on purpose (stop_apiserver): try again next round.
                if len(self.errors) < 1000:
                    self.errors.append(str(e))

    def _watch(self):
        """Keeps self.cache as a kubelet's informer would: a LIST, then a
        WATCH from its resourceVersion (listing 110 big pods ten times a
        second would load the API server more than the client under test)."""
        rv = None
        while not self.halt.is_set():
            try:
                if rv is None:
                    lst = self.admin.must("GET", "/api/v1/pods")
                    with self.cache_lock:
                        self.cache = {p["metadata"]["uid"]: p for p in lst["items"]}
                    rv = lst["metadata"]["resourceVersion"]
                rv = self._watch_from(rv)
            except (ApiError, OSError, http.client.HTTPException, ValueError) as e:
                if len(self.errors) < 1000:
                    self.errors.append("watch: " + str(e))
                rv = None
                self.halt.wait(0.5)

    def _watch_from(self, rv):
        """One WATCH, read until it ends or is idle for a second; returns the
        resourceVersion to go on from (None: list again)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.admin.ctx, timeout=1)
        try:
            c.request("GET", f"/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=30",
                      headers={"Authorization": "Bearer " + self.admin_token})
            r = c.getresponse()
            if r.status != 200:
                r.read()
                return None
            while not self.halt.is_set():
                try:
                    line = r.readline()
                except (socket.timeout, TimeoutError):
                    return rv
                if not line:
                    return rv
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    return None   # 410 Gone: too old, list again
                with self.cache_lock:
                    if ev.get("type") == "DELETED":
                        self.cache.pop(obj["metadata"]["uid"], None)
                    elif ev.get("type") in ("ADDED", "MODIFIED"):
                        self.cache[obj["metadata"]["uid"]] = obj
                rv = obj["metadata"]["resourceVersion"]
            return rv
        finally:
            c.close()

    def _tick(self, pods=None):
        now = time.monotonic()
        if pods is None:
            with self.cache_lock:
                if self.cache is None:
                    return
                pods = list(self.cache.values())
        for p in pods:
            md = p["metadata"]
            if "deletionTimestamp" not in md:
                continue
            seen = self.terminating.setdefault(md["uid"], now)
            own = self.terminate_of.get(md["uid"])
            delay = min(self.terminate_s if own is None else own, md.get("deletionGracePeriodSeconds", 30))
            if now >= seen + delay:
                self._finish(p, now)
        due = [r for r in self.replacements if r[0] <= now]
        if due:
            self.replacements = [r for r in self.replacements if r[0] > now]
            for _, pod in due:
                self._replace(pod)
        self._sync_pdbs(pods)

    def _finish(self, pod, now):
        """The kubelet is done with a terminating pod: it goes, and its controller replaces it."""
        md = pod["metadata"]
        status, _ = self.admin.request("DELETE", pod_path(md["namespace"], md["name"]),
                                       {"gracePeriodSeconds": 0, "preconditions": {"uid": md["uid"]}})
        if status not in (200, 404):
            return
        self.terminating.pop(md["uid"], None)
        ref = next((r for r in md.get("ownerReferences", []) if r.get("controller")), None)
        if status == 200 and ref and ref.get("kind") in REPLACEABLE and self.replace_delay_s >= 0 \
                and pod["status"].get("phase") not in ("Succeeded", "Failed"):
            self.replacements.append((now + self.replace_delay_s, pod))

    def _replace(self, old):
        pod = copy.deepcopy(old)
        md = pod["metadata"]
        ref = next(r for r in md["ownerReferences"] if r.get("controller"))
        if ref["kind"] != "StatefulSet":
            self.serial += 1
            md["name"] = (md.get("generateName") or md["name"] + "-") + "r%04d" % self.serial
        pod["spec"]["nodeName"] = self.replacement_node
        pod["status"] = {k: v for k, v in pod["status"].items()
                         if k in ("phase", "conditions", "containerStatuses", "qosClass", "startTime")}
        pod["status"]["phase"] = "Running"
        self._create_pod(pod)

    def _sync_pdbs(self, pods):
        """The disruption controller: each PDB's status from the pods it covers,
        disruptions the evictions made (status.disruptedPods) counted as
        unhealthy until the pod is terminating; written with the PDB's
        resourceVersion, so an eviction that raced this round wins (409)."""
        for pdb in self.admin.must("GET", "/apis/policy/v1/poddisruptionbudgets")["items"]:
            md, spec = pdb["metadata"], pdb["spec"]
            sel = (spec.get("selector") or {}).get("matchLabels") or {}
            old = pdb.get("status") or {}
            disrupted = dict(old.get("disruptedPods") or {})
            expected = healthy = 0
            live = set()
            for p in pods:
                pmd = p["metadata"]
                if pmd["namespace"] != md["namespace"] or \
                        not all((pmd.get("labels") or {}).get(k) == v for k, v in sel.items()):
                    continue
                if p["status"].get("phase") in ("Succeeded", "Failed"):
                    continue
                expected += 1
                if "deletionTimestamp" in pmd:
                    continue
                live.add(pmd["name"])
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in p["status"].get("conditions") or [])
                if ready and pmd["name"] not in disrupted:
                    healthy += 1
            disrupted = {k: v for k, v in disrupted.items() if k in live}
            desired = self._desired(spec, expected)
            status = {"observedGeneration": md.get("generation", 1), "disruptionsAllowed": max(0, healthy - desired),
                      "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected}
            if disrupted:
                status["disruptedPods"] = disrupted
            status["conditions"] = old.get("conditions") or []
            if all(old.get(k) == v for k, v in status.items() if k != "conditions") and \
                    bool(old.get("disruptedPods")) == bool(disrupted):
                continue
            body = dict(pdb, status=status)
            self.admin.request("PUT", f"/apis/policy/v1/namespaces/{md['namespace']}/poddisruptionbudgets/"
                                      f"{md['name']}/status", body)

    @staticmethod
    def _desired(spec, expected):
        def amount(v):
            if isinstance(v, str) and v.endswith("%"):
                return -(-expected * int(v[:-1]) // 100)
            return int(v)
        if "minAvailable" in spec:
            return amount(spec["minAvailable"])
        return max(0, expected - amount(spec.get("maxUnavailable", 0)))

    # Reading back.
    def state(self, node=None):
        """The fake's state(): node, pods (namespace, name, uid, phase,
        terminating), events about the node, and, from the audit log, the
        requests of the clients under test since the last reset: requests,
        statuses, request_log, evictions, deletions, peak_evictions_inflight.
        Times ("t") are seconds since this harness started."""
        audit = self._audit()
        out = {"t": round(time.time() - self.t0, 3)}
        out.update(audit)
        pods = self.admin.must("GET", "/api/v1/pods" + (
            "?fieldSelector=" + urllib.parse.quote("spec.nodeName=" + node) if node else ""))["items"]
        if node is None:
            out["nodes"] = [{"name": n["metadata"]["name"], "unschedulable": bool(n["spec"].get("unschedulable")),
                             "taints": n["spec"].get("taints", [])}
                            for n in self.admin.must("GET", "/api/v1/nodes")["items"]]
            return out
        status, n = self.admin.request("GET", f"/api/v1/nodes/{node}")
        out["node"] = n if status == 200 else None
        out["pods"] = [{"namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"],
                        "uid": p["metadata"]["uid"], "phase": p["status"].get("phase"),
                        "terminating": "deletionTimestamp" in p["metadata"]}
                       for p in sorted(pods, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))]
        out["evictions"] = [e for e in audit["evictions"] if e.get("node") in (node, None)]
        out["deletions"] = [d for d in audit["deletions"] if d.get("node") == node]
        evs = self.admin.must("GET", "/api/v1/namespaces/default/events?fieldSelector=" +
                              urllib.parse.quote("involvedObject.name=" + node))["items"]
        out["events"] = sorted(evs, key=lambda e: int(e["metadata"]["resourceVersion"]))
        out["pdbs"] = self.admin.must("GET", "/apis/policy/v1/poddisruptionbudgets")["items"]
        return out

    def _audit_events(self):
        """The audit events since the last reset, once every request made
        before this call is in the log (a marker request is waited for)."""
        marker = "audit-marker-" + os.urandom(6).hex()
        api = Api(self.port, self.pki["ca"], token=self.marker_token)
        api.request("GET", f"/api/v1/namespaces/default/configmaps/{marker}")
        api.close()
        deadline = time.monotonic() + 20
        while True:
            with open(self.audit_log, "rb") as f:
                f.seek(self.audit_offset)
                data = f.read()
            data = data[:data.rfind(b"\n") + 1]
            if marker.encode() in data:
                return [json.loads(line) for line in data.splitlines() if line.strip()]
            if time.monotonic() > deadline:
                raise RuntimeError("the audit log never recorded the marker request")
            time.sleep(0.05)

    def _node_of(self, key, t):
        """The node of the pod named key at time t (a StatefulSet's replacement has the same name)."""
        nodes = [n for made, n in self.pod_node.get(key, ()) if made <= t + 0.01]
        return nodes[-1] if nodes else None

    def _audit(self):
        out = {"requests": {}, "statuses": {}, "request_log": [], "evictions": [], "deletions": [],
               "auth_failures": 0}
        spans = []
        for ev in self._audit_events():
            user = (ev.get("user") or {}).get("username", "")
            if user in HARNESS_USERS:
                continue
            method = VERB_METHOD.get(ev.get("verb"), (ev.get("verb") or "").upper())
            uri = ev.get("requestURI", "")
            path = uri.split("?", 1)[0]
            code = (ev.get("responseStatus") or {}).get("code", 0)
            t_recv = parse_ts(ev["requestReceivedTimestamp"])
            t_done = parse_ts(ev["stageTimestamp"])
            kind = fake_k8s.request_kind(method, path)
            kind = "LIST pods" if kind == "GET pods" else kind
            out["requests"][kind] = out["requests"].get(kind, 0) + 1
            out["requests"]["total"] = out["requests"].get("total", 0) + 1
            out["statuses"][str(code)] = out["statuses"].get(str(code), 0) + 1
            if code == 401:
                out["auth_failures"] += 1
            rec = {"m": method, "path": uri, "status": code, "t": round(t_recv - self.t0, 3),
                   "ms": round((t_done - t_recv) * 1000, 1), "user": user}
            out["request_log"].append(rec)
            ref = ev.get("objectRef") or {}
            key = (ref.get("namespace"), ref.get("name"))
            body = ev.get("requestObject") or {}
            if ref.get("subresource") == "eviction" and method == "POST":
                spans.append((t_recv, t_done))
                out["evictions"].append({"namespace": key[0], "name": key[1], "node": self._node_of(key, rec["t"]),
                                         "grace": (body.get("deleteOptions") or {}).get("gracePeriodSeconds"),
                                         "status": code, "t": rec["t"]})
            elif ref.get("resource") == "pods" and not ref.get("subresource") and method == "DELETE" and key[1]:
                q = urllib.parse.parse_qs(uri.partition("?")[2])
                grace = int(q["gracePeriodSeconds"][0]) if "gracePeriodSeconds" in q else body.get("gracePeriodSeconds")
                out["deletions"].append({"namespace": key[0], "name": key[1], "node": self._node_of(key, rec["t"]),
                                         "grace": grace, "status": code, "t": rec["t"]})
        out["request_log"].sort(key=lambda r: r["t"])
        out["evictions"].sort(key=lambda r: r["t"])
        out["peak_evictions_inflight"] = peak_overlap(spans)
        return out


def peak_overlap(spans):
    """The largest number of (start, end) spans open at one time."""
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    peak = cur = 0
    for _, d in edges:
        cur += d
        peak = max(peak, cur)
    return peak
