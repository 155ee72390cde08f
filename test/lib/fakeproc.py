"""What the drivers of the fakes (imdsfake, awsfake, k8sfake) share: start
one of test/fakes/*.py as a process, wait for the ports it picked, send it
control requests, stop it; and what they share with the tests and the real
API server's driver (realk8s): a free port, a process stopped, a kubeconfig."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 15  # seconds for a fake to write its port files
STDERR_TAIL = 2000  # bytes of a fake's stderr quoted when it does not start


class FakeProcess:
    """One fake server process; its stderr goes to TMPDIR/NAME.stderr."""

    def __init__(self, script, args, tmpdir, name, port_files):
        """Runs test/fakes/SCRIPT with args and waits until each of
        port_files (paths the fake writes its chosen port to) exists;
        self.ports holds their ports in the same order."""
        for f in port_files:
            if os.path.exists(f):
                os.unlink(f)
        self.errlog_path = os.path.join(tmpdir, name + ".stderr")
        self.errlog = open(self.errlog_path, "ab")
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "test", "fakes", script)]
                                     + list(args), stdout=subprocess.DEVNULL, stderr=self.errlog)
        deadline = time.monotonic() + START_TIMEOUT
        while not all(os.path.exists(f) for f in port_files):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{script} did not start; its stderr ends:\n{self.stderr_tail()}")
            time.sleep(0.02)
        self.ports = []
        for f in port_files:
            with open(f) as fh:
                self.ports.append(int(fh.read()))

    def stderr_tail(self, limit=STDERR_TAIL):
        """The last bytes of the fake's stderr: quoted in an error rather than
        the file's name, which a caller's clean-up may already have removed."""
        with open(self.errlog_path, "rb") as f:
            f.seek(max(0, os.path.getsize(self.errlog_path) - limit))
            return f.read().decode(errors="replace").strip() or "(empty)"

    def stop(self):
        stop_process(self.proc)
        self.errlog.close()


def stop_process(proc, timeout=10):
    """Ends proc if it still runs: SIGTERM, then SIGKILL after timeout seconds; reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def class_tmpdir(cls, prefix):
    """A new temporary directory for the unittest class cls, removed by its
    class clean-ups: after those added later (servers started in it), and
    even when setUpClass fails half-way."""
    d = tempfile.mkdtemp(prefix=prefix)
    cls.addClassCleanup(shutil.rmtree, d, True)
    return d


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_kubeconfig(path, name, server, ca, user):
    """Writes a kubeconfig with one cluster and context called name (server, CA
    file ca) and one user "tester" whose credentials are the lines user, each
    indented four spaces ("token: T", or "client-certificate: C" and
    "client-key: K"); returns path."""
    creds = "".join(f"    {l}\n" for l in user)
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: tester
  user:
{creds}contexts:
- name: {name}
  context:
    cluster: {name}
    user: tester
current-context: {name}
""")
    return path


def control(base_url, method, path, body=None, timeout=30, context=None):
    """A JSON control request to a fake; returns the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
        return json.loads(r.read().decode() or "null")
