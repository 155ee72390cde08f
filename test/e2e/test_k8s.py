"""The Kubernetes side (src/k8s.c, src/drain.c) against test/fakes/fake_k8s.py,
through `probe k8s` (test/probe/probe_k8s.c): cordon, filters, parallel
evictions, PDBs, throttling, faults, token rotation, client certificates,
dry-run, deadlines; and the fake's realism checked with the real kubectl."""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from fakeproc import class_tmpdir
from k8sfake import FakeK8s

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(ROOT, "build", "asan", "probe")
KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else None)
NODE = "ip-10-0-1-23.ec2.internal"
TOKEN = "k8s-token-A-0123456789abcdef"
TOKEN2 = "k8s-token-B-fedcba9876543210"
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
for _v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
    ENV.pop(_v, None)


def rs_pod(name, **kw):
    return dict({"name": name, "owner": "ReplicaSet", "labels": {"app": name.rsplit("-", 1)[0]}}, **kw)


class Base(unittest.TestCase):
    """One fake for the class, reset before each test."""
    fake_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = class_tmpdir(cls, "despotify-k8s-")
        cls.fk = FakeK8s(cls.tmp, token=TOKEN, **cls.fake_kwargs)
        cls.addClassCleanup(cls.fk.stop)

    def setUp(self):
        self.fk.reset([TOKEN], latency_ms=0, rate_limit=0, terminate_s=0, replace_delay_s=1)
        self.token_file = os.path.join(self.tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")

    def probe(self, *args, fk=None, token_file=None, timeout=120, common=True):
        fk = fk or self.fk
        # test/run.py's ThreadSanitizer pass points DESPOTIFY_PROBE at build/tsan/probe.
        cmd = [os.environ.get("DESPOTIFY_PROBE") or PROBE, "k8s"]
        if common:
            cmd += ["--api", fk.url, "--ca", fk.pki["ca"], "--token-file", token_file or self.token_file]
        cmd += list(args)
        t0 = time.monotonic()
        env = dict(ENV, TSAN_OPTIONS=os.environ["TSAN_OPTIONS"]) if "TSAN_OPTIONS" in os.environ else ENV
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
        out = Out(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        self.assertNotIn("AddressSanitizer", p.stderr)
        self.assertNotIn("runtime error", p.stderr)
        return out

    def drain(self, *args, **kw):
        args = list(args)
        node = NODE
        return self.probe("--level", "DEBUG", *args, "drain", node, **kw)

    def drain_while(self, change):
        """Drains while another thread runs change(); asserts the drain
        succeeded and returns its outcome."""
        th = threading.Thread(target=change)
        th.start()
        try:
            o = self.drain()
        finally:
            th.join()
        self.assertEqual(o.rc, 0, o)
        return o

    def state(self, fk=None):
        return (fk or self.fk).state(NODE)

    def seed(self, taints=None, pods=(), generate=0, fk=None, **genkw):
        fk = fk or self.fk
        fk.node(NODE, taints=taints or [])
        if pods:
            fk.pods(NODE, list(pods))
        if generate:
            return fk.generate(NODE, generate, **genkw)
        return None

    def pods_left(self, fk=None):
        return sorted(p["namespace"] + "/" + p["name"] for p in self.state(fk)["pods"])


class Out:
    def __init__(self, rc, stdout, stderr, elapsed):
        self.rc, self.stdout, self.stderr, self.elapsed = rc, stdout, stderr, elapsed
        self.result = {}
        self.left = []
        for line in stdout.splitlines():
            if line.startswith("result "):
                self.result = {k: int(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
            elif line.startswith("left "):
                self.left.append(line[5:])

    def __getitem__(self, k):
        return self.result[k]

    def __repr__(self):
        return f"rc={self.rc}\n--- stdout\n{self.stdout}\n--- stderr (tail)\n{self.stderr[-4000:]}"


class TestCordon(Base):
    def test_keeps_taints_adds_label_and_is_idempotent(self):
        existing = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                    {"key": "example.com/maint", "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"}]
        self.seed(taints=existing)
        uid = self.state()["node"]["metadata"]["uid"]
        o = self.probe("cordon", NODE)
        self.assertEqual(o.rc, 0, o)
        n = self.state()["node"]
        self.assertTrue(n["spec"]["unschedulable"])
        self.assertEqual(n["spec"]["taints"][:2], existing)
        self.assertEqual(n["spec"]["taints"][2], {"key": "despotify/spot-termination", "effect": "NoSchedule"})
        self.assertEqual(len(n["spec"]["taints"]), 3)
        self.assertEqual(n["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"], "true")
        self.assertEqual(n["metadata"]["labels"]["kubernetes.io/hostname"], NODE)
        st = self.state()
        self.assertEqual(st["requests"].get("PATCH node"), 1)
        patch = [r for r in st["request_log"] if r["m"] == "PATCH"]
        self.assertEqual(patch[0]["status"], 200)
        ev = [e for e in st["events"] if e["reason"] == "Cordoned"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["involvedObject"]["uid"], uid)

        # Again (a restart): nothing to change, no PATCH, no duplicate taint.
        o = self.probe("cordon", NODE)
        self.assertEqual(o.rc, 0, o)
        self.assertIn("already cordoned", o.stderr)
        st = self.state()
        self.assertEqual(st["requests"].get("PATCH node"), 1)
        self.assertEqual(len(st["node"]["spec"]["taints"]), 3)

    def test_custom_taint_value_and_options_off(self):
        self.seed(taints=[{"key": "a", "effect": "NoSchedule"}])
        o = self.probe("--taint", "spot=true:NoExecute", "--no-lb", "cordon", NODE)
        self.assertEqual(o.rc, 0, o)
        n = self.state()["node"]
        self.assertEqual(n["spec"]["taints"], [{"key": "a", "effect": "NoSchedule"},
                                               {"key": "spot", "value": "true", "effect": "NoExecute"}])
        self.assertNotIn("node.kubernetes.io/exclude-from-external-load-balancers", n["metadata"]["labels"])
        # No taint at all: only unschedulable.
        self.seed(taints=[{"key": "a", "effect": "NoSchedule"}])
        o = self.probe("--taint", "", "cordon", NODE)
        self.assertEqual(o.rc, 0, o)
        n = self.state()["node"]
        self.assertEqual(n["spec"]["taints"], [{"key": "a", "effect": "NoSchedule"}])
        self.assertTrue(n["spec"]["unschedulable"])

    def test_conflict_rereads_and_keeps_the_concurrent_change(self):
        self.seed(taints=[{"key": "x", "effect": "NoSchedule"}])
        self.fk.ctl("conflicts", {"node": NODE, "count": 2})
        o = self.probe("cordon", NODE)
        self.assertEqual(o.rc, 0, o)
        self.assertIn("409 Conflict", o.stderr)
        st = self.state()
        self.assertEqual(st["statuses"].get("409"), 2)
        self.assertEqual(st["requests"].get("PATCH node"), 3)
        self.assertEqual(st["requests"].get("GET node"), 3)
        labels = st["node"]["metadata"]["labels"]
        self.assertEqual(len([k for k in labels if k.startswith("fake/concurrent-")]), 2)
        self.assertEqual(labels["node.kubernetes.io/exclude-from-external-load-balancers"], "true")
        self.assertTrue(st["node"]["spec"]["unschedulable"])
        self.assertEqual(len(st["node"]["spec"]["taints"]), 2)

    def test_missing_node_is_an_error(self):
        self.fk.node("other-node")
        o = self.probe("--deadline-s", "10", "cordon", NODE)
        self.assertEqual(o.rc, 1, o)
        self.assertIn("not found", o.stdout)
        self.assertLess(o.elapsed, 8)

    def test_bad_taint_is_an_error(self):
        self.seed()
        o = self.probe("--taint", "no effect", "cordon", NODE)
        self.assertEqual(o.rc, 1, o)
        self.assertIn("taint", o.stdout)
        self.assertFalse(self.state()["node"]["spec"].get("unschedulable"))


class TestDrain(Base):
    def test_filters_like_kubectl_drain(self):
        self.seed(pods=[
            rs_pod("web-1"),
            {"name": "agent-1", "owner": "DaemonSet", "owner_name": "agent"},
            {"name": "kube-proxy-1", "namespace": "kube-system", "mirror": True},
            {"name": "job-1", "owner": "Job", "phase": "Succeeded"},
            {"name": "job-2", "owner": "Job", "phase": "Failed"},
            rs_pod("despotify-1", namespace="kube-system"),
            rs_pod("scratch-1", emptydir=True),
            {"name": "bare-1", "owner": "none"},
        ])
        o = self.drain("--no-emptydir", "--no-force", "--pod-name", "despotify-1",
                       "--pod-namespace", "kube-system")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["found"], o["evicted"], o["skipped"], o["left"]), (8, 1, 7, 0))
        self.assertEqual(self.pods_left(), sorted([
            "default/agent-1", "kube-system/kube-proxy-1", "default/job-1", "default/job-2",
            "kube-system/despotify-1", "default/scratch-1", "default/bare-1"]))
        self.assertRegex(o.stderr, r"WARNING .*not evicting pod default/scratch-1: emptyDir")
        self.assertRegex(o.stderr, r"WARNING .*not evicting pod default/bare-1: no controller")
        self.assertEqual([e["name"] for e in self.state()["evictions"]], ["web-1"])

        # Defaults (delete_emptydir_data, force): those two go too; a second run is harmless.
        o = self.drain("--pod-name", "despotify-1", "--pod-namespace", "kube-system")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["skipped"], o["left"]), (2, 5, 0))
        self.assertNotIn("default/scratch-1", self.pods_left())
        self.assertNotIn("default/bare-1", self.pods_left())
        self.assertIn("kube-system/despotify-1", self.pods_left())
        self.assertIn("already cordoned", o.stderr)

    def test_parallel_evictions_bounded_by_concurrency(self):
        self.seed(generate=48, mix=False)
        self.fk.config(latency_ms=150)
        o = self.drain("--concurrency", "6")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["evicted"], 48)
        peak = self.state()["peak_evictions_inflight"]
        self.assertLessEqual(peak, 6)
        self.assertGreaterEqual(peak, 4)

        self.setUp()
        self.seed(generate=6, mix=False)
        self.fk.config(latency_ms=100)
        o = self.drain("--concurrency", "1")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(self.state()["peak_evictions_inflight"], 1)

    def test_pagination_over_several_pages(self):
        made = self.seed(generate=1010, mix=False)
        self.assertEqual(len(made["evictable"]), 1010)
        # A generous deadline: a real API server on a busy 2-core machine evicts a thousand pods slowly.
        o = self.drain("--deadline-s", "240", timeout=300)
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["found"], o["evicted"], o["left"]), (1010, 1010, 0))
        lists = self.lists()
        # Pages of 500, as kubectl asks for: 500, 500, 10.
        self.assertEqual(sum("continue=" in p for p in lists[:3]), 2)
        self.assertNotIn("continue=", lists[0])
        for p in lists:
            self.assertIn("fieldSelector=spec.nodeName%3D" + NODE, p)
            self.assertIn("limit=500", p)
        self.assertEqual(self.pods_left(), [])

    def lists(self):
        return [r["path"] for r in self.state()["request_log"]
                if r["m"] == "GET" and r["path"].startswith("/api/v1/pods")]

    def test_pdb_blocks_then_allows(self):
        self.fk.node("other-node")
        self.fk.pods("other-node", [{"name": "web-9", "labels": {"app": "web"}}])
        self.seed(pods=[{"name": f"web-{i}", "labels": {"app": "web"}} for i in range(3)])
        self.fk.pdbs([{"name": "web", "namespace": "default", "selector": {"app": "web"}, "minAvailable": 3}])
        self.fk.config(replace_delay_s=0.5)
        o = self.drain("--pdb-retry-ms", "300", "--delete-blocked-at-ms", "0")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["deleted"], o["left"]), (3, 0, 0))
        ev = self.state()["evictions"]
        self.assertTrue(any(e["status"] == 429 for e in ev), ev)
        self.assertEqual(sorted(e["name"] for e in ev if e["status"] == 201), ["web-0", "web-1", "web-2"])
        self.assertIn("blocked (429", o.stderr)
        self.assertEqual(self.state()["deletions"], [])

    def test_pdb_blocked_pod_deleted_near_the_deadline(self):
        self.seed(pods=[{"name": "stuck-0", "labels": {"app": "stuck"}}, rs_pod("free-0")])
        self.fk.pdbs([{"name": "stuck", "selector": {"app": "stuck"}, "minAvailable": 1}])
        t0 = self.state()["t"]
        o = self.drain("--deadline-s", "14", "--delete-blocked-at-ms", "9000", "--pdb-retry-ms", "500")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["deleted"], o["left"]), (1, 1, 0))
        st = self.state()
        self.assertEqual(len(st["deletions"]), 1)
        d = st["deletions"][0]
        self.assertEqual(d["name"], "stuck-0")
        # delete_blocked_at 9 s before a 14 s deadline: at about 5 s; grace = 9 - 5 s margin = 4 at most.
        self.assertGreaterEqual(d["t"] - t0, 4.0)
        self.assertLess(d["t"] - t0, 13.0)
        self.assertLessEqual(d["grace"], 4)
        self.assertGreater(sum(1 for e in st["evictions"] if e["name"] == "stuck-0" and e["status"] == 429), 3)
        ev = [e for e in st["events"] if e["reason"] == "PodDeleted"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["type"], "Warning")
        self.assertIn("stuck-0", ev[0]["message"])
        self.assertRegex(o.stderr, r"WARNING .*deleted pod default/stuck-0")

    def test_multiple_pdbs_500_treated_as_blocked(self):
        self.seed(pods=[{"name": "dup-0", "labels": {"app": "dup", "tier": "x"}}])
        self.fk.pdbs([{"name": "a", "selector": {"app": "dup"}, "maxUnavailable": 1},
                      {"name": "b", "selector": {"tier": "x"}, "maxUnavailable": 1}])
        o = self.drain("--deadline-s", "12", "--delete-blocked-at-ms", "8000", "--pdb-retry-ms", "400")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["deleted"]), (0, 1))
        st = self.state()
        self.assertTrue(all(e["status"] == 500 for e in st["evictions"]))
        self.assertGreaterEqual(len(st["evictions"]), 3)
        self.assertEqual([d["name"] for d in st["deletions"]], ["dup-0"])
        self.assertRegex(o.stderr, r"WARNING .*eviction of pod default/dup-0 blocked \(500: This pod has more than one")

    def test_apf_retry_after_is_honoured(self):
        self.seed(generate=5, mix=False)
        self.fk.faults([{"method": "POST", "path": "/eviction$", "action": "status", "status": 429, "retry_after": 2,
                         "count": 1}])
        o = self.drain("--concurrency", "1")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["evicted"], 5)
        log = [r for r in self.state()["request_log"] if r["m"] == "POST" and r["path"].endswith("/eviction")]
        self.assertEqual(log[0]["status"], 429)
        self.assertGreaterEqual(log[1]["t"] - log[0]["t"], 1.8, log[:3])
        self.assertIn("Retry-After 2000 ms", o.stderr)

    def test_global_rate_limit_429s_are_retried(self):
        self.seed(generate=40, mix=False)
        self.fk.config(rate_limit=25)
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["evicted"], 40)
        self.assertGreater(self.state()["statuses"].get("429", 0), 0)

    def test_404_means_already_gone_and_rerun_is_clean(self):
        self.seed(pods=[rs_pod("vanish-1"), {"name": "ds-1", "owner": "DaemonSet"}])
        self.fk.faults([{"method": "POST", "path": "vanish-1/eviction", "action": "stall", "seconds": 3}])
        res = {}

        def remover():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.fk.state()["inflight"].get("POST eviction", 0) > 0:
                    self.fk.ctl("remove_pod", {"name": "vanish-1"})
                    res["removed"] = True
                    return
                time.sleep(0.05)
        o = self.drain_while(remover)
        self.assertTrue(res.get("removed"))
        self.assertEqual((o["gone"], o["evicted"], o["left"]), (1, 0, 0))
        self.assertEqual(self.state()["evictions"][0]["status"], 404)
        # The whole thing again on the drained node: nothing to do, success.
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["found"], o["evicted"], o["skipped"], o["left"]), (1, 0, 1, 0))

    def test_waits_for_pods_to_go(self):
        self.seed(pods=[rs_pod(f"slow-{i}", terminate_s=2.5) for i in range(4)])
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["left"]), (4, 0))
        self.assertGreaterEqual(o["total_ms"], 2500)
        self.assertLess(o["last_eviction_ms"], 2500)
        self.assertEqual(self.pods_left(), [])

    def test_waiting_costs_no_cpu(self):
        # Evicted pods to wait for while another waits out a long Retry-After:
        # the drain thread must sleep, not spin.
        self.seed(pods=[rs_pod(f"w-{i}", terminate_s=8) for i in range(3)])
        self.fk.faults([{"method": "POST", "path": "w-1/eviction$", "action": "status", "status": 429, "retry_after": 5,
                         "count": 1}])
        o = self.drain("--concurrency", "1")
        self.assertEqual(o.rc, 0, o)
        self.assertGreaterEqual(o["total_ms"], 5000)
        cpu = int(re.search(r"cpu_ms=(\d+)", o.stdout).group(1))
        self.assertLess(cpu, 1500, o)

    def test_grace_is_the_pods_own_when_time_allows(self):
        self.seed(pods=[rs_pod("g-1", grace=7), rs_pod("g-2", grace=600), rs_pod("g-3", grace=None)])
        o = self.drain("--deadline-s", "40")
        self.assertEqual(o.rc, 0, o)
        grace = {e["name"]: e["grace"] for e in self.state()["evictions"]}
        self.assertEqual(grace["g-1"], 7)
        self.assertEqual(grace["g-3"], 30)
        # 600 s does not fit before a 40 s deadline: about 40 - 5 s margin.
        self.assertGreaterEqual(grace["g-2"], 30)
        self.assertLessEqual(grace["g-2"], 35)

    def test_deadline_honoured_and_leftovers_reported(self):
        self.seed(pods=[{"name": "stuck-0", "labels": {"app": "stuck"}}, rs_pod("ok-0")])
        self.fk.pdbs([{"name": "stuck", "selector": {"app": "stuck"}, "minAvailable": 1}])
        o = self.drain("--deadline-s", "6", "--delete-blocked-at-ms", "0", "--pdb-retry-ms", "500")
        self.assertEqual(o.rc, 1, o)
        self.assertLess(o.elapsed, 6 + 4)
        self.assertEqual((o["evicted"], o["left"], o["deadline_hit"]), (1, 1, 1))
        self.assertEqual(o.left, ["default/stuck-0"])
        self.assertIn("left: default/stuck-0", o.stdout)
        self.assertLessEqual(o["total_ms"], 6000)
        ev = [e for e in self.state()["events"] if e["reason"] == "DrainIncomplete"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["type"], "Warning")
        self.assertEqual(self.state()["deletions"], [])

    def test_new_pod_on_the_node_is_drained_too(self):
        self.seed(pods=[rs_pod(f"old-{i}", terminate_s=3) for i in range(3)])

        def add_late():
            time.sleep(1.5)
            self.fk.pods(NODE, [rs_pod("late-1")])
        o = self.drain_while(add_late)
        self.assertEqual((o["found"], o["evicted"], o["left"]), (4, 4, 0))
        self.assertIn("pod default/late-1 appeared", o.stderr)

    def test_events_from_two_threads(self):
        self.seed(generate=8, mix=False)
        node = self.state()["node"]
        o = self.drain("--event-thread")
        self.assertEqual(o.rc, 0, o)
        m = re.search(r"events_posted=(\d+)", o.stdout)
        self.assertGreater(int(m.group(1)), 0)
        evs = self.state()["events"]
        reasons = [e["reason"] for e in evs]
        for r in ("Cordoned", "Draining", "Drained"):
            self.assertEqual(reasons.count(r), 1, reasons)
        self.assertIn("ProbeTick", reasons)
        for e in evs:
            self.assertEqual(e["involvedObject"]["kind"], "Node")
            self.assertEqual(e["involvedObject"]["name"], NODE)
            # The node's uid once the cordon (beside the drain) has read it; its name
            # before, as the kubelet names its node in its own Events.
            self.assertIn(e["involvedObject"]["uid"], (node["metadata"]["uid"], NODE))
            self.assertEqual(e["source"]["component"], "despotify")
            self.assertEqual(e["metadata"]["namespace"], "default")
            self.assertIn(e["type"], ("Normal", "Warning"))
        drained = [e for e in evs if e["reason"] == "Drained"][0]
        self.assertIn("8 pods evicted", drained["message"])

    def test_events_off(self):
        self.seed(generate=3, mix=False)
        o = self.drain("--no-events")
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(self.state()["events"], [])
        self.assertEqual(self.state()["requests"].get("POST event"), None)

    def test_event_uid_before_cordon_is_the_node_name(self):
        self.seed()
        o = self.probe("event", NODE, "Warning", "SpotInterruption", "notice seen")
        self.assertEqual(o.rc, 0, o)
        ev = self.state()["events"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["reason"], "SpotInterruption")
        self.assertEqual(ev[0]["involvedObject"]["uid"], NODE)
        self.assertEqual(ev[0]["message"], "notice seen")

    def test_event_failure_does_not_hold_the_drain(self):
        self.seed(generate=6, mix=False)
        self.fk.faults([{"method": "POST", "path": "/events$", "action": "stall", "seconds": 8, "count": -1}])
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["evicted"], 6)
        # Each Event waits 2 s at most, and after a failure the next ones are dropped.
        self.assertLess(o["total_ms"], 8000)
        self.assertIn("not posted", o.stderr)

    def test_dry_run_changes_nothing(self):
        self.seed(taints=[{"key": "a", "effect": "NoSchedule"}], generate=12)
        before = self.state()["node"]
        o = self.drain("--dry-run")
        self.assertEqual(o.rc, 0, o)
        st = self.state()
        self.assertEqual(st["node"], before)
        self.assertEqual(len(st["pods"]), 12)
        self.assertEqual((st["evictions"], st["deletions"], st["events"]), ([], [], []))
        self.assertEqual({r["m"] for r in st["request_log"]}, {"GET"})
        self.assertIn("dry-run: would PATCH " + self.fk.url + "/api/v1/nodes/" + NODE, o.stderr)
        would = re.findall(r"dry-run: would POST \S+/pods/(\S+)/eviction", o.stderr)
        self.assertEqual(len(would), o["evicted"])
        self.assertGreater(o["evicted"], 0)
        self.assertIn("dry-run: would POST " + self.fk.url + "/api/v1/namespaces/default/events", o.stderr)


class TestProductionPods(Base):
    """Pods the size and shape a real API server returns (test/lib/prodpod.py)."""

    def first_listing(self):
        """The LIST requests of the first listing, up to the first page without continue."""
        out = []
        for r in self.state()["request_log"]:
            if r["m"] == "GET" and r["path"].startswith("/api/v1/pods"):
                out.append(r)
                if r["status"] == 200 and "continue=" not in r["path"] and len(out) >= 1:
                    break
        return out

    def test_500_pods_in_one_page_evicted_while_it_streams(self):
        made = self.seed(generate=500, size="production")
        evictable = len(made["evictable"]) + len(made["emptydir"]) + len(made["statefulset"]) + len(made["bare"])
        # The page (about 9 MB) arrives chunked over two seconds, as from a busy API server.
        self.fk.faults([{"method": "GET", "path": "/api/v1/pods\\?", "action": "chunked", "chunk": 65536,
                         "seconds": 2, "count": 1}])
        o = self.drain(timeout=300)
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["found"], o["evicted"], o["left"]), (500, evictable, 0))
        st = self.state()
        first = self.first_listing()
        self.assertEqual(len(first), 1, first)
        self.assertIn("limit=500", first[0]["path"])
        self.assertNotIn("unusable page", o.stderr)
        self.assertNotIn("over the caps", o.stderr)
        # Evictions began with the first pods, while the rest of the page was still on its way.
        list_end = first[0]["t"] + first[0]["ms"] / 1000.0
        self.assertLess(min(e["t"] for e in st["evictions"]), list_end - 0.5, (st["evictions"][:3], first))

    def test_long_tail_pod_of_300kb(self):
        self.seed(generate=40, size="production", big=[[6, 300 * 1024]])
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["found"], 40)
        self.assertEqual(o["left"], 0)
        self.assertIn("default/pod-006", [e["namespace"] + "/" + e["name"] for e in self.state()["evictions"]])
        self.assertEqual(len(self.first_listing()), 1)
        self.assertNotIn("unusable page", o.stderr)
        self.assertNotIn("over the caps", o.stderr)

    def test_pod_over_the_cap_is_left_out_and_said_so(self):
        self.seed(generate=30, size="production", big=[[7, 1100 * 1024]])
        o = self.drain()
        # It is still on the node: the drain is not complete, and says so.
        self.assertEqual(o.rc, 1, o)
        self.assertEqual((o["found"], o["left"]), (30, 1))
        self.assertRegex(o.stdout, r"summary drain: 30 found, .* 1 left \(1 over the size caps, "
                                   r"not drained\); .* and 1 more")
        self.assertRegex(o.stderr, r"ERROR .*page 1: 1 pod over the caps \(1048575 bytes, 131072 JSON tokens\) "
                                   r"left out, not drained: item \d+ at byte \d+: \d+ bytes, over the 1048575-byte buffer")
        evicted = [e["name"] for e in self.state()["evictions"]]
        self.assertNotIn("pod-007", evicted)
        self.assertIn("pod-008", evicted)
        self.assertIn("default/pod-007", self.pods_left())
        self.assertEqual(len(self.first_listing()), 1)

    def test_expired_continue_restarts_the_listing(self):
        self.seed(generate=520, mix=False)
        self.fk.faults([{"method": "GET", "path": "continue=", "action": "status", "status": 410, "count": 1,
                         "message": "The provided continue parameter is too old to display a consistent list "
                                    "result. You can start a new list without the continue parameter."}])
        o = self.drain(timeout=300)
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["found"], o["evicted"], o["left"]), (520, 520, 0))
        self.assertIn("continue token expired", o.stderr)
        lists = [r for r in self.state()["request_log"] if r["m"] == "GET" and r["path"].startswith("/api/v1/pods")]
        # Page 1, page 2 (410), then from the start again, after a back-off (the pods of page 1
        # are gone by then: evicted as they streamed in).
        self.assertEqual([("continue=" in r["path"], r["status"]) for r in lists[:3]],
                         [(False, 200), (True, 410), (False, 200)])
        self.assertGreaterEqual(lists[2]["t"] - lists[1]["t"], 0.1)
        # The pods seen before the restart were not evicted twice.
        names = [e["name"] for e in self.state()["evictions"]]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(self.pods_left(), [])


class TestFaults(Base):
    def test_dropped_connections(self):
        self.seed(generate=20, mix=False)
        self.fk.faults([{"method": "GET", "path": "/nodes/", "action": "drop", "count": 1},
                        {"method": "GET", "path": "/api/v1/pods", "action": "drop", "count": 2},
                        {"method": "POST", "path": "/eviction$", "action": "drop", "count": 5},
                        {"method": "PATCH", "action": "drop", "count": 1}])
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["left"]), (20, 0))
        self.assertTrue(self.state()["node"]["spec"]["unschedulable"])
        self.assertEqual(self.pods_left(), [])

    def test_garbage_bodies(self):
        self.seed(generate=20, mix=False)
        self.fk.faults([{"method": "GET", "path": "/nodes/", "action": "garbage", "count": 1},
                        {"method": "GET", "path": "/api/v1/pods", "action": "garbage", "count": 1},
                        {"method": "GET", "path": "/api/v1/pods", "action": "truncate", "count": 1},
                        {"method": "POST", "path": "/eviction$", "action": "garbage", "count": 3}])
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["left"]), (20, 0))
        self.assertEqual(self.pods_left(), [])

    def test_server_errors_and_slow_answers(self):
        self.seed(generate=20, mix=False)
        self.fk.faults([{"method": "POST", "path": "/eviction$", "action": "status", "status": 503, "count": 6},
                        {"method": "GET", "path": "/nodes/", "action": "status", "status": 502, "count": 2},
                        {"method": "GET", "path": "/api/v1/pods", "action": "slow-body", "seconds": 1.5, "count": 1}])
        o = self.drain()
        self.assertEqual(o.rc, 0, o)
        self.assertEqual((o["evicted"], o["left"]), (20, 0))

    def test_forbidden_eviction_is_reported_not_retried_forever(self):
        self.seed(pods=[rs_pod("deny-1"), rs_pod("fine-1")])
        self.fk.faults([{"method": "POST", "path": "deny-1/eviction$", "action": "status", "status": 403,
                         "count": -1}])
        o = self.drain("--deadline-s", "20")
        self.assertEqual(o.rc, 1, o)
        self.assertEqual((o["evicted"], o["left"]), (1, 1))
        self.assertEqual(o.left, ["default/deny-1"])
        self.assertLess(o.elapsed, 15)
        self.assertRegex(o.stderr, r"ERROR .*eviction of pod default/deny-1 refused: 403")

    def test_token_rotation_mid_drain(self):
        self.seed(pods=[rs_pod(f"p-{i}", terminate_s=3) for i in range(6)])

        def rotate():
            time.sleep(1.0)
            tmp = self.token_file + ".new"
            with open(tmp, "w") as f:
                f.write(TOKEN2 + "\n")
            os.rename(tmp, self.token_file)   # as the kubelet swaps a projected token
            self.fk.tokens([TOKEN2])
        o = self.drain_while(rotate)
        self.assertEqual(o["evicted"], 6)
        self.assertGreaterEqual(o["token_reads"], 2)
        users = {r["user"] for r in self.state()["request_log"]}
        self.assertIn("token:" + TOKEN2[:6], users)
        self.assertNotIn(TOKEN, o.stderr)
        self.assertNotIn(TOKEN2, o.stderr)

    def test_401_rereads_an_unchanged_looking_token_file(self):
        self.seed(pods=[rs_pod(f"p-{i}", terminate_s=3) for i in range(3)])
        st0 = os.stat(self.token_file)

        def rotate():
            time.sleep(1.0)
            # Same size, same inode, same mtime: only the 401 tells the token changed.
            with open(self.token_file, "r+") as f:
                f.write(TOKEN2 + "\n")
            os.utime(self.token_file, ns=(st0.st_atime_ns, st0.st_mtime_ns))
            self.fk.tokens([TOKEN2])
        o = self.drain_while(rotate)
        self.assertEqual(o["left"], 0)
        self.assertGreaterEqual(self.state()["auth_failures"], 1)
        self.assertIn("401 Unauthorized; re-reading token_file", o.stderr)
        self.assertGreaterEqual(o["token_reads"], 2)
        self.assertNotIn(TOKEN2, o.stderr)

    def test_token_never_logged(self):
        self.seed(generate=5, mix=False)
        self.fk.tokens([TOKEN2])   # every request fails 401 first
        o = self.drain("--deadline-s", "8")
        self.assertNotIn(TOKEN, o.stdout + o.stderr)
        self.assertNotIn("Bearer", o.stdout + o.stderr)
        self.assertEqual(o.rc, 1, o)

    def test_missing_token_file_is_an_init_error(self):
        o = self.probe("cordon", NODE, token_file=os.path.join(self.tmp, "nope"))
        self.assertEqual(o.rc, 1, o)
        self.assertIn("token_file", o.stdout)

    def test_server_name_is_checked(self):
        self.seed()
        o = self.probe("--server-name", "kubernetes.default.svc", "cordon", NODE)
        self.assertEqual(o.rc, 0, o)
        self.seed()
        o = self.probe("--server-name", "wrong.example.com", "--deadline-s", "3", "cordon", NODE)
        self.assertEqual(o.rc, 1, o)
        self.assertIn("TLS", o.stdout + o.stderr)
        self.assertFalse(self.state()["node"]["spec"].get("unschedulable"))


class TestClientCert(Base):
    fake_kwargs = {"client_ca": True}

    def test_client_certificate_instead_of_a_token(self):
        self.seed(generate=6, mix=False)
        o = self.probe("--client-cert", self.fk.pki["client_crt"], "--client-key", self.fk.pki["client_key"],
                       "--level", "DEBUG", "drain", NODE, token_file=os.path.join(self.tmp, "no-token"))
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(o["evicted"], 6)
        users = {r["user"] for r in self.state()["request_log"]}
        self.assertEqual(users, {"cert:client"})
        # Without the certificate, and a token the server does not take: 401s, nothing changes.
        self.setUp()
        self.seed()
        self.fk.tokens([])
        o = self.probe("--deadline-s", "4", "cordon", NODE)
        self.assertEqual(o.rc, 1, o)
        self.assertIn("401", o.stdout + o.stderr)
        self.assertFalse(self.state()["node"]["spec"].get("unschedulable", False))


class TestApiServerDown(unittest.TestCase):
    def test_api_server_down_for_the_first_seconds(self):
        tmp = tempfile.mkdtemp(prefix="despotify-k8s-down-")
        fk = None
        try:
            seed = [["node", {"name": NODE}], ["generate", {"node": NODE, "count": 10, "mix": False}]]
            fk = FakeK8s(tmp, token=TOKEN, start_delay_s=3, seed=seed)
            tok = os.path.join(tmp, "token")
            with open(tok, "w") as f:
                f.write(TOKEN)
            p = subprocess.run([PROBE, "k8s", "--api", fk.url, "--ca", fk.pki["ca"], "--token-file", tok,
                                "--deadline-s", "30", "drain", NODE], capture_output=True, text=True,
                               timeout=90, env=ENV)
            out = Out(p.returncode, p.stdout, p.stderr, 0)
            self.assertEqual(p.returncode, 0, out)
            self.assertEqual(out["evicted"], 10)
            self.assertGreaterEqual(out["cordon_ms"], 2000)
            self.assertIn("refused", p.stderr)
            fk.wait_up()
            self.assertEqual(fk.state(NODE)["pods"], [])
        finally:
            if fk:
                fk.stop()
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipIf(KUBECTL is None, "kubectl is not installed")
class TestKubectlParity(Base):
    """The fake is realistic enough for the real kubectl, and despotify's drain
    leaves a node as `kubectl drain --ignore-daemonsets --delete-emptydir-data
    --force` does (except finished pods, which despotify leaves alone by design)."""

    def kubectl(self, *args):
        kc = self.fk.kubeconfig(os.path.join(self.tmp, "kubeconfig"), TOKEN)
        p = subprocess.run([KUBECTL, "--kubeconfig", kc, "--request-timeout=30s", *args], capture_output=True,
                           text=True, timeout=120, env=dict(ENV, HOME=self.tmp, KUBECACHEDIR=os.path.join(self.tmp, "kc")))
        return p

    def test_same_end_state_as_kubectl_drain(self):
        a, b = "node-kubectl", "node-despotify"
        made = {}
        for node, prefix in ((a, "a"), (b, "b")):
            self.fk.node(node, taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
            made[node] = self.fk.generate(node, 40, prefix=prefix, mix=True)
        # kubectl's own taint and label go through the fake's strategic merge patch.
        p = self.kubectl("taint", "nodes", b, "team=red:PreferNoSchedule")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.kubectl("label", "nodes", b, "pool=spot")
        self.assertEqual(p.returncode, 0, p.stderr)

        p = self.kubectl("drain", a, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=60s")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        o = self.probe("--level", "INFO", "drain", b)
        self.assertEqual(o.rc, 0, o)

        sa, sb = self.fk.state(a), self.fk.state(b)
        self.assertTrue(sa["node"]["spec"]["unschedulable"])
        self.assertTrue(sb["node"]["spec"]["unschedulable"])
        left_a = {p["name"][2:] for p in sa["pods"]}
        left_b = {p["name"][2:] for p in sb["pods"]}
        finished_b = {n.split("/")[1][2:] for n in made[b]["succeeded"]}
        self.assertTrue(finished_b)
        self.assertEqual(left_b - finished_b, left_a)
        expect_left = {n.split("/")[1][2:] for n in made[a]["daemonset"] + made[a]["mirror"]}
        self.assertEqual(left_a, expect_left)
        # Both kept the taints already there; despotify added its own, after kubectl's.
        self.assertEqual(sa["node"]["spec"]["taints"], [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
        keys = [t["key"] for t in sb["node"]["spec"]["taints"]]
        self.assertEqual(sorted(keys[:2]), ["dedicated", "team"])   # kubectl taint puts its own first
        self.assertEqual(keys[2], "despotify/spot-termination")
        self.assertEqual(sb["node"]["metadata"]["labels"]["pool"], "spot")
        # kubectl uncordon undoes despotify's unschedulable through a strategic merge patch.
        p = self.kubectl("uncordon", b)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(self.fk.state(b)["node"]["spec"].get("unschedulable", False))


if __name__ == "__main__":
    unittest.main()
