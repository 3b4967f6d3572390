#!/usr/bin/python3
"""spiceflow-qxl-player on the reference libspice-server and on spiceflow's, with real clients.

    player_interop_test.py PLAYER LIB_DIR CASE [OUT_DIR]

The same player binary runs twice per case: on the reference library (the system's
libspice-server.so.1, LD_LIBRARY_PATH unset) and on spiceflow's (LD_LIBRARY_PATH=LIB_DIR).
Each run's JSON names the library the loader picked; the test checks it is the intended one.

CASE deliver-SCENE: the player draws SCENE at 30 fps (with the pixel code) while a
  spice-client-glib client (tests/interop/spice_client.py watch) watches for 4 s: the client
  must get the primary surface, display updates on many 60 Hz ticks and no channel error,
  and its final picture must carry a valid pixel code of a frame the player drew.
CASE pixels-SCENE: the player draws 40 frames of SCENE without the pixel code, renders them
  (spice_qxl_update_area) and idles; spicy-screenshot's picture must equal the player's own
  model of the picture (--dump-expected) pixel for pixel, and so must the library's rendering
  into the guest's surface memory (--dump-frame). The models of both runs are equal, so both
  libraries show the same picture.
CASE replay: the reference library records 30 frames of the office scene
  (SPICE_WORKER_RECORD_FILENAME); the player replays the file (--replay, spice_replay_*) on
  each library and spicy-screenshot must show the recorded run's final picture. A library
  whose spice_replay_new returns NULL (the player exits 2 saying so) is reported, not failed.
CASE input: a spice-client-glib client types two keys and clicks twice; on both libraries the
  player's keyboard must get 4 scancodes (press + release) and its tablet (client mouse mode,
  which the tablet makes available) the positions and 4 button-state changes. (Which tablet
  callback carries a press may differ: the reference uses wheel(0, buttons).)
CASE password: with --password, spicy-screenshot gets the picture with the right ticket and
  is refused without it, on both libraries.

Players run on free 127.0.0.1 ports and are always stopped. Exit 0 pass, 1 fail, 77 skip
(spicy-screenshot, Debian's python3-gi or spice-client-glib missing)."""
import json
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
SPICE_CLIENT = os.path.join(HERE, "..", "interop", "spice_client.py")
REFERENCE_LIB = "/usr/lib/x86_64-linux-gnu/libspice-server.so.1"
PIXELS_FRAMES = 40


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Player:
    """One player process on a free port; a context manager that always stops it."""

    def __init__(self, binary, lib_dir, name, out_dir, args, env_extra=None):
        self.name = name
        self.port = free_port()
        self.lib_dir = lib_dir
        self.args = [binary, "--port", str(self.port)] + list(args)
        self.env = dict(os.environ)
        self.env.pop("LD_LIBRARY_PATH", None)
        if lib_dir:
            self.env["LD_LIBRARY_PATH"] = lib_dir
        self.env.update(env_extra or {})
        self.out_path = os.path.join(out_dir, "player-%s.json" % name)
        self.err_path = os.path.join(out_dir, "player-%s.log" % name)
        self.proc = None
        self.report = None

    def __enter__(self):
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_text(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_line(self, text, timeout):
        """Waits for `text` in the player's stderr; False if it exited or time ran out."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log_text():
                return True
            if self.proc.poll() is not None:
                return text in self.log_text()
            time.sleep(0.05)
        return False

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: player exited with %s; log:\n%s"
                                   % (self.name, self.proc.returncode, self.log_text()[-3000:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s: port %d not open after %d s" % (self.name, self.port, timeout))

    def stop(self, timeout=30):
        """SIGTERM (the player then reports and exits 0); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.out.closed:
            self.out.close()
            self.err.close()
        return self.proc.returncode

    def finish(self, timeout=60):
        """Waits for the player to end by itself; returns its JSON report (or raises)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError("%s: player still running after %d s" % (self.name, timeout))
        return self.read_report()

    def read_report(self):
        self.stop()
        with open(self.out_path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        if self.proc.returncode != 0 or len(lines) != 1:
            raise RuntimeError("%s: player exit %s, stdout %r; log:\n%s"
                               % (self.name, self.proc.returncode, lines[-3:],
                                  self.log_text()[-3000:]))
        self.report = json.loads(lines[0])
        return self.report

    def check_library(self):
        want = os.path.realpath(os.path.join(self.lib_dir, "libspice-server.so.1")
                                if self.lib_dir else REFERENCE_LIB)
        got = self.report["library"]
        if got != want:
            raise RuntimeError("%s: expected %s to be loaded, the player used %s"
                               % (self.name, want, got))


def screenshot(port, path, password=None):
    args = ["spicy-screenshot", "-h", "127.0.0.1", "-p", str(port), "-o", path]
    if password is not None:
        args += ["-w", password]
    if os.path.exists(path):
        os.unlink(path)
    try:
        r = subprocess.run(args, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0 or not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def screenshot_matching(port, path, wanted, timeout=15.0):
    """Screenshots until one equals `wanted`; returns the last picture taken."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = screenshot(port, path)
        if last == wanted:
            return last
        time.sleep(0.3)
    return last


def read(path):
    with open(path, "rb") as f:
        return f.read()


def ppm_pixels(data):
    """(width, height, rgb bytes) of a binary PPM."""
    parts = data.split(maxsplit=4)
    if parts[0] != b"P6" or int(parts[3]) != 255:
        raise ValueError("not a P6 PPM with maxval 255")
    return int(parts[1]), int(parts[2]), parts[4]


def crc8(data):
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xff if crc & 0x80 else (crc << 1) & 0xff
    return crc


def pixel_code(ppm):
    """The (frame id, time) the player painted at (0,0), or None (core/.../pixel_code.hpp:
    80 cells of 8x8 pixels, marker 0xA5, frame id, time, CRC-8)."""
    w, h, rgb = ppm_pixels(ppm)
    if w < 640 or h < 8:
        return None
    out = bytearray(10)
    for bit in range(80):
        i = (4 * w + bit * 8 + 4) * 3  # the cell's centre
        luma = (rgb[i] * 77 + rgb[i + 1] * 150 + rgb[i + 2] * 29) >> 8
        if luma >= 128:
            out[bit // 8] |= 0x80 >> (bit % 8)
    if out[0] != 0xA5 or crc8(out[1:9]) != out[9]:
        return None
    return int.from_bytes(out[1:5], "big"), int.from_bytes(out[5:9], "big")


def libraries(lib_dir):
    return [("reference", None), ("spiceflow", lib_dir)]


def case_deliver(player, lib_dir, out_dir, scene):
    ok = True
    for name, lib in libraries(lib_dir):
        with Player(player, lib, "%s-%s" % (scene, name), out_dir,
                    ["--scene", scene, "--seconds", "8"]) as p:
            p.wait_ready()
            shot = os.path.join(out_dir, "%s-%s-client.ppm" % (scene, name))
            r = subprocess.run(["/usr/bin/python3", SPICE_CLIENT, "watch", "127.0.0.1",
                                str(p.port), "4", "--out", shot],
                               capture_output=True, text=True, timeout=60)
            report = p.finish(timeout=60)
        p.check_library()
        try:
            watch = json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            log("%s: the client printed no report (exit %d): %s"
                % (name, r.returncode, r.stderr[-2000:]))
            ok = False
            continue
        code = pixel_code(read(shot)) if os.path.exists(shot) else None
        log("%s: player %d frames (%d commands, %.2f s CPU); client %d updates on %d ticks, "
            "%d display bytes, errors %s, pixel code %s"
            % (name, report["frames"], report["commands"],
               report["cpu_user_s"] + report["cpu_sys_s"], watch["invalidates"],
               watch["frames"], watch["bytes"].get("display", 0), watch["errors"], code))
        if r.returncode != 0 or watch["errors"]:
            log("%s: FAIL: the client reported exit %d, errors %s"
                % (name, r.returncode, watch["errors"]))
            ok = False
        if report["frames"] < 30:
            log("%s: FAIL: the player drew only %d frames" % (name, report["frames"]))
            ok = False
        if watch["frames"] < 20 or watch["bytes"].get("display", 0) == 0:
            log("%s: FAIL: the client saw updates on only %d ticks" % (name, watch["frames"]))
            ok = False
        if code is None or not 0 <= code[0] < report["frames"]:
            log("%s: FAIL: no valid pixel code in the client's picture (%s)" % (name, code))
            ok = False
    return ok


def case_pixels(player, lib_dir, out_dir, scene):
    ok = True
    models = {}
    for name, lib in libraries(lib_dir):
        tag = "%s-%s" % (scene, name)
        expected = os.path.join(out_dir, tag + "-expected.ppm")
        rendered = os.path.join(out_dir, tag + "-rendered.ppm")
        with Player(player, lib, tag, out_dir,
                    ["--scene", scene, "--seconds", "60", "--frames", str(PIXELS_FRAMES),
                     "--no-pixel-code", "--dump-frame", rendered,
                     "--dump-expected", expected]) as p:
            p.wait_ready()
            if not p.wait_line("%d frames drawn" % PIXELS_FRAMES, 60):
                raise RuntimeError("%s: the frames were never drawn; log:\n%s"
                                   % (tag, p.log_text()[-3000:]))
            shot_path = os.path.join(out_dir, tag + "-client.ppm")
            # The model is written at exit; until then compare with the reference's, which
            # is the same picture when the scene is deterministic (checked below).
            wanted = models.get("reference")
            shot = (screenshot_matching(p.port, shot_path, wanted) if wanted
                    else screenshot(p.port, shot_path))
            report = p.read_report()
        p.check_library()
        models[name] = read(expected)
        if shot is None:
            log("%s: FAIL: spicy-screenshot got no picture" % tag)
            ok = False
            continue
        same_shot = shot == models[name]
        same_render = read(rendered) == models[name]
        log("%s: %d frames, %d commands; client picture %s the model; library rendering "
            "(update_area) %s the model"
            % (tag, report["frames"], report["commands"], "equals" if same_shot else "DIFFERS from",
               "equals" if same_render else "DIFFERS from"))
        ok = ok and same_shot and same_render
    if models.get("reference") != models.get("spiceflow"):
        log("FAIL: the scene drew different pictures in the two runs (not deterministic)")
        ok = False
    return ok


def case_replay(player, lib_dir, out_dir):
    rec = os.path.join(out_dir, "office.rec")
    expected = os.path.join(out_dir, "recorded-expected.ppm")
    if os.path.exists(rec):
        os.unlink(rec)
    with Player(player, None, "record", out_dir,
                ["--scene", "office", "--seconds", "60", "--frames", "30", "--no-pixel-code",
                 "--dump-expected", expected],
                env_extra={"SPICE_WORKER_RECORD_FILENAME": rec}) as p:
        p.wait_ready()
        if not p.wait_line("30 frames drawn", 60):
            raise RuntimeError("record: the frames were never drawn")
        p.read_report()
    with open(rec, "rb") as f:
        head = f.read(16)
    log("record: %d bytes, starts %r" % (os.path.getsize(rec), head))
    if not head.startswith(b"SPICE_REPLAY 1\n"):
        log("FAIL: the reference library wrote no record file")
        return False
    wanted = read(expected)
    ok = True
    for name, lib in libraries(lib_dir):
        with Player(player, lib, "replay-" + name, out_dir,
                    ["--replay", rec, "--seconds", "60"]) as p:
            if p.wait_line("replay done", 60):
                shot = screenshot_matching(p.port, os.path.join(out_dir, "replay-%s.ppm" % name),
                                           wanted)
                report = p.read_report()
                p.check_library()
                same = shot == wanted
                log("%s: replayed %d commands; client picture %s the recorded run's"
                    % (name, report["replay"]["commands"], "equals" if same else "DIFFERS from"))
                ok = ok and same
                continue
            code = p.stop()
            text = p.log_text()
            if code == 2 and "spice_replay_new returned NULL" in text and name != "reference":
                log("%s: spice_replay_new returned NULL (replay not implemented): not judged"
                    % name)
                continue
            log("%s: FAIL: the replay never finished (exit %s); log:\n%s"
                % (name, code, text[-3000:]))
            ok = False
    return ok


def case_password(player, lib_dir, out_dir):
    ok = True
    for name, lib in libraries(lib_dir):
        with Player(player, lib, "password-" + name, out_dir,
                    ["--scene", "text-scroll", "--seconds", "60", "--password", "s3cret"]) as p:
            p.wait_ready()
            right = screenshot(p.port, os.path.join(out_dir, "password-%s-right.ppm" % name),
                               "s3cret")
            wrong = screenshot(p.port, os.path.join(out_dir, "password-%s-wrong.ppm" % name),
                               "wrong")
            none = screenshot(p.port, os.path.join(out_dir, "password-%s-none.ppm" % name))
            p.read_report()
        p.check_library()
        log("%s: right ticket %s, wrong ticket %s, no ticket %s"
            % (name, "picture" if right else "refused", "picture" if wrong else "refused",
               "picture" if none else "refused"))
        ok = ok and right is not None and wrong is None and none is None
    return ok


def case_input(player, lib_dir, out_dir):
    counts = {}
    for name, lib in libraries(lib_dir):
        with Player(player, lib, "input-" + name, out_dir,
                    ["--scene", "office", "--seconds", "60"]) as p:
            p.wait_ready()
            r = subprocess.run(["/usr/bin/python3", SPICE_CLIENT, "input", "127.0.0.1",
                                str(p.port), "--keys", "0x1e,0x30", "--click", "100,100",
                                "--click", "300,200"], capture_output=True, text=True, timeout=60)
            time.sleep(0.5)  # the last events reach the devices through the main loop
            report = p.read_report()
        p.check_library()
        counts[name] = report["input"]
        log("%s: client exit %d %s; devices got %s"
            % (name, r.returncode, r.stdout.strip()[-300:], report["input"]))
        if r.returncode != 0:
            return False
    ok = True
    for name, c in counts.items():
        if c["scancodes"] != 4 or c["tablet_button_changes"] != 4 or c["tablet_positions"] < 2:
            log("%s: FAIL: expected 4 scancodes, 4 button changes, >= 2 positions" % name)
            ok = False
    return ok


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    player, lib_dir, case = argv[0], argv[1], argv[2]
    out_dir = argv[3] if len(argv) > 3 else tempfile.mkdtemp(prefix="sfplayer-")
    os.makedirs(out_dir, exist_ok=True)
    if not shutil.which("spicy-screenshot"):
        log("SKIP: spicy-screenshot (spice-client-gtk) is not installed")
        return SKIP
    if case.startswith("deliver-") or case == "input":
        probe = subprocess.run(["/usr/bin/python3", "-c", "import gi; gi.require_version("
                                "'SpiceClientGLib', '2.0'); from gi.repository import "
                                "SpiceClientGLib"], capture_output=True)
        if probe.returncode != 0:
            log("SKIP: python3-gi with spice-client-glib is not installed")
            return SKIP
    if case.startswith("deliver-"):
        ok = case_deliver(player, lib_dir, out_dir, case[len("deliver-"):])
    elif case.startswith("pixels-"):
        ok = case_pixels(player, lib_dir, out_dir, case[len("pixels-"):])
    elif case == "replay":
        ok = case_replay(player, lib_dir, out_dir)
    elif case == "input":
        ok = case_input(player, lib_dir, out_dir)
    elif case == "password":
        ok = case_password(player, lib_dir, out_dir)
    else:
        log("unknown case %s" % case)
        return 2
    log("PASS" if ok else "FAIL (outputs in %s)" % out_dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
