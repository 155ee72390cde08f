"""A whole spot node on 127.0.0.1 for end-to-end tests, `make demo` and
`make bench`: the fake IMDS, the fake Auto Scaling (over TLS) and the fake
Kubernetes API server (over TLS), plus a despotify process configured
against them.

    c = Cluster(tmpdir)                  # starts the three fakes, seeds node and pods
    c.k8s.generate(c.node, 20, mix=True)
    d = c.start()                        # despotify, logging to tmpdir/despotify.log
    c.notice_in(90)                      # instance-action: terminate in 90 s
    d.wait_for("summary: ", 60)
    ...
    c.stop()                             # always: stops despotify and the fakes
"""
import os
import re
import signal
import subprocess
import time

from awsfake import FakeAWS
from fakeproc import stop_process
from imdsfake import FakeIMDS
from k8sfake import FakeK8s

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INSTANCE = "i-0fa1e0000000000001"
NODE = "ip-10-0-1-23.eu-west-1.compute.internal"
GROUP = "spot-workers"
ACCESS_KEY = "AKIDDESPOTIFYTEST01"
SECRET_KEY = "despotify/secret/key/never/logged/0123456789"
K8S_TOKEN = "k8s-bearer-token-never-logged-0123456789"


def binary(kind="asan"):
    """The despotify under test: the sanitizer build by default
    (DESPOTIFY_BIN overrides), or "release" for build/despotify."""
    if kind == "release":
        return os.path.join(ROOT, "build", "despotify")
    return os.environ.get("DESPOTIFY_BIN") or os.path.join(ROOT, "build", "asan", "despotify")


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Despotify:
    """A running despotify whose log (stderr) goes to a file."""

    def __init__(self, argv, env, log_path, cwd=None, preexec=None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, preexec_fn=preexec)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for(self, pattern, timeout):
        """Waits until the log matches pattern (a regex); returns the match.
        Raises AssertionError with the log's tail on time-out or exit."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                m = rx.search(self.text())
                if m:
                    return m
                raise AssertionError(f"despotify exited ({self.proc.returncode}) before "
                                     f"/{pattern}/; log:\n{self.text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no /{pattern}/ within {timeout} s; log:\n{self.text()[-4000:]}")
            time.sleep(0.05)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"despotify still running after {timeout} s; log:\n{self.text()[-3000:]}")

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self):
        stop_process(self.proc)
        self.log.close()


class Cluster:
    def __init__(self, tmpdir, node=NODE, instance=INSTANCE, group=GROUP, in_asg=True,
                 imds_args=(), aws_args=(), k8s_args=(), k8s_start_delay_s=0, seed_node=True):
        self.dir = tmpdir
        self.node = node
        self.instance = instance
        self.group = group
        self.procs = []
        self.imds = self.aws = self.k8s = None
        try:
            self.imds = FakeIMDS(tmpdir, args=["--instance-id", instance, "--local-hostname", node,
                                               "--region", "us-east-1", "--az", "us-east-1a"]
                                 + list(imds_args))
            self.aws = FakeAWS(tmpdir, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                               instances={instance: group} if in_asg else {}, args=list(aws_args))
            self.k8s = FakeK8s(tmpdir, token=K8S_TOKEN, args=list(k8s_args),
                               start_delay_s=k8s_start_delay_s)
        except Exception:
            self.stop()
            raise
        self.pki = self.k8s.pki
        self.token_file = os.path.join(tmpdir, "token")
        with open(self.token_file, "w") as f:
            f.write(K8S_TOKEN + "\n")
        if seed_node and not k8s_start_delay_s:
            self.k8s.node(node, taints=[{"key": "existing/taint", "value": "x", "effect": "PreferNoSchedule"}])

    def ini(self, name="despotify.ini", **overrides):
        """Writes a config for the fakes (overrides win) and returns its path."""
        settings = {
            "level": "INFO",
            "poll_interval": "0.2",
            "grace_period": "120",
            "imds_base": self.imds.url,
            "asg_endpoint": self.aws.url,
            "aws_ca_file": self.pki["ca"],
            "region": "us-east-1",
            "api_server": self.k8s.url,
            "token_file": self.token_file,
            "ca_file": self.pki["ca"],
            "pdb_retry_interval": "1",
            "delete_blocked_at": "10",
        }
        settings.update({k: str(v) for k, v in overrides.items()})
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("[DEFAULT]\n")
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
        return path

    def env(self, **extra):
        env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
               "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "NODE_NAME": self.node,
               "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
        if os.environ.get("TSAN_OPTIONS"):
            env["TSAN_OPTIONS"] = os.environ["TSAN_OPTIONS"]
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def start(self, args=(), ini=None, env=None, kind="asan", log_name="despotify.log", **ini_overrides):
        """Starts despotify against the fakes; returns a Despotify."""
        path = ini or self.ini(**ini_overrides)
        d = Despotify([binary(kind), "-c", path] + list(args), env or self.env(),
                      os.path.join(self.dir, log_name))
        self.procs.append(d)
        return d

    def run_once(self, args=(), timeout=120, **ini_overrides):
        """Runs despotify --once to the end; returns (exit status, log text)."""
        d = self.start(args=["--once"] + list(args), log_name=f"once-{len(self.procs)}.log",
                       **ini_overrides)
        rc = d.wait_exit(timeout)
        return rc, d.text()

    def notice_in(self, seconds, action="terminate"):
        """An instance-action notice (and the matching termination-time) `seconds` from now."""
        t = utc(time.time() + seconds)
        self.imds.notice(instance_action={"action": action, "time": t}, termination_time=t)
        return t

    def check_drain(self, tc, d, made):
        """For the packaged forms (image, scratch root): d, a despotify just
        started against this cluster, whose pods generate() made; sends a
        notice and has the unittest.TestCase tc check the whole answer: the
        node cordoned, every pod a drain moves evicted, the instance detached
        once, a summary with nothing left."""
        d.wait_for(r"watching instance", 60)
        self.notice_in(100)
        d.wait_for(r"summary: ", 90)
        st = self.k8s.state(self.node)
        tc.assertTrue(st["node"]["spec"].get("unschedulable"))
        want = set(made["evictable"] + made["bare"] + made["emptydir"] + made["statefulset"])
        got = {f"{e['namespace']}/{e['name']}" for e in st["evictions"] if e["status"] in (200, 201)}
        tc.assertEqual(want, got & want)
        tc.assertEqual(len(self.aws.calls("DetachInstances")), 1)
        tc.assertRegex(d.text(), r"summary: .* 0 left.*ASG: detached")

    def stop(self):
        for d in self.procs:
            d.stop()
        for f in (self.k8s, self.aws, self.imds):
            if f is not None:
                f.stop()
