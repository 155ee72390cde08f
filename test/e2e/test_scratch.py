"""The FROM-scratch image, proven without a Docker engine: the release
binary (musl, static) runs under chroot in a directory holding only what
Dockerfile.scratch puts in the image (the binary and despotify.ini) plus
what Kubernetes mounts into a pod (the service-account token and CA, and
/etc/hosts), as the image's non-root user, through a whole notice. There is
no /dev (so no /dev/urandom), no /lib, no /etc/ssl, no shell."""
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import cluster
from cluster import ACCESS_KEY, SECRET_KEY, Cluster

RELEASE = cluster.binary("release")
SA = "var/run/secrets/kubernetes.io/serviceaccount"
USER = "65532:65532"
INI = "etc/despotify/despotify.ini"


CHROOT = shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin")


def can_chroot():
    return os.geteuid() == 0 and CHROOT is not None


@unittest.skipUnless(can_chroot(), "needs root and chroot(8)")
class ScratchRoot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-scratch-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.root)
        # The image: exactly what Dockerfile.scratch copies.
        shutil.copy(RELEASE, os.path.join(self.root, "despotify"))
        os.makedirs(os.path.join(self.root, "etc", "despotify"))
        shutil.copy(os.path.join(os.environ["DESPOTIFY_ROOT"], "despotify.ini"),
                    os.path.join(self.root, INI))
        os.chmod(os.path.join(self.root, "despotify"), 0o755)
        os.chmod(os.path.join(self.root, INI), 0o644)
        self.c = None

    def tearDown(self):
        if self.c:
            self.c.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_binary_is_static_and_runs_in_an_empty_root(self):
        out = subprocess.run(["file", "-L", RELEASE], capture_output=True, text=True, timeout=30).stdout
        self.assertIn("statically linked", out)
        self.assertNotIn("interpreter", out)
        p = subprocess.run([CHROOT, "--userspec", USER, self.root, "/despotify", "-V"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^despotify ")
        p = subprocess.run([CHROOT, "--userspec", USER, self.root, "/despotify", "-n",
                            "-c", "/" + INI], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(os.listdir(self.root)), ["despotify", "etc"])

    def test_whole_notice_in_scratch_root(self):
        self.c = c = Cluster(self.tmp)
        made = c.k8s.generate(c.node, 12, mix=True)
        # What Kubernetes mounts into the pod.
        sa = os.path.join(self.root, SA)
        os.makedirs(sa)
        shutil.copy(c.token_file, os.path.join(sa, "token"))
        shutil.copy(c.pki["ca"], os.path.join(sa, "ca.crt"))
        with open(os.path.join(self.root, "etc", "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        for dirpath, dirnames, filenames in os.walk(self.root):
            for n in dirnames:
                os.chmod(os.path.join(dirpath, n), 0o755)
            for n in filenames:
                p = os.path.join(dirpath, n)
                os.chmod(p, os.stat(p).st_mode | stat.S_IROTH)
        port = c.k8s.url.rsplit(":", 1)[1]
        env = {
            # As the DaemonSet's pod sees it: the in-cluster variables and the downward API.
            "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
            "NODE_NAME": c.node, "POD_NAME": "despotify-abcde", "POD_NAMESPACE": "kube-system",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": c.imds.url,
            # Belt and braces: never let a test reach the real 169.254.169.254.
            "DESPOTIFY_IMDS_BASE": c.imds.url,
            "AWS_ENDPOINT_URL_AUTO_SCALING": c.aws.url, "AWS_REGION": "us-east-1",
            "AWS_CA_BUNDLE": "/" + SA + "/ca.crt",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "DESPOTIFY_POLL_INTERVAL": "0.2", "DESPOTIFY_PDB_RETRY_INTERVAL": "1",
        }
        d = cluster.Despotify([CHROOT, "--userspec", USER, self.root, "/despotify",
                               "-c", "/" + INI], env, os.path.join(self.tmp, "scratch.log"))
        c.procs.append(d)
        c.check_drain(self, d, made)
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()
