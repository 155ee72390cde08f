"""End to end: the right action under the failures of issue 12, one test
per case, against the fakes. Each shows what a user would see: which pods
moved, what the node looks like, what the summary says.

  1 a cordon that keeps failing never stops the drain
  2 a taint refused by NodeRestriction still leaves the node unschedulable
  3 an advisory rebalance drain honours every PDB and the pods' own grace
  4 IMDS is polled while a rebalance is handled: a termination takes over
  5 notices are polled before (and without) the instance facts
  6 a pod that shows up as a drain ends is left and reported, never half-evicted
  7 one long Retry-After slows the drain and never stops it
  8 values that make no sense are config errors (file, line, key; exit 2)
  9 a webhook URL's secret never shows; plain-HTTP credentials only to an IP literal
 10 403s while a kube-apiserver starts are retried, for a few seconds only
"""
import os
import re
import threading
import time
import unittest

import cluster
from test_daemon import DaemonTest, deleted, evicted, event_reasons, taints

NODE_RESTRICTION_MSG = 'is not allowed to modify taints'


def requests(st, method, pattern):
    """The fake's request log entries of method whose path matches pattern."""
    rx = re.compile(pattern)
    return [r for r in st["request_log"] if r["m"] == method and rx.search(r["path"])]


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while not fn():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


class CordonFailing(DaemonTest):
    def test_1_cordon_failing_does_not_stop_the_drain(self):
        """Every PATCH of the Node answers 500 (a node webhook failing closed)."""
        c = self.c
        made = c.k8s.generate(c.node, 12, mix=False)
        c.k8s.faults([{"method": "PATCH", "path": "^/api/v1/nodes/", "count": -1,
                       "action": "status", "status": 500, "message": "admission webhook failed"}])
        c.notice_in(100)
        rc, log = c.run_once(grace_period=15, delete_blocked_at=5)
        self.assertEqual(rc, 1, log)  # the node is not cordoned: not everything was done
        st = c.k8s.state(c.node)
        self.assertEqual(set(made["evictable"]), evicted(st))
        self.assertFalse(st["node"]["spec"].get("unschedulable"))
        self.assertRegex(log, r"summary: node \S+ NOT cordoned \(deadline passed \(last: PATCH node "
                              r"\S+: 500: admission webhook failed\)\); drain: 12 found, 12 evicted, .* 0 left")
        # The cordon went on retrying beside the drain, and the first eviction came only
        # after the first PATCH had been answered.
        patches = requests(st, "PATCH", r"^/api/v1/nodes/")
        posts = requests(st, "POST", r"/eviction$")
        self.assertGreater(len(patches), 2)
        self.assertGreaterEqual(posts[0]["t"], patches[0]["t"])
        self.assertLess(posts[-1]["t"], patches[-1]["t"])


class TaintRefused(DaemonTest):
    def test_2_node_restriction_cordons_without_the_taint(self):
        c = self.c
        made = c.k8s.generate(c.node, 6, mix=False)
        c.k8s.config(node_restriction_taints=True)
        c.notice_in(100)
        rc, log = c.run_once()
        self.assertEqual(rc, 0, log)
        st = c.k8s.state(c.node)
        node = st["node"]
        self.assertTrue(node["spec"].get("unschedulable"))
        self.assertNotIn(("despotify/spot-termination", "NoSchedule"), taints(node))
        self.assertIn(("existing/taint", "PreferNoSchedule"), taints(node))
        self.assertEqual(node["metadata"]["labels"].get(
            "node.kubernetes.io/exclude-from-external-load-balancers"), "true")
        self.assertEqual(set(made["evictable"]), evicted(st))
        self.assertEqual(len(re.findall(r"refused to taint node", log)), 1, log)
        self.assertIn(NODE_RESTRICTION_MSG, log)
        self.assertRegex(log, r"summary: node \S+ cordoned, NOT tainted \(the API server refused the "
                              r"taint: NodeRestriction\); drain: .* 0 left")
        ev = [e for e in st["events"] if e.get("reason") == "Cordoned"]
        self.assertEqual(len(ev), 1, st["events"])
        self.assertEqual(ev[0]["type"], "Warning")
        self.assertIn("without its taint", ev[0]["message"])

    def test_2_restart_after_refused_taint_is_idempotent(self):
        c = self.c
        c.k8s.generate(c.node, 2, mix=False)
        c.k8s.config(node_restriction_taints=True)
        c.notice_in(100)
        for _ in range(2):
            rc, log = c.run_once()
            self.assertEqual(rc, 0, log)
        self.assertRegex(log, r"already cordoned")
        self.assertTrue(c.k8s.state(c.node)["node"]["spec"].get("unschedulable"))


class ForbiddenAtStart(DaemonTest):
    """A kube-apiserver that has just started answers 403 for a few seconds,
    until its authorizer's caches are filled (seen with the real one)."""

    # As kube-apiserver words it while its RBAC caches are empty.
    FORBIDDEN = ('pods is forbidden: User "system:serviceaccount:kube-system:despotify" cannot list '
                 'resource "pods" in API group "" at the cluster scope')

    def test_10_forbidden_while_the_api_server_starts_is_retried(self):
        c = self.c
        made = c.k8s.generate(c.node, 8, mix=False)
        c.k8s.faults([{"method": "GET", "path": "^/api/v1/nodes/", "count": 3,
                       "action": "status", "status": 403, "message": self.FORBIDDEN},
                      {"method": "GET", "path": "^/api/v1/pods", "count": 3,
                       "action": "status", "status": 403, "message": self.FORBIDDEN}])
        c.notice_in(100)
        rc, log = c.run_once()
        self.assertEqual(rc, 0, log)
        st = c.k8s.state(c.node)
        self.assertTrue(st["node"]["spec"].get("unschedulable"))
        self.assertEqual(set(made["evictable"]), evicted(st))
        self.assertEqual(len(requests(st, "GET", r"^/api/v1/nodes/")), 4)
        self.assertGreaterEqual(len(requests(st, "GET", r"^/api/v1/pods")), 4)  # then re-lists
        self.assertRegex(log, r"cordon node \S+: GET node \S+: 403: " + re.escape(self.FORBIDDEN) +
                         "; retrying")
        self.assertRegex(log, r"list pods on node \S+: 403: " + re.escape(self.FORBIDDEN) + "; retrying")
        self.assertRegex(log, r"summary: node \S+ cordoned.*; drain: .* 0 left")

    def test_10_forbidden_for_good_ends_within_the_grace_not_at_the_deadline(self):
        c = self.c
        c.k8s.generate(c.node, 4, mix=False)
        c.k8s.faults([{"method": "GET", "path": "^/api/v1/(nodes/|pods)", "count": -1,
                       "action": "status", "status": 403, "message": self.FORBIDDEN}])
        c.notice_in(100)
        t0 = time.monotonic()
        rc, log = c.run_once()
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 1, log)
        # K8S_FORBIDDEN_GRACE_MS (10 s) and a last backoff, far from the 100 s notice.
        self.assertGreater(elapsed, 9, log)
        self.assertLess(elapsed, 45, log)
        self.assertRegex(log, r"summary: node \S+ NOT cordoned \(GET node \S+: 403: " +
                         re.escape(self.FORBIDDEN) + r"\)")
        self.assertRegex(log, r"list pods on node \S+: 403: " + re.escape(self.FORBIDDEN))
        st = c.k8s.state(c.node)
        self.assertFalse(st["node"]["spec"].get("unschedulable"))
        self.assertEqual(evicted(st), set())

    def test_10_forbidden_after_a_grant_is_final(self):
        """The GET was granted: a 403 on the PATCH is the server's answer, not its start-up."""
        c = self.c
        c.k8s.generate(c.node, 2, mix=False)
        c.k8s.faults([{"method": "PATCH", "path": "^/api/v1/nodes/", "count": -1,
                       "action": "status", "status": 403, "message": "denied by policy"}])
        c.notice_in(100)
        rc, log = c.run_once(taint="")
        self.assertEqual(rc, 1, log)
        st = c.k8s.state(c.node)
        self.assertEqual(len(requests(st, "PATCH", r"^/api/v1/nodes/")), 1)
        self.assertRegex(log, r"summary: node \S+ NOT cordoned \(PATCH node \S+: 403: denied by policy\)")


class RebalanceAdvisory(DaemonTest):
    """Cases 3 and 4: an advisory drain, then a termination notice that takes it over."""

    def seed(self):
        c = self.c
        c.k8s.pods(c.node, [{"name": f"web-{i}", "owner": "ReplicaSet", "owner_name": "web",
                             "labels": {"app": "web"}, "grace": 90} for i in range(3)]
                   + [{"name": "db-0", "owner": "StatefulSet", "owner_name": "db",
                       "labels": {"app": "db"}, "grace": 90}])
        # db-0 is the only db pod and its PDB wants it up: it can never be evicted.
        c.k8s.pdbs([{"name": "db", "namespace": "default", "selector": {"app": "db"}, "minAvailable": 1}])

    def test_3_4_rebalance_drain_honours_pdbs_then_termination_takes_over(self):
        c = self.c
        self.seed()
        d = c.start(rebalance_action="drain", grace_period=40, delete_blocked_at=8)
        d.wait_for(r"watching instance", 60)
        # A rebalance notice's time is in the past: no deadline may come of it.
        c.imds.notice(rebalance={"noticeTime": cluster.utc(time.time() - 300)})
        d.wait_for(r"drain: eviction of pod default/db-0 blocked", 60)
        wait_until(lambda: {f"default/web-{i}" for i in range(3)} <= evicted(c.k8s.state(c.node)), 60,
                   "the web pods evicted")
        # Longer than the old 20 s clamp and its delete 10 s before: nothing is deleted.
        time.sleep(22)
        st = c.k8s.state(c.node)
        self.assertEqual(deleted(st), set())
        self.assertIn("default/db-0", {f"{p['namespace']}/{p['name']}" for p in st["pods"]})
        self.assertEqual({e["grace"] for e in st["evictions"]}, {90})
        self.assertEqual(c.aws.calls("DetachInstances"), [])
        self.assertIn("RebalanceRecommendation", event_reasons(st))
        self.assertNotIn("summary:", d.text())
        # Case 4: IMDS is still polled; the termination notice takes over at once.
        c.notice_in(30)
        d.wait_for(r"notice: termination terminate .* it takes over the rebalance handling of node", 30)
        d.wait_for(r"summary: ", 60)
        log = d.text()
        st = c.k8s.state(c.node)
        self.assertEqual(len(c.aws.calls("DetachInstances")), 1)
        self.assertEqual(deleted(st), {"default/db-0"})
        self.assertIn("SpotInterruption", event_reasons(st))
        self.assertRegex(log, r"summary: node \S+ cordoned and tainted; drain: 4 found, 3 evicted, "
                              r"1 deleted, .* 0 left.*ASG: detached from spot-workers")
        # The advisory drain was taken over, not redone: each web pod was evicted once.
        self.assertEqual(sorted(e["name"] for e in st["evictions"] if e["status"] in (200, 201)),
                         ["web-0", "web-1", "web-2"])

    def test_3_rebalance_cordon_only_then_termination_drains(self):
        c = self.c
        self.seed()
        d = c.start(rebalance_action="cordon")
        d.wait_for(r"polling IMDS", 60)
        c.imds.notice(rebalance={"noticeTime": cluster.utc(time.time())})
        d.wait_for(r"summary: node \S+ cordoned and tainted in", 60)
        self.assertEqual(c.k8s.state(c.node)["evictions"], [])
        c.notice_in(15)
        d.wait_for(r"summary: .*ASG: detached", 90)
        st = c.k8s.state(c.node)
        self.assertEqual(len(evicted(st)), 3)
        self.assertEqual(deleted(st), {"default/db-0"})


class FactsLater(DaemonTest):
    cluster_args = {}

    def test_5_notice_polled_while_imds_fails_every_other_request(self):
        c = self.c
        c.k8s.generate(c.node, 5, mix=False)
        c.notice_in(100)
        c.imds.faults([{"action": "status", "status": 503, "count": -1, "probability": 0.5}])
        d = c.start()
        d.wait_for(r"summary: ", 90)
        log = d.text()
        self.assertRegex(log, r"summary: node \S+ cordoned and tainted; drain: .* 5 evicted, .* 0 left;"
                              r".*ASG: detached from spot-workers")
        calls = c.aws.calls("DetachInstances")
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["params"]["InstanceIds.member.1"], c.instance)

    def test_5_notice_handled_with_no_facts_at_all(self):
        """instance-id never answers: the drain needs only the node name."""
        c = self.c
        made = c.k8s.generate(c.node, 5, mix=False)
        c.imds.faults([{"path": "instance-id|instance-type", "action": "status", "status": 503, "count": -1}])
        c.notice_in(100)
        rc, log = c.run_once(grace_period=8, delete_blocked_at=0)
        self.assertEqual(rc, 1, log)  # the detach could not be done without the instance id
        self.assertEqual(set(made["evictable"]), evicted(c.k8s.state(c.node)))
        self.assertRegex(log, r"summary: node \S+ cordoned and tainted; drain: .* 0 left; "
                              r".*ASG: FAILED: .*instance-id: HTTP 503")
        self.assertEqual(c.aws.calls("DetachInstances"), [])

    def test_5_node_name_from_imds_when_the_notice_comes_first(self):
        c = self.c
        made = c.k8s.generate(c.node, 3, mix=False)
        c.notice_in(100)
        rc, log = self.run_without_node_name()
        self.assertEqual(rc, 0, log)
        self.assertEqual(set(made["evictable"]), evicted(c.k8s.state(c.node)))

    def run_without_node_name(self):
        c = self.c
        env = c.env(NODE_NAME=None)
        env.pop("NODE_NAME", None)
        d = c.start(args=["--once"], env=env, log_name="once-nonode.log")
        return d.wait_exit(120), d.text()


class LatePod(DaemonTest):
    def test_6_pod_appearing_as_the_drain_ends_is_left_and_reported(self):
        c = self.c
        c.k8s.config(replace_delay_s=-1)
        c.k8s.pods(c.node, [{"name": f"web-{i}", "owner": "ReplicaSet", "owner_name": "web"}
                            for i in range(3)])
        c.notice_in(100)
        stop = threading.Event()

        def add_late_pods():
            # Pods keep landing on the node until the end, so one shows up as the drain
            # stops, whichever of its listings sees it.
            i = 0
            while not stop.is_set():
                c.k8s.pods(c.node, [{"name": f"late-{i}", "owner": "ReplicaSet", "owner_name": "late"}])
                i += 1
                stop.wait(0.3)
        t = threading.Thread(target=add_late_pods)
        t.start()
        try:
            rc, log = c.run_once(grace_period=6, delete_blocked_at=0)
        finally:
            stop.set()
            t.join()
        self.assertEqual(rc, 1, log)
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("ThreadSanitizer", log)
        st = c.k8s.state(c.node)
        said_evicting = set(re.findall(r"pod (default/late-\d+) appeared on node \S+; evicting it too", log))
        # Every pod said to be evicted was sent its eviction.
        tried = {f"{e['namespace']}/{e['name']}" for e in st["evictions"]}
        self.assertLessEqual(said_evicting, tried)
        m = re.search(r"summary: .*drain: (\d+) found, (\d+) evicted, (\d+) deleted, (\d+) gone, "
                      r"(\d+) skipped, (\d+) left", log)
        self.assertIsNotNone(m, log)
        found, ev, dele, gone, skipped, left = map(int, m.groups())
        # The summary is true: every pod found is accounted for once.
        self.assertEqual(found, ev + dele + gone + skipped + left)
        self.assertEqual(ev, len(evicted(st)))
        # A pod left is named, and was never said to be evicted without an eviction.
        for name in re.findall(r"default/late-\d+", log.split("left: ", 1)[1] if "left: " in log else ""):
            self.assertNotIn(name, evicted(st))


class Throttled(DaemonTest):
    def test_7_long_retry_after_slows_the_drain_never_stops_it(self):
        c = self.c
        c.k8s.pods(c.node, [{"name": f"p-{i}", "owner": "ReplicaSet", "owner_name": "p", "grace": 5}
                            for i in range(6)])
        c.k8s.faults([{"method": "POST", "path": "/pods/p-0/eviction$", "count": 1, "action": "status", "status": 429,
                       "retry_after": 120}])
        c.notice_in(100)
        rc, log = c.run_once(grace_period=20, delete_blocked_at=0, eviction_concurrency=1)
        self.assertEqual(rc, 0, log)
        st = c.k8s.state(c.node)
        self.assertEqual(evicted(st), {f"default/p-{i}" for i in range(6)})
        tries = [r["status"] for r in requests(st, "POST", r"/pods/p-0/eviction$")]
        self.assertEqual(tries[0], 429)
        self.assertIn(201, tries[1:])
        self.assertRegex(log, r"throttled by the API server \(429, Retry-After 120000 ms; waiting \d+ ms\)")
        self.assertRegex(log, r"summary: .* 6 evicted, .* 0 left")


class Config(DaemonTest):
    def check_refused(self, want, **overrides):
        path = self.c.ini(**overrides)
        for args in (["-n"], ["--once"]):
            d = self.c.start(args=args, ini=path, log_name=f"cfg-{len(self.c.procs)}.log")
            self.assertEqual(d.wait_exit(30), 2, d.text())
            self.assertRegex(d.text(), re.escape(path) + r":\d+: " + want)

    def test_8_nonsense_values_are_config_errors(self):
        self.check_refused(r'pdb_retry_interval: "0": out of range', pdb_retry_interval=0)
        self.check_refused(r'poll_interval: "0": out of range', poll_interval=0)
        self.check_refused(r'grace_period: "0": out of range', grace_period=0)
        self.check_refused(r"delete_blocked_at: 30 s is not below grace_period", grace_period=30,
                           delete_blocked_at=30)
        for bad in ("-bad:NoSchedule", "a/b/c:NoSchedule", "k" * 70 + ":NoSchedule"):
            self.check_refused(r"taint: ", taint=bad)


class Secrets(DaemonTest):
    def test_9_webhook_url_never_echoed(self):
        c = self.c
        for url in ("https://hooks.slack.com/services/T0/B0/SECRETpath#frag",
                    "https://hooks.slack.com/services/T0/B0/SECRET path?token=SECRETq"):
            path = c.ini(webhook_url=url)
            for args in (["-n"], ["--once"]):
                d = c.start(args=args, ini=path, log_name=f"wh-{len(c.procs)}.log")
                self.assertEqual(d.wait_exit(30), 2, d.text())
                self.assertIn("webhook_url", d.text())
                self.assertNotIn("SECRET", d.text())
                self.assertNotIn("services", d.text())

    def test_9_plain_http_credentials_only_to_an_ip_literal(self):
        c = self.c
        env = c.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                    AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.attacker.example/creds")
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
        d = c.start(args=["--once"], env=env, log_name="creds.log")
        self.assertEqual(d.wait_exit(30), 2, d.text())
        self.assertIn("plain http:// is only allowed to a loopback IP address", d.text())


if __name__ == "__main__":
    unittest.main()
