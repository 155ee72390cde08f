"""A short, bounded libFuzzer run of every fuzz target (build/fuzz/fuzz_*,
from `make fuzz`) over its committed seed corpus (test/fuzz/corpus/NAME/),
plus every input kept in test/fuzz/regress/NAME/ (crashes found earlier,
now fixed). New inputs go to a scratch directory, never into the tree.
FUZZ_SMOKE_S sets the seconds per target (default 8)."""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.environ["DESPOTIFY_ROOT"]
SECONDS = int(os.environ.get("FUZZ_SMOKE_S", "8"))
TARGETS = sorted(glob.glob(os.path.join(ROOT, "build", "fuzz", "fuzz_*")))


class FuzzSmoke(unittest.TestCase):
    def test_targets_built(self):
        sources = glob.glob(os.path.join(ROOT, "test", "fuzz", "fuzz_*.c"))
        built = {os.path.basename(t) for t in TARGETS}
        want = {os.path.basename(s)[:-2] for s in sources}
        self.assertEqual(want - built, set(), "fuzz targets not built (make fuzz)")


def make_test(target):
    name = os.path.basename(target)[len("fuzz_"):]

    def test(self):
        seeds = os.path.join(ROOT, "test", "fuzz", "corpus", name)
        regress = sorted(glob.glob(os.path.join(ROOT, "test", "fuzz", "regress", name, "*")))
        work = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
        try:
            env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1")
            if regress:
                p = subprocess.run([target, *regress], cwd=work, env=env, capture_output=True,
                                   text=True, timeout=300)
                self.assertEqual(p.returncode, 0, p.stderr[-3000:])
            dirs = [work] + ([seeds] if os.path.isdir(seeds) else [])
            p = subprocess.run([target, f"-max_total_time={SECONDS}", "-timeout=10",
                                "-rss_limit_mb=2048", "-max_len=65536", "-print_final_stats=1",
                                *dirs], cwd=work, env=env, capture_output=True, text=True,
                               timeout=SECONDS + 120)
            self.assertEqual(p.returncode, 0, f"{name}: {p.stderr[-3000:]}")
            self.assertIn("stat::number_of_executed_units", p.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return test


for _t in TARGETS:
    setattr(FuzzSmoke, "test_fuzz_" + os.path.basename(_t)[len("fuzz_"):], make_test(_t))

if __name__ == "__main__":
    unittest.main()
