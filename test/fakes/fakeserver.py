"""fakeserver.py — what the fakes of test/fakes share: a threaded HTTP/1.1
server (keep-alive, optional TLS with an optional client CA), the port file,
the /_fake/faults and /_fake/refuse control calls, and the one fault-rule
schema. Each fake keeps only its protocol: it subclasses Handler, writes
route() and, for "status" faults, fault_answer(). Standard library only.

A fault RULE (POST /_fake/faults {"rules": [RULE...]} adds, {"clear": true}
empties) is a JSON object:
  "action"       one of FAULTS below (the one vocabulary of every fake)
  "count"        times it fires (default 1; -1: always)
  "method"       only requests with this method (optional)
  "path"         a regex searched in the path and query (optional)
  "api"          only this operation, for a fake that names them (fake_aws: the Action,
                 or "container"; optional)
  "probability"  fires on a matching request with this probability, from a seeded
                 generator (the same run every time; optional)
and the action's own fields, named in FAULTS. Faults act before any
authentication check, as the network would, unless the fake says otherwise.
"""
import json
import os
import random
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The fault vocabulary: action -> what the fake does with the request.
FAULTS = {
    "refuse": 'stop listening and drop every connection for "seconds" (default 1): connects are refused',
    "drop": "close the connection without answering",
    "reset": "close the connection with a TCP reset",
    "stall": 'wait "seconds" (default 3600), then answer normally; close at once if the client hangs up',
    "lost": "do the work (a write happens), then close without answering: the answer is lost",
    "status": 'answer "status" (default 503) with the protocol\'s error body; "retry_after" adds '
              'Retry-After; "code" and "message" fill the error where the protocol has them',
    "garbage": "200 with a body that is not what the protocol sends",
    "oversize": 'a 200 body of "size" bytes (default 1 MiB)',
    "truncate": "the head and half the body, then close",
    "half-body": "a well-framed 200 whose body is the first half of the answer",
    "slow-body": 'the answer, its body trickled in ten pieces over "seconds" (default 1)',
    "chunked": 'the answer chunked, "chunk" bytes a chunk (default 16384), spread over "seconds" (default 0)',
}
GARBAGE = b"<html><body>502 Bad Gateway</body></html>\x00\xff{\"kind\": ]]\x01\x02\n"
TLS_HANDSHAKE_S = 10     # a client that does not finish its handshake is dropped after this
POLL_S = 0.1             # accept loop wake-up, for shutdown and refuse


class Rules:
    """The fault rules in force; match() takes the server's lock itself."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.fired = 0
        self.rng = random.Random(1)

    def set(self, rules, clear=False):
        """Adds rules (after clear, if asked); an unknown action is an error, not a silent no-op."""
        with self.lock:
            if clear:
                self.rules = []
            for r in rules:
                if r.get("action") not in FAULTS:
                    raise ValueError(f"unknown fault action {r.get('action')!r}; known: {', '.join(FAULTS)}")
                r = dict(r, count=int(r.get("count", 1)))
                r["re"] = re.compile(r["path"]) if r.get("path") else None
                self.rules.append(r)
            return len(self.rules)

    def match(self, method, target, api=None):
        """The first rule matching the request (one of its count consumed), or None."""
        with self.lock:
            for r in self.rules:
                if r["count"] == 0 or (r.get("method") and r["method"].upper() != method):
                    continue
                if r.get("api") not in (None, api) or (r["re"] is not None and not r["re"].search(target)):
                    continue
                if r.get("probability") is not None and self.rng.random() >= float(r["probability"]):
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                self.fired += 1
                return {k: v for k, v in r.items() if k != "re"}
            return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, handler, bind="127.0.0.1", port=0, tls=None, client_ca=None,
                 client_cert=ssl.CERT_REQUIRED, activate=True):
        """tls: (cert file, key file) or None for plain HTTP; client_ca: trust client
        certificates it signed, client_cert: CERT_REQUIRED or CERT_OPTIONAL.
        activate=False binds the port without listening (connects are refused)."""
        super().__init__((bind, port), handler, bind_and_activate=False)
        self.server_bind()
        if activate:
            self.server_activate()
        self.port = self.server_address[1]
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*tls)
            if client_ca:
                self.ctx.load_verify_locations(client_ca)
                self.ctx.verify_mode = client_cert
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.connections = 0
        self.rules = Rules()
        self.stopping = threading.Event()

    def finish_request(self, request, client_address):
        with self.conns_lock:
            self.connections += 1
        # The handshake happens in the connection's own thread, so that a
        # client that fails it cannot hold up the accept loop.
        if self.ctx is not None:
            try:
                request.settimeout(TLS_HANDSHAKE_S)
                request = self.ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        # Clients that hang up mid-answer are part of the tests; a bug of the
        # fake is not: its traceback goes to stderr (the test quotes it).
        if not isinstance(sys.exc_info()[1], OSError):
            traceback.print_exc()

    def write_port(self, path):
        """Writes the port to path atomically (a reader never sees it half written)."""
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(self.port))
        os.rename(tmp, path)

    def url(self, path="", host="127.0.0.1"):
        return f"{'https' if self.ctx is not None else 'http'}://{host}:{self.port}{path}"

    def start(self):
        """Serves in a daemon thread (so that refuse() can stop and restart it)."""
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True).start()

    def refuse(self, seconds, keep=None):
        """Stops listening, drops every connection but keep, and listens again
        on the same port after seconds."""
        self.shutdown()
        self.socket.close()
        with self.conns_lock:
            for c in self.conns - {keep}:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        # Bound but not listening: connects are refused, and the port stays ours.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(self.server_address)
        self.socket = s

        def later():
            time.sleep(seconds)
            self.server_activate()
            self.serve_forever(poll_interval=POLL_S)

        threading.Thread(target=later, daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()


def serve(*servers):
    """Starts the servers and waits until the process is told to stop."""
    for s in servers:
        s.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


def common_args(ap, tls=True):
    """The options every fake takes: --port, --port-file, --bind, --log, and
    with tls --plain, --cert, --key."""
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--log")
    if tls:
        ap.add_argument("--plain", action="store_true")
        ap.add_argument("--cert")
        ap.add_argument("--key")


def tls_of(ap, opts):
    """(cert, key) from the options, or None with --plain."""
    if opts.plain:
        return None
    if not opts.cert or not opts.key:
        ap.error("--cert and --key are required unless --plain")
    return (opts.cert, opts.key)


class Handler(BaseHTTPRequestHandler):
    """The plumbing of a fake's handler. A subclass writes route(); every
    method lands there. respond() sends an answer shaped by a fault rule."""
    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 120

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.served = 0
        self.last_status = 0
        with self.server.conns_lock:
            self.server.conns.add(self.connection)

    def finish(self):
        with self.server.conns_lock:
            self.server.conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_any(self):
        self.served += 1
        self.last_status = 0
        try:
            self.route()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_any

    def route(self):
        raise NotImplementedError

    def read_body(self, limit):
        """The request body (Content-Length framed); over limit bytes: ValueError."""
        n = int(self.headers.get("Content-Length") or 0)
        if n > limit:
            raise ValueError(f"request body of {n} bytes is over the fake's {limit}")
        return self.rfile.read(n) if n > 0 else b""

    # ---- answers ----

    def respond(self, status, body, headers=(), fault=None):
        """Sends status, headers (pairs or a dict) and body, shaped by fault's
        lost, truncate, half-body, slow-body or chunked (other faults: as is)."""
        if isinstance(body, str):
            body = body.encode()
        a = fault["action"] if fault else None
        if a == "lost":
            return self.hang_up()
        if a == "half-body":
            body = body[:len(body) // 2]
        self.send_response(status)
        for k, v in (headers.items() if isinstance(headers, dict) else headers):
            self.send_header(k, str(v))
        self.send_header("Transfer-Encoding" if a == "chunked" else "Content-Length",
                         "chunked" if a == "chunked" else str(len(body)))
        # The head and the body leave in one write: two small writes on a
        # keep-alive connection meet Nagle and delayed ACKs (40 ms a request).
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.last_status = status
        if self.command == "HEAD":
            body = b""
        if a not in ("truncate", "slow-body", "chunked"):
            self.wfile.write(head + body)
            return
        self.wfile.write(head)
        if a == "truncate":
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            return self.hang_up()
        n = max(1, len(body) // 10) if a == "slow-body" else max(1, int(fault.get("chunk", 16384)))
        pieces = max(1, (len(body) + n - 1) // n)
        pause = float(fault.get("seconds", 1 if a == "slow-body" else 0)) / pieces
        for i in range(0, len(body), n):
            part = body[i:i + n]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if a == "chunked" else part)
            self.wfile.flush()
            time.sleep(pause)
        if a == "chunked":
            self.wfile.write(b"0\r\n\r\n")

    def hang_up(self, reset=False):
        """Closes the connection without (more of) an answer; reset: with a TCP RST."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def client_gone_within(self, seconds):
        """Sleeps up to seconds; True as soon as the client closes the connection."""
        end = time.monotonic() + seconds
        while not self.server.stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.connection], [], [], min(left, 0.5))
            if r:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except (OSError, ssl.SSLError, ValueError):
                    return True
                time.sleep(min(left, 0.05))  # a pipelined request: keep waiting
        return True

    def fault_before(self, fault):
        """Acts out the faults that come before an answer; True when the
        request is over (nothing more to send), False to go on answering."""
        a = fault["action"] if fault else None
        if a == "refuse":
            self.server.refuse(float(fault.get("seconds", 1)), None)
            self.hang_up()
            return True
        if a in ("drop", "reset"):
            self.hang_up(reset=a == "reset")
            return True
        if a == "stall" and self.client_gone_within(float(fault.get("seconds", 3600))):
            self.close_connection = True
            return True
        return False

    def fault_instead(self, fault):
        """(status, body bytes, headers dict) that replace the answer for
        status, garbage and oversize faults; None for the others."""
        a = fault["action"] if fault else None
        if a == "status":
            status, body, headers = self.fault_answer(fault)
            if fault.get("retry_after") is not None:
                headers = dict(headers, **{"Retry-After": fault["retry_after"]})
            return status, body, headers
        if a == "garbage":
            return 200, GARBAGE, {}
        if a == "oversize":
            return 200, b"A" * int(fault.get("size", 1 << 20)), {}
        return None

    def fault_answer(self, fault):
        """The protocol's error for a "status" fault: (status, body bytes,
        headers dict); a fake overrides it with its own error shape."""
        code = int(fault.get("status", 503))
        return code, fault.get("message", f"{code} fault injected\n").encode(), {}

    def control_faults(self, req):
        """POST /_fake/faults and /_fake/refuse, the control calls every fake
        has; returns the JSON answer, or None for another path."""
        if self.path.startswith("/_fake/faults"):
            return {"ok": True, "rules": self.server.rules.set(req.get("rules", []), bool(req.get("clear")))}
        if self.path.startswith("/_fake/refuse"):
            secs = float(req.get("seconds", 1))
            self.server.refuse(secs, self.connection)
            self.close_connection = True
            return {"ok": True, "seconds": secs}
        return None

    def json_out(self, obj, status=200, headers=()):
        self.respond(status, json.dumps(obj, separators=(",", ":")),
                     [("Content-Type", "application/json")] + list(headers))
