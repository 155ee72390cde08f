"""despotify with the node's own identity (issue 14), through `probe k8s`
against test/fakes/fake_k8s.py (which enforces NodeRestriction for node
identities) and, for EKS tokens, test/fakes/fake_aws.py's STS (which checks
the presigned URL with botocore): a kubeadm-style kubeconfig with the
kubelet's combined certificate PEM, an EKS-style kubeconfig with
`exec: aws eks get-token`, certificate rotation, token refresh, and what a
node may not do."""
import base64
import datetime
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from unittest import mock

from awsfake import FakeAWS
from fakeproc import class_tmpdir
from k8sfake import FakeK8s
from pki import make_pki, node_cert
from test_k8s import Out

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(ROOT, "build", "asan", "probe")
DAEMON = os.path.join(ROOT, "build", "asan", "despotify")
NODE = "ip-10-0-1-23.eu-west-1.compute.internal"
OTHER = "ip-10-0-9-99.eu-west-1.compute.internal"
CLUSTER = "prod-eu"
REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/eks-node-role"
AK, SECRET, SESSION = "ASIANODEROLE0000TEST", "node/role+secret0123456789abcdefghijKLMN", "IQoJb3JpZ2luX2VjEnode+session/token=="
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
for _v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "KUBECONFIG",
           "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
           "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_REGION", "AWS_DEFAULT_REGION"):
    ENV.pop(_v, None)


def rs_pod(name, **kw):
    return dict({"name": name, "owner": "ReplicaSet", "labels": {"app": name.rsplit("-", 1)[0]}}, **kw)


class Base(unittest.TestCase):
    def probe(self, *args, env=None, timeout=120):
        p = subprocess.run([PROBE, "k8s", "--level", "DEBUG", *args], capture_output=True, text=True,
                           timeout=timeout, env=env or ENV, cwd=ROOT)
        self.assertNotIn("AddressSanitizer", p.stderr)
        self.assertNotIn("runtime error", p.stderr)
        return Out(p.returncode, p.stdout, p.stderr, None)

    def seed(self, fk):
        fk.node(NODE, labels={"kubernetes.io/hostname": NODE})
        fk.node(OTHER, labels={"kubernetes.io/hostname": OTHER})
        fk.pods(NODE, [rs_pod("web-a"), rs_pod("web-b"), rs_pod("api-c")])
        fk.pods(OTHER, [rs_pod("db-x"), rs_pod("db-y")])

    def assert_drained(self, fk, o, taint_refused=False):
        """NODE drained by its own identity; other refusals than the taint's (taint_refused) fail."""
        st = fk.state(NODE)
        self.assertEqual(o.rc, 0, o)
        self.assertEqual(sorted(e["name"] for e in st["evictions"] if e["status"] == 201),
                         ["api-c", "web-a", "web-b"])
        self.assertTrue(any(e["reason"] == "Drained" for e in st["events"]), [e["reason"] for e in st["events"]])
        users = {r["user"] for r in st["request_log"] if not r["path"].startswith("/_fake")}
        self.assertEqual(users, {"system:node:" + NODE})
        taint_msg = f'node "{NODE}" is not allowed to modify taints'
        self.assertEqual([f["message"] for f in st["forbidden"] if not (taint_refused and f["message"] == taint_msg)],
                         [])
        other = fk.state(OTHER)
        self.assertEqual([p["terminating"] for p in other["pods"]], [False, False])
        self.assertFalse(other["node"]["spec"].get("unschedulable", False))
        return st

    def assert_refused_other_node(self, fk, o):
        """Run as NODE against OTHER: every write is NodeRestriction's 403, nothing changes there."""
        self.assertNotEqual(o.rc, 0, o)
        st = fk.state(OTHER)
        msgs = [f["message"] for f in st["forbidden"]]
        self.assertIn(f'node "{NODE}" is not allowed to modify node "{OTHER}"', msgs)
        self.assertIn(f"node {NODE} can only evict pods with spec.nodeName set to itself", msgs)
        self.assertFalse(st["node"]["spec"].get("unschedulable", False))
        self.assertEqual([p["terminating"] for p in st["pods"]], [False, False])
        self.assertIn("forbidden", o.stdout + o.stderr)


class TestKubeadmIdentity(Base):
    """The kubelet's kubeconfig of a kubeadm cluster: its client certificate and key in one PEM."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = class_tmpdir(cls, "despotify-nodeid-")
        cls.fk = FakeK8s(cls.tmp, token=None, client_ca=True)
        cls.addClassCleanup(cls.fk.stop)
        cls.pki_dir = cls.fk.pki["dir"]
        cls.pem1 = node_cert(cls.pki_dir, NODE, "kubelet-client-1")
        cls.pem2 = node_cert(cls.pki_dir, NODE, "kubelet-client-2")

    def setUp(self):
        self.fk.reset(terminate_s=0, replace_delay_s=-1)
        self.seed(self.fk)
        # /etc/kubernetes/kubelet.conf and /var/lib/kubelet/pki/kubelet-client-current.pem,
        # the latter a symlink the kubelet swaps when it rotates its certificate.
        self.etc = os.path.join(self.tmp, "etc-kubernetes")
        self.pkidir = os.path.join(self.tmp, "var-lib-kubelet", "pki")
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(os.path.dirname(self.pkidir), ignore_errors=True)
        os.makedirs(self.etc)
        os.makedirs(self.pkidir)
        shutil.copy(self.pem1, os.path.join(self.pkidir, "kubelet-client-2024-01-01.pem"))
        self.current = os.path.join(self.pkidir, "kubelet-client-current.pem")
        os.symlink("kubelet-client-2024-01-01.pem", self.current)
        with open(self.fk.pki["ca"], "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        self.kubeconfig = os.path.join(self.etc, "kubelet.conf")
        rel = os.path.relpath(self.current, self.etc)   # relative paths resolve against the file's folder
        with open(self.kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {self.fk.url}
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:{NODE}
  name: system:node:{NODE}@kubernetes
current-context: system:node:{NODE}@kubernetes
kind: Config
preferences: {{}}
users:
- name: system:node:{NODE}
  user:
    client-certificate: {rel}
    client-key: {rel}
""")

    def rotate(self):
        """What the kubelet does: a new file, then the symlink swapped atomically."""
        shutil.copy(self.pem2, os.path.join(self.pkidir, "kubelet-client-2024-09-01.pem"))
        tmp = self.current + ".tmp"
        os.symlink("kubelet-client-2024-09-01.pem", tmp)
        os.replace(tmp, self.current)

    def test_drains_its_own_node(self):
        o = self.probe("--kubeconfig", self.kubeconfig, "--taint", "", "drain", NODE)
        st = self.assert_drained(self.fk, o)
        self.assertTrue(st["node"]["spec"]["unschedulable"])
        self.assertEqual(st["node"]["metadata"]["labels"].get(
            "node.kubernetes.io/exclude-from-external-load-balancers"), "true")
        self.assertIn("authentication: kubeconfig", o.stderr)
        self.assertIn("client certificate (files, re-read when they change)", o.stderr)

    def test_taint_change_refused_with_the_real_message(self):
        o = self.probe("--kubeconfig", self.kubeconfig, "cordon", NODE)
        st = self.fk.state(NODE)
        self.assertIn(f'node "{NODE}" is not allowed to modify taints', [f["message"] for f in st["forbidden"]])
        self.assertEqual(st["node"]["spec"].get("taints", []), [])
        # The cordon itself goes through without the taint, and says why.
        self.assertEqual(o.rc, 0, o)
        self.assertIn("taint_refused=1", o.stdout)
        self.assertTrue(st["node"]["spec"]["unschedulable"])
        self.assertIn("not allowed to modify taints", o.stderr)

    def test_cordon_skips_the_taint_under_node_restriction(self):
        o = self.probe("--kubeconfig", self.kubeconfig, "drain", NODE)
        st = self.assert_drained(self.fk, o, taint_refused=True)
        self.assertTrue(st["node"]["spec"]["unschedulable"])
        self.assertEqual(st["node"]["metadata"]["labels"].get(
            "node.kubernetes.io/exclude-from-external-load-balancers"), "true")
        self.assertEqual(st["node"]["spec"].get("taints", []), [])
        self.assertRegex(o.stderr, r"WARNING.*taint")

    def test_other_nodes_pods_are_refused_cleanly(self):
        o = self.probe("--kubeconfig", self.kubeconfig, "--taint", "", "--deadline-s", "8",
                       "--delete-blocked-at-ms", "0", "drain", OTHER)
        self.assert_refused_other_node(self.fk, o)

    def test_certificate_rotation_mid_run(self):
        self.fk.config(terminate_s=6)
        serial1 = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", self.pem1], capture_output=True,
                                 text=True, check=True).stdout.strip().split("=")[1]
        serial2 = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", self.pem2], capture_output=True,
                                 text=True, check=True).stdout.strip().split("=")[1]
        p = subprocess.Popen([PROBE, "k8s", "--level", "DEBUG", "--kubeconfig", self.kubeconfig, "--taint", "",
                              "--deadline-s", "60", "drain", NODE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=ENV, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while len([e for e in self.fk.state(NODE)["evictions"] if e["status"] == 201]) < 3:
                self.assertLess(time.monotonic(), deadline, "the evictions never happened")
                time.sleep(0.1)
            t_rotate = self.fk.state(NODE)["t"]
            self.rotate()
            out, err = p.communicate(timeout=90)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        o = Out(p.returncode, out, err, None)
        st = self.assert_drained(self.fk, o)
        self.assertEqual(o["cert_loads"], 2, o)
        self.assertIn("client certificate", err)
        self.assertIn("changed; new connections use the new one", err)
        serials = [(r["t"], r["cert_serial"]) for r in st["request_log"] if r["path"].startswith("/api")]
        self.assertEqual(serials[0][1].upper(), serial1.upper())
        after = [s for t, s in serials if t > t_rotate + 0.01]
        self.assertTrue(after, serials)
        # Once the new certificate is seen, the old one is not used again.
        self.assertEqual(after[-1].upper(), serial2.upper(), serials)


class TestEksIdentity(Base):
    """An EKS node's kubeconfig (nodeadm's, AL2023): exec aws eks get-token, made natively."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = class_tmpdir(cls, "despotify-eksid-")
        pki = make_pki(os.path.join(cls.tmp, "pki"))
        cls.fa = FakeAWS(cls.tmp, access_key=AK, secret_key=SECRET, session_token=SESSION, region=REGION,
                         pki_dir=pki["dir"], args=["--caller-arn",
                                                   "arn:aws:sts::123456789012:assumed-role/eks-node-role/i-0abc"])
        cls.addClassCleanup(cls.fa.stop)
        cls.fk = FakeK8s(cls.tmp, token=None, pki_dir=pki["dir"], args=[
            "--sts-url", cls.fa.url, "--sts-ca", pki["ca"], "--eks-cluster", CLUSTER,
            "--eks-role", f"{ROLE}={NODE}"])
        cls.addClassCleanup(cls.fk.stop)
        cls.kubeconfig = os.path.join(cls.tmp, "kubeconfig")
        with open(cls.kubeconfig, "w") as f:
            f.write(f"""---
apiVersion: v1
kind: Config
clusters:
  - name: kubernetes
    cluster:
      certificate-authority: pki/ca.crt
      server: {cls.fk.url}
current-context: kubelet
contexts:
  - name: kubelet
    context:
      cluster: kubernetes
      user: kubelet
users:
  - name: kubelet
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: aws
        args:
          - "eks"
          - "get-token"
          - "--cluster-name"
          - "{CLUSTER}"
          - "--region"
          - "{REGION}"
""")
        cls.env = dict(ENV, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SECRET, AWS_SESSION_TOKEN=SESSION)
        cls.common = ["--kubeconfig", cls.kubeconfig, "--sts", cls.fa.url, "--aws-ca", pki["ca"]]

    def setUp(self):
        self.fk.reset(terminate_s=0, replace_delay_s=-1)
        self.fa.reset()
        self.seed(self.fk)

    def sts_calls(self):
        return [c for c in self.fa.calls("GetCallerIdentity") if c.get("presigned")]

    def assert_no_secrets(self, text):
        for secret in (SECRET, SESSION, "k8s-aws-v1.", "X-Amz-Signature", "X-Amz-Credential",
                       base64.urlsafe_b64encode(b"https://127.0.0.1").decode()[:16]):
            self.assertNotIn(secret, text)

    def token_at(self, when, cluster=CLUSTER):
        """An EKS token made by botocore (as aws-iam-authenticator makes one) at time when."""
        import botocore.auth as auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        class Fixed(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return cls.utcfromtimestamp(when)
        host = self.fa.url.split("://", 1)[1]
        req = AWSRequest(method="GET", url=f"https://{host}/?Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"x-k8s-aws-id": cluster})
        signer = auth.SigV4QueryAuth(Credentials(AK, SECRET, SESSION), "sts", REGION, expires=60)
        with mock.patch.object(auth.datetime, "datetime", Fixed):
            signer.add_auth(req)
        return "k8s-aws-v1." + base64.urlsafe_b64encode(req.url.encode()).decode().rstrip("=")

    def get_node(self, token):
        req = urllib.request.Request(self.fk.url + f"/api/v1/nodes/{NODE}",
                                     headers={"Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.fk.ctx) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def test_drains_its_own_node_with_a_native_eks_token(self):
        o = self.probe(*self.common, "--taint", "", "drain", NODE, env=self.env)
        st = self.assert_drained(self.fk, o)
        self.assertTrue(st["node"]["spec"]["unschedulable"])
        calls = self.sts_calls()
        self.assertGreaterEqual(len(calls), 1)
        self.assertTrue(all(c["signature_ok"] and c["status"] == 200 for c in calls), calls)
        self.assertEqual({c["x_k8s_aws_id"] for c in calls}, {CLUSTER})
        self.assertTrue(all(c["params"]["X-Amz-Expires"] == "60" and
                            c["params"]["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id" and c["session_token_sent"]
                            for c in calls), calls)
        self.assertIn("exec aws eks get-token (native EKS token for cluster prod-eu)", o.stderr)
        self.assertIn("made an EKS token for cluster prod-eu", o.stderr)
        self.assert_no_secrets(o.stdout + o.stderr)

    def test_eks_cluster_name_setting(self):
        o = self.probe("--api", self.fk.url, "--ca", self.fk.pki["ca"], "--eks-cluster", CLUSTER,
                       "--region", REGION, "--sts", self.fa.url, "--aws-ca", self.fk.pki["ca"],
                       "--taint", "", "drain", NODE, env=self.env)
        self.assert_drained(self.fk, o)
        self.assertIn("native EKS token for cluster prod-eu", o.stderr)
        self.assert_no_secrets(o.stdout + o.stderr)

    def test_other_nodes_pods_are_refused_cleanly(self):
        o = self.probe(*self.common, "--taint", "", "--deadline-s", "8", "--delete-blocked-at-ms", "0",
                       "drain", OTHER, env=self.env)
        self.assert_refused_other_node(self.fk, o)
        self.assert_no_secrets(o.stdout + o.stderr)

    def test_fake_checks_tokens_as_the_authenticator_does(self):
        now = time.time()
        self.assertEqual(self.get_node(self.token_at(now)), 200)
        self.assertEqual(self.get_node(self.token_at(now - 16 * 60)), 401)
        self.assertEqual(self.get_node(self.token_at(now, cluster="another-cluster")), 401)
        reasons = [r["reason"] for r in self.fk.state()["eks_rejections"]]
        self.assertTrue(any("X-Amz-Date parameter is expired (15 minute expiration)" in r for r in reasons), reasons)
        self.assertTrue(any("SignatureDoesNotMatch" in r for r in reasons), reasons)

    def test_token_is_made_again_while_a_drain_runs(self):
        self.fk.config(terminate_s=6)
        o = self.probe(*self.common, "--taint", "", "--eks-refresh-ms", "1000", "drain", NODE, env=self.env)
        self.assert_drained(self.fk, o)
        # Each new token is checked once with STS (the fake caches a good one); one made
        # every second over a drain that waits six seconds for its pods.
        self.assertGreaterEqual(len(self.sts_calls()), 3, o)
        self.assertGreaterEqual(o["token_reads"], 3)
        self.assert_no_secrets(o.stdout + o.stderr)

    def test_401_makes_a_new_token(self):
        self.fk.faults([{"path": f"/api/v1/nodes/{NODE}$", "method": "GET", "action": "status", "status": 401,
                         "count": 1}])
        o = self.probe(*self.common, "--taint", "", "cordon", NODE, env=self.env)
        self.assertEqual(o.rc, 0, o)
        self.assertIn("401 Unauthorized; making a new EKS token and retrying", o.stderr)
        self.assertGreaterEqual(o.stderr.count("made an EKS token"), 2, o)

    def test_unknown_exec_plugin_is_a_config_error(self):
        kc = os.path.join(self.tmp, "gke-kubeconfig")
        with open(self.kubeconfig) as f:
            text = f.read()
        with open(kc, "w") as f:
            f.write(re.sub(r"command: aws", "command: gke-gcloud-auth-plugin", text))
        o = self.probe("--kubeconfig", kc, "cordon", NODE, env=self.env)
        self.assertEqual(o.rc, 1, o)
        self.assertIn('exec command "gke-gcloud-auth-plugin" is not run; despotify makes the EKS token itself',
                      o.stdout)


class TestCheckConfig(unittest.TestCase):
    """`despotify -n` reads the kubeconfig and says what it gives, secrets aside."""

    def test_n_prints_the_kubeconfig(self):
        tmp = tempfile.mkdtemp(prefix="despotify-nodeid-n-")
        try:
            kc = os.path.join(tmp, "kubeconfig")
            with open(kc, "w") as f:
                f.write("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
                        "    server: https://10.0.0.1:6443\n    certificate-authority: ca.crt\n"
                        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
                        "users:\n- name: u\n  user:\n    token: inline-secret-token-123\n")
            ini = os.path.join(tmp, "despotify.ini")
            with open(ini, "w") as f:
                f.write(f"[DEFAULT]\nkubeconfig = {kc}\n")
            env = dict(ENV)
            p = subprocess.run([DAEMON, "-n", "-c", ini], capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(f"kubeconfig = {kc}", p.stdout)
            self.assertIn("# kubeconfig: context c: server https://10.0.0.1:6443, token (inline)", p.stdout)
            self.assertNotIn("inline-secret-token-123", p.stdout + p.stderr)
            # KUBECONFIG names it too; a list of files is refused; a bad file is exit 2 with the line.
            os.remove(ini)
            p = subprocess.run([DAEMON, "-n"], capture_output=True, text=True, timeout=60, cwd=tmp,
                               env=dict(env, KUBECONFIG=kc))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(f"kubeconfig = {kc}", p.stdout)
            p = subprocess.run([DAEMON, "-n"], capture_output=True, text=True, timeout=60, cwd=tmp,
                               env=dict(env, KUBECONFIG=kc + ":" + kc))
            self.assertEqual(p.returncode, 2)
            self.assertIn("lists several files; despotify reads one", p.stderr)
            with open(kc, "a") as f:
                f.write("  bad:\n\tindent\n")
            p = subprocess.run([DAEMON, "-n"], capture_output=True, text=True, timeout=60, cwd=tmp,
                               env=dict(env, KUBECONFIG=kc))
            self.assertEqual(p.returncode, 2)
            self.assertIn("line 19: tab in indentation", p.stderr)
            self.assertNotIn("inline-secret-token-123", p.stdout + p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
