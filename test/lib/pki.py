"""Test PKI made with openssl at test time: a CA, server certificates for
127.0.0.1, one with a wrong name, one from an untrusted CA, a client
certificate (RSA and EC keys). Nothing here is committed or long-lived."""
import os
import subprocess
import unittest

from fakeproc import class_tmpdir

OPENSSL = "openssl"


def _run(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def _ca(d, name, key="rsa"):
    keyargs = ["-newkey", "rsa:2048"] if key == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _run("req", "-x509", "-nodes", *keyargs, "-keyout", f"{name}.key", "-out", f"{name}.crt",
         "-days", "2", "-subj", f"/CN=despotify test {name}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _leaf(d, name, ca, san, key="rsa", client=False, subj=None):
    keyargs = ["-newkey", "rsa:2048"] if key == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _run("req", "-nodes", *keyargs, "-keyout", f"{name}.key", "-out", f"{name}.csr",
         "-subj", subj or f"/CN={name}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
        if san:
            f.write(f"subjectAltName={san}\n")
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
         "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)


def make_pki(d):
    """Creates the test PKI in directory d (once) and returns a dict of paths:
    ca, server_crt/server_key (SAN IP:127.0.0.1, DNS:localhost, DNS:kubernetes.default.svc),
    wrongname_crt/key (SAN DNS:wrong.example.com), untrusted_crt/key (same SANs as
    server, signed by another CA), client_crt/client_key (RSA, clientAuth),
    client_ec_crt/client_ec_key (EC P-256), ec_server_crt/key (EC key, IP SAN)."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    if not os.path.exists(p("done")):
        _ca(d, "ca")
        _ca(d, "otherca")
        san = "IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc"
        _leaf(d, "server", "ca", san)
        _leaf(d, "ecserver", "ca", san, key="ec")
        _leaf(d, "wrongname", "ca", "DNS:wrong.example.com")
        _leaf(d, "untrusted", "otherca", san)
        _leaf(d, "client", "ca", None, client=True)
        _leaf(d, "clientec", "ca", None, key="ec", client=True)
        open(p("done"), "w").close()
    return {
        "dir": d, "ca": p("ca.crt"), "ca_key": p("ca.key"),
        "server_crt": p("server.crt"), "server_key": p("server.key"),
        "ec_server_crt": p("ecserver.crt"), "ec_server_key": p("ecserver.key"),
        "wrongname_crt": p("wrongname.crt"), "wrongname_key": p("wrongname.key"),
        "untrusted_crt": p("untrusted.crt"), "untrusted_key": p("untrusted.key"),
        "client_crt": p("client.crt"), "client_key": p("client.key"),
        "client_ec_crt": p("clientec.crt"), "client_ec_key": p("clientec.key"),
    }


def node_cert(d, node, name, key="ec"):
    """A kubelet-style client certificate for node (CN system:node:NODE, O system:nodes),
    signed by the test CA of make_pki(d), as one combined PEM (certificate, then key) like
    /var/lib/kubelet/pki/kubelet-client-current.pem. Returns its path, d/NAME.pem."""
    p = make_pki(d)
    keyargs = ["-newkey", "rsa:2048"] if key == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _run("req", "-nodes", *keyargs, "-keyout", f"{name}.key", "-out", f"{name}.csr",
         "-subj", f"/O=system:nodes/CN=system:node:{node}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", p["ca"], "-CAkey", p["ca_key"],
         "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)
    out = os.path.join(d, f"{name}.pem")
    with open(out, "w") as f:
        for part in (f"{name}.crt", f"{name}.key"):
            with open(os.path.join(d, part)) as g:
                f.write(g.read())
    return out


class PkiTestCase(unittest.TestCase):
    """A test class whose tests share one temporary directory cls.tmp (named
    after tmp_prefix) holding make_pki's PKI (cls.pki); the directory goes
    with the class."""
    tmp_prefix = "despotify-pki-"

    @classmethod
    def setUpClass(cls):
        cls.tmp = class_tmpdir(cls, cls.tmp_prefix)
        cls.pki = make_pki(os.path.join(cls.tmp, "pki"))
