"""deploy/ as a kustomize base: `kubectl kustomize deploy/` renders, and what
it renders holds together at the schema level: each object's kind,
apiVersion and required fields; the DaemonSet's image is the one
kustomization.yaml names, at the VERSION; its pod runs on the host network
as the image's non-root user with a read-only root; the ServiceAccount, the
ClusterRole and the ClusterRoleBinding name each other; the ConfigMap it
mounts exists and its despotify.ini passes `despotify -n`."""
import os
import shutil
import subprocess
import tempfile
import unittest

import yaml

import cluster

ROOT = cluster.ROOT
DEPLOY = os.path.join(ROOT, "deploy")
KUBECTL = shutil.which("kubectl")

API_VERSIONS = {
    "ServiceAccount": "v1",
    "ConfigMap": "v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "DaemonSet": "apps/v1",
}
NAMESPACED = {"ServiceAccount", "ConfigMap", "DaemonSet"}
IMAGE_UID = 65532  # the user of the image (tools/mkimage.py, Dockerfile.scratch)


@unittest.skipIf(KUBECTL is None, "needs kubectl (DESPOTIFY_TEST_DEPS=1 ./build.sh --deps installs kubernetes-client)")
class Kustomize(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = subprocess.run([KUBECTL, "kustomize", DEPLOY], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"kubectl kustomize deploy/ failed:\n{p.stderr}")
        cls.docs = [d for d in yaml.safe_load_all(p.stdout) if d]
        with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
            cls.kustomization = yaml.safe_load(f)

    def one(self, kind):
        found = [d for d in self.docs if d["kind"] == kind]
        self.assertEqual(len(found), 1, f"{kind}: {len(found)} objects")
        return found[0]

    def test_kinds_api_versions_and_metadata(self):
        self.assertEqual(sorted(d["kind"] for d in self.docs), sorted(API_VERSIONS))
        for d in self.docs:
            self.assertEqual(d["apiVersion"], API_VERSIONS[d["kind"]], d["kind"])
            self.assertTrue(d["metadata"].get("name"), d["kind"])
            if d["kind"] in NAMESPACED:
                self.assertTrue(d["metadata"].get("namespace"), d["kind"])
            else:
                self.assertNotIn("namespace", d["metadata"], d["kind"])

    def test_daemonset_image_is_the_kustomization_one_at_the_version(self):
        images = self.kustomization["images"]
        self.assertEqual(len(images), 1)
        with open(os.path.join(ROOT, "VERSION")) as f:
            version = f.read().strip()
        self.assertEqual(str(images[0]["newTag"]), version, "kustomization.yaml's newTag is not VERSION")
        pod = self.one("DaemonSet")["spec"]["template"]["spec"]
        self.assertEqual([c["image"] for c in pod["containers"]], [f"{images[0]['newName']}:{version}"])

    def test_daemonset_pod_spec(self):
        ds = self.one("DaemonSet")
        spec = ds["spec"]
        labels = spec["template"]["metadata"]["labels"]
        for k, v in spec["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v, "the selector does not match the pod template")
        pod = spec["template"]["spec"]
        self.assertIs(pod.get("hostNetwork"), True)
        self.assertEqual(pod.get("dnsPolicy"), "ClusterFirstWithHostNet")
        self.assertIs(pod["securityContext"].get("runAsNonRoot"), True)
        self.assertEqual(pod["securityContext"].get("runAsUser"), IMAGE_UID)
        self.assertEqual(len(pod["containers"]), 1)
        c = pod["containers"][0]
        self.assertTrue(c.get("name"))
        sc = c["securityContext"]
        self.assertIs(sc.get("readOnlyRootFilesystem"), True)
        self.assertIs(sc.get("allowPrivilegeEscalation"), False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        downward = {e["name"] for e in c["env"] if "valueFrom" in e}
        self.assertLessEqual({"NODE_NAME", "POD_NAME", "POD_NAMESPACE"}, downward)
        # The config the args name is the ConfigMap's key, mounted where the args say.
        self.assertEqual(c["args"][0], "-c")
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        cm = self.one("ConfigMap")
        config_volume = [n for n, v in volumes.items()
                         if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
        self.assertEqual(len(config_volume), 1, "no volume from the ConfigMap")
        mount = mounts[config_volume[0]]
        self.assertEqual(os.path.dirname(c["args"][1]), mount)
        self.assertIn(os.path.basename(c["args"][1]), cm["data"])
        self.assertEqual(cm["metadata"]["namespace"], ds["metadata"]["namespace"])

    def test_service_account_role_and_binding_agree(self):
        ds = self.one("DaemonSet")
        sa = self.one("ServiceAccount")
        role = self.one("ClusterRole")
        binding = self.one("ClusterRoleBinding")
        self.assertEqual(ds["spec"]["template"]["spec"]["serviceAccountName"], sa["metadata"]["name"])
        self.assertEqual(sa["metadata"]["namespace"], ds["metadata"]["namespace"])
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "ClusterRole", "name": role["metadata"]["name"]})
        self.assertIn({"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                       "namespace": sa["metadata"]["namespace"]}, binding["subjects"])
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                self.assertTrue(rule.get(key), f"a ClusterRole rule without {key}")

    def test_configmap_ini_passes_check(self):
        cm = self.one("ConfigMap")
        tmp = tempfile.mkdtemp(prefix="despotify-deploy-")
        try:
            path = os.path.join(tmp, "despotify.ini")
            with open(path, "w") as f:
                f.write(cm["data"]["despotify.ini"])
            p = subprocess.run([cluster.binary("release"), "-n", "-c", path], capture_output=True,
                               text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
