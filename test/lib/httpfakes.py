"""Small in-process servers on 127.0.0.1 for the HTTP client tests
(test/e2e/test_http.py): an HTTP/1.1 server (plain or TLS) with a few
routes, a scripted raw TCP server for broken peers, and a proxy that
speaks CONNECT and absolute-form requests. Each runs in daemon threads and
counts the connections it accepted; stop() closes everything.

    srv = HttpServer()                           # plain
    srv = HttpServer(tls=(crt, key))             # TLS
    srv = HttpServer(tls=(crt, key), client_ca=ca)   # TLS, client certificate required
    srv.url("/hello"); srv.connections; srv.stop()

Routes of HttpServer: /hello (Content-Length), /echo (the request as JSON),
/chunked, /close (close-delimited), /big?n=N&mode=length|chunked|close,
/stall?s=S (sleeps before answering), /status?code=N, /interim (100 then 200).
"""
import json
import os
import select
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakeserver  # noqa: E402  (test/fakes: the server the fakes share)

BODY_MAX = 1 << 20  # bytes of a request body the routes read


class _Handler(fakeserver.Handler):
    timeout = None

    def setup(self):
        super().setup()
        if self.server.idle_timeout:
            # BaseHTTPRequestHandler closes the connection when a read times out:
            # an idle keep-alive connection is closed by the server.
            self.connection.settimeout(self.server.idle_timeout)

    def _send(self, code, body, ctype="text/plain", extra=()):
        self.respond(code, body, [("Content-Type", ctype)] + list(extra))

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        body = self.read_body(BODY_MAX)
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers), body))
        p = u.path
        if p == "/hello":
            self._send(200, b"hello\n", extra=[("X-Test", "yes")])
        elif p == "/echo":
            doc = {"method": self.command, "path": self.path, "version": self.request_version,
                   "headers": [[k, v] for k, v in self.headers.items()],
                   "body": body.decode("latin-1")}
            self._send(200, json.dumps(doc).encode(), "application/json")
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"part1-", b"part2-", b"x" * 5000, b"-end"):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        elif p == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end\n" * 100)
            self.close_connection = True
        elif p == "/big":
            n, mode = int(q.get("n", "0")), q.get("mode", "length")
            self.send_response(200)
            block = b"x" * 65536
            if mode == "length":
                self.send_header("Content-Length", str(n))
            elif mode == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                left = n
                while left > 0:
                    k = min(left, len(block))
                    if mode == "chunked":
                        self.wfile.write(b"%x\r\n%s\r\n" % (k, block[:k]))
                    else:
                        self.wfile.write(block[:k])
                    left -= k
                if mode == "chunked":
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True
        elif p == "/stall":
            end = time.monotonic() + float(q.get("s", "30"))
            while time.monotonic() < end and not self.server.stopping.is_set():
                time.sleep(0.05)
            self._send(200, b"late\n")
        elif p == "/status":
            code = int(q.get("code", "200"))
            self.send_response(code)
            if code in (204, 304):
                self.end_headers()
            else:
                b = b"status %d\n" % code
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)
        elif p == "/interim":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")
            self._send(200, b"final\n")
        else:
            self._send(404, b"no such route\n")


class HttpServer(fakeserver.Server):
    def __init__(self, tls=None, client_ca=None, idle_timeout=None):
        self.lock = threading.Lock()
        self.requests = []
        self.idle_timeout = idle_timeout
        super().__init__(_Handler, tls=tls, client_ca=client_ca)
        self.start()


class RawServer:
    """Accepts connections on 127.0.0.1 and runs script(sock, index) for each,
    in its own thread; index counts connections from 0."""

    def __init__(self, script):
        self.script = script
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            i = self.connections
            self.connections += 1
            self.conns.append(c)
            threading.Thread(target=self._run, args=(c, i), daemon=True).start()

    def _run(self, c, i):
        try:
            c.settimeout(15)
            self.script(c, i, self.stopping)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.stopping.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(5)


def read_request(sock):
    """Reads one request (head and Content-Length body) from sock; returns the
    head as text, or None if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        b = sock.recv(4096)
        if not b:
            return None
        data += b
    head, rest = data.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    while len(rest) < n:
        b = sock.recv(4096)
        if not b:
            break
        rest += b
    return head.decode("latin-1")


class ProxyServer(socketserver.ThreadingTCPServer):
    """A forward proxy: CONNECT host:port (tunnel) and absolute-form requests
    (forwarded to the origin, then piped). seen lists the request lines.
    refuse=N answers every request with status N."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse=None):
        self.seen = []
        self.refuse = refuse
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


def _pipe(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 15)
            if not r:
                return
            for s in r:
                d = s.recv(65536)
                if not d:
                    return
                (b if s is a else a).sendall(d)
    except OSError:
        return


class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        c = self.request
        c.settimeout(15)
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                return
            data += d
        head, rest = data.split(b"\r\n\r\n", 1)
        line = head.split(b"\r\n")[0].decode("latin-1")
        with self.server.lock:
            self.server.seen.append(line)
        if self.server.refuse:
            c.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                      % self.server.refuse)
            return
        method, target, _ = line.split(" ", 2)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
        else:
            u = urllib.parse.urlsplit(target)
            up = socket.create_connection((u.hostname, u.port or 80), timeout=10)
            origin = (u.path or "/") + ("?" + u.query if u.query else "")
            first, _, others = head.partition(b"\r\n")
            up.sendall(f"{method} {origin} HTTP/1.1\r\n".encode() + others + b"\r\n\r\n" + rest)
        try:
            _pipe(c, up)
        finally:
            up.close()
