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
import os

from fakeproc import FakeProcess, control


class FakeIMDS(FakeProcess):
    def __init__(self, tmpdir, args=(), name="imds"):
        self.dir = tmpdir
        self.port_file = os.path.join(tmpdir, name + ".port")
        super().__init__("fake_imds.py", ["--port", "0", "--port-file", self.port_file] + list(args),
                         tmpdir, name, [self.port_file])
        self.port = self.ports[0]
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None, timeout=30):
        return control(self.url, method, path, body, timeout)

    def notice(self, **kw):
        """termination_time=..., instance_action=..., rebalance=... (None clears)."""
        return self.call("POST", "/_fake/notice", kw)

    def events(self, events):
        """Replaces the scheduled events (see the fake's /_fake/events); returns the body served."""
        return self.call("POST", "/_fake/events", {"events": list(events)})["body"]

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
