#!/usr/bin/python3
"""Runs every test despotify has and prints, as its last line,
"N passed, N failed". Exit status 0 only if nothing failed.

  test/run.py                 everything
  test/run.py http imds       only unit programs / e2e modules whose name contains a word

Unit tests are the sanitizer-built programs build/asan/test_*; end-to-end
tests are the unittest modules test/e2e/test_*.py, which drive the binaries
against the fakes in test/fakes/ on 127.0.0.1. The drain and handling tests
in TSAN_E2E then run a second time against the ThreadSanitizer build
(build/tsan/despotify and build/tsan/probe, `make tsan`), named "tsan:" in
the output; a data race, a bad mutex or a leaked thread makes them fail.
Those of them that run the daemon run a third time against the release
build (build/despotify: static musl, as shipped), named "release:".
test_k8s_real.py runs against a real kube-apiserver (test/lib/realk8s.py);
without one (no ../shared and no KUBE_APISERVER) that suite is skipped, and a
"*** SKIPPED: ..." line above the summary says so.
"""
import glob
import os
import signal
import subprocess
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNIT_TIMEOUT = 300      # seconds for one unit-test program
E2E_TEST_TIMEOUT = 300  # seconds for one end-to-end test method
# Threads at work: the handling's jobs beside the poll loop, the drain's workers,
# the cordon beside them, a takeover. Kept short: each is a few seconds.
TSAN_E2E = [
    "test_failures.CordonFailing",
    "test_failures.TaintRefused.test_2_node_restriction_cordons_without_the_taint",
    "test_failures.RebalanceAdvisory.test_3_rebalance_cordon_only_then_termination_drains",
    "test_failures.FactsLater.test_5_notice_polled_while_imds_fails_every_other_request",
    "test_failures.LatePod",
    "test_failures.Throttled",
    "test_daemon.HappyPath.test_instance_action_full_flow",
    "test_k8s.TestDrain.test_parallel_evictions_bounded_by_concurrency",
    "test_k8s.TestDrain.test_apf_retry_after_is_honoured",
    "test_k8s.TestDrain.test_new_pod_on_the_node_is_drained_too",
    "test_k8s.TestDrain.test_events_from_two_threads",
]
# The shipped build (static musl, its own allocator and resolver) runs the
# daemon's share of them once more: everything else runs the sanitizer build.
RELEASE_E2E = [n for n in TSAN_E2E if n.startswith(("test_failures.", "test_daemon."))]
TSAN_OPTIONS = "halt_on_error=1:exitcode=66:second_deadlock_stack=1"

passed = failed = skipped = 0
failures = []
loud_skips = []   # skip reasons starting "SKIPPED:": whole suites that did not run (no real API server)


def wanted(name, words):
    return not words or any(w in name for w in words)


def run_unit(words):
    global passed, failed
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    for prog in sorted(glob.glob(os.path.join(ROOT, "build/asan/test_*"))):
        name = os.path.basename(prog)
        if not wanted(name, words):
            continue
        try:
            p = subprocess.run([prog], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=UNIT_TIMEOUT)
            out, rc = p.stdout.decode(errors="replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"").decode(errors="replace"), "timeout"
        n_ok = n_bad = 0
        for line in out.splitlines():
            if line.startswith("ok "):
                n_ok += 1
            elif line.startswith("not ok "):
                n_bad += 1
                failures.append(f"{name}: {line[7:]}")
        if rc != 0 and n_bad == 0:
            n_bad = 1  # a crash, a sanitizer report or a time-out outside any test
            failures.append(f"{name}: exited with {rc}")
        if n_bad:
            sys.stdout.write(out)
        print(f"{name}: {n_ok} passed, {n_bad} failed")
        passed += n_ok
        failed += n_bad


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        signal.alarm(E2E_TEST_TIMEOUT)
        super().startTest(test)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)


def _alarm(signum, frame):
    raise TimeoutError(f"test ran longer than {E2E_TEST_TIMEOUT} s")


def run_e2e(words):
    global passed, failed, skipped
    sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
    sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
    signal.signal(signal.SIGALRM, _alarm)
    loader = unittest.TestLoader()
    for path in sorted(glob.glob(os.path.join(ROOT, "test/e2e/test_*.py"))):
        mod = os.path.basename(path)[:-3]
        if not wanted(mod, words):
            continue
        suite = loader.loadTestsFromName(mod)
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
        r = runner.run(suite)
        bad = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
        for t, _ in r.failures + r.errors:
            failures.append(f"{mod}: {t.id()}")
        # A skipped setUpClass is in r.skipped but not in r.testsRun.
        class_skips = sum(1 for t, _ in r.skipped if not isinstance(t, unittest.TestCase))
        passed += r.testsRun - bad - (len(r.skipped) - class_skips)
        failed += bad
        skipped += len(r.skipped)
        for t, why in r.skipped:
            if why.startswith("SKIPPED:") and why not in loud_skips:
                loud_skips.append(why)
                print(f"\n*** {mod}: {why} ***\n")


def run_again(label, names, env, missing, words):
    """The end-to-end tests named (module.Class[.test]) once more with env set
    (the binaries under test), counted and named "label:" in the output;
    missing is the build's paths, any of them absent is one failure."""
    global passed, failed
    names = [n for n in names if wanted(n.split(".")[0], words)]
    if not names:
        return
    gone = [m for m in missing if not os.path.exists(m)]
    if gone:
        failures.append(f"{label}: {', '.join(gone)} missing")
        failed += 1
        return
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        suite = unittest.TestLoader().loadTestsFromNames(names)
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
        print(f"{label}: the drain and handling tests against {env['DESPOTIFY_BIN']}")
        r = runner.run(suite)
        bad = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
        for t, _ in r.failures + r.errors:
            failures.append(f"{label}: {t.id()}")
        passed += r.testsRun - bad - len(r.skipped)
        failed += bad
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_tsan(words):
    binary, probe = (os.path.join(ROOT, "build", "tsan", b) for b in ("despotify", "probe"))
    run_again("tsan", TSAN_E2E, dict(DESPOTIFY_BIN=binary, DESPOTIFY_PROBE=probe,
              TSAN_OPTIONS=TSAN_OPTIONS), [binary, probe], words)


def run_release(words):
    binary = os.path.join(ROOT, "build", "despotify")
    run_again("release", RELEASE_E2E, dict(DESPOTIFY_BIN=binary), [binary], words)


def main():
    words = sys.argv[1:]
    os.environ.setdefault("DESPOTIFY_ROOT", ROOT)
    run_unit(words)
    run_e2e(words)
    run_tsan(words)
    run_release(words)
    if failures:
        print("\nfailed:")
        for f in failures:
            print("  " + f)
    for why in loud_skips:
        print("*** " + why + " ***")
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
