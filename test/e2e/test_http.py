"""End-to-end tests of the HTTP client (src/http.c, tls.c, net.c) through
`probe http`, against servers on 127.0.0.1 started here (test/lib/httpfakes.py)
with the test PKI of test/lib/pki.py."""
import os
import socket
import subprocess
import time
import unittest

import pki
from fakeproc import free_port
from httpfakes import HttpServer, ProxyServer, RawServer, read_request
from proberun import ProbeRun

ROOT = os.environ["DESPOTIFY_ROOT"]
PROBE = os.path.join(ROOT, "build", "asan", "probe")
VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
              "all_proxy", "ALL_PROXY")


def wait_port(port, proc, timeout=10):
    """Waits until something listens on port (False if proc died or time ran out)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Result(ProbeRun):
    def __init__(self, p, elapsed):
        super().__init__(p, elapsed)
        self.statuses = [int(l.split()[0]) for l in self.lines("status ")]
        self.bodies = self.lines("body ")
        self.body_lens = [int(l.split()[0]) for l in self.lines("body_len ")]
        c = [int(l.split()[0]) for l in self.lines("connects ")]
        self.connects = c[0] if c else None


class HttpTestBase(pki.PkiTestCase):
    tmp_prefix = "despotify-http-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = cls.pki["dir"]
        # Certificates the shared PKI lacks: an IP SAN for another address,
        # an expired one, and the keys in their traditional PEM forms.
        pki._leaf(d, "otherip", "ca", "IP:10.0.0.1,DNS:localhost")
        subprocess.run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt",
                        "-CAkey", "ca.key", "-CAcreateserial", "-out", "expired.crt", "-days", "-1",
                        "-extfile", "server.ext"], cwd=d, check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "rsa", "-in", "client.key", "-traditional", "-out", "client_trad.key"],
                       cwd=d, check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "ec", "-in", "clientec.key", "-out", "clientec_trad.key"],
                       cwd=d, check=True, capture_output=True, timeout=60)
        # A P-384 CA and server, signed with SHA-384 (like Amazon Root CA 4's chains).
        ec384 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-sha384", "-nodes"]
        for args in (["req", "-x509", *ec384, "-keyout", "ca384.key", "-out", "ca384.crt", "-days", "2",
                      "-subj", "/CN=despotify test ca384", "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                     ["req", *ec384, "-keyout", "server384.key", "-out", "server384.csr", "-subj", "/CN=s384"],
                     ["x509", "-req", "-sha384", "-in", "server384.csr", "-CA", "ca384.crt", "-CAkey", "ca384.key",
                      "-CAcreateserial", "-out", "server384.crt", "-days", "2", "-extfile", "server.ext"]):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)
        with open(os.path.join(d, "empty.pem"), "w") as f:
            f.write("no certificates here\n")

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()

    def p(self, name):
        return os.path.join(self.pki["dir"], name)

    def serve(self, *args, **kw):
        s = HttpServer(*args, **kw)
        self.servers.append(s)
        return s

    def raw(self, script):
        s = RawServer(script)
        self.servers.append(s)
        return s

    def probe(self, *args, env=None, timeout=60):
        e = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
        e["ASAN_OPTIONS"] = "detect_leaks=1"
        e.update(env or {})
        t0 = time.monotonic()
        p = subprocess.run([PROBE, "http", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=e, timeout=timeout)
        return Result(p, time.monotonic() - t0)

    def ok(self, *args, **kw):
        r = self.probe(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def fails(self, *args, want=None, **kw):
        r = self.probe(*args, **kw)
        self.assertEqual(r.rc, 1, r)
        self.assertNotIn("Sanitizer", r.err, r)
        if want:
            self.assertIn(want, r.err, r)
        return r


class PlainHttpTest(HttpTestBase):
    def test_keepalive_reuses_one_connection(self):
        s = self.serve()
        r = self.ok("--repeat", "5", "--show-header", "x-test", "GET", s.url("/hello"))
        self.assertEqual(r.statuses, [200] * 5)
        self.assertEqual(r.bodies, ["hello"] * 5)
        self.assertIn("header x-test: yes", r.out)
        self.assertEqual(r.connects, 1)
        self.assertEqual(s.connections, 1)

    def test_chunked_body_then_reuse(self):
        s = self.serve()
        out = os.path.join(self.tmp, "chunked.out")
        r = self.ok("--repeat", "2", "--body-out", out, "GET", s.url("/chunked"))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"part1-part2-" + b"x" * 5000 + b"-end")
        self.assertEqual(r.connects, 1)

    def test_close_delimited_body(self):
        s = self.serve()
        r = self.ok("--repeat", "2", "GET", s.url("/close"))
        self.assertEqual(r.body_lens, [1400, 1400])
        self.assertEqual(r.connects, 2)

    def test_bodiless_responses_keep_the_connection(self):
        s = self.serve()
        r = self.ok("--repeat", "3", "HEAD", s.url("/hello"))
        self.assertEqual(r.statuses, [200] * 3)
        self.assertEqual(r.body_lens, [0] * 3)
        self.assertEqual(r.connects, 1)
        for code in (204, 304):
            r = self.ok("--repeat", "2", "GET", s.url(f"/status?code={code}"))
            self.assertEqual(r.statuses, [code, code])
            self.assertEqual(r.body_lens, [0, 0])
            self.assertEqual(r.connects, 1)

    def test_error_statuses_are_responses(self):
        s = self.serve()
        r = self.ok("GET", s.url("/status?code=503"))
        self.assertEqual(r.statuses, [503])
        self.assertEqual(r.bodies, ["status 503"])

    def test_informational_responses_skipped(self):
        s = self.serve()
        r = self.ok("--repeat", "2", "GET", s.url("/interim"))
        self.assertEqual(r.statuses, [200, 200])
        self.assertEqual(r.bodies, ["final", "final"])

    def test_request_shape(self):
        import json
        s = self.serve()
        r = self.ok("--header", "X-Custom: v 1", "--header", "Content-Type: text/plain",
                    "--max-body", "65536", "POST", s.url("/echo?a=%2F"), "payload=1")
        doc = json.loads(r.bodies[0])
        h = {k.lower(): v for k, v in doc["headers"]}
        self.assertEqual(doc["method"], "POST")
        self.assertEqual(doc["path"], "/echo?a=%2F")
        self.assertEqual(doc["version"], "HTTP/1.1")
        self.assertEqual(doc["body"], "payload=1")
        self.assertEqual(h["host"], f"127.0.0.1:{s.port}")
        self.assertEqual(h["user-agent"], f"despotify/{VERSION}")
        self.assertEqual(h["content-length"], "9")
        self.assertEqual(h["x-custom"], "v 1")
        # A PUT without a body still says so; a GET says nothing about a body.
        doc = json.loads(self.ok("PUT", s.url("/echo")).bodies[0])
        self.assertEqual({k.lower(): v for k, v in doc["headers"]}["content-length"], "0")
        doc = json.loads(self.ok("GET", s.url("/echo")).bodies[0])
        self.assertNotIn("content-length", {k.lower() for k, v in doc["headers"]})
        # A header value with a line break is refused, not sent.
        self.fails("--header", "X-Bad: a\r\nInjected: 1", "GET", s.url("/echo"),
                   want="bad request header")

    def test_large_request_body(self):
        import json
        s = self.serve()
        body = "b" * 100000
        r = self.ok("--max-body", "300000", "POST", s.url("/echo"), body)
        self.assertEqual(json.loads(r.bodies[0])["body"], body)

    def test_server_closing_idle_connection(self):
        # The server drops keep-alive connections idle for 0.3 s: the client
        # notices before reusing one and opens a new connection.
        s = self.serve(idle_timeout=0.3)
        r = self.ok("--repeat", "2", "--pause-ms", "1000", "GET", s.url("/hello"))
        self.assertEqual(r.statuses, [200, 200])
        self.assertEqual(r.connects, 2)

    @staticmethod
    def _stale_then_fresh(second):
        """Connection 0 answers one request, then does `second` with the next;
        later connections answer normally."""
        def script(sock, i, stop):
            if read_request(sock) is None:
                return
            if i == 0:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
                if read_request(sock) is None:
                    return
                second(sock)
                return
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
            read_request(sock)
        return script

    def test_retry_when_reused_connection_was_closed(self):
        # The server closes the kept-alive connection as the second request
        # arrives, before answering: the request is sent again on a new one,
        # even a POST, since nothing of the request can have been processed.
        for method, extra in (("GET", ["--idempotent"]), ("POST", [])):
            srv = self.raw(self._stale_then_fresh(lambda sock: None))
            r = self.ok(*extra, "--repeat", "2", method, srv.url("/x"), "body")
            self.assertEqual(r.bodies, ["first", "fresh"])
            self.assertEqual(r.connects, 2)
            self.assertEqual(srv.connections, 2)

    def test_no_retry_after_part_of_a_response(self):
        half = lambda sock: sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        srv = self.raw(self._stale_then_fresh(half))
        r = self.fails("--repeat", "2", "POST", srv.url("/x"), "b",
                       want=f"127.0.0.1:{srv.port}: connection closed after 3 of 10 body bytes")
        self.assertEqual(srv.connections, 1)
        # An idempotent request may be repeated.
        srv = self.raw(self._stale_then_fresh(half))
        r = self.ok("--idempotent", "--repeat", "2", "POST", srv.url("/x"), "b")
        self.assertEqual(r.bodies, ["first", "fresh"])
        self.assertEqual(srv.connections, 2)

    def test_no_retry_on_a_fresh_connection(self):
        srv = self.raw(lambda sock, i, stop: read_request(sock))
        self.fails("--idempotent", "GET", srv.url("/x"), want="connection closed before any response")
        self.assertEqual(srv.connections, 1)

    def test_connection_close_honoured(self):
        def script(sock, i, stop):
            while read_request(sock) is not None:
                sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        srv = self.raw(script)
        r = self.ok("--repeat", "3", "GET", srv.url("/"))
        self.assertEqual(r.connects, 3)
        # HTTP/1.0 without keep-alive closes too.
        def script10(sock, i, stop):
            while read_request(sock) is not None:
                sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        srv = self.raw(script10)
        self.assertEqual(self.ok("--repeat", "2", "GET", srv.url("/")).connects, 2)

    def test_stalled_server_deadline(self):
        s = self.serve()
        r = self.fails("--timeout-ms", "1500", "GET", s.url("/stall?s=30"),
                       want=f"127.0.0.1:{s.port}: timed out")
        self.assertGreater(r.elapsed, 1.3)
        self.assertLess(r.elapsed, 15)

    def test_stall_in_the_middle_of_a_body(self):
        def script(sock, i, stop):
            read_request(sock)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            stop.wait(30)
        srv = self.raw(script)
        r = self.fails("--timeout-ms", "1500", "GET", srv.url("/"), want="timed out")
        self.assertLess(r.elapsed, 15)

    def test_connect_refused(self):
        srv = self.raw(lambda sock, i, stop: None)
        port = srv.port
        srv.stop()
        self.servers.remove(srv)
        self.fails("GET", f"http://127.0.0.1:{port}/", want=f"connect 127.0.0.1:{port}: Connection refused")

    def test_ten_megabytes_capped(self):
        s = self.serve()
        for mode in ("length", "chunked", "close"):
            r = self.fails("--max-body", "65536", "GET", s.url(f"/big?n=10485760&mode={mode}"),
                           want="response body over 65535 bytes")
            self.assertLess(r.elapsed, 30)
        # Exactly at the limit is fine; one byte more is not.
        out = os.path.join(self.tmp, "exact.out")
        r = self.ok("--max-body", "65536", "--body-out", out, "GET", s.url("/big?n=65535&mode=chunked"))
        self.assertEqual(r.body_lens, [65535])
        self.fails("--max-body", "65536", "GET", s.url("/big?n=65536&mode=length"),
                   want="response body over 65535 bytes")

    def test_garbage_responses(self):
        cases = [
            (b"hello world\r\n\r\n", "malformed response head"),
            (b"\x16\x03\x01\x00\x05hello", "malformed response head"),
            (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "malformed response head"),
            (b"HTTP/1.1 200 OK\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(65)) + b"\r\n",
             "malformed response head"),
            (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 20000 + b"\r\n\r\n", "response head over 16384 bytes"),
            (b"HTTP/1.1 200 OK\r\nContent-Len", "connection closed in the middle of the response head"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunked body"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
             "connection closed in the middle of a chunked body"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
             "conflicting Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "bad Content-Length"),
            (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected 101"),
            (b"HTTP/1.1 100 Continue\r\n\r\n" * 9, "informational responses"),
        ]
        for payload, want in cases:
            def script(sock, i, stop, payload=payload):
                read_request(sock)
                sock.sendall(payload)
            srv = self.raw(script)
            with self.subTest(payload=payload[:40]):
                self.fails("--timeout-ms", "5000", "GET", srv.url("/"), want=want)


class TlsTest(HttpTestBase):
    def tls_server(self, crt="server.crt", key="server.key", **kw):
        return self.serve(tls=(self.p(crt), self.p(key)), **kw)

    def test_tls_keepalive(self):
        s = self.tls_server()
        r = self.ok("--ca", self.pki["ca"], "--repeat", "3", "GET", s.url("/hello"))
        self.assertEqual(r.bodies, ["hello"] * 3)
        self.assertEqual(r.connects, 1)
        self.assertEqual(s.connections, 1)

    def test_tls_ec_server_chunked_and_close(self):
        s = self.tls_server("ecserver.crt", "ecserver.key")
        out = os.path.join(self.tmp, "tls_chunked.out")
        self.ok("--ca", self.pki["ca"], "--body-out", out, "GET", s.url("/chunked"))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"part1-part2-" + b"x" * 5000 + b"-end")
        r = self.ok("--ca", self.pki["ca"], "GET", s.url("/close"))
        self.assertEqual(r.body_lens, [1400])

    def test_tls_large_bodies(self):
        import json
        s = self.tls_server()
        out = os.path.join(self.tmp, "tls_big.out")
        r = self.ok("--ca", self.pki["ca"], "--max-body", "300000", "--body-out", out,
                    "GET", s.url("/big?n=200000&mode=length"))
        self.assertEqual(os.path.getsize(out), 200000)
        body = "q" * 100000
        r = self.ok("--ca", self.pki["ca"], "--max-body", "300000", "POST", s.url("/echo"), body)
        self.assertEqual(json.loads(r.bodies[0])["body"], body)
        self.fails("--ca", self.pki["ca"], "--max-body", "65536", "GET",
                   s.url("/big?n=10485760&mode=chunked"), want="response body over 65535 bytes")

    def test_p384_sha384_chain(self):
        s = self.tls_server("server384.crt", "server384.key")
        r = self.ok("--ca", self.p("ca384.crt"), "GET", s.url("/hello"))
        self.assertEqual(r.bodies, ["hello"])
        self.fails("--ca", self.pki["ca"], "GET", s.url("/hello"), want="X509_NOT_TRUSTED")

    def test_untrusted_certificate_refused(self):
        s = self.tls_server("untrusted.crt", "untrusted.key")
        self.fails("--ca", self.pki["ca"], "GET", s.url("/hello"),
                   want="certificate is not trusted (BearSSL error 62: X509_NOT_TRUSTED)")
        # The Amazon roots do not vouch for a test CA either.
        self.fails("--amazon-roots", "GET", s.url("/hello"), want="X509_NOT_TRUSTED")

    def test_wrong_host_name_refused(self):
        s = self.tls_server("wrongname.crt", "wrongname.key")
        self.fails("--ca", self.pki["ca"], "GET", s.url("/hello"),
                   want="certificate does not match host 127.0.0.1")
        # Naming the certificate's name explicitly makes it acceptable.
        self.ok("--ca", self.pki["ca"], "--server-name", "wrong.example.com", "GET", s.url("/hello"))

    def test_ip_san_must_match_the_address(self):
        s = self.tls_server("otherip.crt", "otherip.key")
        self.fails("--ca", self.pki["ca"], "GET", s.url("/hello"),
                   want="certificate does not match host 127.0.0.1")
        # The certificate's other address, given as the name to check, matches its IP SAN.
        self.ok("--ca", self.pki["ca"], "--server-name", "10.0.0.1", "GET", s.url("/hello"))

    def test_server_name_override(self):
        s = self.tls_server()
        self.ok("--ca", self.pki["ca"], "--server-name", "kubernetes.default.svc", "GET", s.url("/hello"))
        self.fails("--ca", self.pki["ca"], "--server-name", "other.default.svc", "GET", s.url("/hello"),
                   want="certificate does not match host other.default.svc")

    def test_expired_certificate_refused(self):
        s = self.tls_server("expired.crt", "server.key")
        self.fails("--ca", self.pki["ca"], "GET", s.url("/hello"), want="expired")

    def test_client_certificates(self):
        s = self.tls_server(client_ca=self.pki["ca"])
        for crt, key in (("client.crt", "client.key"), ("client.crt", "client_trad.key"),
                         ("clientec.crt", "clientec.key"), ("clientec.crt", "clientec_trad.key")):
            with self.subTest(key=key):
                r = self.ok("--ca", self.pki["ca"], "--cert", self.p(crt), "--key", self.p(key),
                            "--repeat", "2", "GET", s.url("/hello"))
                self.assertEqual(r.statuses, [200, 200])
                self.assertEqual(r.connects, 1)
        # Without one the server refuses the handshake.
        self.fails("--ca", self.pki["ca"], "GET", s.url("/hello"), want="TLS")
        # A key that does not parse is an error at load time.
        self.fails("--ca", self.pki["ca"], "--cert", self.p("client.crt"), "--key", self.p("ca.crt"),
                   "GET", s.url("/hello"), want="no private key found")

    def test_bad_ca_files(self):
        s = self.tls_server()
        self.fails("--ca", self.p("empty.pem"), "GET", s.url("/hello"), want="no certificate found")
        self.fails("--ca", self.p("missing.pem"), "GET", s.url("/hello"), want="missing.pem")

    def test_tls_idle_close_and_stale_retry(self):
        s = self.tls_server(idle_timeout=0.3)
        r = self.ok("--ca", self.pki["ca"], "--repeat", "2", "--pause-ms", "1000", "GET", s.url("/hello"))
        self.assertEqual(r.statuses, [200, 200])
        self.assertEqual(r.connects, 2)

    def test_session_resumed_on_reconnect(self):
        # openssl s_server -www answers HTTP/1.0 and closes, and says on its
        # page whether the handshake was "New" or "Reused".
        for _ in range(5):
            port = free_port()
            srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                                    "-cert", self.p("server.crt"), "-key", self.p("server.key"),
                                    "-www", "-quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                if not wait_port(port, srv):
                    continue
                r = self.ok("--ca", self.pki["ca"], "--repeat", "3", "GET", f"https://127.0.0.1:{port}/")
                self.assertEqual(r.connects, 3)
                self.assertEqual(r.out.count("New, TLSv1.2"), 1, r)
                self.assertEqual(r.out.count("Reused, TLSv1.2"), 2, r)
                return
            finally:
                srv.kill()
                srv.wait(10)
        self.fail("openssl s_server did not start")

    def test_dns_name(self):
        # "localhost" goes through the resolver (it may yield ::1 first, where
        # nothing listens: the next address is tried) and is checked as a DNS name.
        s = self.tls_server()
        r = self.ok("--ca", self.pki["ca"], "GET", s.url("/hello", host="localhost"))
        self.assertEqual(r.bodies, ["hello"])
        w = self.tls_server("wrongname.crt", "wrongname.key")
        self.fails("--ca", self.pki["ca"], "GET", w.url("/hello", host="localhost"),
                   want="certificate does not match host localhost")
        self.fails("GET", "http://no-such-host.invalid/", want="resolve no-such-host.invalid")

    def test_tls_stalled_handshake(self):
        # A server that accepts and never answers the ClientHello.
        srv = self.raw(lambda sock, i, stop: stop.wait(30))
        r = self.fails("--ca", self.pki["ca"], "--timeout-ms", "1500", "GET",
                       f"https://127.0.0.1:{srv.port}/", want="TLS handshake: timed out")
        self.assertLess(r.elapsed, 15)

    def test_plain_http_server_on_tls_port(self):
        s = self.serve()
        self.fails("--ca", self.pki["ca"], "GET", f"https://127.0.0.1:{s.port}/hello", want="TLS")


class ProxyTest(HttpTestBase):
    def proxy(self, **kw):
        p = ProxyServer(**kw)
        self.servers.append(p)
        return p

    def test_https_through_connect_proxy(self):
        s = self.serve(tls=(self.p("server.crt"), self.p("server.key")))
        px = self.proxy()
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{px.port}"}
        r = self.ok("--proxy-env", "--ca", self.pki["ca"], "--repeat", "3", "GET", s.url("/hello"), env=env)
        self.assertEqual(r.bodies, ["hello"] * 3)
        self.assertEqual(px.seen, [f"CONNECT 127.0.0.1:{s.port} HTTP/1.1"])
        self.assertEqual(r.connects, 1)
        # The certificate is still checked end to end, through the tunnel.
        self.ok("--proxy-env", "--ca", self.pki["ca"], "--server-name", "kubernetes.default.svc",
                "GET", s.url("/hello"), env=env)
        self.fails("--proxy-env", "--ca", self.pki["ca"], "--server-name", "nope.example",
                   "GET", s.url("/hello"), env=env, want="certificate does not match host nope.example")

    def test_plain_http_through_proxy(self):
        s = self.serve()
        px = self.proxy()
        env = {"http_proxy": f"127.0.0.1:{px.port}"}
        r = self.ok("--proxy-env", "--repeat", "2", "GET", s.url("/hello?q=1"), env=env)
        self.assertEqual(r.bodies, ["hello", "hello"])
        self.assertEqual(px.seen, [f"GET http://127.0.0.1:{s.port}/hello?q=1 HTTP/1.1"])

    def test_no_proxy_bypass(self):
        s = self.serve()
        px = self.proxy()
        for no_proxy in ("127.0.0.1", "127.0.0.0/8", "*", "example.com, 127.0.0.1"):
            env = {"HTTP_PROXY": f"http://127.0.0.1:{px.port}", "NO_PROXY": no_proxy}
            self.ok("--proxy-env", "GET", s.url("/hello"), env=env)
        self.assertEqual(px.seen, [])
        # Without --proxy-env (proxy NULL, as IMDS uses it) the environment is ignored.
        self.ok("GET", s.url("/hello"), env={"HTTP_PROXY": f"http://127.0.0.1:{px.port}"})
        self.assertEqual(px.seen, [])

    def test_proxy_refuses_connect(self):
        s = self.serve(tls=(self.p("server.crt"), self.p("server.key")))
        px = self.proxy(refuse=403)
        self.fails("--proxy-env", "--ca", self.pki["ca"], "GET", s.url("/hello"),
                   env={"HTTPS_PROXY": f"http://127.0.0.1:{px.port}"},
                   want=f"proxy 127.0.0.1:{px.port}: CONNECT 127.0.0.1:{s.port} refused with status 403")

    def test_proxy_down(self):
        px = self.proxy()
        port = px.port
        px.stop()
        self.servers.remove(px)
        self.fails("--proxy-env", "GET", "http://127.0.0.1:9/", env={"HTTP_PROXY": f"http://127.0.0.1:{port}"},
                   want=f"proxy 127.0.0.1:{port}: connect 127.0.0.1:{port}: Connection refused")

    def test_bad_proxy_variable(self):
        self.fails("--proxy-env", "GET", "http://127.0.0.1:9/",
                   env={"HTTPS_PROXY": "http://user:secret@proxy:3128"}, want="HTTPS_PROXY")
        r = self.probe("--proxy-env", "GET", "http://127.0.0.1:9/",
                       env={"HTTPS_PROXY": "http://user:secret@proxy:3128"})
        self.assertNotIn("secret", r.err)


if __name__ == "__main__":
    unittest.main()
