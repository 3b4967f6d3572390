#!/usr/bin/python3
"""spicevmc channels other than ports (and the smartcard channel) end to end: QEMU's -chardev spicevmc on spiceflow's
libspice-server.so.1 versus the reference library, same command line, same client
(spice_vmc.py, a raw SPICE client: spice-client-glib links a usbredir channel only for a
real USB device).

    vmc_interop_test.py LIB_DIR CASE [OUT_DIR]

CASE usbredir_monitor: `-chardev spicevmc,name=usbredir` carries QEMU's human monitor
  (-mon): the client lists the session's channels, links SPICE_CHANNEL_USBREDIR, waits for
  the monitor's prompt (QEMU writes it once the client's link opened the device: state(1)),
  types `info version` and `help info` (client -> device), and keeps everything the
  monitor answers (device -> client). Channels and transcript must equal the reference's.
CASE usbredir_device: the same char device drives a real `-device usb-redir` (on an XHCI
  controller, debug=3 so QEMU logs its usbredir parser's messages): once the channel
  opens, QEMU's usbredir parser sends its hello (device -> client), which must be the
  reference's byte for byte; the client answers with its own hello (client -> device), and
  QEMU must log the peer's version on both libraries.
CASE smartcard: `-chardev spicevmc,name=smartcard` for a ccid-card-passthru on a usb-ccid:
  the client links SPICE_CHANNEL_SMARTCARD and sends VSC ReaderAdd, then ReaderRemove;
  QEMU's answers (VSC_Error with the reader's id, translated from the device's network
  order) must equal the reference's byte for byte. QEMU answers from inside the server's
  write, so this also proves a device's data is read within its own wakeup.

Exit 0 pass, 1 fail, 77 skip (QEMU missing). Processes run on free 127.0.0.1 ports and are
always stopped."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hosts_interop_test as hosts  # noqa: E402

log = hosts.log
USBREDIR, SMARTCARD = 9, 8  # SPICE_CHANNEL_*
PROMPT = b"(qemu) ".hex()
MONITOR = ["-chardev", "spicevmc,id=ur,name=usbredir", "-mon", "chardev=ur,mode=readline"]
DEVICE = ["-device", "qemu-xhci,id=xhci", "-chardev", "spicevmc,id=ur,name=usbredir",
          "-device", "usb-redir,chardev=ur,id=redir0,debug=3"]
CCID = ["-device", "qemu-xhci,id=xhci", "-device", "usb-ccid", "-chardev",
        "spicevmc,id=ccid,name=smartcard", "-device", "ccid-card-passthru,chardev=ccid"]
# VSC messages (libcacard's vscard_common.h) as a client sends them: little-endian header
# type, reader_id, length. ReaderAdd (3) for an undefined reader, ReaderRemove (4) of 0.
VSC_READER_ADD = struct.pack("<III", 3, 0xffffffff, 0)
VSC_READER_REMOVE = struct.pack("<III", 4, 0, 0)
VSC_ERROR_HEADER = struct.pack("<I", 2)
# usbredir's hello (usbredirproto.h): header {type 0 = usb_redir_hello, length, id}, then
# a 64-byte version string and one caps word (none).
PEER_VERSION = b"spiceflow-vmc-test"
HELLO = struct.pack("<III", 0, 64 + 4, 0) + PEER_VERSION.ljust(64, b"\0") + struct.pack("<I", 0)


def talk(qemu, out_dir, name, channel, steps, linger):
    """Runs the client; returns (channels, received bytes) or None when it did not finish."""
    r = subprocess.run(
        ["/usr/bin/python3", os.path.join(HERE, "spice_vmc.py"), "127.0.0.1", str(qemu.port),
         str(channel), *steps, "--timeout", "40", "--linger", str(linger)],
        capture_output=True, text=True, timeout=90)
    with open(os.path.join(out_dir, "client-%s.jsonl" % name), "w") as f:
        f.write(r.stdout + r.stderr)
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    channels = next((d["channels"] for d in lines if "channels" in d), None)
    received = bytes.fromhex(next((d["received"] for d in lines if "received" in d), ""))
    with open(os.path.join(out_dir, "received-%s.bin" % name), "wb") as f:
        f.write(received)
    log("%s: exit %d, channels %s, %d bytes received" % (name, r.returncode, channels,
                                                          len(received)))
    for d in lines:
        if "error" in d:
            log("%s: client: %s" % (name, d["error"]))
    return (channels, received) if r.returncode == 0 else None


def run_both(lib_dir, out_dir, extra, steps, linger, channel=USBREDIR):
    results, logs = {}, {}
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        with hosts.Qemu(name + "-vmc", lib, out_dir, extra) as q:
            hosts.check_library(q, lib is not None, lib_dir)
            time.sleep(2)  # the guest's firmware sets its USB devices up first
            results[name] = talk(q, out_dir, name, channel, steps, linger)
            time.sleep(0.5)  # QEMU logs what it got
            logs[name] = q.read_log()
            if not q.alive():
                raise RuntimeError("%s: QEMU died:\n%s" % (name, logs[name][-2000:]))
        if q.exit_code != 0:
            raise RuntimeError("%s: QEMU exited with %s after SIGTERM" % (name, q.exit_code))
    return results, logs


def case_usbredir_monitor(lib_dir, out_dir):
    steps = ["--wait", PROMPT, "--send", b"info version\n".hex(), "--wait", PROMPT,
             "--send", b"help info\n".hex(), "--wait", PROMPT]
    results, _ = run_both(lib_dir, out_dir, MONITOR, steps, 0.5)
    ref, ours = results["reference"], results["spiceflow"]
    if ref is None or b"info version" not in ref[1] or [USBREDIR, 0] not in ref[0]:
        log("FAIL: the reference's monitor session did not go as expected: %r" % (ref,))
        return 1
    if ours is None:
        log("FAIL: through spiceflow the monitor session did not finish (client-spiceflow.jsonl)")
        return 1
    if ours != ref:
        log("FAIL: spiceflow's channel list or monitor transcript differ from the reference's "
            "(received-*.bin)")
        return 1
    log("PASS: QEMU's monitor on a usbredir spicevmc device answers through spiceflow as "
        "through the reference (%d bytes)" % len(ours[1]))
    return 0


def case_usbredir_device(lib_dir, out_dir):
    # The hello arrives when the channel opens; the client answers with its own.
    steps = ["--wait", b"qemu".hex(), "--send", HELLO.hex()]  # its version string: "qemu ..."
    results, logs = run_both(lib_dir, out_dir, DEVICE, steps, 1.5)
    ref, ours = results["reference"], results["spiceflow"]
    peer = "Peer version: %s" % PEER_VERSION.decode()
    if ref is None or len(ref[1]) < len(HELLO) or b"qemu" not in ref[1]:
        log("FAIL: the reference's usbredir session did not go as expected: %r" % (ref,))
        return 1
    if peer not in logs["reference"]:
        log("FAIL: QEMU on the reference did not log %r:\n%s" % (peer, logs["reference"][-2000:]))
        return 1
    if ours is None:
        log("FAIL: through spiceflow the usbredir session did not finish (client-spiceflow.jsonl)")
        return 1
    if ours != ref:
        log("FAIL: spiceflow's channel list or QEMU's usbredir bytes differ from the "
            "reference's (received-*.bin)")
        return 1
    if peer not in logs["spiceflow"]:
        log("FAIL: QEMU on spiceflow did not log %r (the client's hello did not reach it):\n%s"
            % (peer, logs["spiceflow"][-2000:]))
        return 1
    log("PASS: QEMU's usb-redir hello reaches the client and the client's reaches QEMU "
        "through spiceflow as through the reference (%d bytes from QEMU)" % len(ours[1]))
    return 0


def case_smartcard(lib_dir, out_dir):
    steps = ["--send", VSC_READER_ADD.hex(), "--wait", VSC_ERROR_HEADER.hex(),
             "--send", VSC_READER_REMOVE.hex(), "--wait", VSC_ERROR_HEADER.hex()]
    results, _ = run_both(lib_dir, out_dir, CCID, steps, 1.0, SMARTCARD)
    ref, ours = results["reference"], results["spiceflow"]
    if ref is None or [SMARTCARD, 0] not in ref[0] or len(ref[1]) < 32:
        log("FAIL: the reference's smartcard session did not go as expected: %r" % (ref,))
        return 1
    if ours is None:
        log("FAIL: through spiceflow the smartcard session did not finish (client-spiceflow.jsonl)")
        return 1
    if ours != ref:
        log("FAIL: spiceflow's channel list or QEMU's VSC answers differ from the reference's: "
            "%s %s versus %s %s" % (ours[0], ours[1].hex(), ref[0], ref[1].hex()))
        return 1
    log("PASS: QEMU's ccid-card-passthru answers a client's ReaderAdd and ReaderRemove through "
        "spiceflow as through the reference (%s)" % ours[1].hex())
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    lib_dir = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    code = hosts.prerequisites(lib_dir, tools=["qemu-system-x86_64"])
    if code is not None:
        return code
    out_dir = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="vmc-interop-")
    os.makedirs(out_dir, exist_ok=True)
    log("output in %s" % out_dir)
    cases = {"usbredir_monitor": case_usbredir_monitor, "usbredir_device": case_usbredir_device,
             "smartcard": case_smartcard}
    if case not in cases:
        print(__doc__)
        return 2
    try:
        return cases[case](lib_dir, out_dir)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
