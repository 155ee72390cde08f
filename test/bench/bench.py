#!/usr/bin/python3
"""make bench: despotify's size, memory and speed, measured in one run
against the fakes on 127.0.0.1, printed as one table. Not a test: it asserts
nothing, it reports (targets in the last column).

  --quick     fewer polls and a smaller mass interruption (for a smoke run)
"""
import argparse
import calendar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
os.environ.setdefault("DESPOTIFY_ROOT", ROOT)

import cluster  # noqa: E402
import realk8s  # noqa: E402
from cluster import Cluster  # noqa: E402
from prodpod import pod_size, prod_pod  # noqa: E402

BIN = cluster.binary("release")
rows = []


def row(what, value, target=""):
    rows.append((what, value, target))
    print(f"  {what}: {value}", file=sys.stderr, flush=True)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz


def polls(c):
    st = c.imds.stats()["requests"]
    return sum(v for k, v in st.items() if "spot/instance-action" in k)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while s.recv(65536):
            pass


def bench_idle(tmp, n_polls, listen=False):
    """Peak RSS and CPU per poll over n_polls polls (IMDSv2, keep-alive),
    with or without the /healthz and /metrics listener (idle: nobody asks)."""
    os.makedirs(tmp)
    c = Cluster(tmp)
    port = free_port()
    what = " with listen (idle)" if listen else ""
    try:
        d = c.start(kind="release", poll_interval="0.1", level="WARNING",
                    **({"listen": f"127.0.0.1:{port}"} if listen else {}))
        d.wait_for(r"", 1)
        deadline = time.monotonic() + 120
        while polls(c) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu0, p0 = cpu_seconds(d.proc.pid), polls(c)
        while polls(c) < p0 + n_polls and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu1, p1 = cpu_seconds(d.proc.pid), polls(c)
        hwm = proc_status(d.proc.pid, "VmHWM")
        stats = c.imds.stats()
        n = p1 - p0
        row("peak RSS idle (VmHWM after %d polls)%s" % (p1, what), f"{hwm / 1024:.2f} MiB", "< 2 MiB")
        row("CPU time per poll (IMDSv2, keep-alive)" + what, f"{(cpu1 - cpu0) / max(n, 1) * 1e6:.0f} µs "
            f"({n} polls, {stats['connections']} connection(s), {stats['tokens_issued']} token(s))", "")
        if listen:
            # What a scrape costs, polls included (a scrape every 15 s is the usual).
            n_scrapes, cpu2, p2 = 500, cpu_seconds(d.proc.pid), polls(c)
            for _ in range(n_scrapes):
                scrape(port)
            cpu3, p3 = cpu_seconds(d.proc.pid), polls(c)
            per = ((cpu3 - cpu2) - (p3 - p2) * (cpu1 - cpu0) / max(n, 1)) / n_scrapes
            row("CPU time per /metrics scrape (polls' share taken off)", f"{max(per, 0) * 1e6:.0f} µs "
                f"({n_scrapes} scrapes); peak RSS after them {proc_status(d.proc.pid, 'VmHWM') / 1024:.2f} MiB", "")
    finally:
        c.stop()


def listener_size():
    """Bytes serve.c and metrics.c bring into the release binary. With LTO their
    objects hold no code, so: the functions and tables in the unstripped copy of
    the release link (build/rel/despotify.unstripped, the same link without -s)
    whose names only serve.c or metrics.c define (in a plain -O0 compile of src/,
    where every function keeps its name; LTO's .constprop/.isra/.part copies
    count), plus those two files' string literals. Code of theirs that LTO
    inlined into a caller elsewhere counts there, and the other way round."""
    tmp = tempfile.mkdtemp(prefix="despotify-names-")
    try:
        names = {}
        literals = 0
        for src in sorted(os.listdir(os.path.join(ROOT, "src"))):
            if not src.endswith(".c"):
                continue
            obj = os.path.join(tmp, src[:-2] + ".o")
            subprocess.run(["cc", "-std=c11", "-O0", "-fmerge-constants", "-D_GNU_SOURCE", "-DDESPOTIFY_VERSION=\"x\"",
                            "-I" + os.path.join(ROOT, "src"), "-I" + os.path.join(ROOT, "build", "gen"),
                            "-I" + os.path.join(ROOT, "vendor", "bearssl", "upstream", "inc"),
                            "-I" + os.path.join(ROOT, "vendor", "jsmn", "upstream"),
                            "-c", "-o", obj, os.path.join(ROOT, "src", src)], check=True)
            for line in subprocess.run(["nm", "--defined-only", obj], capture_output=True,
                                       text=True).stdout.splitlines():
                f = line.split()
                if len(f) == 3 and f[1] in "tTrRdD" and not f[2].startswith("."):
                    names.setdefault(f[2], set()).add(src)
            if src in ("serve.c", "metrics.c"):
                for line in subprocess.run(["objdump", "-h", obj], capture_output=True,
                                           text=True).stdout.splitlines():
                    f = line.split()
                    if len(f) > 2 and f[1].startswith(".rodata.str"):
                        literals += int(f[2], 16)
        ours = {n for n, srcs in names.items() if srcs <= {"serve.c", "metrics.c"}}
        total = 0
        out = subprocess.run(["nm", "-S", os.path.join(ROOT, "build", "rel", "despotify.unstripped")],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 4 and f[2] in "tTrRdD" and re.sub(r"\..*", "", f[3]) in ours:
                total += int(f[1], 16)
        return total + literals
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fake_clock_offset(c):
    """The fake API server's clock minus ours (its times are seconds since it started)."""
    a = time.monotonic()
    t = c.k8s.state()["t"]
    b = time.monotonic()
    return t - (a + b) / 2


def drain_times(c, t_notice, offset):
    """Seconds from t_notice (our clock) to the node's cordon PATCH and to
    the last eviction the fake received, and the number of evictions."""
    st = c.k8s.state(c.node)
    log = st["request_log"]
    cordon = [r["t"] for r in log if r["m"] == "PATCH" and "/nodes/" in r["path"]]
    evs = [e["t"] for e in st["evictions"]]
    return (min(cordon) - offset - t_notice if cordon else None,
            max(evs) - offset - t_notice if evs else None, len(evs))


def seen_at(d, wall0, mono0):
    """When despotify logged the notice, on our monotonic clock (its log
    stamps are wall-clock milliseconds)."""
    m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z INFO\s+notice:", d.text())
    if not m:
        return None
    wall = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1000
    return wall - (wall0 - mono0)


def bench_drain(tmp, latency_ms, concurrency, pods=110, size=None):
    """size: None for the fakes' small pods, "production" for pods as a real
    API server returns them (test/lib/prodpod.py)."""
    c = Cluster(tmp, k8s_args=["--latency-ms", str(latency_ms)])
    try:
        c.k8s.generate(c.node, pods, mix=False, **({"size": size} if size else {}))
        d = c.start(kind="release", poll_interval="0.1", eviction_concurrency=str(concurrency))
        d.wait_for(r"watching instance", 30)
        time.sleep(1.0)
        offset = fake_clock_offset(c)
        wall0, mono0 = time.time(), time.monotonic()
        t0 = time.monotonic()
        c.notice_in(110)
        # Seen: the first poll after t0 (poll interval 0.1 s); the fake's times are
        # on the same monotonic clock as ours.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _, last, n = drain_times(c, t0, offset)
            if n >= pods:
                break
            time.sleep(0.1)
        cordon, last, n = drain_times(c, t0, offset)
        hwm = proc_status(d.proc.pid, "VmHWM")
        seen = seen_at(d, wall0, mono0)
        from_seen = last - (seen - t0) if seen is not None and last is not None else None
        bench_drain.unusable = d.text().count("unusable page")
        bench_drain.lists = c.k8s.state(c.node)["requests"].get("LIST pods", 0)
        return cordon, last, n, hwm, from_seen
    finally:
        c.stop()


def bench_kubectl(tmp, latency_ms, pods=110):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    c = Cluster(tmp, k8s_args=["--latency-ms", str(latency_ms)])
    try:
        c.k8s.generate(c.node, pods, mix=False)
        kc = c.k8s.kubeconfig(os.path.join(tmp, "kubeconfig"), cluster.K8S_TOKEN)
        offset = fake_clock_offset(c)
        t0 = time.monotonic()
        subprocess.run([kubectl, "--kubeconfig", kc, "drain", c.node, "--ignore-daemonsets",
                        "--delete-emptydir-data", "--force", "--timeout=120s"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        cordon, last, n = drain_times(c, t0, offset)
        return cordon, last, n
    finally:
        c.stop()


def bench_real(tmp, pods=110, concurrency=16):
    """despotify (release) draining `pods` production-sized pods through a real
    kube-apiserver (test/lib/realk8s.py; IMDS and Auto Scaling are the fakes).
    Returns None when no real API server can run here, else (seconds from the
    notice to the cordon PATCH, to the last eviction sent, to the summary;
    evictions; mean pod size in bytes)."""
    try:
        realk8s.apiserver_binary()
    except realk8s.Unavailable as e:
        return str(e)
    c = Cluster(tmp)
    rk = None
    try:
        rk = realk8s.RealK8s(os.path.join(tmp, "real"), terminate_s=1, eviction_webhook=False)
        rk.node(c.node)
        made = [prod_pod(f"web-{i % 11}-7d9c5b6f8-p{i:03d}", c.node, "shop") for i in range(pods)]
        rk.pods(c.node, [{"raw": p} for p in made])
        d = c.start(kind="release", poll_interval="0.1", eviction_concurrency=str(concurrency),
                    api_server=rk.url, token_file=rk.token_file, ca_file=rk.pki["ca"])
        d.wait_for(r"watching instance", 30)
        time.sleep(1.0)
        t0 = time.time() - rk.t0   # on the clock of rk.state()'s times
        t0_mono = time.monotonic()
        c.notice_in(110)
        d.wait_for(r"summary: ", 150)
        summary = time.monotonic() - t0_mono
        st = rk.state(c.node)
        cordon = [r["t"] for r in st["request_log"] if r["m"] == "PATCH" and "/nodes/" in r["path"]]
        evs = [e["t"] for e in st["evictions"] if e["status"] in (200, 201)]
        return (min(cordon) - t0 if cordon else None, max(evs) - t0 if evs else None, summary, len(evs),
                sum(pod_size(p) for p in made) // len(made))
    finally:
        if rk:
            rk.stop()
        c.stop()


def bench_mass(tmp, nodes, pods, rate):
    """nodes despotify processes, one node of `pods` pods each, one API server
    answering 429 past `rate` requests per second."""
    c = Cluster(tmp, k8s_args=["--rate-limit", str(rate)], seed_node=False)
    procs = []
    try:
        names = [f"mass-{i:03d}" for i in range(nodes)]
        for n in names:
            c.k8s.node(n)
            c.k8s.generate(n, pods, mix=False, prefix=n)
        ini = c.ini(name="mass.ini", poll_interval="0.5", level="INFO", detach_from_asg="false",
                    events="false", eviction_concurrency="4")
        for i, n in enumerate(names):
            env = c.env(NODE_NAME=n)
            procs.append(cluster.Despotify([BIN, "-c", ini], env, os.path.join(tmp, f"mass-{i}.log")))
        time.sleep(3)
        t0 = time.monotonic()
        c.notice_in(110)
        total = nodes * pods
        deadline = time.monotonic() + 240
        done = 0
        while time.monotonic() < deadline:
            st = c.k8s.state()
            done = st.get("evictions", 0) if isinstance(st.get("evictions"), int) else 0
            if done >= total:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        errors = 0
        summaries = 0
        for p in procs:
            t = p.text()
            summaries += t.count("summary:")
            errors += t.count(" ERROR ")
        return elapsed, done, total, errors, summaries
    finally:
        for p in procs:
            p.stop()
        c.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("make bench: build/despotify is missing")
    n_polls = 100 if args.quick else 600     # at 0.1 s, the shortest poll_interval
    mass_nodes = 20 if args.quick else 200
    tmp = tempfile.mkdtemp(prefix="despotify-bench-")
    try:
        row("stripped binary size", f"{os.path.getsize(BIN) / 1024:.0f} KiB "
            f"({os.path.getsize(BIN)} bytes)", "< 250 KB")
        row("listener in it (functions, tables and strings of serve.c and metrics.c in the release link)",
            f"{listener_size()} bytes", "< 12 KB in all")
        bench_idle(os.path.join(tmp, "idle"), n_polls)
        bench_idle(os.path.join(tmp, "idle-listen"), n_polls, listen=True)
        results = {}
        for lat in (0, 30):
            for conc in (1, 16):
                sub = os.path.join(tmp, f"drain-{lat}-{conc}")
                os.makedirs(sub)
                cordon, last, n, hwm, from_seen = bench_drain(sub, lat, conc)
                results[(lat, conc)] = last
                row(f"110 pods, {lat} ms latency, concurrency {conc}: notice in IMDS -> cordoned / "
                    f"last eviction sent (seen -> last eviction)",
                    f"{cordon:.3f} s / {last:.3f} s ({from_seen:.3f} s; {n} evictions)",
                    "seen -> last < 0.5 s at 30 ms, conc 16" if (lat, conc) == (30, 16) else "")
                if (lat, conc) == (30, 16):
                    row("peak RSS during the 110-pod drain (VmHWM)", f"{hwm / 1024:.2f} MiB", "< 4 MiB")
        for pods, target in ((110, 0.35), (250, 0.7)):
            sub = os.path.join(tmp, f"drain-production-{pods}")
            os.makedirs(sub)
            cordon, last, n, hwm, from_seen = bench_drain(sub, 30, 16, pods, "production")
            row(f"{pods} production-sized pods (~18 KB), 30 ms latency, concurrency 16: notice in IMDS -> "
                f"cordoned / last eviction sent (seen -> last eviction)",
                f"{cordon:.3f} s / {last:.3f} s ({from_seen:.3f} s; {n} evictions)",
                f"seen -> last <= {target} s")
            row(f"peak RSS during that drain (VmHWM); LIST requests; \"unusable page\" retries", f"{hwm / 1024:.2f} MiB; {bench_drain.lists}; "
                f"{bench_drain.unusable}", "<= 3 MiB; 0 retries")
        sub = os.path.join(tmp, "kubectl")
        os.makedirs(sub)
        k = bench_kubectl(sub, 30)
        if k:
            kc, kl, kn = k
            ours = results[(30, 16)]
            row("kubectl drain, same 110 pods at 30 ms: start -> last eviction sent",
                f"{kl:.3f} s ({kn} evictions); despotify is {kl / ours:.1f}x faster", "faster than kubectl")
        else:
            row("kubectl drain", "kubectl not installed", "")
        sub = os.path.join(tmp, "real")
        os.makedirs(sub)
        r = bench_real(sub)
        what = "110 production-sized pods, real kube-apiserver, concurrency 16: notice -> cordoned / " \
               "last eviction sent / summary"
        if isinstance(r, str):
            row(what, "skipped: " + r, "")
        else:
            cordon, last, summary, n, size = r
            row(what, f"{cordon:.3f} s / {last:.3f} s / {summary:.3f} s ({n} evictions, pods ~{size // 1024} KiB "
                "of JSON)", "the real server's own latency; no target")
        sub = os.path.join(tmp, "mass")
        os.makedirs(sub)
        el, done, total, errors, summaries = bench_mass(sub, mass_nodes, 30, 400)
        row(f"mass interruption: {mass_nodes} nodes x 30 pods, API 429s past 400 req/s",
            f"{el:.1f} s until {done}/{total} pods evicted; {errors} errors; "
            f"{summaries}/{mass_nodes} summaries", "every pod, no errors")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    print()
    print(f"{'measure':<{w1}} | {'value':<{w2}} | target")
    print(f"{'-' * w1}-|-{'-' * w2}-|-------")
    for what, value, target in rows:
        print(f"{what:<{w1}} | {value:<{w2}} | {target}")


if __name__ == "__main__":
    main()
