#!/usr/bin/python3
"""Record and replay across libraries: SPICE_WORKER_RECORD_FILENAME and spice_replay_*.

    replay_interop_test.py LIB_DIR REPLAY_HOST OUT_DIR [qemu|xspice]

1. Record: QEMU 7.2 (SeaBIOS, qxl-vga, TCG; hosts_interop_test.py's command line) runs with
   SPICE_WORKER_RECORD_FILENAME once on the reference library and once on ours, until its
   "No bootable device" screen has settled (seen through spicy-screenshot), then stops.
   With "xspice": Xspice with an xterm (hosts_interop_test.py's Xspice: native QXL mode,
   off-screen surfaces created and destroyed), recorded the same way.
2. Replay: REPLAY_HOST (tests/compat_interop/replay_host.cpp: the public ABI only, one binary)
   replays each recording once on the reference library and once on ours. Both libraries
   must read the same number of commands from the same file, and spicy-screenshot must get
   the identical picture from both; that picture must be one QEMU showed while recording
   (not checked for Xspice: replayed surface ids differ from the recorded ones and X's
   update_area read-backs are not replayed, on either library).
3. Round trip: each replay runs with SPICE_WORKER_RECORD_FILENAME too, so each library
   re-records what it was fed; the QXL commands re-recorded by spiceflow must equal, byte
   for byte, those re-recorded by the reference (and, for QEMU, whose commands name no
   off-screen surface, those of the original file).

Exit 0 pass, 1 fail, 77 skip (QEMU or Xspice, spicy-screenshot or the reference library
missing).
All processes run on free 127.0.0.1 ports and are always stopped."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hosts_interop_test as hosts  # noqa: E402  (Qemu, settled_pictures, free_port, ...)

SKIP = 77
log = hosts.log


def commands_of(path):
    """The QXL command records (what=0) of a record file, without their event lines (which
    carry counters and timestamps)."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    pos = data.index(b"\n") + 1  # header
    current = None
    while pos < len(data):
        if data.startswith(b"binary ", pos):
            colon = data.index(b":", pos)
            size = int(data[pos:colon].split()[3])
            end = colon + 1 + size + 1
            if current is not None:
                current.append(data[pos:end])
            pos = end
            continue
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos:nl + 1]
        pos = nl + 1
        if line.startswith(b"event "):
            what = line.split()[2]
            current = [] if what == b"0" else None
            if current is not None:
                out.append(current)
            continue
        if current is not None and not line.startswith(b"mm_time "):
            # mm_time is the server's multimedia clock at recording time: it differs per run.
            current.append(line)
    return [b"".join(c) for c in out]


class ReplayHost:
    def __init__(self, name, binary, lib_dir, record_file, out_dir, rerecord=None):
        self.name = name
        self.port = hosts.free_port()
        self.args = [binary, "--port", str(self.port), record_file]
        self.lib_dir = lib_dir
        self.out_path = os.path.join(out_dir, "host-%s.out" % name)
        self.err_path = os.path.join(out_dir, "host-%s.log" % name)
        self.rerecord = rerecord
        self.proc = None

    def __enter__(self):
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)
        env.pop("SPICE_WORKER_RECORD_FILENAME", None)
        if self.lib_dir:
            env["LD_LIBRARY_PATH"] = self.lib_dir
        if self.rerecord:
            env["SPICE_WORKER_RECORD_FILENAME"] = self.rerecord
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(self.args, env=env, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()
        return False

    def output(self):
        with open(self.out_path) as f:
            return f.read()

    def wait_drained(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: replay_host exited with %s" % (self.name, self.proc.returncode))
            if "REPLAY_DRAINED" in self.output():
                for line in self.output().splitlines():
                    if line.startswith("REPLAY_READ "):
                        return int(line.split()[1])
            time.sleep(0.1)
        raise RuntimeError("%s: replay not drained in %d s" % (self.name, timeout))

    def settled_screenshot(self, out_dir, timeout=30):
        """Screenshots until two in a row are equal; returns that picture."""
        path = os.path.join(out_dir, "%s.ppm" % self.name)
        last = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            data = hosts.Qemu.screenshot(self, path)  # same spicy-screenshot call
            if data is not None and data == last:
                return data
            last = data
            time.sleep(0.3)
        return None

    def spice_library(self):
        return hosts.Qemu.spice_library(self)


def record(lib_dir, our_lib_dir, out_dir, name, case):
    path = os.path.join(out_dir, "record-%s.spice" % name)
    os.environ["SPICE_WORKER_RECORD_FILENAME"] = path
    try:
        host = (hosts.Qemu("record-" + name, lib_dir, out_dir) if case == "qemu"
                else hosts.Xspice("record-" + name, lib_dir, out_dir))
        with host as qemu:
            hosts.check_library(qemu, lib_dir is not None, our_lib_dir)
            pictures = hosts.settled_pictures(qemu, out_dir, "record-" + name, timeout=40)
    finally:
        del os.environ["SPICE_WORKER_RECORD_FILENAME"]
    if not pictures:
        raise RuntimeError("%s: QEMU's screen never settled" % name)
    size = os.path.getsize(path)
    log("recorded on %s: %s (%d bytes, %d commands)" % (name, path, size, len(commands_of(path))))
    return path, set(pictures)


def main():
    if len(sys.argv) not in (4, 5) or (len(sys.argv) == 5 and sys.argv[4] not in ("qemu", "xspice")):
        print(__doc__)
        return 2
    lib_dir = os.path.abspath(sys.argv[1])
    replay_host = os.path.abspath(sys.argv[2])
    out_dir = os.path.abspath(sys.argv[3])
    case = sys.argv[4] if len(sys.argv) == 5 else "qemu"
    tools = ("qemu-system-x86_64",) if case == "qemu" else ("Xorg", "xterm", "xdpyinfo")
    if case == "xspice" and not os.path.exists(hosts.XSPICE_DRIVER):
        log("SKIP: Xspice's driver %s is not installed" % hosts.XSPICE_DRIVER)
        return SKIP
    for tool in tools + ("spicy-screenshot",):
        if not shutil.which(tool):
            log("SKIP: %s not installed" % tool)
            return SKIP
    if not os.path.exists(hosts.REFERENCE_LIB):
        log("SKIP: the reference library %s is not installed" % hosts.REFERENCE_LIB)
        return SKIP
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    libs = (("reference", None), ("spiceflow", lib_dir))
    failures = []
    for rec_name, rec_lib in libs:
        rec_path, qemu_pictures = record(rec_lib, lib_dir, out_dir, rec_name, case)
        original = commands_of(rec_path)
        shots = {}
        reads = {}
        rerecorded = {}
        for name, lib in libs:
            tag = "replay-%s-on-%s" % (rec_name, name)
            rerecord = os.path.join(out_dir, "%s.rerecord.spice" % tag)
            with ReplayHost(tag, replay_host, lib, rec_path, out_dir, rerecord) as host:
                reads[name] = host.wait_drained()
                mapped = host.spice_library()  # once it runs (not between fork and exec)
                ours = os.path.realpath(os.path.join(lib_dir, "libspice-server.so.1"))
                if (lib is not None) != (mapped == ours) or mapped is None:
                    raise RuntimeError("%s: loaded %s" % (tag, mapped))
                shots[name] = host.settled_screenshot(out_dir)
            rerecorded[name] = commands_of(rerecord)
            digest = hashlib.sha256(shots[name] or b"").hexdigest()[:16]
            log("%s: %d commands read, %d re-recorded, picture %s" %
                (tag, reads[name], len(rerecorded[name]), digest))
            if shots[name] is None:
                failures.append("%s: no settled screenshot" % tag)
        if reads["reference"] != reads["spiceflow"] or reads["spiceflow"] != len(original):
            failures.append("%s: commands read differ: reference %d, spiceflow %d, file %d" %
                            (rec_name, reads["reference"], reads["spiceflow"], len(original)))
        if shots["reference"] != shots["spiceflow"]:
            failures.append("replaying %s's recording: the pictures differ (see %s)" %
                            (rec_name, out_dir))
        elif case == "qemu" and hashlib.sha256(shots["spiceflow"]).hexdigest() not in qemu_pictures:
            failures.append("replaying %s's recording: the picture is not one QEMU showed" % rec_name)
        if rerecorded["spiceflow"] != rerecorded["reference"]:
            failures.append("%s: spiceflow's re-recording differs from the reference's" % rec_name)
        if case == "qemu" and rerecorded["spiceflow"] != original:
            failures.append("%s: the re-recorded commands differ from the original file" % rec_name)
    for f in failures:
        log("FAIL: " + f)
    if not failures:
        log("PASS: recordings of both libraries replay to identical pictures on both")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
