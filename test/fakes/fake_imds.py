#!/usr/bin/python3
"""fake_imds.py — a fake EC2 instance metadata service (IMDS) for despotify's
tests, demo and benchmarks. Standard library only.

It speaks plain HTTP/1.1 with keep-alive, enforces IMDSv2 the way AWS does,
and serves what despotify reads:

  PUT  /latest/api/token             a session token; needs X-aws-ec2-metadata-token-ttl-seconds
                                     1..21600 (else 400); any X-Forwarded-For header: 403 (AWS
                                     refuses proxied token requests); the answer echoes the TTL
                                     granted in X-aws-ec2-metadata-token-ttl-seconds
  GET  /latest/api/token             405
  GET  /latest/meta-data/                                  listing
  GET  /latest/meta-data/instance-id | instance-type | local-hostname | local-ipv4 | hostname
       | ami-id | placement/availability-zone | placement/region
  GET  /latest/dynamic/instance-identity/document          JSON (region, instanceId, privateIp, ...)
  GET  /latest/meta-data/iam/security-credentials/         the role name (404 without --role)
  GET  /latest/meta-data/iam/security-credentials/ROLE     {"Code":"Success","AccessKeyId",...,"Expiration"}
  GET  /latest/meta-data/spot/termination-time             404 until set
  GET  /latest/meta-data/spot/instance-action              404 until set
  GET  /latest/meta-data/events/recommendations/rebalance  404 until set
  GET  /latest/meta-data/events/maintenance/scheduled      the scheduled events, a JSON array ("[]"
                                                           when there are none, as EC2 answers)
  anything else: 404 (AWS's HTML 404 page); other methods: 405.

Tokens: every GET with an X-aws-ec2-metadata-token header must carry a token
this fake issued and that has not expired or been revoked, else 401 (also
in "optional" mode, as AWS does). Without the header: 401 in "required"
mode, served in "optional" mode.

Options:
  --port N (0: pick one)   --port-file F (the chosen port is written there)   --bind 127.0.0.1
  --imds-v2 required|optional   IMDSv2 enforcement (default required)
  --put-status N           answer every token PUT with status N (403/404/405: the fallback case);
                           GETs without a token are then served (IMDSv1 only)
  --max-ttl S              grant at most S seconds per token (default 21600), echoed in the header
  --hide-ttl               echo the requested TTL, not the shorter one granted: a client learns
                           the token died only from a 401
  --instance-id ID --instance-type T --local-hostname H --private-ip IP --region R --az Z
  --account-id N --role NAME (empty: the instance has no role)
  --log F                  append one line per request (method path status token? ms) to F

Control API (plain HTTP on the same port, no token, JSON bodies, answers JSON):
  POST /_fake/notice  {"termination_time": "2017-09-18T08:22:00Z" | any string | null,
                       "instance_action": {"action":"terminate","time":"..."} | raw string | null,
                       "rebalance": {"noticeTime":"..."} | raw string | null}
                      sets (or with null clears: 404 again) the keys given, leaves the others
  POST /_fake/events  {"events": [EVENT...]} replaces the scheduled events; EVENT =
                      {"code": "system-reboot", "state": "active"|"completed"|"canceled",
                       "id": "instance-event-...", "not_before": EPOCH, "not_after": EPOCH (optional),
                       "not_before_deadline": EPOCH (optional), "description": "..." (optional)};
                      times are served as EC2 writes them ("6 Feb 2019 09:00:43 GMT": the day
                      without a leading zero), a completed or canceled event's description gains
                      EC2's "[Completed] " / "[Canceled] " prefix
  POST /_fake/path    {"path": "/latest/...", "status": 200, "body": "..." | null}
                      serves body with status at path (null: forget the override)
  POST /_fake/faults  {"rules": [RULE...]} (added to the rules in force) or {"clear": true};
                      RULE as in test/fakes/fakeserver.py (its FAULTS table is the vocabulary);
                      "path" is searched in the IMDS path; "status" faults answer a short
                      text body. Faults act before any token check, like the network would.
  POST /_fake/refuse  {"seconds": S}  stop listening and drop every open connection, so that
                      connects are refused, for S seconds; then listen again on the same port
  POST /_fake/config  {"imds_v2": "required"|"optional", "put_status": N|null, "max_ttl": S,
                       "hide_ttl": bool}
  POST /_fake/tokens  {"revoke": true}  forget every token issued (the next GET with one: 401)
  POST /_fake/creds   {"AccessKeyId": ..., "SecretAccessKey": ..., "Token": ..., "Expiration": ...,
                       "Code": ...} override fields of the role credentials, or {"raw": "body"}
  POST /_fake/reset   {}  zero the statistics
  GET  /_fake/stats   {"requests": {"GET /latest/meta-data/instance-id": N, ...},
                       "statuses": {"200": N, ...}, "tokens_issued": N, "token_puts": N,
                       "with_token": N, "without_token": N, "unauthorized": N,
                       "connections": N (accepted connections that carried an IMDS request),
                       "connections_open": N, "faults_fired": N, "max_requests_per_connection": N}
"""
import argparse
import json
import secrets
import threading
import time

import fakeserver

TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL = 21600
BODY_MAX = 1 << 20   # bytes of a request body: IMDS requests carry none

NOTICE_PATHS = {
    "termination_time": "/latest/meta-data/spot/termination-time",
    "instance_action": "/latest/meta-data/spot/instance-action",
    "rebalance": "/latest/meta-data/events/recommendations/rebalance",
}

EVENTS_PATH = "/latest/meta-data/events/maintenance/scheduled"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def ec2_date(t):
    """An epoch time as EC2's scheduled events write it: "6 Feb 2019 09:00:43 GMT"."""
    g = time.gmtime(t)
    return f"{g.tm_mday} {MONTHS[g.tm_mon - 1]} {g.tm_year} {g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} GMT"


def scheduled_events(events):
    """The body EC2 serves for a list of control-API events."""
    out = []
    for e in events:
        state = e.get("state", "active")
        desc = e.get("description", "scheduled " + e.get("code", "system-maintenance"))
        if state in ("completed", "canceled"):
            desc = f"[{state.capitalize()}] {desc}"
        ev = {"NotBefore": ec2_date(e["not_before"]), "Code": e.get("code", "system-maintenance"),
              "Description": desc, "EventId": e.get("id", "instance-event-0d59937288b749b32"),
              "State": state}
        if "not_after" in e:
            ev["NotAfter"] = ec2_date(e["not_after"])
        if "not_before_deadline" in e:
            ev["NotBeforeDeadline"] = ec2_date(e["not_before_deadline"])
        out.append(ev)
    return json.dumps(out, indent=2)


HTML_404 = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            ' <head>\n  <title>404 - Not Found</title>\n </head>\n'
            ' <body>\n  <h1>404 - Not Found</h1>\n </body>\n</html>\n')


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class State:
    def __init__(self, o):
        self.lock = threading.Lock()
        self.o = o
        self.imds_v2 = o.imds_v2
        self.put_status = o.put_status
        self.max_ttl = o.max_ttl
        self.hide_ttl = o.hide_ttl
        self.tokens = {}        # token -> monotonic expiry
        self.paths = {}         # path -> (status, body bytes)
        self.creds_over = {}
        self.creds_raw = None
        self.reset_stats()

    def reset_stats(self):
        self.requests = {}
        self.statuses = {}
        self.tokens_issued = 0
        self.token_puts = 0
        self.with_token = 0
        self.without_token = 0
        self.unauthorized = 0
        self.connections = 0
        self.fired_before = 0
        self.max_per_conn = 0

    def stats(self, open_conns):
        return {"requests": dict(self.requests), "statuses": dict(self.statuses),
                "tokens_issued": self.tokens_issued, "token_puts": self.token_puts,
                "with_token": self.with_token, "without_token": self.without_token,
                "unauthorized": self.unauthorized, "connections": self.connections,
                "connections_open": open_conns,
                "max_requests_per_connection": self.max_per_conn}

    def identity(self):
        o = self.o
        return {
            "accountId": o.account_id, "architecture": "x86_64", "availabilityZone": o.az,
            "billingProducts": None, "devpayProductCodes": None, "marketplaceProductCodes": None,
            "imageId": "ami-0fake0000000000001", "instanceId": o.instance_id,
            "instanceType": o.instance_type, "kernelId": None, "pendingTime": iso(time.time() - 3600),
            "privateIp": o.private_ip, "ramdiskId": None, "region": o.region, "version": "2017-09-30",
        }

    def creds(self):
        if self.creds_raw is not None:
            return self.creds_raw
        now = time.time()
        c = {"Code": "Success", "LastUpdated": iso(now), "Type": "AWS-HMAC",
             "AccessKeyId": "ASIAFAKEIMDS00000001",
             "SecretAccessKey": "fakeSecretKeyFromIMDS/0000000000000000000",
             "Token": "FakeSessionTokenFromIMDS" + "x" * 1000, "Expiration": iso(now + 6 * 3600)}
        c.update(self.creds_over)
        return json.dumps(c, indent=2)

    def meta(self, path):
        """(status, body) of an IMDS GET, after the token check."""
        o = self.o
        if path in self.paths:
            return self.paths[path]
        simple = {
            "/latest/meta-data/instance-id": o.instance_id,
            "/latest/meta-data/instance-type": o.instance_type,
            "/latest/meta-data/local-hostname": o.local_hostname,
            "/latest/meta-data/hostname": o.local_hostname,
            "/latest/meta-data/local-ipv4": o.private_ip,
            "/latest/meta-data/ami-id": "ami-0fake0000000000001",
            "/latest/meta-data/placement/availability-zone": o.az,
            "/latest/meta-data/placement/region": o.region,
        }
        if path in simple:
            return 200, simple[path].encode()
        if path in ("/latest/meta-data", "/latest/meta-data/"):
            return 200, b"ami-id\nevents/\nhostname\niam/\ninstance-id\ninstance-type\n" \
                        b"local-hostname\nlocal-ipv4\nplacement/\nspot/"
        if path == EVENTS_PATH:
            return 200, b"[]"
        if path == "/latest/dynamic/instance-identity/document":
            return 200, json.dumps(self.identity(), indent=2).encode()
        if path == "/latest/meta-data/iam/security-credentials/" and o.role:
            return 200, o.role.encode()
        if o.role and path == "/latest/meta-data/iam/security-credentials/" + o.role:
            return 200, self.creds().encode()
        return 404, HTML_404.encode()


class Handler(fakeserver.Handler):
    def version_string(self):
        return "EC2ws"

    def send(self, status, body, ctype="text/plain", extra=(), fault=None):
        self.respond(status, body, [("Content-Type", ctype)] + list(extra), fault)

    def route(self):
        path = self.path.split("?", 1)[0]
        body = self.read_body(BODY_MAX)
        if path.startswith("/_fake/"):
            return self.control(path, body)
        t0 = time.monotonic()
        st = self.server.state
        with st.lock:
            key = f"{self.command} {path}"
            st.requests[key] = st.requests.get(key, 0) + 1
            if self.served == 1:
                st.connections += 1
            st.max_per_conn = max(st.max_per_conn, self.served)
        rule = self.server.rules.match(self.command, path)
        try:
            if self.fault_before(rule):
                return
            instead = self.fault_instead(rule)
            if instead is not None:
                return self.send(instead[0], instead[1], extra=instead[2].items())
            self.imds(path, rule)
        finally:
            self.note(path, self.last_status or None, t0)

    def note(self, path, status, t0):
        st = self.server.state
        with st.lock:
            k = str(status) if status is not None else "none"
            st.statuses[k] = st.statuses.get(k, 0) + 1
        lf = self.server.log_file
        if lf is not None:
            tok = "token" if self.headers.get(TOKEN_HEADER) else "-"
            lf.write(f"{self.command} {path} {status} {tok} {(time.monotonic() - t0) * 1000:.1f}\n")
            lf.flush()

    def imds(self, path, rule=None):
        st = self.server.state
        if path == "/latest/api/token":
            if self.command != "PUT":
                return self.send(405, "405 - Method Not Allowed\n")
            with st.lock:
                st.token_puts += 1
                put_status = st.put_status
            if put_status:
                return self.send(put_status, f"{put_status} - token request refused\n")
            if self.headers.get("X-Forwarded-For") is not None:
                return self.send(403, "403 - Forbidden\n")
            ttl = (self.headers.get(TTL_HEADER) or "").strip()
            if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
                return self.send(400, "400 - Bad Request\n")
            asked = int(ttl)
            tok = "AQAEA" + secrets.token_urlsafe(40)
            with st.lock:
                granted = min(asked, st.max_ttl)
                st.tokens[tok] = time.monotonic() + granted
                st.tokens_issued += 1
                echo = asked if st.hide_ttl else granted
            return self.send(200, tok, extra=[(TTL_HEADER, str(echo))], fault=rule)
        if self.command not in ("GET", "HEAD"):
            return self.send(405, "405 - Method Not Allowed\n")
        tok = self.headers.get(TOKEN_HEADER)
        with st.lock:
            if tok is not None:
                st.with_token += 1
                exp = st.tokens.get(tok)
                ok = exp is not None and time.monotonic() < exp
            else:
                st.without_token += 1
                ok = st.imds_v2 == "optional" or bool(st.put_status)
            if not ok:
                st.unauthorized += 1
            else:
                status, body = st.meta(path)
        if not ok:
            return self.send(401, "401 - Unauthorized\n")
        return self.send(status, body, fault=rule)

    # ---- control ----

    def control(self, path, body):
        st = self.server.state
        try:
            req = json.loads(body.decode() or "{}") if body else {}
        except ValueError as e:
            return self.json_out({"error": f"bad JSON: {e}"}, 400)
        if path == "/_fake/stats" and self.command == "GET":
            with self.server.conns_lock:
                n_open = len(self.server.conns) - 1
            with st.lock:
                out = st.stats(n_open)
            out["faults_fired"] = self.server.rules.fired - st.fired_before
            return self.json_out(out)
        if self.command != "POST":
            return self.json_out({"error": "control calls are POST (but GET /_fake/stats)"}, 405)
        try:
            out = self.control_faults(req)
        except ValueError as e:
            return self.json_out({"error": str(e)}, 400)
        if out is not None:
            return self.json_out(out)
        if path == "/_fake/notice":
            with st.lock:
                for k, p in NOTICE_PATHS.items():
                    if k not in req:
                        continue
                    v = req[k]
                    if v is None:
                        st.paths.pop(p, None)
                    else:
                        st.paths[p] = (200, (v if isinstance(v, str) else json.dumps(v)).encode())
            return self.json_out({"ok": True})
        if path == "/_fake/events":
            body = scheduled_events(req.get("events") or []).encode()
            with st.lock:
                st.paths[EVENTS_PATH] = (200, body)
            return self.json_out({"ok": True, "body": body.decode()})
        if path == "/_fake/path":
            with st.lock:
                if req.get("body") is None:
                    st.paths.pop(req["path"], None)
                else:
                    st.paths[req["path"]] = (int(req.get("status", 200)), req["body"].encode())
            return self.json_out({"ok": True})
        if path == "/_fake/config":
            with st.lock:
                if "imds_v2" in req:
                    st.imds_v2 = req["imds_v2"]
                if "put_status" in req:
                    st.put_status = req["put_status"]
                if "max_ttl" in req:
                    st.max_ttl = int(req["max_ttl"])
                if "hide_ttl" in req:
                    st.hide_ttl = bool(req["hide_ttl"])
            return self.json_out({"ok": True})
        if path == "/_fake/tokens":
            with st.lock:
                if req.get("revoke"):
                    st.tokens.clear()
            return self.json_out({"ok": True})
        if path == "/_fake/creds":
            with st.lock:
                if "raw" in req:
                    st.creds_raw = req["raw"]
                else:
                    st.creds_raw = None
                    st.creds_over.update(req)
            return self.json_out({"ok": True})
        if path == "/_fake/reset":
            with st.lock:
                st.reset_stats()
                st.fired_before = self.server.rules.fired
            return self.json_out({"ok": True})
        return self.json_out({"error": f"no control call {path}"}, 404)


def main():
    ap = argparse.ArgumentParser(description="fake EC2 instance metadata service (see the module docstring)")
    fakeserver.common_args(ap, tls=False)
    ap.add_argument("--imds-v2", choices=("required", "optional"), default="required")
    ap.add_argument("--put-status", type=int, default=0)
    ap.add_argument("--max-ttl", type=int, default=MAX_TTL)
    ap.add_argument("--hide-ttl", action="store_true")
    ap.add_argument("--instance-id", default="i-0fa1e0000000000001")
    ap.add_argument("--instance-type", default="m5.large")
    ap.add_argument("--local-hostname", default="ip-10-0-1-23.eu-west-1.compute.internal")
    ap.add_argument("--private-ip", default="10.0.1.23")
    ap.add_argument("--region", default="eu-west-1")
    ap.add_argument("--az", default="eu-west-1b")
    ap.add_argument("--account-id", default="123456789012")
    ap.add_argument("--role", default="despotify-node-role")
    opts = ap.parse_args()

    srv = fakeserver.Server(Handler, opts.bind, opts.port)
    srv.state = State(opts)
    srv.log_file = open(opts.log, "a") if opts.log else None
    if opts.port_file:
        srv.write_port(opts.port_file)
    fakeserver.serve(srv)


if __name__ == "__main__":
    main()
