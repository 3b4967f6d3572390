#!/usr/bin/python3
"""Unmodified QEMU and Xspice on spiceflow's libspice-server.so.1 versus the reference library.

    hosts_interop_test.py LIB_DIR CASE [OUT_DIR]

CASE screenshot: QEMU (SeaBIOS, qxl-vga, no disk, TCG) settles on "No bootable device";
  spicy-screenshot through spiceflow must give one of the pictures it gives through the
  reference library on the same command line (the text cursor blinks, so each server
  contributes the set of pictures it shows once the screen has settled).
CASE esc: with -boot menu=on,splash-time=15000 an ESC key sent by a spice-client-glib
  client must open SeaBIOS's boot menu: the settled screen after ESC must differ from the
  one without ESC (the reference's), and spiceflow's must match the reference's.
CASE events: while a spice-client-glib session is connected QMP query-spice lists its
  channels and afterwards none; the QMP SPICE_CONNECTED / SPICE_INITIALIZED /
  SPICE_DISCONNECTED events (QEMU's channel_event callback) match the reference's.
CASE ticket: QEMU with a SPICE password (-object secret + password-secret): only the right
  password connects; a password set later through QMP set_password replaces it; with a
  client connected, set_password connected=fail is refused and connected=disconnect drops
  the client. The outcome of every attempt must be the reference's.
CASE client_caps: QEMU's qxl raises QXL_INTERRUPT_CLIENT whenever the server calls
  set_client_capabilities (traced with -trace qxl_send_events): before, during and after
  one spicy-screenshot session (vm start, connect, disconnect), as on the reference.
CASE xspice: Xspice (Xorg with the spiceqxl driver: QXL commands in native mode, off-screen
  surfaces, text) shows an xterm; the screenshot through spiceflow must equal the
  reference's, and keys typed through a spice-client-glib client must appear in the xterm
  identically. Skipped (77) when Xorg's spiceqxl driver, xterm or xdpyinfo is missing.

Both runs start real processes on free 127.0.0.1 ports and always stop them. The test
checks (through /proc/PID/maps) that the dynamic loader picked the intended library.
Exit 0 pass, 1 fail, 77 skip (QEMU, spicy-screenshot or spice-client-glib missing)."""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE_LIB = "/usr/lib/x86_64-linux-gnu/libspice-server.so.1"


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Qemu:
    """One QEMU process with SPICE on a free port; a context manager that always stops it."""

    def __init__(self, name, lib_dir, out_dir, extra=(), spice="disable-ticketing=on"):
        self.name = name
        self.lib_dir = lib_dir
        self.port = free_port()
        self.log_path = os.path.join(out_dir, "qemu-%s.log" % name)
        # A short path: unix socket names are limited to 107 bytes.
        self.qmp_path = os.path.join(tempfile.mkdtemp(prefix="sfqmp-"), "qmp.sock")
        self.args = ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "128",
                     "-nodefaults", "-display", "none", "-device", "qxl-vga",
                     "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                     "-spice", "port=%d,addr=127.0.0.1,%s" % (self.port, spice),
                     *extra]
        self.proc = None

    def qmp(self, command, **arguments):
        """Runs one QMP command; returns the reply (a dict with "return" or "error")."""
        import json
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(self.qmp_path)
            f = sock.makefile("rw")
            json.loads(f.readline())  # greeting
            for cmd in ({"execute": "qmp_capabilities"},
                        {"execute": command, "arguments": arguments}):
                f.write(json.dumps(cmd) + "\n")
                f.flush()
                while True:
                    reply = json.loads(f.readline())
                    if "event" not in reply:
                        break
            return reply

    def __enter__(self):
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)
        if self.lib_dir:
            env["LD_LIBRARY_PATH"] = self.lib_dir
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args, env=env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: QEMU exited with %s; log:\n%s"
                                   % (self.name, self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("%s: SPICE port %d not open after 30 s" % (self.name, self.port))

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        qmp_dir = os.path.dirname(getattr(self, "qmp_path", "") or "")
        if qmp_dir.startswith(tempfile.gettempdir()):
            shutil.rmtree(qmp_dir, ignore_errors=True)
        # QEMU exits 0 on SIGTERM; anything else (a signal) means it crashed on the way out.
        self.exit_code = self.proc.returncode if self.proc else None
        self.log_file.close()
        return False

    def alive(self):
        return self.proc.poll() is None

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def spice_library(self):
        """The libspice-server.so.1 mapped into QEMU (what the dynamic loader picked)."""
        with open("/proc/%d/maps" % self.proc.pid) as f:
            for line in f:
                if "libspice-server.so" in line:
                    return os.path.realpath(line.split()[-1])
        return None

    def screenshot(self, path, password=None):
        args = ["spicy-screenshot", "-h", "127.0.0.1", "-p", str(self.port), "-o", path]
        if password is not None:
            args += ["-w", password]
        if os.path.exists(path):
            os.unlink(path)
        r = subprocess.run(args, capture_output=True, timeout=20)
        if r.returncode != 0 or not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()


XORG_CONF = """Section "Device"
    Identifier "XSPICE"
    Driver "spiceqxl"
    # xserver-xspice 0.1.5 reads these without its defaults: unset, they are 0 and it aborts.
    Option "FrameBufferSize" "16"
    Option "SurfaceBufferSize" "64"
    Option "CommandBufferSize" "128"
    Option "NumHeads" "1"
    Option "EnableImageCache" "True"
    Option "EnableFallbackCache" "True"
    Option "EnableSurfaces" "True"
    Option "SpiceAddr" "127.0.0.1"
    Option "SpicePort" "%(port)d"
    Option "SpiceDisableTicketing" "True"
EndSection
Section "InputDevice"
    Identifier "XSPICE POINTER"
    Driver "xspice pointer"
EndSection
Section "InputDevice"
    Identifier "XSPICE KEYBOARD"
    Driver "xspice keyboard"
EndSection
Section "Monitor"
    Identifier "Monitor0"
EndSection
Section "Screen"
    Identifier "Screen0"
    Monitor "Monitor0"
    Device "XSPICE"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Modes "800x600"
    EndSubSection
EndSection
Section "ServerLayout"
    Identifier "Layout0"
    Screen "Screen0"
    InputDevice "XSPICE KEYBOARD"
    InputDevice "XSPICE POINTER"
EndSection
Section "ServerFlags"
    Option "AutoAddDevices" "False"
EndSection
"""
XSPICE_DRIVER = "/usr/lib/xorg/modules/drivers/spiceqxl_drv.so"


def free_display():
    for n in range(90, 200):
        if not os.path.exists("/tmp/.X%d-lock" % n) and \
                not os.path.exists("/tmp/.X11-unix/X%d" % n):
            return n
    raise RuntimeError("no free X display number")


class Xspice(Qemu):
    """Xorg with the spiceqxl driver (Xspice) on a free display and port, plus one xterm."""

    def __init__(self, name, lib_dir, out_dir):
        self.name = name
        self.lib_dir = lib_dir
        self.port = free_port()
        self.display = free_display()
        self.log_path = os.path.join(out_dir, "xspice-%s.log" % name)
        conf = os.path.join(out_dir, "xspice-%s.conf" % name)
        with open(conf, "w") as f:
            f.write(XORG_CONF % {"port": self.port})
        self.args = ["Xorg", "-config", conf, "-noreset", "-nolisten", "tcp",
                     "-logfile", os.path.join(out_dir, "xorg-%s.log" % name),
                     ":%d" % self.display]
        self.proc = None
        self.xterm = None

    def __enter__(self):
        super().__enter__()
        env = dict(os.environ, DISPLAY=":%d" % self.display)
        env.pop("LD_LIBRARY_PATH", None)
        deadline = time.time() + 20
        while subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode != 0:
            if time.time() > deadline:
                raise RuntimeError("%s: X display :%d never answered" % (self.name, self.display))
            time.sleep(0.1)
        # The text is printed by the shell, then cat echoes what is typed.
        self.xterm = subprocess.Popen(
            # Under the pointer's start position (the screen's centre): with no window
            # manager the keyboard focus follows the pointer, so typed keys reach it.
            ["xterm", "-geometry", "40x8+300+250", "-e", "sh", "-c",
             "echo HELLO-SPICEFLOW; exec cat"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let it map and draw before the screen is judged settled
        return self

    def __exit__(self, *exc):
        if self.xterm and self.xterm.poll() is None:
            self.xterm.kill()
            self.xterm.wait()
        return super().__exit__(*exc)


def uniform(ppm):
    """True for a picture of one colour (a screen still blank is not a settled screen)."""
    pixels = ppm.split(b"\n", 3)[3]
    return pixels == pixels[:3] * (len(pixels) // 3)


def settled_pictures(qemu, out_dir, tag, timeout=60.0, window=8, interval=0.3):
    """Screenshots until the last `window` ones hold at most two distinct pictures (a text
    screen with a blinking cursor). Returns {sha256: ppm bytes} of those, or {} on timeout."""
    history = []
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        if not qemu.alive():
            raise RuntimeError("%s: QEMU died; log:\n%s" % (qemu.name, qemu.read_log()))
        path = os.path.join(out_dir, "%s-%03d.ppm" % (tag, n))
        n += 1
        data = qemu.screenshot(path)
        if data is not None:
            os.unlink(path)
            history.append(data)
            last = history[-window:]
            distinct = {hashlib.sha256(d).hexdigest(): d for d in last}
            if len(last) == window and len(distinct) <= 2 and not all(map(uniform, last)):
                for i, (digest, d) in enumerate(sorted(distinct.items())):
                    with open(os.path.join(out_dir, "%s-settled-%d.ppm" % (tag, i)), "wb") as f:
                        f.write(d)
                return distinct
        time.sleep(interval)
    return {}


def matches(qemu, wanted, out_dir, tag, timeout=30.0, interval=0.3):
    """Takes screenshots until one is in `wanted` (a set of sha256); the last one is kept."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if not qemu.alive():
            raise RuntimeError("%s: QEMU died; log:\n%s" % (qemu.name, qemu.read_log()))
        data = qemu.screenshot(os.path.join(out_dir, "%s-last.ppm" % tag))
        if data is not None:
            last = data
            if hashlib.sha256(data).hexdigest() in wanted:
                return True
        time.sleep(interval)
    if last is not None:
        log("%s: last picture kept as %s-last.ppm (header %r)" % (tag, tag, last[:20]))
    return False


def check_library(qemu, expect_ours, lib_dir):
    lib = qemu.spice_library()
    ours = os.path.realpath(os.path.join(lib_dir, "libspice-server.so.1"))
    log("%s: pid %d maps %s" % (qemu.name, qemu.proc.pid, lib))
    if expect_ours and lib != ours:
        raise RuntimeError("%s: expected %s to be loaded, found %s" % (qemu.name, ours, lib))
    if not expect_ours and lib == ours:
        raise RuntimeError("%s: the reference run loaded our library" % qemu.name)


def prerequisites(lib_dir, tools=(), files=()):
    """None when a test has what it needs: `tools` on PATH, `files`, spice-client-glib's
    GObject introspection, the reference library and ours; otherwise the exit code to return
    (SKIP, or 1 when our library is not built), after saying why."""
    missing = [t for t in tools if not shutil.which(t)] + [f for f in files
                                                            if not os.path.exists(f)]
    if missing:
        log("SKIP: needs %s (tools/install-deps.sh installs them)" % ", ".join(missing))
        return SKIP
    if subprocess.run(["/usr/bin/python3", "-c",
                       "import gi; gi.require_version('SpiceClientGLib', '2.0')"],
                      capture_output=True).returncode != 0:
        log("SKIP: spice-client-glib's GObject introspection is not installed")
        return SKIP
    if not os.path.exists(REFERENCE_LIB):
        log("SKIP: the reference %s is not installed" % REFERENCE_LIB)
        return SKIP
    if not os.path.exists(os.path.join(lib_dir, "libspice-server.so.1")):
        log("FAIL: %s/libspice-server.so.1 is not built" % lib_dir)
        return 1
    return None


def send_keys(host, *args):
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "spice_keys.py"), "127.0.0.1",
                        str(host.port), *args], capture_output=True, text=True, timeout=30)
    log("%s: spice_keys: %s%s" % (host.name, r.stdout.strip(), r.stderr.strip()[-300:]))
    return r.returncode == 0


def send_esc(qemu):
    return send_keys(qemu, "0x01")


def session_info(host):
    """What a spice-client-glib session learns from the main channel (name, mouse mode)."""
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "spice_session_info.py"),
                        "127.0.0.1", str(host.port)], capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else None


def case_screenshot(lib_dir, out_dir):
    name = ["-name", "compat-test-vm"]
    with Qemu("reference", None, out_dir, name) as ref:
        check_library(ref, False, lib_dir)
        want = settled_pictures(ref, out_dir, "reference")
        ref_info = session_info(ref)
    if not want:
        log("FAIL: the reference screen never settled")
        return 1
    log("reference: %d settled picture(s)" % len(want))
    with Qemu("spiceflow", lib_dir, out_dir, name) as ours:
        check_library(ours, True, lib_dir)
        ok = matches(ours, set(want), out_dir, "spiceflow")
        our_info = session_info(ours)
        alive = ours.alive()
        if not alive:
            log("FAIL: QEMU on spiceflow died:\n" + ours.read_log())
    if ours.exit_code != 0:
        log("FAIL: QEMU on spiceflow exited with %s after SIGTERM:\n%s"
            % (ours.exit_code, ours.read_log()[-2000:]))
        return 1
    log("session (reference): %s" % ref_info)
    log("session (spiceflow): %s" % our_info)
    if ref_info is None or ref_info != our_info:
        log("FAIL: the main channel's name / mouse mode differ from the reference's")
        return 1
    if ok and alive:
        log("PASS: spiceflow's screenshot and session equal the reference's")
        return 0
    log("FAIL: no spiceflow screenshot matched the reference's settled pictures")
    return 1


def case_client_caps(lib_dir, out_dir):
    # QEMU's qxl raises QXL_INTERRUPT_CLIENT (16) each time set_client_capabilities is called
    # (-trace qxl_send_events, written to QEMU's log as it happens). The reference calls it
    # at vm start, when a display client connects and when it leaves (sometimes once more):
    # each library must do so before and (twice) during a spicy-screenshot session.
    def count(q):
        return sum(1 for line in q.read_log().splitlines()
                   if line.endswith("qxl_send_events 0 16"))

    periods = {}
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        with Qemu(name + "-caps", lib, out_dir, ["-trace", "qxl_send_events"]) as q:
            check_library(q, lib is not None, lib_dir)
            time.sleep(2)
            before = count(q)
            if not q.screenshot(os.path.join(out_dir, "%s-caps.ppm" % name)):
                log("FAIL: %s: spicy-screenshot failed" % name)
                return 1
            during = count(q)
            time.sleep(2)  # the disconnect's call
            after = count(q)
        periods[name] = (before, during - before, after - during)
        log("%s: QXL_INTERRUPT_CLIENT events before / during / after the client: %s"
            % (name, periods[name]))
    for name in ("reference", "spiceflow"):
        # The connect's call falls "during"; the disconnect's is noticed when the socket
        # closes, which may be just after spicy-screenshot exits: "during" or "after".
        if periods[name][0] < 1 or periods[name][1] < 1 or periods[name][1] + periods[name][2] < 2:
            log("FAIL: %s did not call set_client_capabilities at start, connect and "
                "disconnect" % name)
            return 1
    log("PASS: the guest hears about display clients through spiceflow as through the reference")
    return 0


def case_esc(lib_dir, out_dir):
    menu = ["-boot", "menu=on,splash-time=15000"]
    results = {}
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        with Qemu(name + "-esc", lib, out_dir, menu) as q:
            check_library(q, lib is not None, lib_dir)
            # Before ESC: the splash ("Press ESC for boot menu.") waits 15 s.
            before = settled_pictures(q, out_dir, name + "-before", timeout=12, window=4)
            if not send_esc(q):
                log("FAIL: %s: the inputs channel never opened" % name)
                return 1
            after = settled_pictures(q, out_dir, name + "-after", timeout=12, window=4)
            if not q.alive():
                log("FAIL: %s: QEMU died:\n%s" % (name, q.read_log()))
                return 1
        if q.exit_code != 0:
            log("FAIL: %s: QEMU exited with %s after SIGTERM" % (name, q.exit_code))
            return 1
        results[name] = (set(before), set(after))
        log("%s: %d picture(s) before ESC, %d after" % (name, len(before), len(after)))
    ref_before, ref_after = results["reference"]
    our_before, our_after = results["spiceflow"]
    if not ref_after or ref_after & ref_before:
        log("FAIL: with the reference library ESC did not change the settled screen")
        return 1
    if not our_after or our_after & our_before:
        log("FAIL: through spiceflow ESC did not change the settled screen (input lost)")
        return 1
    if not our_after & ref_after:
        log("FAIL: spiceflow's boot menu picture differs from the reference's")
        return 1
    log("PASS: ESC through spiceflow opens the same boot menu as through the reference")
    return 0


def picture_hash(ppm):
    """sha256 of a PPM's pixels (X's software pointer included: it is drawn and removed
    with surface-to-surface copies, which must render exactly as with the reference)."""
    _, _, _, pixels = ppm.split(b"\n", 3)
    return hashlib.sha256(pixels).hexdigest()


def case_events(lib_dir, out_dir):
    import json
    seen = {}
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        events = []
        with Qemu(name + "-events", lib, out_dir) as q:
            check_library(q, lib is not None, lib_dir)
            # One QMP connection throughout: it receives the events (QEMU serves one client).
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(10)
                sock.connect(q.qmp_path)
                f = sock.makefile("rw")

                def command(execute):
                    f.write(json.dumps({"execute": execute}) + "\n")
                    f.flush()
                    while True:
                        reply = json.loads(f.readline())
                        if "event" not in reply:
                            return reply
                        client = reply.get("data", {}).get("client", {})
                        events.append((reply["event"], client.get("channel-type")))

                json.loads(f.readline())
                command("qmp_capabilities")
                client = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "spice_session_info.py"),
                                           "127.0.0.1", str(q.port), "3"], stdout=subprocess.DEVNULL)
                try:
                    deadline = time.time() + 10
                    during = []
                    while not during and time.time() < deadline:
                        time.sleep(0.1)
                        during = command("query-spice")["return"].get("channels", [])
                finally:
                    client.wait(timeout=30)
                time.sleep(0.5)
                after = command("query-spice")["return"].get("channels", [])
            if not q.alive():
                log("FAIL: %s: QEMU died:\n%s" % (name, q.read_log()[-2000:]))
                return 1
        seen[name] = (sorted((c["channel-type"], c["channel-id"]) for c in during),
                      len(after), sorted(events, key=str))
        log("%s: channels while connected %s, after %d, events %s" % (name, *seen[name]))
    if not seen["reference"][0]:
        log("FAIL: the reference listed no channel while a client was connected")
        return 1
    if seen["reference"] != seen["spiceflow"]:
        log("FAIL: spiceflow's channel list or QMP events differ from the reference's")
        return 1
    log("PASS: channel_event drives query-spice and QMP events as the reference does")
    return 0


def case_ticket(lib_dir, out_dir):
    outcomes = {}
    secret = ["-object", "secret,id=spicepw,data=first-pw"]
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        with Qemu(name + "-ticket", lib, out_dir, secret, spice="password-secret=spicepw") as q:
            check_library(q, lib is not None, lib_dir)
            shot = os.path.join(out_dir, name + "-ticket.ppm")
            got = []
            for pw in ("first-pw", "wrong", None):
                got.append(("before", pw, q.screenshot(shot, pw) is not None))
            reply = q.qmp("set_password", protocol="spice", password="second-pw")
            got.append(("set_password", "second-pw", "return" in reply))
            for pw in ("second-pw", "first-pw"):
                got.append(("after", pw, q.screenshot(shot, pw) is not None))
            # With a client connected: connected=fail refuses the change, connected=disconnect
            # makes it and drops the client (QMP query-spice then lists no channel).
            watcher = subprocess.Popen(
                ["/usr/bin/python3", os.path.join(HERE, "..", "interop", "spice_client.py"),
                 "watch", "127.0.0.1", str(q.port), "8", "--password", "second-pw"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.time() + 10
                while time.time() < deadline and not q.qmp("query-spice")["return"]["channels"]:
                    time.sleep(0.2)
                got.append(("client linked", None,
                            bool(q.qmp("query-spice")["return"]["channels"])))
                reply = q.qmp("set_password", protocol="spice", password="third-pw",
                              connected="fail")
                got.append(("connected=fail", "third-pw", "return" in reply))
                reply = q.qmp("set_password", protocol="spice", password="third-pw",
                              connected="disconnect")
                got.append(("connected=disconnect", "third-pw", "return" in reply))
                time.sleep(1.0)
                got.append(("client still linked", None,
                            bool(q.qmp("query-spice")["return"]["channels"])))
            finally:
                watcher.kill()
                watcher.wait()
            got.append(("after", "third-pw", q.screenshot(shot, "third-pw") is not None))
            if not q.alive():
                log("FAIL: %s: QEMU died:\n%s" % (name, q.read_log()[-2000:]))
                return 1
        outcomes[name] = got
        log("%s: %s" % (name, got))
    if outcomes["reference"] != outcomes["spiceflow"]:
        log("FAIL: spiceflow's ticket outcomes differ from the reference's")
        return 1
    expected = [True, False, False, True, True, False, True, False, True, False, True]
    if [ok for _, _, ok in outcomes["spiceflow"]] != expected:
        log("FAIL: unexpected outcomes (the reference's too): %s" % outcomes["spiceflow"])
        return 1
    log("PASS: passwords (set at start and through QMP) behave as with the reference")
    return 0


def case_xspice(lib_dir, out_dir):
    results = {}
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        with Xspice(name + "-xspice", lib, out_dir) as x:
            check_library(x, lib is not None, lib_dir)
            before = settled_pictures(x, out_dir, name + "-xterm", timeout=20, window=4)
            # "h", "i", Enter.
            if not send_keys(x, "0x23", "0x17", "0x1c"):
                log("FAIL: %s: the inputs channel never opened" % name)
                return 1
            after = settled_pictures(x, out_dir, name + "-typed", timeout=20, window=4)
            if not x.alive():
                log("FAIL: %s: Xspice died:\n%s" % (name, x.read_log()[-2000:]))
                return 1
        if x.exit_code not in (0, 1):  # Xorg exits 1 on SIGTERM ("terminating")
            log("FAIL: %s: Xspice exited with %s after SIGTERM" % (name, x.exit_code))
            return 1
        results[name] = ({picture_hash(d) for d in before.values()},
                         {picture_hash(d) for d in after.values()})
        log("%s: %d picture(s) before typing, %d after" % (name, len(before), len(after)))
    ref_before, ref_after = results["reference"]
    our_before, our_after = results["spiceflow"]
    if not ref_before or not ref_after or ref_after & ref_before:
        log("FAIL: with the reference library the typed keys did not show")
        return 1
    if not our_before & ref_before:
        log("FAIL: spiceflow's xterm picture differs from the reference's")
        return 1
    if not our_after or our_after & our_before:
        log("FAIL: through spiceflow the typed keys did not reach the xterm")
        return 1
    if not our_after & ref_after:
        log("FAIL: spiceflow's picture after typing differs from the reference's")
        return 1
    log("PASS: Xspice on spiceflow shows the xterm and the typed keys as the reference does")
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    lib_dir = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    for tool in ("qemu-system-x86_64", "spicy-screenshot"):
        if not shutil.which(tool):
            log("SKIP: %s is not installed (tools/install-deps.sh installs it)" % tool)
            return SKIP
    if not os.path.exists(REFERENCE_LIB):
        log("SKIP: the reference %s is not installed" % REFERENCE_LIB)
        return SKIP
    if not os.path.exists(os.path.join(lib_dir, "libspice-server.so.1")):
        log("FAIL: %s/libspice-server.so.1 is not built" % lib_dir)
        return 1
    out_dir = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="compat-interop-")
    os.makedirs(out_dir, exist_ok=True)
    log("output in %s" % out_dir)
    try:
        if case == "screenshot":
            return case_screenshot(lib_dir, out_dir)
        if case == "events":
            return case_events(lib_dir, out_dir)
        if case == "ticket":
            return case_ticket(lib_dir, out_dir)
        if case == "client_caps":
            return case_client_caps(lib_dir, out_dir)
        if case == "xspice":
            missing = [t for t in ("Xorg", "xterm", "xdpyinfo") if not shutil.which(t)]
            if missing or not os.path.exists(XSPICE_DRIVER):
                log("SKIP: Xspice needs %s" % (", ".join(missing) or XSPICE_DRIVER))
                return SKIP
            return case_xspice(lib_dir, out_dir)
        if case == "esc":
            if subprocess.run(["/usr/bin/python3", "-c",
                               "import gi; gi.require_version('SpiceClientGLib', '2.0')"],
                              capture_output=True).returncode != 0:
                log("SKIP: spice-client-glib's GObject introspection is not installed")
                return SKIP
            return case_esc(lib_dir, out_dir)
        log("unknown case %s" % case)
        return 2
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
