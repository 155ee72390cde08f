"""Starting and driving test/fakes/fake_aws.py from a test.

    from awsfake import FakeAWS
    fa = FakeAWS(tmpdir, access_key="AKIDTEST", secret_key="secret",
                 instances={"i-0abc": "spot-asg"})      # TLS with the test PKI
    fa.faults([{"api": "DetachInstances", "action": "status", "code": "Throttling", "count": 2}])
    calls = fa.calls("DetachInstances")
    fa.stop()                                            # always (tearDown / finally)

fa.url is "https://127.0.0.1:PORT" (use it as asg_endpoint / sts_endpoint),
fa.plain_url "http://127.0.0.1:PORT2" (the container-credentials endpoint),
fa.pki the dict of test/lib/pki.py (fa.pki["ca"] is the CA to trust). Every
control call of the fake (see its docstring) is a method here.
"""
import os
import ssl

from fakeproc import FakeProcess, control
from pki import make_pki


class FakeAWS(FakeProcess):
    def __init__(self, tmpdir, access_key=None, secret_key=None, session_token=None, instances=None,
                 web_identity_tokens=(), container_token=None, region="us-east-1", args=(), pki_dir=None,
                 name="aws"):
        self.dir = tmpdir
        self.pki = make_pki(pki_dir or os.path.join(tmpdir, "pki"))
        self.port_file = os.path.join(tmpdir, name + ".port")
        self.plain_port_file = os.path.join(tmpdir, name + ".plainport")
        cmd = ["--port", "0", "--port-file", self.port_file,
               "--plain-port-file", self.plain_port_file, "--region", region,
               "--cert", self.pki["server_crt"], "--key", self.pki["server_key"]]
        if access_key:
            cmd += ["--access-key", access_key, "--secret-key", secret_key]
            if session_token:
                cmd += ["--session-token", session_token]
        for iid, group in (instances or {}).items():
            cmd += ["--instance", f"{iid}={group}"]
        for t in web_identity_tokens:
            cmd += ["--web-identity-token", t]
        if container_token:
            cmd += ["--container-token", container_token]
        cmd += list(args)
        super().__init__("fake_aws.py", cmd, tmpdir, name, [self.port_file, self.plain_port_file])
        self.port, self.plain_port = self.ports
        self.url = f"https://127.0.0.1:{self.port}"
        self.plain_url = f"http://127.0.0.1:{self.plain_port}"

    def call(self, method, path, body=None, timeout=30):
        return control(self.plain_url, method, path, body, timeout)

    def instances(self, instances, replace=True):
        """instances: list of {"id","group","state","az"}."""
        return self.call("POST", "/_fake/instances", {"instances": instances, "replace": replace})

    def credentials(self, access_key_id, secret_access_key, session_token=None, expires_in=None):
        return self.call("POST", "/_fake/credentials", {
            "access_key_id": access_key_id, "secret_access_key": secret_access_key,
            "session_token": session_token, "expires_in": expires_in})

    def expire(self, access_key_id=None, all=False):
        return self.call("POST", "/_fake/expire", {"access_key_id": access_key_id, "all": all})

    def web_identity(self, tokens=None, role_arn=None):
        body = {}
        if tokens is not None:
            body["tokens"] = list(tokens)
        if role_arn is not None:
            body["role_arn"] = role_arn
        return self.call("POST", "/_fake/web_identity", body)

    def container(self, token=None, status=None, raw=None):
        body = {"status": status, "raw": raw}
        if token is not None:
            body["token"] = token
        return self.call("POST", "/_fake/container", body)

    def config(self, **kw):
        return self.call("POST", "/_fake/config", kw)

    def faults(self, rules=(), clear=False):
        return self.call("POST", "/_fake/faults", {"rules": list(rules), "clear": clear})

    def reset(self):
        return self.call("POST", "/_fake/reset", {})

    def calls(self, api=None):
        c = self.call("GET", "/_fake/calls")["calls"]
        return [x for x in c if api is None or x["api"] == api]

    def state(self):
        return self.call("GET", "/_fake/state")

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.pki["ca"])
