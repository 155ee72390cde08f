"""Starting and driving test/fakes/fake_imds.py from a test.

    from imdsfake import FakeIMDS
    fi = FakeIMDS(tmpdir, args=["--max-ttl", "4"])   # starts it (IMDSv2 required by default)
    fi.notice(termination_time="2017-09-18T08:22:00Z")
    fi.faults([{"path": "termination-time", "action": "status", "status": 503, "count": 1}])
    st = fi.stats()
    fi.stop()                                        # always (tearDown / finally)

fi.url is "http://127.0.0.1:PORT" (use it as imds_base); every control call
of the fake (see its docstring) is a method here.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE = os.path.join(ROOT, "test", "fakes", "fake_imds.py")


class FakeIMDS:
    def __init__(self, tmpdir, args=(), name="imds"):
        self.dir = tmpdir
        self.port_file = os.path.join(tmpdir, name + ".port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        cmd = [sys.executable, FAKE, "--port", "0", "--port-file", self.port_file] + list(args)
        self.errlog = open(os.path.join(tmpdir, name + ".stderr"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.errlog)
        deadline = time.monotonic() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake_imds did not start")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode() or "null")

    def notice(self, **kw):
        """termination_time=..., instance_action=..., rebalance=... (None clears)."""
        return self.call("POST", "/_fake/notice", kw)

    def path(self, path, body, status=200):
        return self.call("POST", "/_fake/path", {"path": path, "body": body, "status": status})

    def faults(self, rules=(), clear=False):
        return self.call("POST", "/_fake/faults", {"rules": list(rules), "clear": clear})

    def config(self, **kw):
        return self.call("POST", "/_fake/config", kw)

    def revoke_tokens(self):
        return self.call("POST", "/_fake/tokens", {"revoke": True})

    def creds(self, **kw):
        return self.call("POST", "/_fake/creds", kw)

    def refuse(self, seconds):
        return self.call("POST", "/_fake/refuse", {"seconds": seconds})

    def reset(self):
        return self.call("POST", "/_fake/reset", {})

    def stats(self):
        return self.call("GET", "/_fake/stats")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errlog.close()
