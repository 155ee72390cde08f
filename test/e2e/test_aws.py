"""End-to-end tests of the AWS side (src/aws.c, sigv4.c, xml.c) through
`probe aws`, against test/fakes/fake_aws.py (Auto Scaling + STS over TLS,
container credentials over plain HTTP), test/fakes/fake_imds.py for the
instance-role source, and botocore as the independent SigV4 signer.

Every signed request the probe makes is checked by the fake with botocore's
SigV4Auth; the tests also assert it (signature_ok on every call)."""
import calendar
import os
import re
import subprocess
import tempfile
import time
import unittest

import pki
from awsfake import FakeAWS
from httpfakes import ProxyServer
from imdsfake import FakeIMDS
from proberun import ProbeRun

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.environ["DESPOTIFY_ROOT"]
PROBE = os.path.join(ROOT, "build", "asan", "probe")
IID = "i-0123456789abcdef0"
AK, SK = "AKIDDESPOTIFYTEST01", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTKEY0"
ROLE_ARN = "arn:aws:iam::123456789012:role/despotify"


class Result(ProbeRun):
    tail = 3000

    def __init__(self, p, elapsed):
        super().__init__(p, elapsed)
        self.fields = {}
        for line in self.out.splitlines():
            if line.startswith("outcome="):
                for m in re.finditer(r"(\w+)=((?:not in an ASG|already leaving|dry run)|\S*)", line):
                    self.fields[m.group(1)] = m.group(2)
        self.outcome = self.fields.get("outcome")
        self.attempts = int(self.fields.get("attempts", "-1"))

    def line(self, prefix):
        found = self.lines(prefix)
        return found[0] if found else None


class AwsBase(pki.PkiTestCase):
    tmp_prefix = "despotify-aws-"

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp)
        self.stops = []
        self.fa = self.fake()

    def tearDown(self):
        for s in reversed(self.stops):
            s()

    def fake(self, instances=None, **kw):
        fa = FakeAWS(self.dir, access_key=kw.pop("access_key", AK), secret_key=kw.pop("secret_key", SK),
                     instances=instances if instances is not None else {IID: "spot-asg"},
                     pki_dir=self.pki["dir"], **kw)
        self.stops.append(fa.stop)
        return fa

    def env(self, creds="env", **extra):
        """A clean environment: nothing of the runner's AWS_* or proxies leaks in."""
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
             "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.fa.url, "AWS_CA_BUNDLE": self.pki["ca"],
             "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"}
        if creds == "env":
            e.update(AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK)
        e.update({k: v for k, v in extra.items() if v is not None})
        return e

    def probe(self, *args, env=None, timeout=90):
        t0 = time.monotonic()
        p = subprocess.run([PROBE, "aws", *args], env=env if env is not None else self.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return Result(p, time.monotonic() - t0)

    def detach(self, *opts, env=None, deadline_ms=20000, iid=IID):
        return self.probe("--deadline-ms", str(deadline_ms), *opts, "detach", iid, env=env)

    def assert_all_signed_ok(self, calls):
        for c in calls:
            if c["api"] in ("DescribeAutoScalingInstances", "DetachInstances"):
                self.assertTrue(c["signed"], c)
                self.assertIs(c["signature_ok"], True, c)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)
        return path


class TestSigner(AwsBase):
    """The C signer against botocore, for the requests despotify really sends."""

    def botocore_sign(self, key, secret, token, region, service, t, host, body, path="/"):
        req = AWSRequest(method="POST", url=f"https://{host}{path}", data=body.encode(),
                         headers={"Host": host,
                                  "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        amz = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
        req.headers["X-Amz-Date"] = amz
        if token:
            req.headers["X-Amz-Security-Token"] = token
        req.context["timestamp"] = amz
        auth = SigV4Auth(Credentials(key, secret, token), service, region)
        creq = auth.canonical_request(req)
        sts = auth.string_to_sign(req, creq)
        sig = auth.signature(sts, req)
        signed = auth.signed_headers(auth.headers_to_sign(req))
        return (f"AWS4-HMAC-SHA256 Credential={key}/{amz[:8]}/{region}/{service}/aws4_request, "
                f"SignedHeaders={signed}, Signature={sig}"), creq

    def test_matches_botocore(self):
        cases = [
            (AK, SK, None, "us-east-1", "autoscaling", 1700000000, "autoscaling.us-east-1.amazonaws.com",
             f"Action=DescribeAutoScalingInstances&Version=2011-01-01&InstanceIds.member.1={IID}"),
            ("ASIAEXAMPLE", SK, "FwoGZXIvYXdzEBaaDK+/=tok", "eu-west-1", "autoscaling", 1500000000,
             "autoscaling.eu-west-1.amazonaws.com",
             "Action=DetachInstances&Version=2011-01-01&AutoScalingGroupName=my%20asg%2Bx"
             f"&InstanceIds.member.1={IID}&ShouldDecrementDesiredCapacity=false"),
            (AK, "s/e+c=r", None, "cn-north-1", "autoscaling", 1234567890,
             "autoscaling.cn-north-1.amazonaws.com.cn", "Action=DescribeAutoScalingInstances&Version=2011-01-01"),
            (AK, SK, None, "us-gov-west-1", "sts", 1800000000, "127.0.0.1:8443",
             "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx"),
            (AK, SK, "t" * 1500, "ap-southeast-2", "autoscaling", 1600000000, "[::1]:4443", ""),
        ]
        for key, secret, token, region, service, t, host, body in cases:
            args = ["sign", "--key", key, "--secret", secret, "--region", region, "--service", service,
                    "--time", str(t), "--host", host, "--body", body]
            if token:
                args += ["--token", token]
            r = self.probe(*args)
            self.assertEqual(r.rc, 0, r)
            want_auth, want_creq = self.botocore_sign(key, secret, token, region, service, t, host, body)
            self.assertEqual(r.line("authorization: "), want_auth, (host, r))
            creq = r.out.split("--- canonical\n", 1)[1].rsplit("\n---", 1)[0]
            self.assertEqual(creq, want_creq)


class TestDetach(AwsBase):
    def test_detach_with_env_credentials(self):
        r = self.detach()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(r.fields["group"], "spot-asg")
        calls = self.fa.calls()
        self.assertEqual([c["api"] for c in calls], ["DescribeAutoScalingInstances", "DetachInstances"])
        self.assert_all_signed_ok(calls)
        self.assertEqual(calls[0]["params"], {"Action": "DescribeAutoScalingInstances", "Version": "2011-01-01",
                                              "InstanceIds.member.1": IID})
        self.assertEqual(calls[1]["params"], {"Action": "DetachInstances", "Version": "2011-01-01",
                                              "AutoScalingGroupName": "spot-asg", "InstanceIds.member.1": IID,
                                              "ShouldDecrementDesiredCapacity": "false"})
        self.assertEqual(calls[1]["access_key"], AK)
        self.assertFalse(calls[1]["session_token_sent"])
        self.assertEqual(self.fa.state()["instances"][IID]["state"], "Detaching")
        self.assertEqual(self.fa.state()["groups"]["spot-asg"]["desired"], 1)   # not decremented
        self.assertIn("detached instance " + IID + " from Auto Scaling group spot-asg", r.err)

    def test_restart_does_not_detach_twice(self):
        r1 = self.detach()
        self.assertEqual(r1.outcome, "detached", r1)
        r2 = self.detach()
        self.assertEqual(r2.rc, 0, r2)
        self.assertEqual(r2.outcome, "already leaving", r2)
        self.assertEqual(r2.fields["state"], "Detaching")
        self.assertEqual(len(self.fa.calls("DetachInstances")), 1)
        # Once AWS has let the instance go, it is in no group at all.
        self.fa.instances([], replace=True)
        r3 = self.detach()
        self.assertEqual(r3.outcome, "not in an ASG", r3)
        self.assertEqual(len(self.fa.calls("DetachInstances")), 1)

    def test_already_leaving_states(self):
        for state in ("Detaching", "Detached", "Terminating", "Terminating:Wait", "Terminating:Proceed",
                      "Terminated"):
            self.fa.instances([{"id": IID, "group": "spot-asg", "state": state}])
            r = self.detach()
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.outcome, "already leaving", (state, r))
            self.assertEqual(r.fields["state"], state)
        self.assertEqual(self.fa.calls("DetachInstances"), [])

    def test_standby_is_detached(self):
        self.fa.instances([{"id": IID, "group": "spot-asg", "state": "Standby"}])
        r = self.detach()
        self.assertEqual(r.outcome, "detached", r)

    def test_not_in_asg(self):
        r = self.detach(iid="i-00000000000000001")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.outcome, "not in an ASG", r)
        self.assertIn("not in an Auto Scaling group; nothing to detach", r.err)
        self.assertEqual([c["api"] for c in self.fa.calls()], ["DescribeAutoScalingInstances"])

    def test_dry_run(self):
        r = self.detach("--dry-run")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.outcome, "dry run", r)
        self.assertIn("dry-run: would call DetachInstances AutoScalingGroupName=spot-asg "
                      f"InstanceIds.member.1={IID} ShouldDecrementDesiredCapacity=false "
                      f"at https://127.0.0.1:{self.fa.port}/ (instance is InService)", r.err)
        self.assertEqual([c["api"] for c in self.fa.calls()], ["DescribeAutoScalingInstances"])
        self.assertEqual(self.fa.state()["instances"][IID]["state"], "InService")

    def test_session_token_from_env(self):
        fa = self.fa
        fa.credentials("ASIADESPOTIFYSESS01", "sessionsecret/+=", session_token="FQoGZXIvYXdzE//tok+en=")
        env = self.env(creds=None, AWS_ACCESS_KEY_ID="ASIADESPOTIFYSESS01", AWS_SECRET_ACCESS_KEY="sessionsecret/+=",
                       AWS_SESSION_TOKEN="FQoGZXIvYXdzE//tok+en=")
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        for c in fa.calls():
            self.assertTrue(c["session_token_sent"], c)
        self.assert_all_signed_ok(fa.calls())
        # A wrong token is refused for good: not retried, AWS's words logged.
        fa.instances([{"id": IID, "group": "spot-asg"}])
        env["AWS_SESSION_TOKEN"] = "wrong"
        fa.reset()
        r = self.detach(env=env)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("InvalidClientTokenId: The security token included in the request is invalid.", r.err)
        self.assertEqual(len(fa.calls()), 1)

    def test_secrets_never_logged(self):
        token = "FQoGZXIvYXdzSECRETTOKENVALUE1234"
        self.fa.credentials("ASIADESPOTIFYSESS02", "verysecretkeyvalue0000", session_token=token)
        env = self.env(creds=None, AWS_ACCESS_KEY_ID="ASIADESPOTIFYSESS02",
                       AWS_SECRET_ACCESS_KEY="verysecretkeyvalue0000", AWS_SESSION_TOKEN=token)
        self.fa.faults([{"api": "DetachInstances", "action": "status", "code": "Throttling", "count": 1},
                        {"api": "DescribeAutoScalingInstances", "action": "status", "code": "RequestExpired",
                         "count": 1}])
        r = self.detach("--level", "DEBUG", env=env)
        self.assertEqual(r.outcome, "detached", r)
        for secret in ("verysecretkeyvalue0000", token, "Signature=", "AWS4-HMAC-SHA256"):
            self.assertNotIn(secret, r.err)
            self.assertNotIn(secret, r.out)
        # IRSA: neither the web identity token nor what STS hands out.
        self.fa.web_identity(tokens=["eyJ.SECRETJWT.sig"])
        self.fa.instances([{"id": IID, "group": "spot-asg"}])
        self.fa.reset()
        tf = self.write("token", "eyJ.SECRETJWT.sig")
        r = self.detach("--level", "DEBUG", env=self.env(creds=None, AWS_ROLE_ARN=ROLE_ARN,
                                                         AWS_WEB_IDENTITY_TOKEN_FILE=tf))
        self.assertEqual(r.outcome, "detached", r)
        self.assertNotIn("SECRETJWT", r.err)
        self.assertNotIn("IQoJb3JpZ2luX2VjE", r.err)     # the fake's session-token prefix
        self.assertNotIn("Signature=", r.err)


class TestFaults(AwsBase):
    def test_throttling_then_success(self):
        self.fa.faults([{"api": "DescribeAutoScalingInstances", "action": "status", "code": "Throttling", "count": 2},
                        {"api": "DetachInstances", "action": "status", "code": "Throttling", "count": 1}])
        r = self.detach()
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(r.attempts, 5, r)
        codes = [(c["api"], c["code"]) for c in self.fa.calls()]
        self.assertEqual(codes, [("DescribeAutoScalingInstances", "Throttling")] * 2 +
                         [("DescribeAutoScalingInstances", None), ("DetachInstances", "Throttling"),
                          ("DetachInstances", None)])
        self.assertEqual(len([c for c in self.fa.calls("DetachInstances") if c["status"] == 200]), 1)
        self.assert_all_signed_ok(self.fa.calls())
        self.assertIn("Throttling: Rate exceeded", r.err)

    def test_5xx_then_success(self):
        self.fa.faults([{"api": "DescribeAutoScalingInstances", "action": "status", "status": 503, "count": 1},
                        {"api": "DetachInstances", "action": "status", "status": 500, "count": 1},
                        {"api": "DetachInstances", "action": "status", "status": 502, "code": "BadGateway",
                         "count": 1}])
        r = self.detach()
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual([c["status"] for c in self.fa.calls()], [503, 200, 500, 502, 200])

    def test_access_denied_is_not_retried(self):
        self.fa.faults([{"api": "DetachInstances", "action": "status", "status": 403, "count": -1}])
        r = self.detach()
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertEqual(len(self.fa.calls("DetachInstances")), 1)
        msg = ("AccessDenied: User: arn:aws:sts::123456789012:assumed-role/despotify/i-0123456789abcdef0 is not "
               "authorized to perform: autoscaling:DetachInstances")
        self.assertIn(msg, r.line("error: "))
        errors = [l for l in r.err.splitlines() if " ERROR " in l]
        self.assertEqual(len(errors), 1, r.err)
        self.assertIn(msg, errors[0])
        self.assertLess(r.elapsed, 15)

    def test_validation_error_is_not_retried(self):
        self.fa.faults([{"api": "DetachInstances", "action": "status", "code": "ValidationError", "message": "Bad group",
                         "count": -1}])
        r = self.detach()
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("DetachInstances: ValidationError: Bad group (HTTP 400)", r.line("error: "))
        self.assertEqual(len(self.fa.calls("DetachInstances")), 1)

    def test_lost_answer_then_retry_is_already_leaving(self):
        # The first DetachInstances goes through but its answer is lost; the
        # retry meets "not in InService or Standby", and a Describe shows why.
        self.fa.faults([{"api": "DetachInstances", "action": "lost", "count": 1}])
        r = self.detach()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.outcome, "already leaving", r)
        self.assertEqual(r.fields["state"], "Detaching")
        self.assertEqual([(c["api"], c["code"]) for c in self.fa.calls()],
                         [("DescribeAutoScalingInstances", None), ("DetachInstances", None),
                          ("DetachInstances", "ValidationError"), ("DescribeAutoScalingInstances", None)])

    def test_garbage_then_success(self):
        self.fa.faults([{"api": "DescribeAutoScalingInstances", "action": "garbage", "count": 1},
                        {"api": "DescribeAutoScalingInstances", "action": "half-body", "count": 1},
                        {"api": "DetachInstances", "action": "truncate", "count": 1},
                        {"api": "DetachInstances", "action": "drop", "count": 1}])
        r = self.detach()
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(r.attempts, 6, r)      # two bad Describes, two lost Detaches, one good each
        self.assertIn("unreadable response", r.err)
        self.assertEqual(len([c for c in self.fa.calls("DetachInstances") if c["status"] == 200]), 1)

    def test_garbage_until_deadline(self):
        self.fa.faults([{"api": "DescribeAutoScalingInstances", "action": "garbage", "count": -1}])
        r = self.detach(deadline_ms=3000)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("deadline reached", r.line("error: "))
        self.assertIn("unreadable response", r.line("error: "))
        self.assertLess(r.elapsed, 20)
        self.assertEqual(self.fa.calls("DetachInstances"), [])

    def test_deadline_reached_while_throttled(self):
        self.fa.faults([{"action": "status", "code": "Throttling", "count": -1}])
        t0 = time.monotonic()
        r = self.detach(deadline_ms=2500)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertRegex(r.line("error: "), r"DescribeAutoScalingInstances: deadline reached after \d+ attempts; "
                         r"last: DescribeAutoScalingInstances: Throttling: Rate exceeded")
        self.assertGreaterEqual(len(self.fa.calls()), 3)   # backoff, not one try
        self.assertLess(time.monotonic() - t0, 20)

    def test_slow_response(self):
        self.fa.faults([{"api": "DescribeAutoScalingInstances", "action": "stall", "seconds": 1.5, "count": 1}])
        r = self.detach()
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(r.attempts, 2)

    def test_request_expired_resyncs_clock(self):
        for skew, code, word in ((3600, "RequestExpired", "behind"), (-7200, "SignatureDoesNotMatch", "ahead of")):
            self.fa.reset()
            self.fa.instances([{"id": IID, "group": "spot-asg"}])
            self.fa.config(skew_s=skew, skew_code=code)
            r = self.detach()
            self.assertEqual(r.outcome, "detached", (skew, r))
            calls = self.fa.calls()
            self.assertEqual([c["code"] for c in calls], [code, None, None], calls)
            self.assertIn(f"the local clock is {abs(skew)} s {word} AWS's", r.err)
            # The signatures carried AWS's time, not ours.
            t = calendar.timegm(time.strptime(calls[1]["x_amz_date"], "%Y%m%dT%H%M%SZ"))
            self.assertLess(abs(t - (time.time() + skew)), 120)

    def test_request_expired_fault_without_skew(self):
        self.fa.faults([{"api": "DetachInstances", "action": "status", "code": "RequestExpired", "count": 1}])
        r = self.detach()
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual([c["code"] for c in self.fa.calls("DetachInstances")], ["RequestExpired", None])

    def test_untrusted_ca_fails_with_tls_error(self):
        env = self.env(AWS_CA_BUNDLE=os.path.join(self.pki["dir"], "otherca.crt"))
        r = self.detach(env=env, deadline_ms=2000)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("TLS", r.line("error: "))
        self.assertEqual(self.fa.calls(), [])

    def test_https_proxy_is_used(self):
        proxy = ProxyServer()
        self.stops.append(proxy.stop)
        env = self.env(HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}")
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        self.assertTrue(any(l.startswith(f"CONNECT 127.0.0.1:{self.fa.port}") for l in proxy.seen), proxy.seen)
        # NO_PROXY wins.
        proxy.seen.clear()
        self.fa.instances([{"id": IID, "group": "spot-asg"}])
        env["NO_PROXY"] = "127.0.0.1"
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(proxy.seen, [])


class TestCredentialSources(AwsBase):
    def irsa_env(self, token_file, **extra):
        return self.env(creds=None, AWS_ROLE_ARN=ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE=token_file, **extra)

    def test_web_identity(self):
        self.fa.web_identity(tokens=["eyJhbGciOiJSUzI1NiJ9.first.sig"])
        tf = self.write("token", "eyJhbGciOiJSUzI1NiJ9.first.sig\n")
        r = self.detach(env=self.irsa_env(tf, AWS_ROLE_SESSION_NAME="despotify-node-1"))
        self.assertEqual(r.outcome, "detached", r)
        sts = self.fa.calls("AssumeRoleWithWebIdentity")
        self.assertEqual(len(sts), 1)
        self.assertFalse(sts[0]["authorization_present"])     # unsigned
        self.assertEqual(sts[0]["web_identity_token"], "eyJhbGciOiJSUzI1NiJ9.first.sig")
        self.assertEqual(sts[0]["params"], {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                                            "RoleArn": ROLE_ARN, "RoleSessionName": "despotify-node-1"})
        asg = [c for c in self.fa.calls() if c["api"] != "AssumeRoleWithWebIdentity"]
        self.assertEqual(len(asg), 2)
        for c in asg:
            self.assertTrue(c["access_key"].startswith("ASIA"), c)
            self.assertTrue(c["session_token_sent"], c)
        self.assert_all_signed_ok(asg)
        self.assertIn("credentials from web identity (IRSA), valid until ", r.err)

    def test_web_identity_errors(self):
        tf = self.write("token", "not-accepted")
        r = self.detach(env=self.irsa_env(tf), deadline_ms=3000)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("InvalidIdentityToken", r.line("error: "))
        r = self.detach(env=self.irsa_env(os.path.join(self.dir, "missing")), deadline_ms=1500)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("web identity token file", r.line("error: "))
        r = self.probe("creds", env=self.env(creds=None, AWS_ROLE_ARN=ROLE_ARN))
        self.assertEqual(r.rc, 2, r)
        self.assertIn("AWS_WEB_IDENTITY_TOKEN_FILE", r.err)

    def test_refresh_before_expiry_rereads_token_file(self):
        # Credentials live 20 s: fetched again from 10 s before Expiration
        # (half their life, as that is under AWS_CRED_REFRESH_S), with the
        # token file read anew.
        self.fa.config(cred_ttl=20)
        self.fa.web_identity(tokens=["tok-one"])
        tf = self.write("token", "tok-one")
        p = subprocess.Popen([PROBE, "aws", "creds", "--count", "3", "--interval-ms", "5500"],
                             env=self.irsa_env(tf), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stops.append(lambda: (p.poll() is None and p.kill(), p.wait()))
        first = p.stdout.readline()
        self.assertIn("creds 1: source=web identity (IRSA)", first)
        # The kubelet rotates the token; the old one stops being accepted.
        self.write("token", "tok-two")
        self.fa.web_identity(tokens=["tok-two"])
        out, err = p.communicate(timeout=60)
        lines = [first] + out.splitlines()
        self.assertEqual(p.returncode, 0, (lines, err))
        keys = [re.search(r"access_key_id=(\S+)", l).group(1) for l in lines[:3]]
        fetches = [int(re.search(r"fetches=(\d+)", l).group(1)) for l in lines[:3]]
        self.assertEqual(fetches, [1, 1, 2], lines)          # cached, then refreshed
        self.assertEqual(keys[0], keys[1])
        self.assertNotEqual(keys[1], keys[2])
        self.assertEqual([c["web_identity_token"] for c in self.fa.calls("AssumeRoleWithWebIdentity")],
                         ["tok-one", "tok-two"])

    def test_expired_token_refreshes_credentials(self):
        self.fa.web_identity(tokens=["tok"])
        tf = self.write("token", "tok")
        self.fa.faults([{"api": "DetachInstances", "action": "status", "code": "ExpiredToken", "expire": True,
                         "count": 1}])
        r = self.detach(env=self.irsa_env(tf))
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(int(r.fields["cred_fetches"]), 2, r)
        apis = [(c["api"], c["code"]) for c in self.fa.calls()]
        self.assertEqual(apis, [("AssumeRoleWithWebIdentity", None), ("DescribeAutoScalingInstances", None),
                                ("DetachInstances", "ExpiredToken"), ("AssumeRoleWithWebIdentity", None),
                                ("DetachInstances", None)])
        d = self.fa.calls("DetachInstances")
        self.assertNotEqual(d[0]["access_key"], d[1]["access_key"])

    def test_expired_env_credentials_fail(self):
        self.fa.expire(AK)
        r = self.detach()
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("ExpiredToken", r.line("error: "))
        self.assertLessEqual(len(self.fa.calls()), 4)     # a few refreshes, then no more

    def test_sts_throttled_then_success(self):
        self.fa.web_identity(tokens=["tok"])
        tf = self.write("token", "tok")
        self.fa.faults([{"api": "AssumeRoleWithWebIdentity", "action": "status", "code": "Throttling", "count": 1},
                        {"api": "AssumeRoleWithWebIdentity", "action": "half-body", "count": 1}])
        r = self.detach(env=self.irsa_env(tf))
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(len(self.fa.calls("AssumeRoleWithWebIdentity")), 3)

    def test_container_full_uri_with_token_file(self):
        self.fa.container(token="tok-A")
        tf = self.write("ctoken", "tok-A\n")
        env = self.env(creds=None, AWS_CONTAINER_CREDENTIALS_FULL_URI=self.fa.plain_url + "/v1/credentials",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tf)
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        cc = self.fa.calls("container")
        self.assertEqual(len(cc), 1)
        self.assertEqual(cc[0]["authorization"], "tok-A")
        self.assertEqual(cc[0]["path"], "/v1/credentials")
        self.assert_all_signed_ok(self.fa.calls())
        # The token file is read for every fetch (EKS Pod Identity rotates it).
        self.fa.reset()
        p = subprocess.Popen([PROBE, "aws", "creds", "--force", "--count", "2", "--interval-ms", "1000"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stops.append(lambda: (p.poll() is None and p.kill(), p.wait()))
        first = p.stdout.readline()
        self.assertIn("creds 1: source=container endpoint", first)
        self.write("ctoken", "tok-B")
        self.fa.container(token="tok-B")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, (out, err))
        self.assertEqual([c["authorization"] for c in self.fa.calls("container")], ["tok-A", "tok-B"])

    def test_container_relative_uri_and_literal_token(self):
        self.fa.container(token="literal-token")
        env = self.env(creds=None, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/abc-123",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="literal-token")
        r = self.probe("--container-base", self.fa.plain_url, "creds", env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("source=container endpoint", r.out)
        cc = self.fa.calls("container")
        self.assertEqual([(c["path"], c["authorization"]) for c in cc], [("/v2/credentials/abc-123", "literal-token")])

    def test_container_errors(self):
        self.fa.container(token="right")
        env = self.env(creds=None, AWS_CONTAINER_CREDENTIALS_FULL_URI=self.fa.plain_url + "/v1/credentials",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong")
        r = self.detach(env=env, deadline_ms=3000)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("AccessDeniedException", r.line("error: "))
        self.assertEqual(len(self.fa.calls("container")), 1)     # a 403 is not retried
        # Credentials must not travel in the clear to anything but the agents' addresses.
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://10.1.2.3/creds"
        r = self.detach(env=env)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("plain http:// is only allowed", r.err)

    def test_imds_role(self):
        fi = FakeIMDS(self.dir, args=["--region", "us-east-1"])
        self.stops.append(fi.stop)
        key, secret, token = "ASIAIMDSROLE0000001", "imdsRoleSecret/0000+0000", "IMDSsessionToken" + "z" * 900
        fi.creds(AccessKeyId=key, SecretAccessKey=secret, Token=token)
        self.fa.credentials(key, secret, session_token=token)
        env = self.env(creds=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=fi.url)
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        self.assertIn("credentials from instance role (IMDS)", r.err)
        for c in self.fa.calls():
            self.assertEqual(c["access_key"], key)
        self.assert_all_signed_ok(self.fa.calls())

    def test_environment_wins_over_the_rest(self):
        tf = self.write("token", "tok")
        env = self.env(AWS_ROLE_ARN=ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE=tf,
                       AWS_CONTAINER_CREDENTIALS_FULL_URI=self.fa.plain_url + "/v1/credentials")
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual([c["api"] for c in self.fa.calls()], ["DescribeAutoScalingInstances", "DetachInstances"])
        # IRSA wins over the container endpoint.
        self.fa.web_identity(tokens=["tok"])
        self.fa.instances([{"id": IID, "group": "spot-asg"}])
        self.fa.reset()
        env = self.irsa_env(tf, AWS_CONTAINER_CREDENTIALS_FULL_URI=self.fa.plain_url + "/v1/credentials")
        r = self.detach(env=env)
        self.assertEqual(r.outcome, "detached", r)
        self.assertEqual(self.fa.calls("container"), [])

    def test_half_set_environment_is_a_config_error(self):
        r = self.probe("creds", env=self.env(creds=None, AWS_ACCESS_KEY_ID=AK))
        self.assertEqual(r.rc, 2, r)
        self.assertIn("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", r.err)

    def test_region_and_endpoints(self):
        # STS has its own endpoint override; the region comes from the caller when AWS_REGION is unset.
        env = self.env(AWS_REGION=None, AWS_ENDPOINT_URL=None, AWS_ENDPOINT_URL_AUTO_SCALING=self.fa.url)
        del env["AWS_REGION"], env["AWS_ENDPOINT_URL"]
        r = self.detach("--region", "us-east-1", env=env)
        self.assertEqual(r.outcome, "detached", r)
        self.assertIn(f"Auto Scaling at 127.0.0.1:{self.fa.port}", r.err)
        # A signature for another region is refused by AWS (here, the fake).
        self.fa.instances([{"id": IID, "group": "spot-asg"}])
        r = self.detach("--region", "eu-west-1", env=env)
        self.assertEqual(r.outcome, "FAILED", r)
        self.assertIn("Credential should be scoped to a valid region", r.line("error: "))
        r = self.detach(env=env)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("no AWS region", r.err)
        for region, host in (("cn-north-1", "autoscaling.cn-north-1.amazonaws.com.cn"),
                             ("us-gov-west-1", "autoscaling.us-gov-west-1.amazonaws.com"),
                             ("eu-central-2", "autoscaling.eu-central-2.amazonaws.com")):
            r = self.probe("endpoint", "autoscaling", region)
            self.assertEqual(r.out.strip(), host)


if __name__ == "__main__":
    unittest.main()
