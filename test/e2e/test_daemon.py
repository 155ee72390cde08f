"""End to end: despotify (the sanitizer build) against the fake IMDS, Auto
Scaling and Kubernetes API on 127.0.0.1, through whole notices."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cluster
from cluster import ACCESS_KEY, GROUP, K8S_TOKEN, SECRET_KEY, Cluster


def evicted(st):
    return {f"{e['namespace']}/{e['name']}" for e in st["evictions"] if e["status"] in (200, 201)}


def deleted(st):
    return {f"{e['namespace']}/{e['name']}" for e in st["deletions"]}


def event_reasons(st):
    return [e.get("reason") for e in st["events"]]


def taints(node):
    return {(t["key"], t.get("effect")) for t in node["spec"].get("taints") or []}


class DaemonTest(unittest.TestCase):
    cluster_args = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-e2e-")
        self.c = Cluster(self.tmp, **self.cluster_args)

    def tearDown(self):
        self.c.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assertDrained(self, made, st):
        """Every pod a drain should move was evicted (or deleted); nothing else was."""
        want = set(made["evictable"] + made["bare"] + made["emptydir"] + made["statefulset"])
        moved = evicted(st) | deleted(st)
        self.assertEqual(want, moved & want, "pods not evicted")
        keep = set(made["daemonset"] + made["mirror"] + made["succeeded"])
        self.assertFalse(moved & keep, "pods evicted that kubectl drain would leave")

    def assertCordoned(self, node):
        self.assertTrue(node["spec"].get("unschedulable"))
        self.assertIn(("despotify/spot-termination", "NoSchedule"), taints(node))
        self.assertIn(("existing/taint", "PreferNoSchedule"), taints(node))
        self.assertEqual(node["metadata"]["labels"].get(
            "node.kubernetes.io/exclude-from-external-load-balancers"), "true")


class HappyPath(DaemonTest):
    def test_instance_action_full_flow(self):
        c = self.c
        made = c.k8s.generate(c.node, 30, mix=True)
        d = c.start()
        d.wait_for(r"watching instance " + c.instance, 60)
        time.sleep(0.5)
        self.assertTrue(d.alive())
        c.notice_in(100)
        d.wait_for(r"summary: ", 90)
        st = c.k8s.state(c.node)
        self.assertCordoned(st["node"])
        self.assertDrained(made, st)
        calls = c.aws.calls("DetachInstances")
        self.assertEqual(len(calls), 1, calls)
        self.assertEqual(calls[0]["params"]["ShouldDecrementDesiredCapacity"], "false")
        self.assertEqual(calls[0]["params"]["AutoScalingGroupName"], GROUP)
        self.assertTrue(calls[0]["signature_ok"])
        reasons = event_reasons(st)
        for r in ("SpotInterruption", "DetachedFromASG", "Drained"):
            self.assertIn(r, reasons)
        log = d.text()
        self.assertRegex(log, r"summary: node \S+ cordoned and tainted;.* 0 left.*ASG: detached from spot-workers")
        # Afterwards: idle, alive, no more work.
        n_req = c.k8s.state()["requests"] if "requests" in c.k8s.state() else None
        time.sleep(1.5)
        self.assertTrue(d.alive())
        self.assertEqual(len(c.aws.calls("DetachInstances")), 1)
        if n_req is not None:
            self.assertEqual(n_req, c.k8s.state()["requests"])
        # SIGTERM: prompt, clean exit.
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("stopping on signal", d.text())

    def test_termination_time_only(self):
        c = self.c
        made = c.k8s.generate(c.node, 10, mix=True)
        c.imds.notice(termination_time=cluster.utc(time.time() + 100))
        rc, log = c.run_once(action_url="")
        self.assertEqual(rc, 0, log)
        self.assertRegex(log, r"notice: termination unknown at .* \(from termination-time")
        st = c.k8s.state(c.node)
        self.assertCordoned(st["node"])
        self.assertDrained(made, st)
        self.assertEqual(len(c.aws.calls("DetachInstances")), 1)

    def test_secrets_absent_from_debug_logs(self):
        c = self.c
        c.k8s.generate(c.node, 5, mix=False)
        c.notice_in(100)
        rc, log = c.run_once(level="DEBUG")
        self.assertEqual(rc, 0, log)
        self.assertIn("DEBUG", log)
        for secret in (K8S_TOKEN, SECRET_KEY, "Signature=", "Bearer "):
            self.assertNotIn(secret, log)
        tokens = c.imds.stats()
        self.assertGreater(tokens["tokens_issued"], 0)
        # No IMDS token in the log either: they are long base64-ish strings the fake made.
        self.assertNotRegex(log, r"X-aws-ec2-metadata-token:\s*\S{20,}")


class Rebalance(DaemonTest):
    def test_rebalance_cordons_then_termination_drains(self):
        c = self.c
        made = c.k8s.generate(c.node, 8, mix=True)
        d = c.start(rebalance_action="cordon")
        d.wait_for(r"watching instance", 60)
        c.imds.notice(rebalance={"noticeTime": cluster.utc(time.time())})
        d.wait_for(r"summary: node \S+ cordoned and tainted in", 60)
        st = c.k8s.state(c.node)
        self.assertTrue(st["node"]["spec"].get("unschedulable"))
        self.assertEqual(st["evictions"], [])
        self.assertEqual(c.aws.calls("DetachInstances"), [])
        self.assertIn("RebalanceRecommendation", event_reasons(st))
        # Still watching: the interruption itself is handled in full.
        c.notice_in(100)
        d.wait_for(r"summary: .*ASG: detached", 60)
        self.assertDrained(made, c.k8s.state(c.node))
        self.assertEqual(len(c.aws.calls("DetachInstances")), 1)

    def test_rebalance_ignored_by_default(self):
        c = self.c
        c.k8s.generate(c.node, 3, mix=False)
        c.imds.notice(rebalance={"noticeTime": cluster.utc(time.time())})
        rc, log = c.run_once()
        self.assertEqual(rc, 0, log)
        self.assertIn("rebalance_action = none", log)
        self.assertFalse(c.k8s.state(c.node)["node"]["spec"].get("unschedulable"))


class WebhookSink:
    """A Slack-compatible webhook endpoint on 127.0.0.1 that keeps what it is sent."""

    def __init__(self):
        self.messages = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.messages.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/webhook-secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Webhook(DaemonTest):
    def test_webhook_at_start_and_end(self):
        c = self.c
        sink = WebhookSink()
        try:
            c.k8s.generate(c.node, 5, mix=False)
            c.notice_in(100)
            rc, log = c.run_once(slack_url=sink.url, slack_channel="#spot", slack_username="despotify-bot")
            self.assertEqual(rc, 0, log)
            self.assertEqual(len(sink.messages), 2, sink.messages)
            paths = {m[0] for m in sink.messages}
            self.assertEqual(paths, {"/services/T000/B000/webhook-secret"})
            texts = [m[2]["text"] for m in sink.messages]
            self.assertTrue(any("Spot termination notice (terminate) for " + c.instance in t for t in texts), texts)
            self.assertTrue(any("5 evicted" in t and "detached from spot-workers" in t for t in texts), texts)
            for _, ctype, msg in sink.messages:
                self.assertEqual(ctype, "application/json")
                self.assertEqual(msg["channel"], "#spot")
                self.assertEqual(msg["username"], "despotify-bot")
            self.assertNotIn("webhook-secret", log)
        finally:
            sink.stop()

    def test_webhook_down_does_not_stop_the_handling(self):
        c = self.c
        made = c.k8s.generate(c.node, 5, mix=False)
        c.notice_in(100)
        rc, log = c.run_once(webhook_url="http://127.0.0.1:1/hook")
        self.assertEqual(rc, 0, log)
        self.assertRegex(log, r"webhook: .*(?i:refused)")
        self.assertDrained(made, c.k8s.state(c.node))


class NotInASG(DaemonTest):
    cluster_args = {"in_asg": False}

    def test_not_in_asg_skips_detach_and_drains(self):
        c = self.c
        made = c.k8s.generate(c.node, 10, mix=True)
        c.notice_in(100)
        rc, log = c.run_once()
        self.assertEqual(rc, 0, log)
        self.assertEqual(c.aws.calls("DetachInstances"), [])
        self.assertEqual(len(c.aws.calls("DescribeAutoScalingInstances")), 1)
        self.assertRegex(log, r"not in an Auto Scaling group|not in an ASG|no Auto Scaling group")
        self.assertDrained(made, c.k8s.state(c.node))


class Faults(DaemonTest):
    def test_aws_throttled_then_detached(self):
        c = self.c
        c.k8s.generate(c.node, 5, mix=False)
        c.aws.faults([{"api": "DetachInstances", "action": "status", "code": "Throttling", "count": 2},
                      {"api": "DescribeAutoScalingInstances", "action": "status", "status": 503, "count": 1}])
        c.notice_in(100)
        rc, log = c.run_once()
        self.assertEqual(rc, 0, log)
        calls = c.aws.calls("DetachInstances")
        self.assertEqual(len(calls), 3, calls)
        self.assertEqual([x["status"] for x in calls], [400, 400, 200])
        self.assertRegex(log, r"ServiceUnavailable|Throttling")
        self.assertRegex(log, r"ASG: detached from spot-workers after 5 requests")

    def test_api_429s_on_evictions(self):
        c = self.c
        made = c.k8s.generate(c.node, 12, mix=False)
        c.k8s.faults([{"method": "POST", "path": "/eviction", "action": "status", "status": 429, "retry_after": 1,
                       "count": 6}])
        c.notice_in(100)
        rc, log = c.run_once()
        self.assertEqual(rc, 0, log)
        st = c.k8s.state(c.node)
        self.assertDrained(made, st)
        self.assertGreaterEqual(st["statuses"].get("429", 0), 6)

    def test_pdb_blocked_pod_deleted_before_deadline(self):
        c = self.c
        c.k8s.pods(c.node, [{"name": "db-0", "owner": "StatefulSet", "owner_name": "db",
                             "labels": {"app": "db"}, "grace": 5},
                            {"name": "web-0", "labels": {"app": "web"}}])
        c.k8s.pdbs([{"name": "db", "namespace": "default", "selector": {"app": "db"},
                     "maxUnavailable": 0}])
        c.notice_in(100)
        t0 = time.monotonic()
        # Deadline 16 s after detection; blocked pods deleted 10 s before it.
        rc, log = c.run_once(grace_period=16, delete_blocked_at=10, pdb_retry_interval=1)
        elapsed = time.monotonic() - t0
        st = c.k8s.state(c.node)
        self.assertIn("default/db-0", deleted(st))
        self.assertIn("default/web-0", evicted(st))
        blocked = [e for e in st["evictions"] if e["name"] == "db-0" and e["status"] == 429]
        self.assertGreaterEqual(len(blocked), 2, "PDB-blocked eviction was not retried")
        self.assertRegex(log, r"delet")
        self.assertIn("PodDeleted", event_reasons(st))
        self.assertLess(elapsed, 60)
        self.assertEqual(rc, 0, log)

    def test_dry_run_changes_nothing(self):
        c = self.c
        c.k8s.generate(c.node, 10, mix=True)
        c.notice_in(100)
        rc, log = c.run_once(args=["--dry-run"])
        self.assertEqual(rc, 0, log)
        st = c.k8s.state(c.node)
        self.assertFalse(st["node"]["spec"].get("unschedulable"))
        self.assertEqual(st["evictions"], [])
        self.assertEqual(st["deletions"], [])
        self.assertEqual(st["events"], [])
        self.assertEqual(c.aws.calls("DetachInstances"), [])
        self.assertRegex(log, r"dry.run: would call DetachInstances .*ShouldDecrementDesiredCapacity=false")
        self.assertRegex(log, r"dry-run: would PATCH")
        self.assertRegex(log, r"dry-run: would POST .*eviction")
        self.assertRegex(log, r"k8s: dry-run: node \S+ would be cordoned \(unschedulable")
        self.assertNotRegex(log, r"k8s: node \S+ cordoned")


class APIServerDown(DaemonTest):
    cluster_args = {"k8s_start_delay_s": 4, "seed_node": False}

    def test_api_server_down_at_first(self):
        c = self.c
        c.notice_in(100)
        d = c.start()
        # The API server comes up 4 s after it was started; seed it then.
        c.k8s.wait_up(timeout=30)
        c.k8s.node(c.node)
        made = c.k8s.generate(c.node, 8, mix=True)
        d.wait_for(r"summary: ", 90)
        st = c.k8s.state(c.node)
        self.assertCordoned_light(st["node"])
        self.assertDrained(made, st)
        self.assertTrue(d.alive())

    def assertCordoned_light(self, node):
        self.assertTrue(node["spec"].get("unschedulable"))
        self.assertIn(("despotify/spot-termination", "NoSchedule"), taints(node))


class Restart(DaemonTest):
    cluster_args = {"k8s_args": ["--terminate-s", "3"], "aws_args": ["--detach-s", "60"]}

    def test_restart_mid_drain_resumes(self):
        c = self.c
        made = c.k8s.generate(c.node, 20, mix=True)
        c.notice_in(100)
        d = c.start(eviction_concurrency=1)
        d.wait_for(r"ASG: |detached|Detach", 60)
        # Let some evictions happen, then crash it hard.
        deadline = time.monotonic() + 30
        while len(evicted(c.k8s.state(c.node))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        d.signal(signal.SIGKILL)
        d.wait_exit(10)
        self.assertGreaterEqual(len(c.aws.calls("DetachInstances")), 1)
        d2 = c.start(log_name="despotify-2.log")
        d2.wait_for(r"summary: ", 90)
        st = c.k8s.state(c.node)
        self.assertDrained(made, st)
        self.assertEqual(len([x for x in c.aws.calls("DetachInstances") if x["status"] == 200]), 1,
                         "detached twice")
        self.assertRegex(d2.text(), r"summary: node \S+ cordoned")
        self.assertNotRegex(d2.text(), r"summary: .*ASG: failed")


class Once(DaemonTest):
    def test_once_without_notice_exits_zero(self):
        rc, log = self.c.run_once()
        self.assertEqual(rc, 0, log)
        self.assertNotIn("summary:", log)
        self.assertEqual(self.c.k8s.state(self.c.node)["evictions"], [])

    def test_once_failing_handling_exits_one(self):
        c = self.c
        c.k8s.generate(c.node, 3, mix=False)
        c.aws.faults([{"action": "status", "status": 403, "count": -1}])
        c.notice_in(100)
        rc, log = c.run_once()
        self.assertEqual(rc, 1, log)
        self.assertRegex(log, r"AccessDenied")


class CommandLine(unittest.TestCase):
    def run_bin(self, *args, env=None):
        p = subprocess.run([cluster.binary(), *args], capture_output=True, text=True, timeout=60,
                           env=env or {"PATH": "/usr/bin:/bin"})
        return p.returncode, p.stdout, p.stderr

    def test_version_and_help(self):
        rc, out, _ = self.run_bin("-V")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^despotify \d+\.\d+\.\d+")
        rc, out, _ = self.run_bin("-h")
        self.assertEqual(rc, 0)
        self.assertIn("--dry-run", out)
        rc, _, err = self.run_bin("--bogus")
        self.assertEqual(rc, 2)
        self.assertIn("--bogus", err)

    def test_check_config(self):
        ini = os.path.join(os.environ["DESPOTIFY_ROOT"], "despotify.ini")
        rc, out, err = self.run_bin("-n", "-c", ini)
        self.assertEqual(rc, 0, err)
        self.assertIn("poll_interval = 5", out)
        self.assertIn("configuration OK", out)

    def test_bad_config_names_file_and_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write("[DEFAULT]\npoll_interval = 5\nlevel = LOUD\n")
        try:
            rc, _, err = self.run_bin("-n", "-c", f.name)
            self.assertEqual(rc, 2)
            self.assertIn(f"{f.name}:3: level", err)
            rc, _, err = self.run_bin("-c", f.name)
            self.assertEqual(rc, 2)
        finally:
            os.unlink(f.name)
        rc, _, err = self.run_bin("-c", "/nonexistent/despotify.ini")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/despotify.ini", err)


if __name__ == "__main__":
    unittest.main()
