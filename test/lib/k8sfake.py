"""Starting and driving test/fakes/fake_k8s.py from a test.

    from k8sfake import FakeK8s
    fk = FakeK8s(tmpdir, token="tok-1")          # starts it over TLS with the test PKI
    fk.node("ip-10-0-1-23", taints=[...])         # seed
    fk.generate("ip-10-0-1-23", 110)
    st = fk.state("ip-10-0-1-23")                 # read back
    fk.stop()                                     # always (tearDown / finally)

fk.url is "https://127.0.0.1:PORT"; fk.pki the dict of test/lib/pki.py.
"""
import json
import os
import ssl
import time

from fakeproc import FakeProcess, control, write_kubeconfig
from pki import make_pki


class FakeK8s(FakeProcess):
    def __init__(self, tmpdir, token="test-token", tokens=None, args=(), plain=False, client_ca=False,
                 start_delay_s=0, wait=True, pki_dir=None, seed=None):
        self.dir = tmpdir
        self.pki = make_pki(pki_dir or os.path.join(tmpdir, "pki"))
        self.port_file = os.path.join(tmpdir, "k8s.port")
        cmd = ["--port", "0", "--port-file", self.port_file]
        for t in ([token] if token else []) + list(tokens or []):
            cmd += ["--token", t]
        if plain:
            cmd.append("--plain")
        else:
            cmd += ["--cert", self.pki["server_crt"], "--key", self.pki["server_key"]]
        if client_ca:
            cmd += ["--client-ca", self.pki["ca"]]
        if start_delay_s:
            cmd += ["--start-delay-s", str(start_delay_s)]
        if seed:
            # [[control-endpoint, body], ...] applied before the first connection.
            seed_file = os.path.join(tmpdir, "k8s-seed.json")
            with open(seed_file, "w") as f:
                json.dump(seed, f)
            cmd += ["--seed", seed_file]
        cmd += list(args)
        super().__init__("fake_k8s.py", cmd, tmpdir, "fake_k8s", [self.port_file])
        self.plain = plain
        self.port = self.ports[0]
        self.url = ("http" if plain else "https") + f"://127.0.0.1:{self.port}"
        self.ctx = None
        if not plain:
            self.ctx = ssl.create_default_context(cafile=self.pki["ca"])
        if wait and not start_delay_s:
            self.wait_up()

    def wait_up(self, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.state()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def call(self, method, path, body=None, timeout=30):
        return control(self.url, method, path, body, timeout, self.ctx)

    def ctl(self, name, body=None):
        return self.call("POST", "/_fake/" + name, body or {})

    def state(self, node=None):
        return self.call("GET", "/_fake/state" + (f"?node={node}" if node else ""))

    # Shorthands for the control API (see fake_k8s.py).
    def node(self, name, **kw):
        return self.ctl("node", dict(kw, name=name))["node"]

    def pods(self, node, pods):
        return self.ctl("pods", {"node": node, "pods": pods})

    def generate(self, node, count=110, **kw):
        return self.ctl("generate", dict(kw, node=node, count=count))["made"]

    def pdbs(self, pdbs):
        return self.ctl("pdbs", {"pdbs": pdbs})

    def faults(self, rules, clear=False):
        return self.ctl("faults", {"rules": rules, "clear": clear})

    def config(self, **kw):
        return self.ctl("config", kw)

    def tokens(self, tokens):
        return self.ctl("tokens", {"tokens": tokens})

    def reset(self, tokens=None, **config):
        """Back to a fresh fake between tests: no objects, no fault rules, the
        bearer tokens given (when not None) and the config keywords set."""
        self.ctl("reset")
        if tokens is not None:
            self.tokens(tokens)
        self.config(**config)
        self.faults([], clear=True)

    def kubeconfig(self, path, token):
        """Writes a kubeconfig for kubectl pointing at the fake with a bearer token."""
        return write_kubeconfig(path, "fake", self.url, self.pki["ca"], [f"token: {token}"])
