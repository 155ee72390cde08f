"""The Kubernetes end-to-end tests of test_k8s.py run again against a real
kube-apiserver (test/lib/realk8s.py: etcd, RBAC + Node authorizer +
NodeRestriction, deploy/rbac.yaml, despotify's TokenRequest token), plus what
only a real server can show: node identity, admission webhooks, the API
server restarting, and the fidelity of test/fakes/fake_k8s.py to it.

One server per class (start-up is the cost); every test starts from an empty
cluster (RealK8s.reset). Tests of test_k8s.py that need the fake's fault
injection are listed with a skip reason. Without a kube-apiserver (no
../shared, no KUBE_APISERVER) every class here is skipped, and test/run.py
says so loudly.
"""
import json
import os
import signal
import subprocess
import threading
import time
import unittest
import urllib.parse

import realk8s
import test_k8s
from fakeproc import class_tmpdir
from k8sfake import FakeK8s
from realk8s import RealK8s, Unavailable
from test_k8s import ENV, NODE, PROBE, rs_pod

try:
    realk8s.apiserver_binary()
    UNAVAILABLE = None
except Unavailable as e:
    UNAVAILABLE = str(e)
SKIP_REASON = f"SKIPPED: no real kube-apiserver: {UNAVAILABLE}"
OTHER = "ip-10-0-9-99.ec2.internal"


def skip_real(reason):
    """A test of test_k8s.py that cannot run against the real server, and why."""
    @unittest.skip("not against the real API server: " + reason)
    def test(self):
        pass
    return test


NEEDS_FAULTS = "needs the fake's fault injection"


def real_server(cls, prefix, **kwargs):
    """For the setUpClass of cls: skips the class without a real API server;
    else starts one (RealK8s(**kwargs)) in a new temporary directory cls.tmp
    and returns it. The class clean-ups stop it and remove the directory, even
    when setUpClass fails half-way."""
    if UNAVAILABLE:
        raise unittest.SkipTest(SKIP_REASON)
    cls.tmp = class_tmpdir(cls, prefix)
    server = RealK8s(cls.tmp, **kwargs)
    cls.addClassCleanup(server.stop)
    return server


class RealServer:
    """Mixin before a test_k8s.Base subclass: the same test bodies, against
    one real API server for the class, emptied before each test."""
    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.fk = real_server(cls, "despotify-k8s-real-", **cls.server_kwargs)

    def setUp(self):
        self.fk.reset()
        self.token_file = self.fk.token_file


class TestCordonReal(RealServer, test_k8s.TestCordon):
    pass


class TestDrainReal(RealServer, test_k8s.TestDrain):
    test_apf_retry_after_is_honoured = skip_real(NEEDS_FAULTS + " (a 429 with Retry-After on demand)")
    test_global_rate_limit_429s_are_retried = skip_real(NEEDS_FAULTS + " (a request rate limit)")
    test_404_means_already_gone_and_rerun_is_clean = skip_real(
        NEEDS_FAULTS + " (an eviction held while the pod vanishes, seen through the fake's inflight counts)")
    test_waiting_costs_no_cpu = skip_real(NEEDS_FAULTS + " (a long Retry-After)")
    test_event_failure_does_not_hold_the_drain = skip_real(NEEDS_FAULTS + " (slow Event POSTs)")


class TestFaultsReal(RealServer, test_k8s.TestFaults):
    test_dropped_connections = skip_real(NEEDS_FAULTS)
    test_garbage_bodies = skip_real(NEEDS_FAULTS)
    test_server_errors_and_slow_answers = skip_real(NEEDS_FAULTS)
    test_forbidden_eviction_is_reported_not_retried_forever = skip_real(NEEDS_FAULTS)
    test_token_rotation_mid_drain = skip_real("a bound token cannot be revoked, so the fake's rotation is not "
                                              "reproducible (the token is re-read all the same)")
    test_401_rereads_an_unchanged_looking_token_file = skip_real("a bound token cannot be revoked")
    test_token_never_logged = skip_real("needs the fake's token swap; TestRealOnly covers the real token")


@unittest.skip("not against the real API server: its client certificate (CN=client, no group) has no "
               "RBAC; TestRealOnly drains with a node's certificate instead")
class TestClientCertReal(RealServer, test_k8s.TestClientCert):
    pass


@unittest.skip("not against the real API server: kubectl drain looks up the DaemonSets of DaemonSet pods, "
               "and there are none here (no controllers)")
class TestKubectlParityReal(RealServer, test_k8s.TestKubectlParity):
    pass


@unittest.skip("as TestRealOnly.test_api_server_down_then_back, with a real restart behind a gate")
class TestApiServerDownReal(test_k8s.TestApiServerDown):
    pass


class RestartBody:
    """A drain killed half-way (SIGKILL) and started again finishes the job:
    every step is idempotent. Run against both servers."""

    def test_restart_mid_drain_resumes(self):
        made = self.seed(generate=20, mix=True)
        self.fk.config(terminate_s=2)
        cmd = [PROBE, "k8s", "--api", self.fk.url, "--ca", self.fk.pki["ca"], "--token-file", self.token_file,
               "--concurrency", "1", "drain", NODE]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=test_k8s.ROOT)
        try:
            deadline = time.monotonic() + 60
            while len([e for e in self.state()["evictions"] if e["status"] == 201]) < 3:
                self.assertLess(time.monotonic(), deadline, "no evictions")
                self.assertIsNone(p.poll(), "the drain ended before it could be killed")
                time.sleep(0.1)
        finally:
            p.send_signal(signal.SIGKILL)
            p.communicate(timeout=30)
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertIn("already cordoned", o.stderr)
        st = self.state()
        moved = {f"{e['namespace']}/{e['name']}" for e in st["evictions"] if e["status"] in (200, 201)}
        want = set(made["evictable"] + made["bare"] + made["emptydir"] + made["statefulset"])
        self.assertEqual(moved & want, want)
        self.assertFalse(moved & set(made["daemonset"] + made["mirror"] + made["succeeded"]))
        left = {p["namespace"] + "/" + p["name"] for p in st["pods"]}
        self.assertEqual(left & want, set())
        self.assertEqual(len([e for e in st["events"] if e["reason"] == "Cordoned"]), 1)


class TestRestartFake(RestartBody, test_k8s.Base):
    pass


class TestRealOnly(RestartBody, RealServer, test_k8s.Base):
    """What only a real API server shows: the Node authorizer and
    NodeRestriction, admission webhooks, a restart of the server, a bound
    token; and the restart mid-drain of RestartBody."""

    def test_real_token_never_logged(self):
        self.seed(generate=5, mix=False)
        o = self.drain("--level", "DEBUG")
        self.assertEqual(o.rc, 0, o)
        self.assertNotIn(self.fk.token, o.stdout + o.stderr)
        self.assertNotIn("Bearer", o.stdout + o.stderr)
        users = {r["user"] for r in self.state()["request_log"]}
        self.assertEqual(users, {"system:serviceaccount:kube-system:despotify"})

    def node_identity(self):
        crt, key = self.fk.node_cert(NODE)
        return ["--client-cert", crt, "--client-key", key]

    def test_node_identity_may_not_evict_another_nodes_pods(self):
        self.seed(pods=[rs_pod("mine-1")])
        self.fk.node(OTHER)
        self.fk.pods(OTHER, [rs_pod("theirs-1")])
        api = realk8s.Api(self.fk.port, self.fk.pki["ca"], cert=self.fk.node_cert(NODE))
        self.addCleanup(api.close)
        ev = lambda name: {"apiVersion": "policy/v1", "kind": "Eviction",
                           "metadata": {"name": name, "namespace": "default"}}
        status, body = api.request("POST", "/api/v1/namespaces/default/pods/theirs-1/eviction", ev("theirs-1"))
        self.assertEqual(status, 403, body)
        self.assertEqual((body["kind"], body["reason"]), ("Status", "Forbidden"))
        status, body = api.request("POST", "/api/v1/namespaces/default/pods/mine-1/eviction", ev("mine-1"))
        self.assertEqual(status, 201, body)
        # And the taint: NodeRestriction refuses it, the rest of the cordon is allowed.
        status, body = api.request("PATCH", f"/api/v1/nodes/{NODE}",
                                   {"spec": {"taints": [{"key": "despotify/spot-termination",
                                                         "effect": "NoSchedule"}]}},
                                   "application/merge-patch+json")
        self.assertEqual(status, 403, body)
        self.assertIn("not allowed to modify taints", body["message"])
        status, body = api.request("PATCH", f"/api/v1/nodes/{NODE}", {"spec": {"unschedulable": True}, "metadata": {
            "labels": {"node.kubernetes.io/exclude-from-external-load-balancers": "true"}}},
            "application/merge-patch+json")
        self.assertEqual(status, 200, body)

    # Under NodeRestriction the cordon's combined patch is refused 403 "not
    # allowed to modify taints": the node is cordoned without the taint.
    def test_drain_as_the_node_cordons_without_the_taint(self):
        self.seed(taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}], generate=12, mix=False)
        self.fk.node(OTHER)
        self.fk.pods(OTHER, [rs_pod("theirs-1")])
        o = self.probe(*self.node_identity(), "--level", "DEBUG", "drain", NODE,
                       token_file=os.path.join(self.tmp, "no-token"))
        self.assertEqual(o.rc, 0, o)
        st = self.state()
        n = st["node"]
        self.assertTrue(n["spec"].get("unschedulable"))
        self.assertEqual(n["metadata"]["labels"].get("node.kubernetes.io/exclude-from-external-load-balancers"),
                         "true")
        self.assertEqual(n["spec"]["taints"], [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
        self.assertRegex(o.stderr, r"WARNING .*taint")
        self.assertEqual(o["evicted"], 12)
        self.assertEqual(self.pods_left(), [])
        self.assertEqual([p["name"] for p in self.fk.state(OTHER)["pods"]], ["theirs-1"])
        self.assertEqual({r["user"] for r in st["request_log"]}, {"system:node:" + NODE})

    # A webhook that fails closed on node PATCHes must not stop the drain.
    def test_webhook_failing_every_node_patch_does_not_stop_the_drain(self):
        self.seed(generate=8, mix=False)
        self.fk.webhook(node_patch="error500")
        o = self.drain("--deadline-s", "20")
        self.assertEqual((o["evicted"], o["left"]), (8, 0), o)
        self.assertEqual(self.pods_left(), [])
        self.assertFalse(self.state()["node"]["spec"].get("unschedulable", False))
        self.assertIn("500", o.stderr)

    def test_webhook_denying_the_cordon_is_reported(self):
        self.seed()
        self.fk.webhook(node_patch="deny")
        o = self.probe("--deadline-s", "8", "cordon", NODE)
        self.assertEqual(o.rc, 1, o)
        self.assertIn("denied the request", o.stdout + o.stderr)
        self.assertFalse(self.state()["node"]["spec"].get("unschedulable", False))
        # It was not retried until the deadline as a transient fault would be.
        self.assertLess(self.state()["requests"].get("PATCH node", 0), 4)

    def test_api_server_down_then_back(self):
        # Behind a gate that, like a load balancer's health check, lets
        # clients in only once /readyz answers: a restarting kube-apiserver
        # listens (and answers 403 to everyone) before its RBAC caches are
        # filled, which is another test's matter.
        self.seed(generate=10, mix=False)
        gate = self.fk.gate()
        gate.close()
        self.fk.stop_apiserver()

        def back():
            time.sleep(3)
            self.fk.start_apiserver()
            gate.open()
        th = threading.Thread(target=back)
        th.start()
        try:
            o = self.probe("--api", f"https://127.0.0.1:{gate.port}", "--ca", self.fk.pki["ca"],
                           "--token-file", self.token_file, "--deadline-s", "90", "--level", "DEBUG",
                           "drain", NODE, common=False, timeout=150)
        finally:
            th.join()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["evicted"], 10)
        self.assertGreaterEqual(o["cordon_ms"], 2000, o)
        self.assertIn("refused", o.stderr)
        self.assertEqual(self.pods_left(), [])


def shape(x, path="", out=None):
    """{path: JSON type} over a document; lists' items merged under "[]";
    managedFields' fieldsV1 (keys named after the object's own fields) opaque."""
    out = {} if out is None else out
    if isinstance(x, dict):
        out[path] = "object"
        if not path.endswith(".fieldsV1"):
            for k, v in x.items():
                shape(v, f"{path}.{k}", out)
    elif isinstance(x, list):
        out[path] = "array"
        for v in x:
            shape(v, path + "[]", out)
    else:
        out[path] = {bool: "bool", int: "number", float: "number", str: "string", type(None): "null"}[type(x)]
    return out


class TestFidelity(unittest.TestCase):
    """The fake (test/fakes/fake_k8s.py) and the real API server, given the
    same objects, answer the same requests alike: the same shapes, codes and
    Status bodies. Where they differ the real one is right (but for the etcd
    paging quirk of ../shared/kube-apiserver/README.md, which the fake must
    not copy: these tests page without a field selector)."""

    @classmethod
    def setUpClass(cls):
        cls.real = real_server(cls, "despotify-k8s-fidelity-")
        cls.fake = FakeK8s(cls.tmp, token="fidelity-token-0123456789")   # the same PKI directory
        cls.addClassCleanup(cls.fake.stop)
        cls.apis = (realk8s.Api(cls.real.port, cls.real.pki["ca"], token=cls.real.admin_token),
                    realk8s.Api(cls.fake.port, cls.fake.pki["ca"], token="fidelity-token-0123456789"))
        for a in cls.apis:
            cls.addClassCleanup(a.close)

    def setUp(self):
        self.real.reset()
        self.fake.ctl("reset")
        self.fake.config(replace_delay_s=-1)
        self.real.config(replace_delay_s=-1)

    def both(self, method, path, body=None, ctype="application/json"):
        """(real answer, fake answer), each (status, body)."""
        return tuple(a.request(method, path, body, ctype) for a in self.apis)

    def seed(self, **pdb):
        for s in (self.real, self.fake):
            s.node(NODE, taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
            s.generate(NODE, 20, mix=True)
            s.pods(NODE, [{"name": f"web-{i}", "labels": {"app": "web"}} for i in range(3)])
            s.pdbs([dict({"name": "web", "selector": {"app": "web"}}, **pdb)] if pdb else [])

    def assertSameShape(self, real, fake, what):
        r, f = shape(real), shape(fake)
        diff = {p: (r.get(p), f.get(p)) for p in set(r) | set(f) if r.get(p) != f.get(p)}
        self.assertEqual(diff, {}, f"{what}: path: (real, fake)")

    def assertSameAnswer(self, answers, exact=True):
        (rs, rb), (fs, fb) = answers
        self.assertEqual(rs, fs, answers)
        if exact:
            self.assertEqual(json.dumps(rb), json.dumps(fb))   # key order too
            return
        for k in ("kind", "apiVersion", "status", "reason", "code"):
            self.assertEqual(rb.get(k), fb.get(k), (k, answers))
        self.assertEqual(list(rb), list(fb), answers)

    def test_objects_have_the_same_shape(self):
        self.seed(minAvailable=2)
        for path in (f"/api/v1/nodes/{NODE}", "/api/v1/namespaces/default/pods/web-1",
                     "/api/v1/namespaces/default/pods/pod-004", "/api/v1/pods",
                     "/apis/policy/v1/namespaces/default/poddisruptionbudgets"):
            (rs, real), (fs, fake) = self.both("GET", path)
            self.assertEqual((rs, fs), (200, 200), path)
            self.assertIn("managedFields", (real.get("items") or [real])[0]["metadata"], path)
            self.assertSameShape(real, fake, path)
        ev = {"metadata": {"generateName": NODE + "."}, "involvedObject": {"kind": "Node", "name": NODE, "uid": NODE},
              "reason": "Test", "message": "m", "type": "Normal", "source": {"component": "despotify"}}
        (rs, real), (fs, fake) = self.both("POST", "/api/v1/namespaces/default/events", ev)
        self.assertEqual((rs, fs), (201, 201))
        self.assertSameShape(real, fake, "Event")

    def test_the_same_status_answers(self):
        self.seed(minAvailable=3)
        ev = lambda n: {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": n, "namespace": "default"}}
        merge = "application/merge-patch+json"
        self.assertSameAnswer(self.both("GET", "/api/v1/namespaces/default/pods/nope"))
        self.assertSameAnswer(self.both("GET", "/api/v1/nodes/nope"))
        self.assertSameAnswer(self.both("POST", "/api/v1/namespaces/default/pods/nope/eviction", ev("nope")))
        self.assertSameAnswer(self.both("PATCH", f"/api/v1/nodes/{NODE}", {
            "metadata": {"resourceVersion": "1"}, "spec": {"unschedulable": True}}, merge))
        self.assertSameAnswer(self.both("POST", "/api/v1/namespaces/default/pods/web-1/eviction", ev("web-1")))
        self.assertSameAnswer(self.both("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx"))
        self.assertSameAnswer(self.both("GET", "/api/v1/pods?limit=2&continue=bogus"), exact=False)
        self.assertSameAnswer(self.both("POST", "/api/v1/namespaces/default/pods/web-1/eviction", {"kind": "No"}),
                              exact=False)
        # 422: the real server names the field metadata.taints (and lists the cause twice): a quirk of
        # 1.24 the fake does not copy; the rest is the same.
        answers = self.both("PATCH", f"/api/v1/nodes/{NODE}", {"spec": {"taints": [
            {"key": "a", "effect": "Sometimes"}]}}, merge)
        self.assertSameAnswer(answers, exact=False)
        (_, rb), (_, fb) = answers
        self.assertEqual({c["reason"] for c in rb["details"]["causes"]},
                         {c["reason"] for c in fb["details"]["causes"]})
        self.assertEqual(rb["message"].split(": ", 2)[2], fb["message"].split(": ", 2)[2])
        for a in answers:
            self.assertEqual(set(a[1]["details"]), {"name", "kind", "causes"})
        # Two PDBs over one pod: 500.
        for s in (self.real, self.fake):
            s.pdbs([{"name": "web", "selector": {"app": "web"}, "minAvailable": 1},
                    {"name": "web2", "selector": {"app": "web"}, "maxUnavailable": 1}])
        self.assertSameAnswer(self.both("POST", "/api/v1/namespaces/default/pods/web-1/eviction", ev("web-1")))
        for s in (self.real, self.fake):
            s.pdbs([])
        self.assertSameAnswer(self.both("POST", "/api/v1/namespaces/default/pods/web-2/eviction", ev("web-2")))
        # No credentials that work: 401.
        bad = [realk8s.Api(p, self.real.pki["ca"], token="not-a-token") for p in (self.real.port, self.fake.port)]
        try:
            self.assertSameAnswer(tuple(a.request("GET", f"/api/v1/nodes/{NODE}") for a in bad))
        finally:
            for a in bad:
                a.close()

    def test_stale_resource_version_and_merge_patch(self):
        self.seed()
        merge = "application/merge-patch+json"
        (_, rn), (_, fn) = self.both("GET", f"/api/v1/nodes/{NODE}")
        patch = lambda rv: {"metadata": {"resourceVersion": rv, "labels": {"a": "b"}}, "spec": {"unschedulable": True}}
        (rs, rb), (fs, fb) = (a.request("PATCH", f"/api/v1/nodes/{NODE}", patch(n["metadata"]["resourceVersion"]),
                                        merge) for a, n in zip(self.apis, (rn, fn)))
        self.assertEqual((rs, fs), (200, 200))
        self.assertSameShape(rb, fb, "patched node")
        for b, n in ((rb, rn), (fb, fn)):
            self.assertNotEqual(b["metadata"]["resourceVersion"], n["metadata"]["resourceVersion"])
            self.assertEqual(b["spec"]["taints"], [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
        # The same patch again, with the now stale resourceVersion: 409 from both.
        answers = tuple(a.request("PATCH", f"/api/v1/nodes/{NODE}", patch(n["metadata"]["resourceVersion"]), merge)
                        for a, n in zip(self.apis, (rn, fn)))
        self.assertEqual(answers[0][0], 409)
        self.assertSameAnswer(answers)

    def test_continue_paging(self):
        self.seed()
        pages = ([], [])
        for i, api in enumerate(self.apis):
            path = "/api/v1/pods?limit=7"
            for _ in range(10):
                status, body = api.request("GET", path)
                self.assertEqual(status, 200, body)
                md = body["metadata"]
                pages[i].append(([p["metadata"]["name"] for p in body["items"]], md.get("remainingItemCount"),
                                 sorted(md)))
                if not md.get("continue"):
                    break
                path = "/api/v1/pods?limit=7&continue=" + urllib.parse.quote(md["continue"])
        self.assertEqual(len(pages[0]), 4)   # 23 pods: 7 + 7 + 7 + 2
        self.assertEqual(pages[0], pages[1])
