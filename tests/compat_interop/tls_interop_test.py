#!/usr/bin/python3
"""QEMU with a SPICE TLS port (-spice tls-port=...,x509-dir=...) on spiceflow's
libspice-server.so.1 versus the reference library, same command line.

    tls_interop_test.py LIB_DIR [OUT_DIR]

A throw-away CA and server certificate for 127.0.0.1 are made with the openssl command.
For each library: a spice-client-glib client (tests/interop/spice_client.py) that trusts
the CA connects over TLS only and must end on one of the settled SeaBIOS pictures that
plain-text spicy-screenshot sees on the reference; a client trusting another CA must fail;
with tls-channel=main a client given both ports must still get the picture (its main
channel is answered NEED_SECURED and relinks over TLS). Every outcome must be the
reference's. Exit 0 pass, 1 fail, 77 skip (QEMU, openssl or spice-client-glib missing)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hosts_interop_test as hosts  # noqa: E402  (Qemu, settled_pictures, ...)

SPICE_CLIENT = os.path.join(HERE, "..", "interop", "spice_client.py")


def log(msg):
    print(msg, flush=True)


def make_certificates(d):
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
         "-keyout", "ca-key.pem", "-out", "ca-cert.pem"],
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other CA",
         "-keyout", "other-key.pem", "-out", "other-ca.pem"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", "server-key.pem", "-out", "server.csr"],
        ["x509", "-req", "-days", "2", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey",
         "ca-key.pem", "-CAcreateserial", "-extfile", "san.cnf", "-out", "server-cert.pem"],
    ]
    for step in steps:
        subprocess.run(["openssl", *step], cwd=d, check=True, capture_output=True, timeout=60)


def pixels(ppm):
    """The pixel bytes of a binary PPM (whatever its header's spacing)."""
    fields, pos = [], 0
    while len(fields) < 4:
        while ppm[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not ppm[end:end + 1].isspace():
            end += 1
        fields.append(ppm[pos:end])
        pos = end
    return ppm[pos + 1:]


def watch_tls(qemu, certs, ca, out, plain_port=0, seconds=3):
    """spice_client.py over TLS; returns (exit code, pixel sha256 or None)."""
    args = ["/usr/bin/python3", SPICE_CLIENT, "--tls-port", str(qemu.tls_port), "--ca-file",
            os.path.join(certs, ca), "watch", "127.0.0.1", str(plain_port), str(seconds),
            "--out", out]
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    digest = None
    if os.path.exists(out):
        with open(out, "rb") as f:
            digest = hashlib.sha256(pixels(f.read())).hexdigest()
    try:
        errors = json.loads(r.stdout.strip().splitlines()[-1]).get("errors")
    except (ValueError, IndexError):
        errors = r.stderr.strip()[-300:]
    log("%s: TLS client (%s, plain port %d): exit %d, picture %s, errors %s"
        % (qemu.name, ca, plain_port, r.returncode, digest and digest[:12], errors))
    return r.returncode, digest


def run_library(name, lib_dir, certs, out_dir, want):
    """Outcomes of the three clients on one library."""
    outcome = {}
    spice = "disable-ticketing=on,tls-port=%d,x509-dir=%s"
    tls_port = hosts.free_port()
    with hosts.Qemu(name, lib_dir, out_dir, spice=spice % (tls_port, certs)) as q:
        q.tls_port = tls_port
        hosts.check_library(q, lib_dir is not None, lib_dir or LIB_DIR)
        if want is None:
            want = {hashlib.sha256(pixels(d)).hexdigest()
                    for d in hosts.settled_pictures(q, out_dir, name).values()}
        code, digest = watch_tls(q, certs, "ca-cert.pem", os.path.join(out_dir, name + "-tls.ppm"))
        outcome["trusted"] = (code, digest in want)
        code, digest = watch_tls(q, certs, "other-ca.pem",
                                 os.path.join(out_dir, name + "-untrusted.ppm"), seconds=2)
        outcome["untrusted"] = (code != 0, digest is not None)
        if not q.alive():
            raise RuntimeError("%s: QEMU died:\n%s" % (name, q.read_log()[-2000:]))
    tls_port = hosts.free_port()
    with hosts.Qemu(name + "-tlsmain", lib_dir, out_dir,
                    spice=(spice + ",tls-channel=main") % (tls_port, certs)) as q:
        q.tls_port = tls_port
        code, digest = watch_tls(q, certs, "ca-cert.pem", os.path.join(out_dir, name + "-mix.ppm"),
                                 plain_port=q.port)
        outcome["tls_channel_main"] = (code, digest in want)
    return outcome, want


LIB_DIR = None


def main():
    global LIB_DIR
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    LIB_DIR = os.path.abspath(sys.argv[1])
    for tool in ("qemu-system-x86_64", "spicy-screenshot", "openssl"):
        if not shutil.which(tool):
            log("SKIP: %s is not installed" % tool)
            return hosts.SKIP
    if subprocess.run(["/usr/bin/python3", "-c",
                       "import gi; gi.require_version('SpiceClientGLib', '2.0')"],
                      capture_output=True).returncode != 0:
        log("SKIP: spice-client-glib's GObject introspection is not installed")
        return hosts.SKIP
    out_dir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="tls-interop-")
    os.makedirs(out_dir, exist_ok=True)
    certs = tempfile.mkdtemp(prefix="sftls-")  # short: QEMU reads x509-dir/*.pem
    try:
        make_certificates(certs)
        ref, want = run_library("reference", None, certs, out_dir, None)
        log("reference: %s (%d settled picture(s))" % (ref, len(want)))
        if not want:
            log("FAIL: the reference screen never settled")
            return 1
        ours, _ = run_library("spiceflow", LIB_DIR, certs, out_dir, want)
        log("spiceflow: %s" % ours)
    except (RuntimeError, subprocess.SubprocessError) as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        shutil.rmtree(certs, ignore_errors=True)
    if ref != ours:
        log("FAIL: spiceflow's TLS outcomes differ from the reference's")
        return 1
    if ours["trusted"] != (0, True) or ours["untrusted"] != (True, False) \
            or ours["tls_channel_main"] != (0, True):
        log("FAIL: the outcomes are not the expected ones (both libraries agree, though)")
        return 1
    log("PASS: QEMU over TLS behaves on spiceflow as on the reference library")
    return 0


if __name__ == "__main__":
    sys.exit(main())
