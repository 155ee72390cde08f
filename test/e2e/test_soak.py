"""Long runs: the daemon under valgrind memcheck through 200 polls and a
full drain (zero errors, zero leaks), and a soak of 1,200 polls at the
shortest poll_interval (0.1 s) with IMDS faults sprinkled in (peak memory
and open file descriptors flat)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import cluster
from cluster import Cluster

ROOT = os.environ["DESPOTIFY_ROOT"]
VG_BIN = os.path.join(ROOT, "build", "vg", "despotify")


def polls(c):
    return sum(v for k, v in c.imds.stats()["requests"].items() if "spot/instance-action" in k)


def wait_polls(c, d, n, timeout):
    deadline = time.monotonic() + timeout
    while polls(c) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {polls(c)} polls in {timeout} s; log:\n{d.text()[-2000:]}")
        if not d.alive():
            raise AssertionError(f"despotify exited; log:\n{d.text()[-3000:]}")
        time.sleep(0.1)


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Soak(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-soak-")
        self.c = Cluster(self.tmp)

    def tearDown(self):
        self.c.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @unittest.skipUnless(shutil.which("valgrind") and os.path.exists(VG_BIN), "needs valgrind and build/vg")
    def test_valgrind_polls_and_full_drain(self):
        c = self.c
        made = c.k8s.generate(c.node, 20, mix=True)
        ini = c.ini(poll_interval="0.1")   # the shortest poll_interval there is
        env = c.env()
        d = cluster.Despotify(["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                               "--show-leak-kinds=definite,indirect,possible",
                               "--errors-for-leak-kinds=definite,indirect,possible",
                               VG_BIN, "-c", ini], env, os.path.join(self.tmp, "valgrind.log"))
        c.procs.append(d)
        wait_polls(c, d, 200, 240)
        c.notice_in(100)
        d.wait_for(r"summary: ", 180)
        st = c.k8s.state(c.node)
        got = {f"{e['namespace']}/{e['name']}" for e in st["evictions"] if e["status"] in (200, 201)}
        self.assertTrue(set(made["evictable"]) <= got)
        time.sleep(0.5)
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(60)
        self.assertEqual(rc, 0, d.text()[-5000:])
        self.assertNotIn("definitely lost", d.text())
        self.assertNotIn("Invalid read", d.text())

    def test_soak_polls_with_faults(self):
        """1,200 polls at the shortest poll_interval (0.1 s), a fault every 150."""
        c = self.c
        d = c.start(kind="release", poll_interval="0.1", level="WARNING")
        wait_polls(c, d, 100, 120)
        hwm0, fds0 = status_kb(d.proc.pid, "VmHWM"), nfds(d.proc.pid)
        faults = [
            {"action": "status", "status": 503, "count": 3},
            {"action": "reset", "count": 2},
            {"action": "garbage", "count": 2, "path": "spot/instance-action"},
            {"action": "truncate", "count": 2},
            {"action": "oversize", "size": 1 << 20, "count": 1, "path": "spot/termination-time"},
            {"action": "status", "status": 429, "retry_after": 0, "count": 2},
            {"action": "stall", "seconds": 4, "count": 1},
            {"action": "drop", "count": 2},
        ]
        target, step = 1200, 150
        i = 0
        while polls(c) < target:
            c.imds.faults([faults[i % len(faults)]])
            i += 1
            wait_polls(c, d, min(target, polls(c) + step), 240)
        hwm1, fds1 = status_kb(d.proc.pid, "VmHWM"), nfds(d.proc.pid)
        self.assertTrue(d.alive())
        self.assertLessEqual(hwm1 - hwm0, 64, f"VmHWM grew from {hwm0} kB to {hwm1} kB")
        self.assertEqual(fds0, fds1, "file descriptors leaked")
        self.assertGreater(c.imds.stats()["faults_fired"], 8)
        # It logged the faults, rate-limited: far fewer lines than faults.
        self.assertLess(d.text().count("\n"), 200)


if __name__ == "__main__":
    unittest.main()
