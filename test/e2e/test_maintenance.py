"""End to end: EC2's scheduled events and spot stop/hibernate, against the
fakes. An active event is handled maintenance_lead before its NotBefore,
with NotBefore as its deadline, and detaches only when it ends the
instance; a canceled or completed event, or a node back after a spot stop,
is uncordoned, but only what despotify's own cordon did (recorded on the
Node), and never a node someone else cordoned."""
import re
import shutil
import tempfile
import time
import unittest

from cluster import Cluster
from test_daemon import deleted, event_reasons

RECORD = "despotify.io/cordoned"
LB = "node.kubernetes.io/exclude-from-external-load-balancers"


def taints(node):
    return {(t["key"], t.get("effect")) for t in node["spec"].get("taints") or []}


class MaintenanceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-maint-")
        self.c = Cluster(self.tmp)
        self.c.k8s.generate(self.c.node, 6, mix=False)

    def tearDown(self):
        self.c.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **kw):
        settings = dict(maintenance_poll_interval="1", maintenance_lead="900")
        settings.update(kw)
        return self.c.start(**settings)

    def event(self, code="system-reboot", state="active", in_s=600, eid="instance-event-0d59937288b749b32"):
        now = time.time()
        return {"code": code, "state": state, "id": eid, "not_before": now + in_s,
                "not_after": now + in_s + 1800}

    def node(self):
        return self.c.k8s.state(self.c.node)["node"]

    def wait_node(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            n = self.node()
            if pred(n):
                return n
            if time.monotonic() > deadline:
                raise AssertionError(f"node never {what}: {n}")
            time.sleep(0.1)

    def assertSchedulableAgain(self, n):
        self.assertFalse(n["spec"].get("unschedulable", False), n)
        self.assertNotIn(("despotify/spot-termination", "NoSchedule"), taints(n))
        self.assertIn(("existing/taint", "PreferNoSchedule"), taints(n))
        self.assertNotIn(LB, n["metadata"].get("labels", {}))
        self.assertNotIn(RECORD, n["metadata"].get("annotations") or {})


class ScheduledEvents(MaintenanceTest):
    def test_not_due_yet_then_drained_at_the_lead_time_without_detach(self):
        body = self.c.imds.events([self.event(in_s=3600)])
        self.assertRegex(body, r'"NotBefore": "\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"')
        d = self.start()
        d.wait_for(r"maintenance: scheduled event system-reboot \(instance-event-0d59937288b749b32\) "
                   r"active", 30)
        time.sleep(2.5)    # two more polls of the events: still an hour away
        self.assertFalse(self.node()["spec"].get("unschedulable", False))
        self.assertNotIn("notice: maintenance", d.text())
        # The event moves to 10 minutes from now: inside the 15-minute lead.
        self.c.imds.events([self.event(in_s=600)])
        m = d.wait_for(r"summary: .*", 90)
        self.assertIn("Scheduled event system-reboot (instance-event-0d59937288b749b32), window ",
                      m.group(0))
        self.assertRegex(d.text(), r"notice: maintenance .*deadline in (59\d|600)\.\d s")
        self.assertIn("ASG: not asked", m.group(0))
        self.assertEqual(self.c.aws.calls("DetachInstances"), [])
        n = self.node()
        self.assertTrue(n["spec"]["unschedulable"])
        self.assertEqual(n["metadata"]["annotations"][RECORD],
                         "cause=maintenance/instance-event-0d59937288b749b32;did=unschedulable,taint,label;"
                         "taint=despotify/spot-termination:NoSchedule")
        st = self.c.k8s.state(self.c.node)
        self.assertEqual([p["name"] for p in st["pods"] if p.get("owner") == "ReplicaSet"], [])
        self.assertIn("ScheduledEvent", [e["reason"] for e in st["events"]])
        # Handled once: later polls of the same active event do nothing more.
        time.sleep(2.5)
        self.assertEqual(d.text().count("notice: maintenance"), 1)

    def test_retirement_detaches_and_cancel_uncordons(self):
        self.c.imds.events([self.event(code="instance-retirement", in_s=300, eid="instance-event-1")])
        d = self.start(maintenance_action="cordon")
        d.wait_for(r"summary: ", 60)
        self.wait_node(lambda n: n["spec"].get("unschedulable"), 30, "cordoned")
        self.assertEqual(len(self.c.k8s.state(self.c.node)["evictions"]), 0)
        self.c.imds.events([self.event(code="instance-retirement", in_s=300, eid="instance-event-1",
                                       state="canceled")])
        d.wait_for(r"uncordoned: despotify's cordon \(maintenance/instance-event-1\) undone", 30)
        self.assertSchedulableAgain(self.node())
        self.assertIn("Uncordoned", [e["reason"] for e in self.c.k8s.state(self.c.node)["events"]])

    def test_retirement_drain_detaches(self):
        self.c.imds.events([self.event(code="instance-retirement", in_s=300, eid="instance-event-2")])
        d = self.start()
        m = d.wait_for(r"summary: .*", 90)
        self.assertIn("ASG: detached", m.group(0))
        self.assertEqual(len([x for x in self.c.aws.calls("DetachInstances") if x["status"] == 200]), 1)

    def test_completed_after_a_reboot_uncordons_across_a_restart(self):
        self.c.imds.events([self.event(in_s=120)])
        d = self.start()
        d.wait_for(r"summary: ", 90)
        self.assertTrue(self.node()["spec"]["unschedulable"])
        d.stop()
        # The instance reboots; EC2 marks the event completed; a new despotify starts.
        self.c.imds.events([self.event(in_s=-60, state="completed")])
        d2 = self.c.start(log_name="after-reboot.log", maintenance_poll_interval="1")
        d2.wait_for(r"node \S+ uncordoned", 30)
        self.assertSchedulableAgain(self.node())
        self.assertNotIn("notice: maintenance", d2.text())

    def test_node_cordoned_by_someone_else_stays_cordoned(self):
        self.c.k8s.node(self.c.node, unschedulable=True,
                        taints=[{"key": "existing/taint", "value": "x", "effect": "PreferNoSchedule"}])
        self.c.imds.events([self.event(in_s=300, eid="instance-event-3")])
        d = self.start(maintenance_action="cordon")
        d.wait_for(r"summary: ", 60)
        n = self.wait_node(lambda n: RECORD in (n["metadata"].get("annotations") or {}), 30, "recorded")
        self.assertEqual(n["metadata"]["annotations"][RECORD],
                         "cause=maintenance/instance-event-3;did=taint,label;"
                         "taint=despotify/spot-termination:NoSchedule")
        self.c.imds.events([])      # the event is gone from the list: over
        d.wait_for(r"uncordoned: despotify's cordon", 30)
        n = self.node()
        self.assertTrue(n["spec"]["unschedulable"], "someone else's cordon was undone")
        self.assertNotIn(("despotify/spot-termination", "NoSchedule"), taints(n))
        self.assertNotIn(LB, n["metadata"].get("labels", {}))

    def test_action_none_only_logs(self):
        self.c.imds.events([self.event(in_s=60)])
        d = self.start(maintenance_action="none")
        d.wait_for(r"is due \(maintenance_action = none: not acting\)", 30)
        self.assertFalse(self.node()["spec"].get("unschedulable", False))

    def test_garbage_document_is_a_warning_and_polling_goes_on(self):
        self.c.imds.path("/latest/meta-data/events/maintenance/scheduled", '[{"Code": "system-reboot"}]')
        d = self.start()
        d.wait_for(r"WARNING .*maintenance: GET \S+: scheduled event 0: no \"State\" string", 30)
        self.c.notice_in(60)
        d.wait_for(r"summary: ", 90)

    def test_termination_takes_over_the_scheduled_events_drain(self):
        """A system-reboot drain (no detach, NotBefore far off) blocked by a PDB;
        then a spot termination notice: it takes over with its own deadline."""
        c = self.c
        c.k8s.pods(c.node, [{"name": "db-0", "owner": "StatefulSet", "owner_name": "db",
                             "labels": {"app": "db"}, "grace": 90}])
        c.k8s.pdbs([{"name": "db", "namespace": "default", "selector": {"app": "db"}, "minAvailable": 1}])
        c.imds.events([self.event(in_s=600, eid="instance-event-4")])
        d = self.start(grace_period="40", delete_blocked_at="8")
        d.wait_for(r"drain: eviction of pod default/db-0 blocked", 60)
        time.sleep(1)
        st = c.k8s.state(c.node)
        self.assertEqual(deleted(st), set())
        self.assertEqual(c.aws.calls("DetachInstances"), [])
        self.assertNotIn("summary:", d.text())
        c.notice_in(30)
        d.wait_for(r"notice: termination terminate .* it takes over the scheduled event's handling of node", 30)
        m = d.wait_for(r"summary: .*", 60)
        st = c.k8s.state(c.node)
        # Now the instance ends: detached, and the PDB-blocked pod deleted before the notice's deadline.
        self.assertEqual(len(c.aws.calls("DetachInstances")), 1)
        self.assertEqual(deleted(st), {"default/db-0"})
        self.assertRegex(m.group(0), r"cordoned and tainted; drain: 7 found, 6 evicted, 1 deleted, .* 0 left"
                                     r".*ASG: detached from spot-workers")
        self.assertIn("SpotInterruption", event_reasons(st))
        # The drain was taken over, not redone: each pod evicted once.
        self.assertEqual(len([e for e in st["evictions"] if e["status"] in (200, 201)]), 6)


class SpotStop(MaintenanceTest):
    def test_stop_then_back_leaves_the_node_schedulable(self):
        d = self.start()
        self.c.notice_in(60, action="stop")
        m = d.wait_for(r"summary: .*", 90)
        self.assertIn("Spot termination notice (stop)", m.group(0))
        n = self.node()
        self.assertTrue(n["spec"]["unschedulable"])
        self.assertTrue(n["metadata"]["annotations"][RECORD].startswith("cause=spot-stop;"))
        d.stop()
        # The instance stops, and starts again: no notice any more.
        self.c.imds.notice(instance_action=None, termination_time=None)
        d2 = self.c.start(log_name="after-start.log")
        d2.wait_for(r"uncordoned: despotify's cordon \(spot-stop\) undone", 30)
        self.assertSchedulableAgain(self.node())

    def test_stop_then_back_under_dry_run_only_says_it_would_uncordon(self):
        d = self.start()
        self.c.notice_in(60, action="stop")
        d.wait_for(r"summary: ", 90)
        d.stop()
        self.c.imds.notice(instance_action=None, termination_time=None)
        d2 = self.c.start(args=["--dry-run"], log_name="dry-run.log")
        d2.wait_for(r"k8s: dry-run: node \S+ would be uncordoned: despotify's cordon \(spot-stop\) "
                    r"not needed any more", 30)
        time.sleep(2)   # a few more polls: said once, not again at every poll
        self.assertEqual(len(re.findall(r"would be uncordoned", d2.text())), 1, d2.text())
        self.assertRegex(d2.text(), r"dry-run: would PATCH \S+/api/v1/nodes/")
        self.assertNotRegex(d2.text(), r"k8s: node \S+ uncordoned")
        n = self.node()
        self.assertTrue(n["spec"]["unschedulable"])
        self.assertTrue(n["metadata"]["annotations"][RECORD].startswith("cause=spot-stop;"))

    def test_terminate_is_never_undone(self):
        d = self.start()
        self.c.notice_in(60)
        d.wait_for(r"summary: ", 90)
        d.stop()
        self.c.imds.notice(instance_action=None, termination_time=None)
        d2 = self.c.start(log_name="again.log")
        d2.wait_for(r"polling IMDS", 30)
        time.sleep(2)
        self.assertNotIn("uncordoned", d2.text())
        self.assertTrue(self.node()["spec"]["unschedulable"])


if __name__ == "__main__":
    unittest.main()
