#!/usr/bin/python3
"""make demo: the whole flow on 127.0.0.1, for a newcomer.

Starts the fake IMDS, Auto Scaling and Kubernetes API servers, seeds a spot
node with a mix of pods (a Deployment's, a StatefulSet behind a
PodDisruptionBudget, DaemonSet pods, a bare pod, a mirror pod, a finished
Job), starts build/despotify against them, triggers a spot interruption
notice, shows despotify's log as it happens, then what became of the node,
the Auto Scaling group and every pod.
"""
import os
import shutil
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
os.environ.setdefault("DESPOTIFY_ROOT", ROOT)

import cluster  # noqa: E402


def say(text=""):
    print(text, flush=True)


def follow(d, stop):
    """Prints despotify's log lines as they come."""
    pos = 0
    while True:
        text = d.text()
        if len(text) > pos:
            sys.stdout.write("  | " + text[pos:].rstrip("\n").replace("\n", "\n  | ") + "\n")
            sys.stdout.flush()
            pos = len(text)
        if stop.is_set():
            return
        time.sleep(0.1)


def check_prerequisites():
    """What the fakes need beyond python3, named with the Debian package to
    install (./build.sh installs them)."""
    missing = []
    try:
        import botocore  # noqa: F401  (the fake Auto Scaling checks SigV4 with it)
    except ImportError:
        missing.append("python3-botocore")
    if not shutil.which("openssl"):
        missing.append("openssl")  # makes the fakes' TLS certificates
    if missing:
        sys.exit(f"make demo: {' and '.join(missing)} not installed: run ./build.sh as root "
                 f"(it installs them), or apt-get install {' '.join(missing)}")


def main():
    check_prerequisites()
    binary = cluster.binary("release")
    if not os.access(binary, os.X_OK):
        sys.exit("make demo: build/despotify is missing: run ./build.sh first")
    tmp = tempfile.mkdtemp(prefix="despotify-demo-")
    c = None
    try:
        say("== starting the fakes on 127.0.0.1: IMDS (IMDSv2), Auto Scaling (TLS), Kubernetes API (TLS)")
        c = cluster.Cluster(tmp, k8s_args=["--terminate-s", "1", "--latency-ms", "5"])
        made = c.k8s.generate(c.node, 20, mix=True, prefix="web")
        c.k8s.pods(c.node, [{"name": "db-0", "owner": "StatefulSet", "owner_name": "db",
                             "labels": {"app": "db"}, "grace": 5}])
        c.k8s.pdbs([{"name": "db", "namespace": "default", "selector": {"app": "db"},
                     "maxUnavailable": 0}])
        say(f"   node {c.node}, instance {c.instance} in Auto Scaling group {c.group}")
        say(f"   {sum(len(v) for v in made.values()) + 1} pods on the node; db-0 is behind a "
            "PodDisruptionBudget that allows no disruption")
        say()
        say("== starting despotify (build/despotify), polling IMDS every 0.5 s")
        d = c.start(kind="release", poll_interval="0.5", grace_period="30", delete_blocked_at="10",
                    pdb_retry_interval="2")
        stop = threading.Event()
        t = threading.Thread(target=follow, args=(d, stop), daemon=True)
        t.start()
        d.wait_for(r"watching instance", 30)
        time.sleep(1.5)
        say()
        say("== AWS posts a spot interruption notice: terminate in 2 minutes "
            "(grace_period = 30 s keeps the demo short)")
        c.notice_in(120)
        d.wait_for(r"summary: ", 90)
        time.sleep(0.5)
        stop.set()
        t.join()
        say()
        st = c.k8s.state(c.node)
        node = st["node"]
        say("== the node")
        say(f"   unschedulable: {node['spec'].get('unschedulable', False)}")
        for taint in node["spec"].get("taints") or []:
            value = f"={taint['value']}" if taint.get("value") else ""
            say(f"   taint: {taint['key']}{value}:{taint['effect']}")
        lb = node["metadata"]["labels"].get("node.kubernetes.io/exclude-from-external-load-balancers")
        say(f"   label node.kubernetes.io/exclude-from-external-load-balancers: {lb}")
        say()
        say("== the Auto Scaling group")
        for call in c.aws.calls():
            p = call["params"]
            extra = ""
            if call["api"] == "DetachInstances":
                extra = f" ShouldDecrementDesiredCapacity={p.get('ShouldDecrementDesiredCapacity')}"
            say(f"   {call['api']}: HTTP {call['status']}{extra} (signature checked by botocore: "
                f"{'ok' if call.get('signature_ok') else 'FAILED'})")
        inst = c.aws.state()["instances"].get(c.instance)
        say(f"   instance {c.instance}: {inst['state'] if inst else 'no longer in the group'}")
        say()
        say("== every pod")
        evicted = {(e["namespace"], e["name"]) for e in st["evictions"] if e["status"] in (200, 201)}
        blocked = {(e["namespace"], e["name"]) for e in st["evictions"] if e["status"] == 429}
        deleted = {(e["namespace"], e["name"]) for e in st["deletions"]}
        category = {}
        for cat, names in made.items():
            for n in names:
                category[tuple(n.split("/", 1))] = cat
        category[("default", "db-0")] = "statefulset+PDB"
        why_kept = {"daemonset": "skipped: DaemonSet pod", "mirror": "skipped: mirror (static) pod",
                    "succeeded": "skipped: already finished"}
        for key in sorted(category):
            cat = category[key]
            if key in deleted:
                what = "deleted at the deadline (its PDB blocked every eviction)"
            elif key in evicted:
                what = "evicted" + (" (after PDB refusals)" if key in blocked else "")
            else:
                what = why_kept.get(cat, "LEFT ON THE NODE")
            say(f"   {key[0] + '/' + key[1]:28} {cat:16} {what}")
        say()
        say("== events on the node: " + ", ".join(e.get("reason", "?") for e in st["events"]))
        d.signal()
        d.wait_exit(10)
        say("== despotify stopped on SIGTERM (exit status %d)" % d.proc.returncode)
    finally:
        if c:
            c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
