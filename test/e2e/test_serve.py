"""End to end: the /healthz and /metrics listener (listen = 127.0.0.1:PORT)
of a despotify running against the fakes: health follows IMDS, the counters
after a notice equal what the fakes saw, hostile clients cost nothing, and
the exposition passes Debian's promtool (and a real Prometheus scrape when
one starts here)."""
import os
import re
import resource
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from cluster import ROOT, Cluster
from fakeproc import free_port, stop_process

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"


def exchange(port, data, timeout=15, shut=False):
    """Sends raw bytes, reads until the server closes; returns (status or None, whole answer)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", got)
    return (int(m.group(1)) if m else None), got


def get(port, path, method="GET"):
    return exchange(port, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class ServeCase(unittest.TestCase):
    kind = "asan"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-serve-")
        self.c = Cluster(self.tmp)
        self.port = free_port()

    def tearDown(self):
        self.c.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **kw):
        d = self.c.start(kind=self.kind, listen=f"127.0.0.1:{self.port}", **kw)
        d.wait_for(r"watching instance", 60)
        d.wait_for(r"serve: /healthz and /metrics on http://127\.0\.0\.1:%d" % self.port, 10)
        return d

    def metrics(self):
        st, raw = get(self.port, "/metrics")
        self.assertEqual(st, 200, raw[:300])
        head, body = raw.split(b"\r\n\r\n", 1)
        self.assertIn(b"Content-Type: text/plain; version=0.0.4", head)
        self.assertIn(b"Connection: close", head)
        return body.decode()

    def wait_health(self, status, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            st, raw = get(self.port, "/healthz")
            if st == status:
                return raw.split(b"\r\n\r\n", 1)[1].decode()
            if time.monotonic() > deadline:
                self.fail(f"/healthz not {status} within {timeout} s: {raw!r}")
            time.sleep(0.2)

    def polls_seen(self):
        """Polls the fake IMDS has seen (each poll asks instance-action first)."""
        return self.c.imds.stats()["requests"].get("GET /latest/meta-data/spot/instance-action", 0)


class Health(ServeCase):
    def test_healthz_follows_imds(self):
        d = self.start()
        self.assertEqual(self.wait_health(200), "ok\n")
        st, raw = get(self.port, "/healthz", "HEAD")
        self.assertEqual(st, 200)
        self.assertTrue(raw.endswith(b"\r\n\r\n"), raw)   # HEAD: headers only
        self.assertIn(b"Content-Length: 3\r\n", raw)
        # IMDS answers 503 to everything: unhealthy once 3 poll intervals + the budget pass.
        self.c.imds.faults([{"action": "status", "status": 503, "count": -1}])
        why = self.wait_health(503)
        self.assertRegex(why, r"^imds failing since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: GET http://127\.0\.0\.1:\d+/"
                              r"latest/meta-data/spot/instance-action: HTTP 503")
        self.assertEqual(samples(self.metrics())["despotify_healthy"], 0)
        self.c.imds.faults(clear=True)
        self.assertEqual(self.wait_health(200), "ok\n")
        self.assertTrue(d.alive())

    def test_facts_missing_is_unhealthy(self):
        """IMDS down from the start: the instance facts never come, and /healthz says so."""
        self.c.imds.faults([{"action": "status", "status": 500, "count": -1}])
        d = self.c.start(listen=f"127.0.0.1:{self.port}")
        d.wait_for(r"instance facts not (all )?available yet", 30)
        why = self.wait_health(503)
        self.assertIn("imds failing since", why)
        self.assertIn("HTTP 500", why)
        self.c.imds.faults(clear=True)
        d.wait_for(r"watching instance", 60)
        self.wait_health(200)


class Counters(ServeCase):
    def test_counters_equal_what_the_fakes_saw(self):
        c = self.c
        c.k8s.generate(c.node, 12, mix=True)
        d = self.start()
        c.notice_in(100)
        d.wait_for(r"summary: ", 90)
        m = samples(self.metrics())
        k8s, imds = c.k8s.state(c.node), c.imds.stats()
        evicted = [e for e in k8s["evictions"] if e["status"] in (200, 201)]
        self.assertEqual(m['despotify_evictions_total{outcome="evicted"}'], len(evicted))
        self.assertGreater(len(evicted), 0)
        self.assertEqual(m['despotify_evictions_total{outcome="deleted"}'], len(k8s["deletions"]))
        self.assertEqual(m['despotify_evictions_total{outcome="blocked"}'],
                         len([e for e in k8s["evictions"] if e["status"] == 429]))
        self.assertEqual(m['despotify_evictions_total{outcome="failed"}'], 0)
        detached = [x for x in c.aws.calls("DetachInstances") if x["status"] == 200]
        self.assertEqual(len(detached), 1)
        self.assertEqual(m['despotify_detaches_total{outcome="detached"}'], 1)
        self.assertEqual(m['despotify_detaches_total{outcome="failed"}'], 0)
        self.assertEqual(m['despotify_cordons_total{outcome="cordoned"}'], 1)
        self.assertEqual(m['despotify_notices_total{kind="termination"}'], 1)
        self.assertEqual(m['despotify_handling_in_progress'], 0)
        self.assertEqual(m['despotify_drain_pods_left'], 0)
        self.assertGreater(m['despotify_handling_duration_seconds'], 0)
        self.assertLess(abs(m['despotify_last_notice_timestamp_seconds'] - time.time()), 300)
        # Polls: one instance-action GET each; polling goes on while the notice is handled
        # (each of those polls sees the notice), and stops once it has been.
        polls = sum(m[f'despotify_imds_polls_total{{result="{r}"}}'] for r in ("notice", "none", "error"))
        self.assertEqual(polls, imds["requests"]["GET /latest/meta-data/spot/instance-action"])
        self.assertGreaterEqual(m['despotify_imds_polls_total{result="notice"}'], 1)
        # Every request each fake answered, by status class.
        def api(ep, cls):
            return m[f'despotify_api_requests_total{{endpoint="{ep}",status="{cls}"}}']
        self.assertEqual(api("imds", "2xx") + api("imds", "4xx"), sum(imds["requests"].values()))
        self.assertEqual(api("imds", "2xx"), imds["statuses"].get("200", 0))
        self.assertEqual(api("k8s", "2xx") + api("k8s", "4xx") + api("k8s", "5xx"), k8s["requests"]["total"])
        self.assertEqual(api("aws", "2xx"), len(c.aws.calls()))
        self.assertEqual(m['despotify_credential_refreshes_total{service="aws",result="ok"}'], 1)
        self.assertEqual(m['despotify_healthy'], 1)
        self.assertIn("ok: notice handled", self.wait_health(200))
        for k in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                  "process_max_fds", "process_start_time_seconds", "process_virtual_memory_bytes"):
            self.assertGreater(m[k], 0, k)
        self.assertLess(abs(m["process_start_time_seconds"] - time.time()), 600)


class Abuse(ServeCase):
    """Hostile clients: every one gets a status or a closed socket, the poll
    loop keeps its pace (polls counted by the fake IMDS), RSS stays flat."""

    def slow_client(self, s, out):
        """A byte a second on s until the server answers; then whatever it sends until it closes."""
        got = b""
        try:
            for ch in b"ET /healthz HTTP/1.1\r\n":
                s.sendall(bytes([ch]))
                time.sleep(1)
                if select.select([s], [], [], 0)[0]:
                    break
            while True:
                b = s.recv(4096)
                if not b:
                    break
                got += b
        except OSError:
            pass
        finally:
            s.close()
        out.append(got)

    def flood(self, n=1000):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 500), hard))
        socks, statuses = [], {}
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=30))
        for s in socks:
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            except (ConnectionResetError, BrokenPipeError):
                pass
        for s in socks:
            got = b""
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
            except ConnectionResetError:
                pass
            s.close()
            st = got[9:12].decode() if got.startswith(b"HTTP/1.1 ") else "closed"
            statuses[st] = statuses.get(st, 0) + 1
        return statuses

    def test_abuse(self):
        d = self.start()
        self.wait_health(200)
        for _ in range(5):
            self.metrics()   # warm up what a scrape allocates
        rss0 = rss_kib(d.proc.pid)
        p0, t0 = self.polls_seen(), time.monotonic()
        time.sleep(3)
        base_rate = (self.polls_seen() - p0) / (time.monotonic() - t0)
        self.assertGreater(base_rate, 0)

        p1, t1 = self.polls_seen(), time.monotonic()
        slow = []
        # The slow client takes its slot before the flood fills the others.
        ss = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        ss.sendall(b"G")
        time.sleep(0.5)
        th = threading.Thread(target=self.slow_client, args=(ss, slow))
        th.start()
        statuses = self.flood(1000)
        self.assertEqual(sum(statuses.values()), 1000)
        self.assertTrue(set(statuses) <= {"200", "503", "408", "closed"}, statuses)
        self.assertGreater(statuses.get("503", 0), 0, statuses)
        # A 64 KiB header: 431 (then the rest of it is drained, so the answer is not reset away).
        st, raw = exchange(self.port, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        self.assertIn(st, (431, None), raw[:200])
        # Garbage, a TLS hello, other methods and paths.
        for junk in (os.urandom(3000), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                     b"GET / HTTP/1.1\r\n folded\r\n\r\n"):
            st, raw = exchange(self.port, junk)
            self.assertIn(st, (400, None), raw[:200])
        st, raw = get(self.port, "/metrics", "POST")
        self.assertEqual(st, 405)
        self.assertIn(b"Allow: GET, HEAD\r\n", raw)
        self.assertEqual(get(self.port, "/nope")[0], 404)
        # A client that sends nothing gets 408 after the read deadline.
        self.assertEqual(exchange(self.port, b"")[0], 408)
        # While the slow client dribbles, others are served at once.
        self.assertEqual(get(self.port, "/healthz")[0], 200)
        th.join(60)
        self.assertFalse(th.is_alive())
        self.assertTrue(slow and slow[0].startswith(b"HTTP/1.1 408 "), slow)
        rate = (self.polls_seen() - p1) / (time.monotonic() - t1)
        self.assertGreater(rate, base_rate * 0.5, f"polls/s {rate:.1f} under abuse vs {base_rate:.1f} before")
        self.assertTrue(d.alive())
        self.assertEqual(self.wait_health(200), "ok\n")
        for _ in range(5):
            self.metrics()
        grown = rss_kib(d.proc.pid) - rss0
        # ASan keeps freed memory in quarantine; the release build must stay flat.
        self.assertLess(grown, 512 if self.kind == "release" else 16384, f"RSS grew {grown} KiB")
        self.assertLess(samples(self.metrics())["process_open_fds"], 30)


@unittest.skipUnless(os.path.exists(os.path.join(ROOT, "build", "despotify")), "no release build")
class AbuseRelease(Abuse):
    kind = "release"


class Tools(ServeCase):
    """Checked with the real tools, not only our own parser."""

    def test_promtool_check_metrics(self):
        if not os.path.exists(PROMTOOL):
            self.skipTest("promtool is not installed (Debian package prometheus)")
        self.start()
        text = self.metrics()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertEqual(p.stdout.decode().strip() + p.stderr.decode().strip(), "")

    def test_readme_alert_rules(self):
        if not os.path.exists(PROMTOOL):
            self.skipTest("promtool is not installed (Debian package prometheus)")
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "alert:" in b]
        self.assertEqual(len(blocks), 1)
        path = os.path.join(self.tmp, "rules.yaml")
        with open(path, "w") as f:
            f.write(blocks[0])
        p = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True, timeout=60)
        out = p.stdout.decode() + p.stderr.decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("SUCCESS: 3 rules found", out)

    def test_real_prometheus_scrape(self):
        if not os.path.exists(PROMETHEUS):
            self.skipTest("prometheus is not installed")
        self.start()
        web = free_port()
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                    f"  - job_name: despotify\n    static_configs:\n      - targets: ['127.0.0.1:{self.port}']\n")
        log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        p = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{web}",
                              f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}"],
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            deadline, last = time.monotonic() + 60, None
            q = (f"http://127.0.0.1:{web}/api/v1/query?query="
                 "despotify_build_info%20*%20on()%20group_left%20up%7Bjob%3D%22despotify%22%7D")
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    last = urllib.request.urlopen(q, timeout=5).read().decode()
                    if '"version":"' in last:
                        break
                except OSError as e:
                    last = str(e)
                time.sleep(0.5)
            else:
                self.skipTest(f"prometheus did not start or scrape here within 60 s ({last})")
            self.assertIn('"value":[', last)
            self.assertRegex(last, r'"value":\[[0-9.]+,"1"\]')
        finally:
            stop_process(p, 20)
            log.close()


class Config(ServeCase):
    def test_listen_in_config(self):
        from cluster import binary
        path = self.c.ini(listen=f"127.0.0.1:{self.port}")
        p = subprocess.run([binary(), "-n", "-c", path], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"listen = 127.0.0.1:{self.port}\n".encode(), p.stdout)
        for bad in ("localhost:9464", "127.0.0.1:0", "127.0.0.1", "[::1]"):
            path = self.c.ini(name="bad.ini", listen=bad)
            p = subprocess.run([binary(), "-n", "-c", path], capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 2, (bad, p.stdout, p.stderr))
            self.assertRegex(p.stderr.decode(), r"bad\.ini:\d+: listen: ")
        env = self.c.env(DESPOTIFY_LISTEN="[::1]:9464")
        p = subprocess.run([binary(), "-n", "-c", self.c.ini()], capture_output=True, timeout=60, env=env)
        self.assertIn(b"listen = [::1]:9464\n", p.stdout)

    def test_deploy_listen_and_probe_agree(self):
        """The ConfigMap's despotify.ini passes -n and the DaemonSet probes the port it listens on."""
        from cluster import binary
        with open(os.path.join(ROOT, "deploy", "configmap.yaml")) as f:
            cm = f.read()
        ini = "\n".join(l[4:] for l in cm.split("despotify.ini: |\n", 1)[1].splitlines())
        path = os.path.join(self.tmp, "cm.ini")
        with open(path, "w") as f:
            f.write(ini + "\n")
        p = subprocess.run([binary(), "-n", "-c", path], capture_output=True, timeout=60,
                           env=self.c.env(KUBERNETES_SERVICE_HOST="10.0.0.1"))
        self.assertEqual(p.returncode, 0, p.stderr)
        port = re.search(rb"\nlisten = 127\.0\.0\.1:(\d+)\n", p.stdout).group(1).decode()
        with open(os.path.join(ROOT, "deploy", "daemonset.yaml")) as f:
            ds = f.read()
        self.assertRegex(ds, r"livenessProbe:\n\s+httpGet: \{ host: 127\.0\.0\.1, path: /healthz, port: %s \}" % port)
        self.assertIn(f"containerPort: {port}", ds)

    def test_port_taken_is_an_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        try:
            d = self.c.start(listen=f"127.0.0.1:{s.getsockname()[1]}")
            self.assertEqual(d.wait_exit(60), 1)
            self.assertRegex(d.text(), r"serve: listen 127\.0\.0\.1:\d+: Address already in use")
        finally:
            s.close()

    def test_sigterm_with_clients_connected(self):
        d = self.start()
        idle = [socket.create_connection(("127.0.0.1", self.port), timeout=10) for _ in range(3)]
        try:
            d.signal()
            self.assertEqual(d.wait_exit(20), 0)
        finally:
            for s in idle:
                s.close()


if __name__ == "__main__":
    unittest.main()
