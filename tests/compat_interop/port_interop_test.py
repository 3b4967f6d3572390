#!/usr/bin/python3
"""spicevmc ports end to end: QEMU's -chardev spiceport on spiceflow's libspice-server.so.1
versus the reference library, same command line, same client.

    port_interop_test.py LIB_DIR [OUT_DIR]

QEMU (SeaBIOS, no disk) gets two ports: org.qemu.monitor.hmp.0, with QEMU's human monitor
on it (-mon), and org.spiceflow.idle, which nothing in QEMU opens. A spice-client-glib
client (spice_port.py, SpicePortChannel) lists both ports with their open state (PORT_INIT),
waits for the monitor's greeting and prompt (which QEMU writes once the client's
connection opens the port: state(1)), types `info version` and `help` (client -> device),
and records everything the monitor answers (device -> client: about 12 KB, so several
reads). The ports seen and the whole transcript must equal the reference's.

Exit 0 pass, 1 fail, 77 skip (QEMU or spice-client-glib missing). Processes run on free
127.0.0.1 ports and are always stopped."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hosts_interop_test as hosts  # noqa: E402

log = hosts.log
HMP = "org.qemu.monitor.hmp.0"
PORTS = ["-chardev", "spiceport,id=hmp,name=" + HMP, "-mon", "chardev=hmp,mode=readline",
         "-chardev", "spiceport,id=idle,name=org.spiceflow.idle"]


def talk(qemu, out_dir, name):
    """Runs the client; returns (ports seen, transcript) or None when it did not finish."""
    r = subprocess.run(
        ["/usr/bin/python3", os.path.join(HERE, "spice_port.py"), "127.0.0.1", str(qemu.port),
         HMP, "--wait", "(qemu) ", "--send", "info version\\n", "--wait", "(qemu) ",
         "--send", "help\\n", "--wait", "(qemu) ", "--timeout", "30"],
        capture_output=True, text=True, timeout=60)
    with open(os.path.join(out_dir, "client-%s.jsonl" % name), "w") as f:
        f.write(r.stdout)
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    ports = sorted({(d["port"], d["opened"]) for d in lines if d.get("port") and "opened" in d})
    transcript = next((d["received"] for d in lines if "received" in d), "")
    with open(os.path.join(out_dir, "transcript-%s.txt" % name), "w") as f:
        f.write(transcript)
    log("%s: exit %d, ports %s, %d bytes from the monitor" % (name, r.returncode, ports,
                                                              len(transcript)))
    return (ports, transcript) if r.returncode == 0 else None


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    lib_dir = os.path.abspath(sys.argv[1])
    code = hosts.prerequisites(lib_dir, tools=["qemu-system-x86_64"])
    if code is not None:
        return code
    out_dir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="port-interop-")
    os.makedirs(out_dir, exist_ok=True)
    log("output in %s" % out_dir)
    results = {}
    try:
        for name, lib in (("reference", None), ("spiceflow", lib_dir)):
            with hosts.Qemu(name + "-port", lib, out_dir, PORTS) as q:
                hosts.check_library(q, lib is not None, lib_dir)
                results[name] = talk(q, out_dir, name)
                if not q.alive():
                    log("FAIL: %s: QEMU died:\n%s" % (name, q.read_log()[-2000:]))
                    return 1
            if q.exit_code != 0:
                log("FAIL: %s: QEMU exited with %s after SIGTERM" % (name, q.exit_code))
                return 1
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
        return 1
    ref, ours = results["reference"], results["spiceflow"]
    if ref is None or "info version" not in ref[1] or len(ref[1]) < 5000:
        log("FAIL: the reference's monitor session did not go as expected: %r" % (ref,))
        return 1
    if ref[0] != [(HMP, True), ("org.spiceflow.idle", False)]:
        log("FAIL: the reference listed other ports: %s" % (ref[0],))
        return 1
    if ours is None:
        log("FAIL: through spiceflow the monitor session did not finish "
            "(see client-spiceflow.jsonl)")
        return 1
    if ours != ref:
        log("FAIL: spiceflow's ports or monitor transcript differ from the reference's "
            "(transcript-*.txt)")
        return 1
    log("PASS: QEMU's monitor through a spiceport answers through spiceflow as through the "
        "reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
