"""Fault injection: every endpoint in turn misbehaves while despotify works.
Each case asserts that the process stays alive, logs a clear reason, and
completes the handling once the fault clears (or, at the deadline, reports
exactly what was left)."""
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

import cluster
from cluster import Cluster
from k8sfake import FakeK8s


def evicted(st):
    return {f"{e['namespace']}/{e['name']}" for e in st["evictions"] if e["status"] in (200, 201)}


class FaultCase(unittest.TestCase):
    cluster_args = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-fault-")
        self.c = Cluster(self.tmp, **self.cluster_args)
        self.made = self.c.k8s.generate(self.c.node, 12, mix=False)

    def tearDown(self):
        self.c.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def complete(self, d, timeout=90):
        """The handling finished with every pod evicted and the instance detached."""
        d.wait_for(r"summary: ", timeout)
        st = self.c.k8s.state(self.c.node)
        self.assertEqual(set(self.made["evictable"]), evicted(st) & set(self.made["evictable"]))
        self.assertTrue(st["node"]["spec"].get("unschedulable"))
        # Exactly one DetachInstances took effect (a faulted answer may have hidden one).
        ok = [x for x in self.c.aws.calls("DetachInstances") if x["status"] == 200 and not x.get("fault")]
        self.assertEqual(len(ok), 1, self.c.aws.calls("DetachInstances"))
        inst = self.c.aws.state()["instances"].get(self.c.instance)
        self.assertTrue(inst is None or inst["state"] != "InService", inst)
        self.assertTrue(d.alive(), "despotify died")
        self.assertRegex(d.text(), r"summary: .* 0 left")


class IMDSFaults(FaultCase):
    """IMDS misbehaves while despotify polls; the notice is seen once it recovers."""

    def imds_fault(self, rule, reason):
        c = self.c
        d = c.start()
        d.wait_for(r"watching instance", 60)
        # Both notice paths, or the other one would carry the notice through.
        rule = dict(rule, path=rule.get("path", "spot/"))
        c.imds.faults([rule])
        c.notice_in(100)
        d.wait_for(reason, 60)
        self.assertTrue(d.alive())
        self.complete(d)

    def test_refused(self):
        c = self.c
        d = c.start()
        d.wait_for(r"watching instance", 60)
        c.imds.refuse(3)
        d.wait_for(r"(?i)refused", 60)
        self.assertTrue(d.alive())
        deadline = time.monotonic() + 30
        while True:  # the control API is refused too until the fake listens again
            try:
                c.notice_in(100)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.complete(d)

    def test_reset(self):
        self.imds_fault({"action": "reset", "count": 5}, r"(?i)reset|closed|connection")

    def test_stall_past_deadline(self):
        self.imds_fault({"action": "stall", "seconds": 30, "count": 2}, r"(?i)timed out|time-out|timeout")

    def test_5xx(self):
        self.imds_fault({"action": "status", "status": 503, "count": 5}, r"503")

    def test_429(self):
        self.imds_fault({"action": "status", "status": 429, "retry_after": 1, "count": 3}, r"429")

    def test_truncated(self):
        self.imds_fault({"action": "truncate", "count": 3}, r"(?i)truncat|closed|short|end of")

    def test_oversized(self):
        self.imds_fault({"action": "oversize", "size": 10 << 20, "count": 2}, r"(?i)over|larger|exceed|too")

    def test_garbage(self):
        self.imds_fault({"action": "garbage", "count": 3}, r"(?i)json|garbage|invalid|malformed|not")


class AWSFaults(FaultCase):
    def aws_fault(self, rules, reason):
        c = self.c
        c.aws.faults(rules)
        c.notice_in(100)
        d = c.start()
        d.wait_for(reason, 60)
        self.complete(d)

    def test_refused_until_the_deadline(self):
        # The Auto Scaling endpoint is a port nobody listens on: retried until
        # the deadline, reported as failed, the drain unaffected.
        c = self.c
        c.notice_in(100)
        ini = c.ini(asg_endpoint="https://127.0.0.1:1", grace_period="10", delete_blocked_at="5")
        d = c.start(ini=ini)
        d.wait_for(r"(?i)refused", 60)
        d.wait_for(r"summary: ", 90)
        self.assertTrue(d.alive())
        self.assertRegex(d.text(), r"ASG: FAILED")
        self.assertRegex(d.text(), r"summary: .* 0 left")

    def test_dropped_and_truncated(self):
        self.aws_fault([{"api": "DescribeAutoScalingInstances", "action": "drop", "count": 1},
                        {"api": "DetachInstances", "action": "truncate", "count": 1}],
                       r"(?i)closed|truncat|end of")

    def test_5xx_and_throttling(self):
        self.aws_fault([{"api": "DescribeAutoScalingInstances", "action": "status", "status": 500, "count": 1},
                        {"api": "DetachInstances", "action": "status", "status": 503, "count": 2}],
                       r"ServiceUnavailable|InternalFailure|503|500")

    def test_invalid_xml(self):
        self.aws_fault([{"api": "DescribeAutoScalingInstances", "action": "garbage", "count": 1},
                        {"api": "DetachInstances", "action": "half-body", "count": 1}],
                       r"(?i)xml")

    def test_expired_credentials(self):
        # The first DetachInstances says ExpiredToken; env credentials cannot be
        # refreshed, so the fake's expiry is lifted and the retry goes through.
        self.aws_fault([{"api": "DetachInstances", "action": "status", "status": 400,
                         "code": "ExpiredToken", "message": "The security token included in the request is expired",
                         "count": 1}],
                       r"ExpiredToken")

    def test_clock_skew(self):
        c = self.c
        c.aws.config(skew_s=900)
        c.notice_in(100)
        d = c.start()
        d.wait_for(r"(?i)RequestExpired|skew|clock", 60)
        self.complete(d)

    def test_stall_past_deadline(self):
        c = self.c
        c.aws.faults([{"api": "DetachInstances", "action": "stall", "seconds": 60, "count": -1}])
        c.notice_in(100)
        d = c.start(grace_period="12")
        d.wait_for(r"summary: ", 60)
        self.assertTrue(d.alive())
        self.assertRegex(d.text(), r"ASG: FAILED")
        self.assertRegex(d.text(), r"(?i)timed out|deadline")


class K8sFaults(FaultCase):
    def k8s_fault(self, rules, reason, **ini):
        c = self.c
        c.k8s.faults(rules)
        c.notice_in(100)
        d = c.start(**ini)
        d.wait_for(reason, 60)
        self.complete(d)

    def test_patch_node_5xx_and_dropped(self):
        self.k8s_fault([{"method": "PATCH", "path": "/nodes/", "action": "status", "status": 503, "count": 2},
                        {"method": "GET", "path": "/nodes/", "action": "drop", "count": 1}],
                       r"(?i)503|closed")

    def test_list_garbage_truncated_slow(self):
        self.k8s_fault([{"method": "GET", "path": "/api/v1/pods", "action": "garbage", "count": 1},
                        {"method": "GET", "path": "/api/v1/pods", "action": "truncate", "count": 1},
                        {"method": "GET", "path": "/api/v1/pods", "action": "stall", "seconds": 1.5,
                         "count": 1}],
                       r"(?i)json|truncat|closed|end of")

    def test_eviction_faults(self):
        self.k8s_fault([{"method": "POST", "path": "/eviction", "action": "status", "status": 500, "count": 2},
                        {"method": "POST", "path": "/eviction", "action": "drop", "count": 2},
                        {"method": "POST", "path": "/eviction", "action": "garbage", "count": 2},
                        {"method": "POST", "path": "/eviction", "action": "status", "status": 429, "retry_after": 1,
                         "count": 3}],
                       r"(?i)evict")

    def test_rotated_token(self):
        c = self.c
        c.notice_in(100)
        d = c.start(eviction_concurrency="2")
        d.wait_for(r"watching instance", 60)
        # The kubelet rotates the projected token: the file and the server change.
        c.k8s.tokens(["rotated-token-2"])
        with open(c.token_file + ".new", "w") as f:
            f.write("rotated-token-2\n")
        os.replace(c.token_file + ".new", c.token_file)
        self.complete(d)
        self.assertNotIn("rotated-token-2", d.text())

    def test_deadline_reports_what_was_left(self):
        c = self.c
        c.k8s.pods(c.node, [{"name": "stuck", "labels": {"app": "stuck"}}])
        c.k8s.pdbs([{"name": "stuck", "namespace": "default", "selector": {"app": "stuck"},
                     "maxUnavailable": 0}])
        c.notice_in(100)
        d = c.start(grace_period="8", delete_blocked_at="0", pdb_retry_interval="1")
        m = d.wait_for(r"summary: .*", 60)
        self.assertRegex(m.group(0), r"1 left.*default/stuck")
        self.assertTrue(d.alive())


class TLSChange(FaultCase):
    def test_api_server_certificate_changes(self):
        """The API server comes back with a certificate we must refuse, then
        with a good one: refused with a reason, then the drain completes."""
        c = self.c
        port = c.k8s.port
        d = c.start()
        d.wait_for(r"watching instance", 60)
        # The API server is replaced by one whose certificate no configured CA signed.
        c.k8s.stop()
        bad = FakeK8s(self.tmp, token=cluster.K8S_TOKEN, args=[
            "--port", str(port), "--cert", c.pki["untrusted_crt"], "--key", c.pki["untrusted_key"]],
            wait=False)
        c.notice_in(100)
        try:
            d.wait_for(r"(?i)not trusted|certificate", 60)
            self.assertTrue(d.alive())
        finally:
            bad.stop()
        # Seeded before it answers: the drain lists the pods as soon as it can connect.
        good = FakeK8s(self.tmp, token=cluster.K8S_TOKEN, args=["--port", str(port)],
                       seed=[["node", {"name": c.node}], ["generate", {"node": c.node, "count": 12, "mix": False}]])
        c.k8s = good
        self.made = {"evictable": [f"default/pod-{i:03d}" for i in range(12)]}
        self.complete(d)


if __name__ == "__main__":
    unittest.main()
