"""src/imds.c against test/fakes/fake_imds.py, through `probe imds`.

Covers every notice form, the IMDSv2 rules (tokens, renewal before expiry
and on 401, auto/v2/v1 fallback, the hop-limit diagnosis), instance facts,
role credentials, each fault followed by a good poll, back-off and
keep-alive reuse.
"""
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from imdsfake import FakeIMDS

ROOT = os.environ.get("DESPOTIFY_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(ROOT, "build", "asan", "probe")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")

ACTION = "/latest/meta-data/spot/instance-action"
TERMINATION = "/latest/meta-data/spot/termination-time"
REBALANCE = "/latest/meta-data/events/recommendations/rebalance"
INSTANCE_ID = "i-0fa1e0000000000001"   # the fake's defaults
PRIVATE_IP = "10.0.1.23"

POLL_RE = re.compile(r"^poll (\d+): (notice|none|fault)(.*)$")


def parse_poll(line):
    m = POLL_RE.match(line)
    if not m:
        raise AssertionError(f"not a poll line: {line!r}")
    out = {"n": int(m.group(1)), "result": m.group(2)}
    for kv in m.group(3).split():
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def parse_summary(out):
    for line in out.splitlines():
        if line.startswith("summary "):
            return {k: v for k, _, v in (kv.partition("=") for kv in line.split()[1:])}
    raise AssertionError("no summary line in:\n" + out)


class Stepper:
    """A `probe imds ... poll --step` run: each step() makes one poll and returns its line."""

    def __init__(self, args, count=100):
        self.proc = subprocess.Popen([PROBE, "imds"] + args + ["poll", "--count", str(count), "--step"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=ENV)
        self.buf = b""
        self.err = b""

    def step(self, timeout=60):
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("probe gave no poll line in time")
            r, _, _ = select.select([self.proc.stdout, self.proc.stderr], [], [], left)
            for f in r:
                chunk = os.read(f.fileno(), 65536)
                if f is self.proc.stdout:
                    if not chunk:
                        raise AssertionError("probe exited: " + self.err.decode(errors="replace"))
                    self.buf += chunk
                else:
                    self.err += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return parse_poll(line.decode())

    def finish(self, timeout=60):
        """Ends the run; returns (exit status, rest of stdout, all of stderr)."""
        try:
            out, err = self.proc.communicate(b"", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.err += err
        return self.proc.returncode, (self.buf + out).decode(), self.err.decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


class IMDSTest(unittest.TestCase):
    fake_args = ()

    def setUp(self):
        if not os.access(PROBE, os.X_OK):
            self.skipTest("build/asan/probe not built (make san)")
        self.tmp = tempfile.mkdtemp(prefix="despotify-imds-")
        self.fakes = []
        self.steppers = []
        self.fi = self.fake(self.fake_args)

    def tearDown(self):
        for s in self.steppers:
            s.kill()
        for f in self.fakes:
            f.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fake(self, args=(), name=None):
        f = FakeIMDS(self.tmp, args=list(args), name=name or f"imds{len(self.fakes)}")
        self.fakes.append(f)
        return f

    def probe(self, *args, timeout=120, base=None):
        p = subprocess.run([PROBE, "imds", "--base", base or self.fi.url] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode(errors="replace")

    def polls(self, *args, count=1, interval_ms=0, opts=()):
        """Runs count polls; returns (list of poll dicts, summary dict, stderr)."""
        rc, out, err = self.probe(*opts, *args, "poll", "--count", str(count),
                                  "--interval-ms", str(interval_ms))
        self.assertEqual(rc, 0, err)
        lines = [parse_poll(l) for l in out.splitlines() if l.startswith("poll ")]
        self.assertEqual(len(lines), count, out)
        self.assertNotIn("ERROR: AddressSanitizer", err)
        return lines, parse_summary(out), err

    def one(self, *opts):
        lines, _, err = self.polls(opts=opts)
        return lines[0], err

    def stepper(self, *args, base=None):
        s = Stepper(["--base", base or self.fi.url] + list(args))
        self.steppers.append(s)
        return s


class Notices(IMDSTest):
    def test_no_notice(self):
        p, err = self.one()
        self.assertEqual(p["result"], "none")
        st = self.fi.stats()
        # All three sources asked, with the token.
        for path in (ACTION, TERMINATION, REBALANCE):
            self.assertEqual(st["requests"].get("GET " + path), 1, st)
        self.assertEqual(st["without_token"], 0)

    def test_termination_time_with_time(self):
        self.fi.notice(termination_time="2030-01-02T03:04:05Z")
        p, _ = self.one()
        self.assertEqual(p["result"], "notice")
        self.assertEqual(p["kind"], "termination")
        self.assertEqual(p["source"], "termination-time")
        self.assertEqual(p["action"], "unknown")
        self.assertEqual(p["time"], "2030-01-02T03:04:05Z")
        self.assertEqual(p["time_given"], "1")
        self.assertTrue(p["url"].endswith(TERMINATION))

    def test_termination_time_past(self):
        self.fi.notice(termination_time="2015-01-05T18:02:00Z")
        p, _ = self.one()
        self.assertEqual(p["result"], "notice")
        self.assertEqual(p["time"], "2015-01-05T18:02:00Z")

    def test_termination_time_non_time_body(self):
        self.fi.notice(termination_time="yes, terminate me")
        before = int(time.time())
        p, _ = self.one()
        after = int(time.time())
        self.assertEqual(p["result"], "notice")
        self.assertEqual(p["time_given"], "0")
        self.assertTrue(before + 120 <= int(p["time_s"]) <= after + 120, p)

    def test_instance_action_each_action(self):
        for action in ("terminate", "stop", "hibernate"):
            with self.subTest(action=action):
                self.fi.notice(instance_action={"action": action, "time": "2017-09-18T08:22:00Z"})
                p, _ = self.one()
                self.assertEqual(p["result"], "notice")
                self.assertEqual(p["kind"], "termination")
                self.assertEqual(p["action"], action)
                self.assertEqual(p["source"], "instance-action")
                self.assertEqual(p["time"], "2017-09-18T08:22:00Z")

    def test_instance_action_wins_and_ends_the_poll(self):
        self.fi.notice(instance_action={"action": "stop", "time": "2030-01-01T00:00:00Z"},
                       termination_time="2030-01-01T00:00:00Z",
                       rebalance={"noticeTime": "2029-12-31T23:00:00Z"})
        self.fi.reset()
        p, _ = self.one()
        self.assertEqual((p["source"], p["action"]), ("instance-action", "stop"))
        st = self.fi.stats()
        self.assertNotIn("GET " + TERMINATION, st["requests"])
        self.assertNotIn("GET " + REBALANCE, st["requests"])

    def test_rebalance(self):
        self.fi.notice(rebalance={"noticeTime": "2030-06-01T12:00:00Z"})
        p, _ = self.one()
        self.assertEqual(p["result"], "notice")
        self.assertEqual(p["kind"], "rebalance")
        self.assertEqual(p["source"], "rebalance")
        self.assertEqual(p["time"], "2030-06-01T12:00:00Z")
        # A termination notice outranks it.
        self.fi.notice(termination_time="2030-06-01T12:05:00Z")
        p, _ = self.one()
        self.assertEqual((p["kind"], p["source"]), ("termination", "termination-time"))

    def test_custom_form_naming_us(self):
        # The identity comes from IMDS itself (--facts), by id and by private IP.
        for names in ([INSTANCE_ID], ["10.9.9.9", PRIVATE_IP]):
            with self.subTest(names=names):
                self.fi.notice(termination_time={"instances_to_terminate": ["i-0other"] + names})
                p, _ = self.one("--facts")
                self.assertEqual(p["result"], "notice")
                self.assertEqual(p["source"], "termination-time")
                self.assertEqual(p["time_given"], "0")

    def test_custom_form_not_naming_us(self):
        self.fi.notice(termination_time={"instances_to_terminate": ["i-0other", "10.0.1.230", "i-0fa1e"]})
        p, _ = self.one("--facts")
        self.assertEqual(p["result"], "none")

    def test_custom_service_elsewhere_gets_no_token(self):
        svc = self.fake(["--imds-v2", "optional"], name="custom")
        svc.path("/notice", '{"instances_to_terminate": ["%s"]}' % INSTANCE_ID)
        url = svc.url + "/notice"
        p, _ = self.one("--notice-url", url, "--instance-id", INSTANCE_ID)
        self.assertEqual(p["result"], "notice")
        self.assertEqual(p["url"], url)
        st = svc.stats()
        self.assertEqual(st["with_token"], 0)
        self.assertEqual(st["token_puts"], 0)
        self.assertEqual(st["requests"].get("GET /notice"), 1)

    def test_disabled_sources_are_not_asked(self):
        p, _ = self.one("--action-url", "", "--rebalance-url", "")
        self.assertEqual(p["result"], "none")
        st = self.fi.stats()
        self.assertNotIn("GET " + ACTION, st["requests"])
        self.assertNotIn("GET " + REBALANCE, st["requests"])
        self.assertEqual(st["requests"].get("GET " + TERMINATION), 1)

    def test_imds_base_moves_every_url(self):
        # Everything, the token URL and the derived fact and credential URLs included, goes
        # to imds_base (a trailing slash is fine); the default host is never tried.
        other = self.fake(name="other")
        for cmd in ("facts", "creds", "poll"):
            rc, out, err = self.probe(cmd, base=other.url + "/")
            self.assertEqual(rc, 0, err)
        st = other.stats()
        self.assertEqual(st["tokens_issued"], 3)
        for path in ("/latest/meta-data/local-hostname", "/latest/meta-data/iam/security-credentials/",
                     "/latest/dynamic/instance-identity/document", TERMINATION):
            self.assertEqual(st["requests"].get("GET " + path), 1, st)
        self.assertEqual(st["unauthorized"], 0)
        self.assertEqual(self.fi.stats()["requests"], {})


class Facts(IMDSTest):
    fake_args = ("--instance-id", "i-0123456789abcdef0", "--instance-type", "c6g.xlarge",
                 "--local-hostname", "ip-10-2-3-4.ec2.internal ip-10-2-3-4.corp.example",
                 "--private-ip", "10.2.3.4", "--region", "us-east-2", "--az", "us-east-2c",
                 "--account-id", "210987654321")

    def test_facts(self):
        rc, out, err = self.probe("facts")
        self.assertEqual(rc, 0, err)
        got = dict(l.split("=", 1) for l in out.splitlines())
        self.assertEqual(got, {
            "instance_id": "i-0123456789abcdef0", "instance_type": "c6g.xlarge",
            # local-hostname lists every DHCP domain name; the first is the node's.
            "local_hostname": "ip-10-2-3-4.ec2.internal", "region": "us-east-2",
            "az": "us-east-2c", "account_id": "210987654321", "private_ip": "10.2.3.4",
            "doc_instance_id": "i-0123456789abcdef0"})

    def test_facts_fault_is_an_error_naming_the_url(self):
        self.fi.faults([{"count": -1, "path": "instance-type", "action": "status", "status": 500}])
        rc, out, err = self.probe("facts")
        self.assertEqual(rc, 1)
        self.assertIn("/latest/meta-data/instance-type: HTTP 500", err)
        self.fi.faults(clear=True)
        self.fi.path("/latest/dynamic/instance-identity/document", '{"region": "us-east-2"}')
        rc, out, err = self.probe("facts")
        self.assertEqual(rc, 1)
        self.assertIn("instance identity document", err)
        self.assertIn("availabilityZone", err)


class Credentials(IMDSTest):
    def test_role_credentials(self):
        rc, out, err = self.probe("--level", "debug", "creds")
        self.assertEqual(rc, 0, err)
        got = dict(l.split("=", 1) for l in out.splitlines())
        self.assertEqual(got["role"], "despotify-node-role")
        self.assertEqual(got["access_key_id"], "ASIAFAKEIMDS00000001")
        self.assertEqual(got["secret_access_key"], "fakeSecretKeyFromIMDS/0000000000000000000")
        self.assertTrue(got["token"].startswith("FakeSessionTokenFromIMDS"))
        self.assertAlmostEqual(int(got["expiration_s"]), time.time() + 6 * 3600, delta=120)
        # Nothing secret on the log, even at DEBUG: not the keys, not the IMDS token.
        for secret in ("fakeSecretKeyFromIMDS", "FakeSessionTokenFromIMDS", "AQAEA"):
            self.assertNotIn(secret, err)

    def test_no_role(self):
        fi = self.fake(["--role", ""])
        rc, out, err = self.probe("creds", base=fi.url)
        self.assertEqual(rc, 1)
        self.assertIn("no IAM role", err)

    def test_code_not_success(self):
        self.fi.creds(Code="AssumeRoleUnauthorizedAccess")
        rc, out, err = self.probe("creds")
        self.assertEqual(rc, 1)
        self.assertIn("AssumeRoleUnauthorizedAccess", err)
        self.assertNotIn("fakeSecretKeyFromIMDS", err)

    def test_expiration_honoured(self):
        self.fi.creds(Expiration="2031-02-03T04:05:06Z")
        rc, out, err = self.probe("creds")
        self.assertEqual(rc, 0, err)
        self.assertIn("expiration=2031-02-03T04:05:06Z", out)


class Versions(IMDSTest):
    def test_auto_falls_back_on_refused_put(self):
        for status in (403, 404, 405):
            with self.subTest(status=status):
                fi = self.fake(["--put-status", str(status)])
                lines, summ, err = self.polls(count=3, opts=["--base", fi.url, "--level", "info"])
                self.assertEqual([p["result"] for p in lines], ["none"] * 3, err)
                self.assertEqual(err.count("using IMDSv1"), 1, err)
                self.assertIn(f"HTTP {status}", err)
                st = fi.stats()
                self.assertEqual(st["token_puts"], 1)
                self.assertEqual(st["with_token"], 0)
                self.assertEqual(st["without_token"], 9)

    def test_auto_does_not_fall_back_on_timeout(self):
        # IMDSv1 would work here; a token PUT that never answers must not be taken for "no v2".
        fi = self.fake(["--imds-v2", "optional"])
        fi.faults([{"count": -1, "path": "^/latest/api/token$", "action": "stall", "seconds": 30}])
        lines, _, err = self.polls(count=2, opts=["--base", fi.url, "--timeout-ms", "3000"])
        self.assertEqual([p["result"] for p in lines], ["fault", "fault"], err)
        self.assertNotIn("using IMDSv1", err)
        st = fi.stats()
        for path in (ACTION, TERMINATION, REBALANCE):
            self.assertNotIn("GET " + path, st["requests"])

    def test_hop_limit_diagnosis(self):
        # The PUT's answer is lost (hop limit 1 from a pod); a plain GET gets its 401 quickly.
        self.fi.faults([{"count": -1, "path": "^/latest/api/token$", "action": "stall", "seconds": 30}])
        lines, _, err = self.polls(count=3, opts=["--timeout-ms", "3000", "--level", "info"])
        self.assertEqual([p["result"] for p in lines], ["fault"] * 3)
        self.assertEqual(err.count("hop limit is too low"), 1, err)
        self.assertIn("hostNetwork", err)
        self.assertIn("HTTP 401", err)
        self.assertEqual(len([l for l in err.splitlines() if "ERROR" in l]), 1, err)

    def test_no_hop_limit_message_when_imds_is_just_down(self):
        self.fi.faults([{"count": -1, "action": "stall", "seconds": 30}])
        lines, _, err = self.polls(count=1, opts=["--timeout-ms", "1500"])
        self.assertEqual(lines[0]["result"], "fault")
        self.assertNotIn("hop limit", err)

    def test_v2_strict_never_falls_back(self):
        fi = self.fake(["--put-status", "403"])
        lines, _, err = self.polls(count=2, opts=["--base", fi.url, "--version", "v2"])
        self.assertEqual([p["result"] for p in lines], ["fault", "fault"])
        self.assertIn("HTTP 403", err)
        self.assertIn("imds_version = v2", err)
        self.assertEqual(fi.stats()["without_token"], 0)

    def test_v1_strict(self):
        # Against an IMDS that requires tokens: 401, said plainly; never a PUT.
        lines, _, err = self.polls(count=1, opts=["--version", "v1"])
        self.assertEqual(lines[0]["result"], "fault")
        self.assertIn("HTTP 401", err)
        self.assertIn("imds_version = v1", err)
        self.assertEqual(self.fi.stats()["token_puts"], 0)
        # Against one that allows IMDSv1: works, tokenless.
        fi = self.fake(["--imds-v2", "optional"])
        fi.notice(termination_time="2030-01-01T00:00:00Z")
        lines, _, err = self.polls(count=1, opts=["--base", fi.url, "--version", "v1"])
        self.assertEqual(lines[0]["result"], "notice")
        st = fi.stats()
        self.assertEqual((st["token_puts"], st["with_token"]), (0, 0))

    def test_fallback_reverts_when_tokens_become_required(self):
        fi = self.fake(["--put-status", "405"])
        s = self.stepper("--level", "info", base=fi.url)
        self.assertEqual(s.step()["result"], "none")
        fi.config(put_status=None, imds_v2="required")
        self.assertEqual(s.step()["result"], "none")   # 401 -> token PUT now granted -> retried
        self.assertEqual(s.step()["result"], "none")
        rc, out, err = s.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("IMDSv2 token granted again", err)
        st = fi.stats()
        self.assertEqual(st["tokens_issued"], 1)
        self.assertEqual(st["unauthorized"], 1)


class Tokens(IMDSTest):
    def test_renewed_before_expiry(self):
        # Tokens live 4 s here; renewal at half-life leaves 2 s of margin, so no GET meets a 401.
        fi = self.fake(["--max-ttl", "4"])
        lines, summ, err = self.polls(count=30, interval_ms=250, opts=["--base", fi.url])
        self.assertEqual({p["result"] for p in lines}, {"none"}, err)
        st = fi.stats()
        self.assertGreaterEqual(st["tokens_issued"], 2, st)
        self.assertEqual(st["unauthorized"], 0, st)
        self.assertEqual(st["without_token"], 0)

    def test_renewed_on_401_when_the_ttl_lies(self):
        fi = self.fake(["--max-ttl", "1", "--hide-ttl"])
        lines, summ, err = self.polls(count=8, interval_ms=600, opts=["--base", fi.url])
        self.assertEqual({p["result"] for p in lines}, {"none"}, err)
        st = fi.stats()
        self.assertGreaterEqual(st["unauthorized"], 1, st)
        self.assertGreaterEqual(st["tokens_issued"], 2, st)

    def test_renewed_on_401_after_revocation(self):
        s = self.stepper()
        self.assertEqual(s.step()["result"], "none")
        self.fi.revoke_tokens()
        self.assertEqual(s.step()["result"], "none")
        rc, out, err = s.finish()
        self.assertEqual(rc, 0, err)
        st = self.fi.stats()
        self.assertEqual(st["tokens_issued"], 2)
        self.assertEqual(st["unauthorized"], 1)
        self.assertEqual(parse_summary(out)["tokens"], "2")


class Faults(IMDSTest):
    def fault_then_good(self, rules, expect_in_log, timeout_ms=2000, path=ACTION):
        s = self.stepper("--timeout-ms", str(timeout_ms), "--level", "info")
        self.assertEqual(s.step()["result"], "none")
        self.fi.faults(rules)
        bad = s.step()
        self.fi.faults(clear=True)
        good = s.step()
        rc, out, err = s.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(bad["result"], "fault", err)
        self.assertEqual(good["result"], "none", err)
        self.assertRegex(err, expect_in_log)
        self.assertIn("polls work again after 1 failed", err)
        self.assertNotIn("AddressSanitizer", err)
        return bad, err

    def test_5xx(self):
        for status in (500, 503):
            with self.subTest(status=status):
                self.fault_then_good([{"count": -1, "path": "instance-action", "action": "status", "status": status}],
                                     f"instance-action: HTTP {status}")

    def test_429_retry_after(self):
        bad, _ = self.fault_then_good([{"count": -1, "path": "instance-action", "action": "status", "status": 429,
                                        "retry_after": 3}], "HTTP 429")
        self.assertGreaterEqual(int(bad["delay_ms"]), 3000)

    def test_dropped_connections(self):
        for action in ("drop", "reset"):
            with self.subTest(action=action):
                self.fault_then_good([{"count": -1, "path": "instance-action", "action": action}], "instance-action: ")

    def test_stall_past_deadline(self):
        self.fault_then_good([{"count": -1, "path": "termination-time", "action": "stall", "seconds": 30}],
                             "termination-time: .*timed out", timeout_ms=1500)

    def test_garbage_body(self):
        self.fault_then_good([{"count": -1, "path": "instance-action", "action": "garbage"}],
                             "instance-action: .*JSON")
        # On termination-time any 200 is a notice, garbage included (the seed's rule).
        self.fi.faults([{"count": -1, "path": "termination-time", "action": "garbage"}])
        p, _ = self.one()
        self.assertEqual(p["result"], "notice")
        self.assertEqual(p["time_given"], "0")

    def test_oversized_body(self):
        self.fault_then_good([{"count": -1, "path": "termination-time", "action": "oversize", "size": 1 << 20}],
                             "termination-time: .*(over|large|big)")

    def test_truncated_body(self):
        self.fault_then_good([{"count": -1, "path": "rebalance", "action": "truncate"}], "rebalance: ")

    def test_token_put_5xx(self):
        fi = self.fi
        s = self.stepper("--level", "info")
        fi.faults([{"count": -1, "path": "api/token", "action": "status", "status": 500}])
        self.assertEqual(s.step()["result"], "fault")
        fi.faults(clear=True)
        self.assertEqual(s.step()["result"], "none")
        rc, out, err = s.finish()
        self.assertIn("PUT " + fi.url + "/latest/api/token: HTTP 500", err)

    def test_refused_connections(self):
        s = self.stepper("--timeout-ms", "1500", "--level", "info")
        self.assertEqual(s.step()["result"], "none")
        self.fi.refuse(5)
        bad = s.step()
        self.assertEqual(bad["result"], "fault")
        # Wait for the fake to listen again, then poll.
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.fi.port), timeout=1).close()
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline, "fake did not listen again")
                time.sleep(0.2)
        self.assertEqual(s.step()["result"], "none")
        rc, out, err = s.finish()
        self.assertIn("refused", err)
        self.assertIn("polls work again", err)

    def test_backoff_and_rate_limited_log(self):
        s = self.stepper("--poll-interval-ms", "1000", "--level", "info")
        self.fi.faults([{"count": -1, "path": "instance-action", "action": "status", "status": 503}])
        delays = [int(s.step()["delay_ms"]) for _ in range(5)]
        self.assertEqual(delays, [2000, 4000, 8000, 10000, 10000])
        self.fi.faults(clear=True)
        good = s.step()
        self.assertEqual((good["result"], good["delay_ms"]), ("none", "1000"))
        rc, out, err = s.finish()
        # Five failed polls, one warning line (a minute's rate limit), one recovery line.
        self.assertEqual(len([l for l in err.splitlines() if "poll failed" in l]), 1, err)
        self.assertIn("polls work again after 5 failed", err)


class Cost(IMDSTest):
    def test_keep_alive_one_connection_one_token(self):
        lines, summ, err = self.polls(count=200, opts=["--level", "info"])
        self.assertEqual({p["result"] for p in lines}, {"none"})
        st = self.fi.stats()
        self.assertEqual(st["connections"], 1, st)
        self.assertEqual(st["tokens_issued"], 1)
        self.assertEqual(st["max_requests_per_connection"], 601)
        self.assertEqual(summ["connects"], "1")
        # Nothing logged per poll at INFO: only the one "using IMDSv2" line.
        self.assertLessEqual(len(err.splitlines()), 1, err)

    def test_keep_alive_survives_a_fault(self):
        s = self.stepper("--timeout-ms", "1500")
        for _ in range(3):
            self.assertEqual(s.step()["result"], "none")
        self.fi.faults([{"path": "instance-action", "action": "status", "status": 503, "count": 1}])
        self.assertEqual(s.step()["result"], "fault")
        for _ in range(3):
            self.assertEqual(s.step()["result"], "none")
        s.finish()
        # A 503 is an answer, not a broken connection: still one connection.
        self.assertEqual(self.fi.stats()["connections"], 1)


if __name__ == "__main__":
    unittest.main()
