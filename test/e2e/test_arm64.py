"""The arm64 build (Graviton nodes) under qemu-user-static: every unit
program built for arm64 (static musl, no sanitizers: build/arm64/test_*), and
a representative set of the end-to-end tests of test_daemon.py (a whole
notice, a PDB-blocked drain, a restart mid-drain) run unchanged against
build/release/despotify-linux-arm64. binfmt_misc need not be registered:
qemu-aarch64-static is called directly. `make test` builds both first
(`make arm64 release`)."""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

import test_daemon

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
QEMU = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64-static", path="/usr/bin")
RELEASE_ARM64 = os.path.join(ROOT, "build", "release", "despotify-linux-arm64")
UNIT_DIR = os.path.join(ROOT, "build", "arm64")
UNIT_TIMEOUT = 600  # seconds for one unit program under emulation
NO_QEMU = "qemu-aarch64-static is not installed (DESPOTIFY_TEST_DEPS=1 ./build.sh --deps installs qemu-user-static)"

# The end-to-end tests that stand for the whole suite on arm64.
REPRESENTATIVE = [
    (test_daemon.HappyPath, "test_instance_action_full_flow"),
    (test_daemon.Faults, "test_pdb_blocked_pod_deleted_before_deadline"),
    (test_daemon.Restart, "test_restart_mid_drain_resumes"),
]

_wrapper_dir = None


def wrapper():
    """A one-line executable that runs the arm64 release binary under qemu,
    for DESPOTIFY_BIN (cluster.binary() takes a single path). It execs, so
    signals sent to the test's process reach qemu, which passes them on."""
    global _wrapper_dir
    if _wrapper_dir is None:
        _wrapper_dir = tempfile.mkdtemp(prefix="despotify-arm64-")
    path = os.path.join(_wrapper_dir, "despotify-arm64")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\nexec {QEMU} {RELEASE_ARM64} "$@"\n')
        os.chmod(path, 0o755)
    return path


def tearDownModule():
    if _wrapper_dir:
        shutil.rmtree(_wrapper_dir, ignore_errors=True)


class OnArm64:
    """Mixed into a test_daemon test class: the same test, with DESPOTIFY_BIN
    pointing at the arm64 binary for its duration."""

    def setUp(self):
        if not QEMU:
            self.skipTest(NO_QEMU)
        self.assertTrue(os.path.exists(RELEASE_ARM64), f"{RELEASE_ARM64} is missing: run make release")
        old = os.environ.get("DESPOTIFY_BIN")
        os.environ["DESPOTIFY_BIN"] = wrapper()
        self.addCleanup(self._restore_bin, old)
        super().setUp()

    @staticmethod
    def _restore_bin(old):
        if old is None:
            os.environ.pop("DESPOTIFY_BIN", None)
        else:
            os.environ["DESPOTIFY_BIN"] = old


class Arm64Binary(unittest.TestCase):
    def test_release_binary_is_static_aarch64_and_runs(self):
        if not QEMU:
            self.skipTest(NO_QEMU)
        out = subprocess.run(["file", "-L", RELEASE_ARM64], capture_output=True, text=True,
                             timeout=30).stdout
        self.assertIn("ARM aarch64", out)
        self.assertIn("statically linked", out)
        self.assertNotIn("interpreter", out)
        p = subprocess.run([QEMU, RELEASE_ARM64, "-V"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^despotify ")
        p = subprocess.run([QEMU, RELEASE_ARM64, "-n", "-c", os.path.join(ROOT, "despotify.ini")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)


class Arm64Units(unittest.TestCase):
    """One test per unit program (test_ini, test_http, ...), filled in below."""

    def run_unit(self, name):
        if not QEMU:
            self.skipTest(NO_QEMU)
        prog = os.path.join(UNIT_DIR, name)
        self.assertTrue(os.path.exists(prog), f"{prog} is missing: run make arm64")
        p = subprocess.run([QEMU, prog], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=UNIT_TIMEOUT)
        out = p.stdout.decode(errors="replace")
        lines = out.splitlines()
        bad = [ln for ln in lines if ln.startswith("not ok ")]
        self.assertEqual(bad, [], out)
        self.assertEqual(p.returncode, 0, out)
        self.assertTrue(any(ln.startswith("ok ") for ln in lines), f"{name} ran no test:\n{out}")


def _unit_names():
    # From the sources, not the build directory, so a program that failed to
    # build is a failing test rather than a missing one.
    return sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(ROOT, "test", "unit", "test_*.c")))


for _name in _unit_names():
    setattr(Arm64Units, _name, lambda self, n=_name: self.run_unit(n))


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    suite.addTests(loader.loadTestsFromTestCase(Arm64Binary))
    suite.addTests(loader.loadTestsFromTestCase(Arm64Units))
    for base, method in REPRESENTATIVE:
        cls = type(base.__name__ + "Arm64", (OnArm64, base), {"__module__": __name__})
        suite.addTest(cls(method))
    return suite


if __name__ == "__main__":
    unittest.main()
