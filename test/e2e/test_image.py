"""The OCI image that `make image` ships (tools/mkimage.py), built here
twice and run for real, without a Docker engine:

- the multi-arch index (linux/amd64 + linux/arm64), each image holding only
  /despotify and /etc/despotify/despotify.ini, user 65532, the entrypoint and
  the org.opencontainers.image.* labels; two builds of one commit give the
  same digest and the same archive bytes;
- the oci-archive's amd64 image, taken out with skopeo and unpacked by umoci
  into a runtime bundle, run by runc as the DaemonSet runs it: uid 65532
  (from the image), read-only root filesystem, the host's network namespace
  (hostNetwork), no capabilities, the service-account token and CA mounted
  where Kubernetes mounts them; it handles a whole notice against the fakes
  on 127.0.0.1.

Needs umoci, skopeo, and, for the run, runc as root."""
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

import cluster
from cluster import ACCESS_KEY, SECRET_KEY, Cluster

ROOT = cluster.ROOT
MKIMAGE = os.path.join(ROOT, "tools", "mkimage.py")
RUNC = shutil.which("runc") or shutil.which("runc", path="/usr/sbin:/sbin")
SA = "/var/run/secrets/kubernetes.io/serviceaccount"
INI = "/etc/despotify/despotify.ini"
LABELS = ("source", "version", "revision", "title", "licenses")
CMD_TIMEOUT = 300  # seconds for one image build, skopeo or umoci call


def tools_missing():
    return [t for t in ("umoci", "skopeo") if not shutil.which(t)]


def sh(*argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CMD_TIMEOUT, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace")


def build(out):
    """Runs tools/mkimage.py into out; returns the index digest it printed."""
    text = sh(sys.executable, MKIMAGE, "--out", out)
    return text.strip().splitlines()[-1].split()[-1]


def blob(layout, digest):
    with open(os.path.join(layout, "blobs", *digest.split(":", 1)), "rb") as f:
        return f.read()


@unittest.skipIf(tools_missing(), f"needs {' and '.join(tools_missing())} (./build.sh installs them)")
class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="despotify-image-")
        cls.out = os.path.join(cls.tmp, "a")
        cls.digest = build(cls.out)
        cls.layout = os.path.join(cls.out, "image", "oci")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def manifests(self):
        """{arch: (its descriptor in the index, its config, its layer's members)}."""
        index = json.loads(blob(self.layout, self.digest))
        self.assertEqual(index["mediaType"], "application/vnd.oci.image.index.v1+json")
        got = {}
        for d in index["manifests"]:
            m = json.loads(blob(self.layout, d["digest"]))
            config = json.loads(blob(self.layout, m["config"]["digest"]))
            self.assertEqual(len(m["layers"]), 1, m)
            layer = tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob(self.layout, m["layers"][0]["digest"]))))
            got[d["platform"]["architecture"]] = (d, config, layer.getmembers())
        return got

    def index_digest(self):
        with open(os.path.join(self.layout, "index.json")) as f:
            return json.load(f)["manifests"][0]["digest"]

    def test_index_holds_amd64_and_arm64_with_only_the_binary_and_the_config(self):
        self.assertEqual(self.index_digest(), self.digest)
        got = self.manifests()
        self.assertEqual(sorted(got), ["amd64", "arm64"])
        with open(os.path.join(ROOT, "VERSION")) as f:
            version = f.read().strip()
        revision = sh("git", "-C", ROOT, "rev-parse", "HEAD").strip()
        for arch, (desc, config, members) in got.items():
            self.assertEqual(desc["platform"], {"architecture": arch, "os": "linux"})
            self.assertEqual((config["os"], config["architecture"]), ("linux", arch))
            c = config["config"]
            self.assertEqual(c["User"], "65532:65532")
            self.assertEqual(c["Entrypoint"], ["/despotify"])
            self.assertEqual(c["Cmd"], ["-c", INI])
            self.assertNotIn("Env", c)
            for k in LABELS:
                self.assertTrue(c["Labels"].get("org.opencontainers.image." + k), k)
            self.assertEqual(c["Labels"]["org.opencontainers.image.version"], version)
            self.assertTrue(c["Labels"]["org.opencontainers.image.revision"].startswith(revision))
            files = {m.name: m for m in members}
            self.assertEqual(sorted(files), ["despotify", "etc", "etc/despotify", "etc/despotify/despotify.ini"])
            self.assertEqual(files["despotify"].mode, 0o755)
            self.assertEqual(files["etc/despotify/despotify.ini"].mode, 0o644)
            self.assertEqual({(m.uid, m.gid) for m in members}, {(0, 0)})
            with open(os.path.join(ROOT, "build", "release", "despotify-linux-" + arch), "rb") as f:
                self.assertEqual(files["despotify"].size, len(f.read()))

    def test_two_builds_of_one_commit_are_identical(self):
        out2 = os.path.join(self.tmp, "b")
        self.assertEqual(build(out2), self.digest)
        for name in ("despotify-oci.tar", "despotify-docker.tar", "despotify-docker-arm64.tar"):
            with open(os.path.join(self.out, name), "rb") as a, open(os.path.join(out2, name), "rb") as b:
                self.assertTrue(a.read() == b.read(), f"{name} differs between two builds")

    def test_archives_read_back_with_skopeo(self):
        oci = os.path.join(self.out, "despotify-oci.tar")
        raw = json.loads(sh("skopeo", "inspect", "--raw", f"oci-archive:{oci}"))
        self.assertEqual(sorted(m["platform"]["architecture"] for m in raw["manifests"]), ["amd64", "arm64"])
        for arch, name in (("amd64", "despotify-docker.tar"), ("arm64", "despotify-docker-arm64.tar")):
            info = json.loads(sh("skopeo", "inspect", "docker-archive:" + os.path.join(self.out, name)))
            self.assertEqual(info["Architecture"], arch)
            self.assertEqual(info["Os"], "linux")
            self.assertEqual(len(info["Layers"]), 1)


def can_runc():
    return os.geteuid() == 0 and RUNC is not None and not tools_missing()


@unittest.skipUnless(can_runc(), "needs root, runc, umoci and skopeo (runc creates namespaces as root)")
class RunInRunc(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="despotify-runc-")
        os.chmod(self.tmp, 0o755)
        self.c = None
        self.container = f"despotify-test-{os.getpid()}"
        self.state = os.path.join(self.tmp, "runc-state")
        build(os.path.join(self.tmp, "img"))

    def tearDown(self):
        if self.c:
            self.c.stop()
        subprocess.run([RUNC, "--root", self.state, "delete", "--force", self.container],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def bundle(self, env):
        """The amd64 image of the oci-archive as a runtime bundle, set up as
        the DaemonSet's pod; returns its path."""
        oci = os.path.join(self.tmp, "img", "despotify-oci.tar")
        sh("skopeo", "copy", "--quiet", "--override-arch", "amd64", f"oci-archive:{oci}",
           f"oci:{self.tmp}/one:run")
        bundle = os.path.join(self.tmp, "bundle")
        sh("umoci", "unpack", "--image", f"{self.tmp}/one:run", bundle)
        self.assertEqual(sorted(os.listdir(os.path.join(bundle, "rootfs"))), ["despotify", "etc"])
        path = os.path.join(bundle, "config.json")
        with open(path) as f:
            spec = json.load(f)
        proc = spec["process"]
        # What the image says, unchanged: the user and the command.
        self.assertEqual((proc["user"]["uid"], proc["user"]["gid"]), (65532, 65532))
        self.assertEqual(proc["args"], ["/despotify", "-c", INI])
        proc["terminal"] = False
        proc["env"] = [f"{k}={v}" for k, v in env.items()]
        proc["capabilities"] = {k: [] for k in proc["capabilities"]}  # drop: ["ALL"]
        spec["root"]["readonly"] = True
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
        spec["mounts"].append({"destination": SA, "type": "bind", "source": os.path.join(self.tmp, "sa"),
                               "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]})
        with open(path, "w") as f:
            json.dump(spec, f)
        return bundle

    def test_whole_notice_from_inside_the_container(self):
        self.c = c = Cluster(self.tmp)
        made = c.k8s.generate(c.node, 12, mix=True)
        sa = os.path.join(self.tmp, "sa")
        os.makedirs(sa)
        shutil.copy(c.token_file, os.path.join(sa, "token"))
        shutil.copy(c.pki["ca"], os.path.join(sa, "ca.crt"))
        for n in os.listdir(sa):
            os.chmod(os.path.join(sa, n), 0o644)
        port = c.k8s.url.rsplit(":", 1)[1]
        env = {
            # As the DaemonSet's pod sees it: the in-cluster variables and the downward API.
            "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
            "NODE_NAME": c.node, "POD_NAME": "despotify-abcde", "POD_NAMESPACE": "kube-system",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": c.imds.url, "DESPOTIFY_IMDS_BASE": c.imds.url,
            "AWS_ENDPOINT_URL_AUTO_SCALING": c.aws.url, "AWS_REGION": "us-east-1",
            "AWS_CA_BUNDLE": SA + "/ca.crt",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "DESPOTIFY_POLL_INTERVAL": "0.2", "DESPOTIFY_PDB_RETRY_INTERVAL": "1",
            "DESPOTIFY_LOG_FORMAT": "text",
        }
        bundle = self.bundle(env)
        d = cluster.Despotify([RUNC, "--root", self.state, "run", "--bundle", bundle, self.container],
                              {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, os.path.join(self.tmp, "runc.log"))
        c.procs.append(d)
        c.check_drain(self, d, made)
        # It ran as the image's user, in the container.
        ps = sh(RUNC, "--root", self.state, "ps", "--format", "json", self.container)
        pids = json.loads(ps)
        self.assertTrue(pids, "no process in the container")
        with open(f"/proc/{pids[0]}/status") as f:
            uids = [ln.split()[1:] for ln in f if ln.startswith("Uid:")][0]
        self.assertEqual(set(uids), {"65532"})
        with open(f"/proc/{pids[0]}/mountinfo") as f:
            root = [ln.split() for ln in f if ln.split()[4] == "/"][-1]
        self.assertIn("ro", root[5].split(","), root)
        self.assertEqual(os.readlink(f"/proc/{pids[0]}/ns/net"), os.readlink("/proc/self/ns/net"))
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()
