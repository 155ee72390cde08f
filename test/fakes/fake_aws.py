#!/usr/bin/python3
"""fake_aws.py — a fake AWS Auto Scaling + STS endpoint and a container
credentials endpoint, for despotify's tests, demo and benchmarks. Standard
library plus Debian's python3-botocore (for checking signatures).

It speaks HTTP/1.1 with keep-alive over TLS (and, with --plain-port-file,
plain HTTP on a second port with the same state: the container-credentials
endpoint is plain HTTP in real life) and answers, with the XML AWS sends
(namespaces, RequestId, ErrorResponse):

  POST /   Content-Type: application/x-www-form-urlencoded
    Action=DescribeAutoScalingInstances&Version=2011-01-01&InstanceIds.member.N=ID
        -> the instances' group, lifecycle state, zone (unknown ids are left out: an
           instance in no group gives an empty <AutoScalingInstances/>)
    Action=DetachInstances&Version=2011-01-01&AutoScalingGroupName=G&InstanceIds.member.N=ID
           &ShouldDecrementDesiredCapacity=true|false
        -> an Activity; the instance goes to "Detaching", and --detach-s seconds later
           leaves the group. ValidationError when the group does not exist, the
           instance is not in it or is not InService/Standby, or the flag is missing.
    Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=..&RoleSessionName=..
           &WebIdentityToken=..   (STS, unsigned)
        -> new session credentials (valid --cred-ttl seconds), which this fake then
           accepts; InvalidIdentityToken for a token it was not told to accept,
           AccessDenied for another role ARN, ValidationError for a bad session name.
  GET  /?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=..&X-Amz-Credential=..
           &X-Amz-Date=..&X-Amz-Expires=..&X-Amz-SignedHeaders=..[&X-Amz-Security-Token=..]
           &X-Amz-Signature=..   (STS, presigned: what an EKS token carries)
        -> <GetCallerIdentityResponse> with --caller-arn as the Arn. The signature is
           checked with botocore (the canonical request rebuilt from the URL received and
           the headers listed in X-Amz-SignedHeaders, as for POST requests); like STS, a
           presigned GetCallerIdentity is good for 15 minutes after its X-Amz-Date whatever
           X-Amz-Expires says (older: 403 SignatureDoesNotMatch "Signature expired").
  GET  /v1/credentials (or any other path not under /_fake/ with GET)
        -> container / EKS Pod Identity credentials as JSON {AccessKeyId, SecretAccessKey,
           Token, Expiration, RoleArn, AccountId}; checks the Authorization header
           against --container-token when one is set (401 / 403 JSON otherwise).

Every Auto Scaling request must be signed (SigV4, service "autoscaling",
region --region). The signature is checked independently with botocore:
the request is rebuilt as a botocore AWSRequest from the bytes received
(the headers the client listed in SignedHeaders, the body, the X-Amz-Date)
and signed with SigV4Auth using the credentials this fake issued or was
given. Mismatch: 403 SignatureDoesNotMatch with the canonical request AWS
would have expected. Unknown key or a missing / wrong X-Amz-Security-Token
for session credentials: 403 InvalidClientTokenId. Expired credentials:
400 ExpiredToken. An X-Amz-Date more than 5 minutes off the fake's clock
(time.time() + skew): 400 RequestExpired (or 403 SignatureDoesNotMatch
"Signature expired: ..." with skew_code SignatureDoesNotMatch, as some
Query services say it). Every response carries a Date header from the
fake's clock, so a client can resync from it.

Options:
  --port N (0: pick one)  --port-file F (the chosen TLS port is written there)
  --bind 127.0.0.1        --cert F --key F (test/lib/pki.py server_crt/server_key)
  --plain                 serve plain HTTP on --port instead of TLS
  --plain-port-file F     also serve plain HTTP on another free port, written to F
  --region R              region requests must be signed for (default us-east-1)
  --access-key AK --secret-key SK [--session-token T]   static credentials accepted
  --instance ID=GROUP[:STATE[:AZ]]   an instance in a group (repeatable; STATE default InService)
  --role-arn ARN          the role STS lets the web identity assume
                          (default arn:aws:iam::123456789012:role/despotify)
  --web-identity-token T  a token STS accepts (repeatable)
  --container-token T     the Authorization value the container endpoint wants (empty: none)
  --cred-ttl S            lifetime of issued credentials (default 3600)
  --detach-s S            seconds an instance stays "Detaching" (default 2)
  --skew-s S              the fake's clock is S seconds ahead of the machine's (default 0)
  --caller-arn ARN        GetCallerIdentity's Arn for any credentials
                          (default arn:aws:sts::123456789012:assumed-role/eks-node-role/i-0123456789abcdef0)
  --log F                 append one line per request (method action status ms) to F

Control API (same ports, no auth, JSON in and out):
  POST /_fake/reset        {}  forget calls, faults and issued credentials; keep instances
  POST /_fake/instances    {"instances":[{"id","group","state":"InService","az":"us-east-1a"}],
                            "replace": true}  set instances (replace: forget the others first)
  POST /_fake/credentials  {"access_key_id","secret_access_key","session_token":null,
                            "expires_in": S|null}  accept these credentials too (e.g. IMDS's)
  POST /_fake/expire       {"access_key_id": AK} or {"all": true}  those credentials expire now
  POST /_fake/web_identity {"tokens":[...], "role_arn": ARN}  replace the accepted tokens / role
  POST /_fake/container    {"token": T|"", "status": N|null, "raw": BODY|null}
                           the wanted Authorization; force a status or a raw body
  POST /_fake/config       {"skew_s", "detach_s", "cred_ttl", "region", "skew_code", "caller_arn"}
  POST /_fake/faults       {"rules":[RULE...]} (added) or {"clear": true}; RULE as in
                           test/fakes/fakeserver.py (its FAULTS table is the vocabulary), "api" one
                           of DescribeAutoScalingInstances, DetachInstances, AssumeRoleWithWebIdentity,
                           container (optional: any). A "status" fault answers AWS's error "code"
                           (AWS_ERRORS below: Throttling, ServiceUnavailable, InternalFailure,
                           AccessDenied, ValidationError, RequestExpired, ExpiredToken; without a
                           code, the usual one for "status"); "expire": true also expires the
                           credentials used (as after a real ExpiredToken). A truncated or half-body answer is not acted on (a
                           Detach does not happen); a "lost" one is.
                           Faults fire after the signature check, so a faulted request is
                           still verified and recorded.
  POST /_fake/refuse       {"seconds": S}  connects refused for S seconds
  GET  /_fake/calls        {"calls":[{"api","params":{...},"status","code","access_key",
                            "session_token_sent","signed","signature_ok","x_amz_date",
                            "authorization_present","user_agent","fault","t"}]}
                           (STS calls carry "web_identity_token"; container calls
                           "authorization")
  GET  /_fake/state        {"instances":{ID:{group,state,az}}, "groups":{G:{"desired":N}},
                            "credentials":[{"access_key_id","source","expired"}], "now": epoch}
"""
import argparse
import base64
import calendar
import json
import re
import secrets
import string
import threading
import time
import urllib.parse
import uuid
from email.utils import formatdate

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import fakeserver

ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ACCOUNT = "123456789012"
SKEW_LIMIT_S = 300
BODY_MAX = 1 << 20           # bytes of a request body
LOST = ("truncate", "lost")  # faults after which the client has no answer
# AWS's errors that "status" faults name by "code": code -> (status, message); {api} is the Action.
AWS_ERRORS = {
    "Throttling": (400, "Rate exceeded"),
    "ServiceUnavailable": (503, "Service is unavailable. Please try again later."),
    "InternalFailure": (500, "An internal error occurred."),
    "AccessDenied": (403, f"User: arn:aws:sts::{ACCOUNT}:assumed-role/despotify/i-0123456789abcdef0 is not "
                          "authorized to perform: autoscaling:{api} because no identity-based policy "
                          "allows the autoscaling:{api} action"),
    "ValidationError": (400, "Invalid parameter"),
    "RequestExpired": (400, "Request has expired."),
    "ExpiredToken": (400, "The security token included in the request is expired"),
}
DEFAULT_CODE = {503: "ServiceUnavailable", 500: "InternalFailure", 403: "AccessDenied", 429: "Throttling"}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def amz(t):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def amz_time(xdate, date8, bad_code, scope_msg):
    """The X-Amz-Date xdate in seconds since the epoch. AwsError 400 bad_code
    when it is no such date; 403 SignatureDoesNotMatch with scope_msg when its
    day is not date8, the credential scope's."""
    try:
        t = calendar.timegm(time.strptime(xdate, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise AwsError(400, bad_code, "Invalid X-Amz-Date")
    if xdate[:8] != date8:
        raise AwsError(403, "SignatureDoesNotMatch", scope_msg)
    return t


def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def rand_upper(n):
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(n))


class Cred:
    def __init__(self, ak, secret, token=None, expires=None, source="static"):
        self.ak, self.secret, self.token, self.expires, self.source = ak, secret, token, expires, source
        self.expired = False

    def is_expired(self, now):
        return self.expired or (self.expires is not None and now >= self.expires)


class AwsError(Exception):
    def __init__(self, status, code, message, kind="Sender", ns=ASG_NS):
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.ns = status, code, message, kind, ns


class State:
    def __init__(self, o):
        self.lock = threading.Lock()
        self.region = o.region
        self.skew_s = o.skew_s
        self.skew_code = "RequestExpired"
        self.detach_s = o.detach_s
        self.cred_ttl = o.cred_ttl
        self.role_arn = o.role_arn
        self.caller_arn = o.caller_arn
        self.web_tokens = set(o.web_identity_token or [])
        self.container_token = o.container_token or ""
        self.container_status = None
        self.container_raw = None
        self.creds = {}
        if o.access_key:
            self.creds[o.access_key] = Cred(o.access_key, o.secret_key or "", o.session_token, None, "static")
        self.instances = {}
        self.groups = {}
        for spec in o.instance or []:
            iid, rest = spec.split("=", 1)
            parts = rest.split(":")
            self.set_instance(iid, parts[0], parts[1] if len(parts) > 1 else "InService",
                              parts[2] if len(parts) > 2 else "us-east-1a")
        self.calls = []

    def now(self):
        return time.time() + self.skew_s

    def set_instance(self, iid, group, state="InService", az="us-east-1a"):
        if group:
            self.instances[iid] = {"group": group, "state": state, "az": az, "detach_at": None}
            g = self.groups.setdefault(group, {"desired": 0})
            g["desired"] = sum(1 for i in self.instances.values() if i["group"] == group)
        else:
            self.instances.pop(iid, None)

    def tick(self):
        now = time.monotonic()
        for iid, inst in list(self.instances.items()):
            if inst["detach_at"] is not None and now >= inst["detach_at"]:
                del self.instances[iid]

    def issue(self, source):
        ak = "ASIA" + rand_upper(16)
        secret = base64.b64encode(secrets.token_bytes(30)).decode()
        token = "IQoJb3JpZ2luX2VjE" + base64.b64encode(secrets.token_bytes(600)).decode()
        c = Cred(ak, secret, token, time.time() + self.cred_ttl, source)
        self.creds[ak] = c
        return c


AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$")


class Handler(fakeserver.Handler):
    server_version = "Server"
    timeout = 60

    @property
    def st(self):
        return self.server.state

    def date_time_string(self, timestamp=None):
        # The fake's own clock, so that a client can learn its skew from Date.
        return formatdate(self.st.now(), usegmt=True)

    # ---- plumbing ------------------------------------------------------

    def send_body(self, status, body, ctype="text/xml", fault=None, headers=None):
        self.respond(status, body, [("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Type", ctype)]
                     + list((headers or {}).items()), fault)

    def send_json(self, status, obj):
        self.send_body(status, json.dumps(obj), "application/json")

    def error_xml(self, e):
        return (f'<ErrorResponse xmlns="{e.ns}">\n  <Error>\n    <Type>{e.kind}</Type>\n'
                f'    <Code>{xml_escape(e.code)}</Code>\n    <Message>{xml_escape(e.message)}</Message>\n'
                f'  </Error>\n  <RequestId>{uuid.uuid4()}</RequestId>\n</ErrorResponse>\n')

    def route(self):
        method = self.command
        t0 = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        what = path
        try:
            try:
                body = self.read_body(BODY_MAX)
            except ValueError as e:
                raise AwsError(413, "RequestEntityTooLarge", str(e))
            if path.startswith("/_fake/"):
                self.control(method, path, body)
                return
            if method == "GET" and path == "/" and "Action=" in urllib.parse.urlsplit(self.path).query:
                what = "GetCallerIdentity"
                self.presigned()
            elif method == "GET":
                what = "container"
                self.container()
            elif method == "POST" and path == "/":
                what = self.query_api(body)
            else:
                self.send_body(404, self.error_xml(AwsError(404, "UnknownOperationException", "Unknown operation")))
        except AwsError as e:
            self.send_body(e.status, self.error_xml(e))
        finally:
            if self.server.log_file and not path.startswith("/_fake/"):
                with self.st.lock:
                    self.server.log_file.write(f"{method} {what} {self.last_status} "
                                               f"{(time.monotonic() - t0) * 1000:.0f}ms\n")
                    self.server.log_file.flush()

    def faulted(self, fault, call, cred=None):
        """Acts out fault on the request recorded in call; True when that was
        the whole answer, False when the protocol's answer is still to send
        (through send_body with the fault, which shapes it)."""
        call["fault"] = fault and fault["action"]
        call["status"] = 0
        if self.fault_before(fault):
            return True
        self.call = call
        if fault is not None and fault.get("expire") and cred is not None:
            with self.st.lock:
                cred.expired = True     # as when the credentials really expire
        instead = self.fault_instead(fault)
        if instead is not None:
            call["status"] = instead[0]
            ctype = "application/json" if call["api"] == "container" else "text/xml"
            self.send_body(instead[0], instead[1], ctype, headers=instead[2])
            return True
        return False

    def fault_answer(self, fault):
        """AWS's error for a "status" fault: "code" (or, without one, the
        status's usual code) with AWS's message unless "message" is given."""
        api = self.call["api"]
        code = fault.get("code") or DEFAULT_CODE.get(int(fault.get("status", 503)), "Error")
        status, msg = AWS_ERRORS.get(code, (400, "error"))
        status = int(fault.get("status", status))
        msg = fault.get("message", msg.replace("{api}", api))
        self.call["code"] = code
        if api == "container":
            return status, json.dumps({"code": code, "message": msg}).encode(), {}
        ns = STS_NS if api in ("AssumeRoleWithWebIdentity", "GetCallerIdentity") else ASG_NS
        return status, self.error_xml(AwsError(status, code, msg, "Receiver" if status >= 500 else "Sender",
                                               ns)).encode(), {}

    # ---- control -------------------------------------------------------

    def control(self, method, path, body):
        st = self.st
        req = json.loads(body.decode() or "{}") if method == "POST" else {}
        with st.lock:
            st.tick()
            if path == "/_fake/calls":
                out = {"calls": list(st.calls)}
            elif path == "/_fake/state":
                out = {"instances": {k: {"group": v["group"], "state": v["state"], "az": v["az"]}
                                     for k, v in st.instances.items()},
                       "groups": st.groups,
                       "credentials": [{"access_key_id": c.ak, "source": c.source,
                                        "expired": c.is_expired(time.time())} for c in st.creds.values()],
                       "now": st.now()}
            elif path == "/_fake/reset":
                st.calls.clear()
                self.server.rules.set([], clear=True)
                st.creds = {k: c for k, c in st.creds.items() if c.source not in ("sts", "container")}
                out = {}
            elif path == "/_fake/instances":
                if req.get("replace"):
                    st.instances.clear()
                    st.groups.clear()
                for i in req.get("instances", []):
                    st.set_instance(i["id"], i.get("group"), i.get("state", "InService"), i.get("az", "us-east-1a"))
                out = {}
            elif path == "/_fake/credentials":
                exp = req.get("expires_in")
                st.creds[req["access_key_id"]] = Cred(req["access_key_id"], req["secret_access_key"],
                                                      req.get("session_token"),
                                                      None if exp is None else time.time() + exp, "given")
                out = {}
            elif path == "/_fake/expire":
                for c in st.creds.values():
                    if req.get("all") or c.ak == req.get("access_key_id"):
                        c.expired = True
                out = {}
            elif path == "/_fake/web_identity":
                if "tokens" in req:
                    st.web_tokens = set(req["tokens"])
                if "role_arn" in req:
                    st.role_arn = req["role_arn"]
                out = {}
            elif path == "/_fake/container":
                if "token" in req:
                    st.container_token = req["token"] or ""
                st.container_status = req.get("status")
                st.container_raw = req.get("raw")
                out = {}
            elif path == "/_fake/config":
                for k in ("skew_s", "detach_s", "cred_ttl", "region", "skew_code", "caller_arn"):
                    if k in req:
                        setattr(st, k, req[k])
                out = {}
            elif path in ("/_fake/faults", "/_fake/refuse"):
                try:
                    out = self.control_faults(req)
                except ValueError as e:
                    self.send_json(400, {"error": str(e)})
                    return
            else:
                self.send_json(404, {"error": "no such control path"})
                return
        self.send_json(200, out)

    # ---- container credentials -----------------------------------------

    def container(self):
        st = self.st
        auth = self.headers.get("Authorization")
        call = {"api": "container", "path": self.path, "authorization": auth, "t": time.monotonic(),
                "fault": None, "status": None}
        with st.lock:
            st.tick()
            st.calls.append(call)
            forced = (st.container_status, st.container_raw)
            wanted = st.container_token
        fault = self.server.rules.match(self.command, self.path, "container")
        if self.faulted(fault, call):
            return
        if forced != (None, None):
            call["status"] = forced[0] or 200
            self.send_body(call["status"], forced[1] or "", "application/json")
            return
        if wanted and auth != wanted:
            call["status"] = 401 if auth is None else 403
            self.send_json(call["status"], {"code": "AccessDeniedException" if auth else "InvalidTokenException",
                                            "message": "Authorization token is missing or not valid"})
            return
        call["status"] = 0 if fault and fault["action"] in LOST else 200
        self.send_body(200, json.dumps(self.container_creds()), "application/json", fault)

    def container_creds(self):
        with self.st.lock:
            c = self.st.issue("container")
        return {"AccessKeyId": c.ak, "SecretAccessKey": c.secret, "Token": c.token,
                "AccountId": ACCOUNT, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/despotify",
                "Expiration": iso(c.expires)}

    # ---- Query API -----------------------------------------------------

    def query_api(self, body):
        st = self.st
        ctype = self.headers.get("Content-Type", "")
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        api = params.get("Action", "")
        call = {"api": api, "params": {k: v for k, v in params.items() if k != "WebIdentityToken"},
                "t": time.monotonic(), "x_amz_date": self.headers.get("X-Amz-Date"),
                "authorization_present": "Authorization" in self.headers,
                "session_token_sent": "X-Amz-Security-Token" in self.headers,
                "user_agent": self.headers.get("User-Agent"), "signed": False, "signature_ok": None,
                "access_key": None, "fault": None, "status": None, "code": None}
        if api == "AssumeRoleWithWebIdentity":
            call["web_identity_token"] = params.get("WebIdentityToken")
        with st.lock:
            st.calls.append(call)
        ns = STS_NS if api == "AssumeRoleWithWebIdentity" else ASG_NS
        try:
            if not ctype.lower().startswith("application/x-www-form-urlencoded"):
                raise AwsError(400, "InvalidParameterValue", "Content-Type must be application/x-www-form-urlencoded", ns=ns)
            if not api:
                raise AwsError(400, "MissingAction", "Missing Action", ns=ns)
            cred = None
            if "Authorization" in self.headers or api != "AssumeRoleWithWebIdentity":
                cred = self.verify(body, "sts" if api == "AssumeRoleWithWebIdentity" else "autoscaling", call, ns)
            with st.lock:
                st.tick()
            fault = self.server.rules.match(self.command, self.path, api)
            if self.faulted(fault, call, cred):
                return api
            # A truncated answer is not acted on: the client retries, and finds the work still to do.
            text = self.answer(api, params, ns, dry=bool(fault) and fault["action"] in ("truncate", "half-body"))
            call["status"] = 0 if fault and fault["action"] in LOST else 200
            self.send_body(200, text, fault=fault)
        except AwsError as e:
            call["status"], call["code"] = e.status, e.code
            e.ns = ns
            self.send_body(e.status, self.error_xml(e))
        return api

    def presigned(self):
        """A presigned STS GET: only GetCallerIdentity, as aws-iam-authenticator sends it."""
        st = self.st
        u = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        api = params.get("Action", "")
        call = {"api": api, "presigned": True, "params": {k: v for k, v in params.items()
                                                          if k not in ("X-Amz-Signature", "X-Amz-Security-Token")},
                "t": time.monotonic(), "x_amz_date": params.get("X-Amz-Date"),
                "x_k8s_aws_id": self.headers.get("x-k8s-aws-id"), "session_token_sent": "X-Amz-Security-Token" in params,
                "signed": True, "signature_ok": None, "access_key": None, "fault": None, "status": None, "code": None}
        with st.lock:
            st.calls.append(call)
        try:
            if api != "GetCallerIdentity" or params.get("Version") != "2011-06-15":
                raise AwsError(400, "InvalidAction", f"Could not find operation {api} for version "
                               f"{params.get('Version')}", ns=STS_NS)
            cred = self.verify_presigned(u, params, call)
            with st.lock:
                arn = st.caller_arn
            session = arn.rsplit("/", 1)[-1]
            call["status"] = 200
            self.send_body(200, f'<GetCallerIdentityResponse xmlns="{STS_NS}">\n'
                           "  <GetCallerIdentityResult>\n"
                           f"    <Arn>{xml_escape(arn)}</Arn>\n"
                           f"    <UserId>AROA{cred.ak[4:12]}:{xml_escape(session)}</UserId>\n"
                           f"    <Account>{ACCOUNT}</Account>\n"
                           "  </GetCallerIdentityResult>\n"
                           f"  <ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>\n"
                           "</GetCallerIdentityResponse>\n")
        except AwsError as e:
            call["status"], call["code"] = e.status, e.code
            e.ns = STS_NS
            self.send_body(e.status, self.error_xml(e))

    def check_signature(self, req, cred, service, region, given, call, advice=""):
        """Signs req (an AWSRequest with its timestamp) again with botocore as
        cred would for service in region; returns cred. AwsError 403 when that
        is not the signature given (call["signature_ok"] says whether it is),
        with advice after the first sentence of AWS's answer; 400 ExpiredToken
        when cred has expired."""
        signer = SigV4Auth(Credentials(cred.ak, cred.secret, cred.token), service, region)
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        call["signature_ok"] = signer.signature(sts, req) == given
        if not call["signature_ok"]:
            raise AwsError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided. "
                           f"{advice}\n\nThe Canonical String for this request should have been\n'{creq}'\n\n"
                           f"The String-to-Sign should have been\n'{sts}'\n")
        if cred.is_expired(time.time()):
            raise AwsError(400, "ExpiredToken", "The security token included in the request is expired")
        return cred

    def signed_headers(self, names):
        """The request's headers called names, each with its values joined by
        commas as SigV4 signs them; AwsError 403 when one is missing."""
        headers = {}
        for h in names:
            vals = self.headers.get_all(h)
            if vals is None:
                raise AwsError(403, "SignatureDoesNotMatch", f"Signed header {h} is missing from the request")
            headers[h] = ",".join(vals)
        return headers

    def verify_presigned(self, u, params, call):
        """Checks a presigned URL as STS would; the signature with botocore."""
        st = self.st
        scope = params.get("X-Amz-Credential", "").split("/")
        if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or len(scope) != 5 or \
                scope[4] != "aws4_request" or "X-Amz-Signature" not in params:
            raise AwsError(400, "AuthorizationQueryParametersError",
                           "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders "
                           "and X-Amz-Expires parameters are required")
        ak, date8, region, svc = scope[:4]
        call["access_key"] = ak
        with st.lock:
            cred = st.creds.get(ak)
            region_want = st.region
            now = st.now()
        if cred is None or (cred.token or None) != (params.get("X-Amz-Security-Token") or None):
            raise AwsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        if region != region_want or svc != "sts":
            raise AwsError(403, "SignatureDoesNotMatch", f"Credential should be scoped to a valid region and "
                           f"service, not '{region}/{svc}'.")
        xdate = params.get("X-Amz-Date", "")
        t = amz_time(xdate, date8, "AuthorizationQueryParametersError",
                     "Date in Credential scope does not match X-Amz-Date")
        if now > t + 900:
            raise AwsError(403, "SignatureDoesNotMatch", f"Signature expired: {xdate} is now earlier than "
                           f"{amz(now - 900)} ({amz(now)} - 15 min.)")
        if t > now + SKEW_LIMIT_S:
            raise AwsError(403, "SignatureDoesNotMatch", f"Signature not yet current: {xdate} is still later "
                           f"than {amz(now + SKEW_LIMIT_S)} ({amz(now)} + 5 min.)")
        signed_list = params.get("X-Amz-SignedHeaders", "").split(";")
        if "host" not in signed_list:
            raise AwsError(403, "SignatureDoesNotMatch", "'Host' must be a signed header")
        headers = self.signed_headers(signed_list)
        # The URL as received, minus the signature, signed again by botocore.
        query = "&".join(p for p in u.query.split("&") if not p.startswith("X-Amz-Signature="))
        req = AWSRequest(method="GET", url=f"https://{self.headers.get('Host', '')}{u.path}?{query}",
                         headers=headers)
        req.context["timestamp"] = xdate
        return self.check_signature(req, cred, "sts", region_want, params["X-Amz-Signature"], call)

    def verify(self, body, service, call, ns):
        st = self.st
        auth = self.headers.get("Authorization")
        if auth is None:
            raise AwsError(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        m = AUTH_RE.match(auth.strip())
        if m is None:
            raise AwsError(400, "IncompleteSignature",
                           f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.")
        ak, date8, region, svc, signed, sig = m.groups()
        call["signed"] = True
        call["access_key"] = ak
        with st.lock:
            cred = st.creds.get(ak)
            region_want = st.region
            now = st.now()
            skew_code = st.skew_code
        if cred is None:
            raise AwsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        tok = self.headers.get("X-Amz-Security-Token")
        if (cred.token or None) != (tok or None):
            raise AwsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        signed_list = signed.split(";")
        if "host" not in signed_list or "x-amz-date" not in signed_list:
            raise AwsError(403, "SignatureDoesNotMatch", "'Host' and 'X-Amz-Date' must be signed.")
        if cred.token and "x-amz-security-token" not in signed_list:
            raise AwsError(403, "SignatureDoesNotMatch", "X-Amz-Security-Token must be signed.")
        if region != region_want:
            raise AwsError(403, "SignatureDoesNotMatch",
                           f"Credential should be scoped to a valid region, not '{region}'. ")
        if svc != service:
            raise AwsError(403, "SignatureDoesNotMatch",
                           f"Credential should be scoped to correct service: '{service}'. ")
        xdate = self.headers.get("X-Amz-Date", "")
        t = amz_time(xdate, date8, "IncompleteSignature",
                     "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP")
        if abs(t - now) > SKEW_LIMIT_S:
            if skew_code == "SignatureDoesNotMatch":
                if t < now:
                    raise AwsError(403, "SignatureDoesNotMatch",
                                   f"Signature expired: {xdate} is now earlier than {amz(now - SKEW_LIMIT_S)} "
                                   f"({amz(now)} - 5 min.)")
                raise AwsError(403, "SignatureDoesNotMatch",
                               f"Signature not yet current: {xdate} is still later than {amz(now + SKEW_LIMIT_S)} "
                               f"({amz(now)} + 5 min.)")
            raise AwsError(400, "RequestExpired", f"Request has expired. Timestamp date is {xdate}")
        # Rebuild the request as received and sign it with botocore.
        headers = self.signed_headers(signed_list)
        host = self.headers.get("Host", "")
        req = AWSRequest(method=self.command, url=f"https://{host}{self.path}", data=body, headers=headers)
        req.context["timestamp"] = xdate
        return self.check_signature(req, cred, service, region_want, sig, call,
                                    "Check your AWS Secret Access Key and signing method. Consult the service "
                                    "documentation for details.")

    def answer(self, api, params, ns, dry=False):
        if params.get("Version") not in ("2011-01-01", "2011-06-15"):
            raise AwsError(400, "InvalidAction", f"Could not find operation {api} for version {params.get('Version')}")
        if api == "DescribeAutoScalingInstances" and params["Version"] == "2011-01-01":
            return self.describe(params)
        if api == "DetachInstances" and params["Version"] == "2011-01-01":
            return self.detach(params, dry)
        if api == "AssumeRoleWithWebIdentity" and params["Version"] == "2011-06-15":
            return self.assume(params, dry)
        raise AwsError(400, "InvalidAction", f"Could not find operation {api} for version {params.get('Version')}")

    @staticmethod
    def members(params, prefix):
        out = []
        i = 1
        while f"{prefix}.member.{i}" in params:
            out.append(params[f"{prefix}.member.{i}"])
            i += 1
        return out

    def describe(self, params):
        st = self.st
        ids = self.members(params, "InstanceIds")
        items = []
        with st.lock:
            st.tick()
            for iid in ids:
                inst = st.instances.get(iid)
                if inst is None:
                    continue
                items.append(
                    "      <member>\n"
                    "        <HealthStatus>HEALTHY</HealthStatus>\n"
                    f"        <AutoScalingGroupName>{xml_escape(inst['group'])}</AutoScalingGroupName>\n"
                    f"        <InstanceId>{xml_escape(iid)}</InstanceId>\n"
                    "        <InstanceType>m5.large</InstanceType>\n"
                    "        <LaunchTemplate>\n"
                    "          <LaunchTemplateId>lt-0123456789abcdef0</LaunchTemplateId>\n"
                    "          <LaunchTemplateName>spot-workers</LaunchTemplateName>\n"
                    "          <Version>3</Version>\n"
                    "        </LaunchTemplate>\n"
                    f"        <LifecycleState>{xml_escape(inst['state'])}</LifecycleState>\n"
                    f"        <AvailabilityZone>{xml_escape(inst['az'])}</AvailabilityZone>\n"
                    "        <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
                    "      </member>\n")
        inner = ("    <AutoScalingInstances>\n" + "".join(items) + "    </AutoScalingInstances>\n"
                 if items else "    <AutoScalingInstances/>\n")
        return (f'<DescribeAutoScalingInstancesResponse xmlns="{ASG_NS}">\n'
                "  <DescribeAutoScalingInstancesResult>\n" + inner +
                "  </DescribeAutoScalingInstancesResult>\n"
                f"  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n  </ResponseMetadata>\n"
                "</DescribeAutoScalingInstancesResponse>\n")

    def detach(self, params, dry):
        st = self.st
        group = params.get("AutoScalingGroupName")
        ids = self.members(params, "InstanceIds")
        dec = params.get("ShouldDecrementDesiredCapacity")
        if not group:
            raise AwsError(400, "ValidationError", "1 validation error detected: Value null at 'autoScalingGroupName' "
                           "failed to satisfy constraint: Member must not be null")
        if dec not in ("true", "false"):
            raise AwsError(400, "ValidationError", "1 validation error detected: Value null at "
                           "'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
        acts = []
        with st.lock:
            st.tick()
            if group not in st.groups:
                raise AwsError(400, "ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup {group} not found")
            for iid in ids:
                inst = st.instances.get(iid)
                if inst is None or inst["group"] != group:
                    raise AwsError(400, "ValidationError", f"The instance {iid} is not part of Auto Scaling group {group}.")
                if inst["state"] not in ("InService", "Standby"):
                    raise AwsError(400, "ValidationError", f"The instance {iid} is not in InService or Standby.")
            now = st.now()
            for iid in ids:
                inst = st.instances[iid]
                g = st.groups[group]
                before = g["desired"]
                if not dry:
                    inst["state"] = "Detaching"
                    inst["detach_at"] = time.monotonic() + st.detach_s
                    if dec == "true":
                        g["desired"] = max(0, g["desired"] - 1)
                cause = (f"At {iso(now)} instance {iid} was detached in response to a user request"
                         + (f", shrinking the capacity from {before} to {before - 1}." if dec == "true" else "."))
                acts.append("      <member>\n"
                            f"        <ActivityId>{uuid.uuid4()}</ActivityId>\n"
                            f"        <AutoScalingGroupName>{xml_escape(group)}</AutoScalingGroupName>\n"
                            f"        <Description>Detaching EC2 instance: {xml_escape(iid)}</Description>\n"
                            f"        <Cause>{xml_escape(cause)}</Cause>\n"
                            f"        <StartTime>{iso(now)}</StartTime>\n"
                            "        <StatusCode>InProgress</StatusCode>\n"
                            "        <Progress>50</Progress>\n"
                            f"        <Details>{xml_escape(json.dumps({'Subnet ID': 'subnet-0abc', 'Availability Zone': inst['az']}))}</Details>\n"
                            "      </member>\n")
        return (f'<DetachInstancesResponse xmlns="{ASG_NS}">\n  <DetachInstancesResult>\n    <Activities>\n'
                + "".join(acts) + "    </Activities>\n  </DetachInstancesResult>\n"
                f"  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n  </ResponseMetadata>\n"
                "</DetachInstancesResponse>\n")

    def assume(self, params, dry):
        st = self.st
        arn, session, tok = params.get("RoleArn"), params.get("RoleSessionName"), params.get("WebIdentityToken")
        if not arn or not session or not tok:
            raise AwsError(400, "ValidationError", "RoleArn, RoleSessionName and WebIdentityToken are required", ns=STS_NS)
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", session):
            raise AwsError(400, "ValidationError", f"1 validation error detected: Value '{session}' at 'roleSessionName' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
                           ns=STS_NS)
        with st.lock:
            if tok not in st.web_tokens:
                raise AwsError(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider,  "
                               "please reference AssumeRoleWithWebIdentity documentation for requirements", ns=STS_NS)
            if arn != st.role_arn:
                raise AwsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", ns=STS_NS)
            c = st.issue("sts") if not dry else Cred("ASIAXXXXXXXXXXXXXXXX", "x", "x", time.time() + 3600, "sts")
        role = arn.rsplit("/", 1)[-1]
        return (f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}">\n'
                "  <AssumeRoleWithWebIdentityResult>\n"
                "    <Audience>sts.amazonaws.com</Audience>\n"
                "    <AssumedRoleUser>\n"
                f"      <AssumedRoleId>AROA{rand_upper(17)}:{xml_escape(session)}</AssumedRoleId>\n"
                f"      <Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{xml_escape(role)}/{xml_escape(session)}</Arn>\n"
                "    </AssumedRoleUser>\n"
                "    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE</Provider>\n"
                "    <Credentials>\n"
                f"      <AccessKeyId>{c.ak}</AccessKeyId>\n"
                f"      <SecretAccessKey>{xml_escape(c.secret)}</SecretAccessKey>\n"
                f"      <SessionToken>{xml_escape(c.token)}</SessionToken>\n"
                f"      <Expiration>{iso(c.expires)}</Expiration>\n"
                "    </Credentials>\n"
                "    <SubjectFromWebIdentityToken>system:serviceaccount:kube-system:despotify</SubjectFromWebIdentityToken>\n"
                "  </AssumeRoleWithWebIdentityResult>\n"
                f"  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n  </ResponseMetadata>\n"
                "</AssumeRoleWithWebIdentityResponse>\n")


def main():
    ap = argparse.ArgumentParser(description="fake AWS Auto Scaling + STS (see the module docstring)")
    fakeserver.common_args(ap)
    ap.add_argument("--plain-port-file")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--access-key")
    ap.add_argument("--secret-key")
    ap.add_argument("--session-token")
    ap.add_argument("--instance", action="append")
    ap.add_argument("--role-arn", default=f"arn:aws:iam::{ACCOUNT}:role/despotify")
    ap.add_argument("--web-identity-token", action="append")
    ap.add_argument("--container-token", default="")
    ap.add_argument("--cred-ttl", type=float, default=3600)
    ap.add_argument("--detach-s", type=float, default=2)
    ap.add_argument("--skew-s", type=float, default=0)
    ap.add_argument("--caller-arn", default=f"arn:aws:sts::{ACCOUNT}:assumed-role/eks-node-role/i-0123456789abcdef0")
    o = ap.parse_args()

    state = State(o)
    log_file = open(o.log, "a") if o.log else None
    srv = fakeserver.Server(Handler, o.bind, o.port, fakeserver.tls_of(ap, o))
    servers = [srv]
    if o.plain_port_file:
        servers.append(fakeserver.Server(Handler, o.bind, 0))
    for s in servers:
        # The plain server shares the state and the fault rules of the TLS one.
        s.state, s.log_file, s.rules = state, log_file, srv.rules
    if o.plain_port_file:
        servers[1].write_port(o.plain_port_file)
    if o.port_file:
        srv.write_port(o.port_file)
    fakeserver.serve(*servers)


if __name__ == "__main__":
    main()
