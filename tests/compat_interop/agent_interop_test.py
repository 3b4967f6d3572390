#!/usr/bin/python3
"""The guest agent end to end: Xspice --vdagent on spiceflow's libspice-server.so.1 versus
the reference library, same command line, same client.

    agent_interop_test.py LIB_DIR CASE [OUT_DIR]

Xspice (Xorg + the spiceqxl driver) registers a "vdagent" char device whose guest side is
the driver's virtio-serial emulation (a unix socket); Debian's real spice-vdagentd and
spice-vdagent run on it, as `Xspice --vdagent` starts them. The client is spice-client-glib
(spice_agent.py), X is read and written with xclip.

CASE connect: the main channel reports the agent connected, and the agent's capabilities
  (VD_AGENT_ANNOUNCE_CAPABILITIES, which only a working round trip through the device
  brings back) say monitors config and clipboard, as with the reference.
CASE clipboard: client -> guest: the client grabs the clipboard, `xclip -o` in X gets its
  text (the agent asks the client for it); guest -> client: `xclip -i` in X takes the
  clipboard, the client is told and receives the text. Both with a short text and with a
  190 KB one (about 93 AGENT_DATA messages of at most 2048 bytes each way: the chunking
  and both token windows). Byte for byte, and the same on both libraries.

(Resizing the X screen through VD_AGENT_MONITORS_CONFIG is not checked: Debian 12's
spice-vdagentd 0.22.1 rejects the monitors config spice-client-glib 0.42 sends ("invalid
message size for VDAgentMonitorsConfig": it always carries physical sizes), with either
library.)

Exit 0 pass, 1 fail, 77 skip (Xspice, spice-vdagent, xclip or spice-client-glib missing).
Every process is started on 127.0.0.1 / a free X display and stopped at the end."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hosts_interop_test as hosts  # noqa: E402

log = hosts.log


class AgentXspice(hosts.Xspice):
    """Xspice with the driver's vdagent port, plus spice-vdagentd and spice-vdagent on it."""

    def __init__(self, name, lib_dir, out_dir):
        super().__init__(name, lib_dir, out_dir)
        self.out_dir = out_dir
        # Short paths: unix socket names are limited to 107 bytes.
        self.sock_dir = tempfile.mkdtemp(prefix="sfagent-")
        self.virtio = os.path.join(self.sock_dir, "virtio")
        self.uinput = os.path.join(self.sock_dir, "uinput")
        self.udcs = os.path.join(self.sock_dir, "udcs")
        conf = os.path.join(out_dir, "xspice-%s.conf" % name)
        with open(conf) as f:
            text = f.read()
        text = text.replace('    Option "SpiceDisableTicketing" "True"\n',
                            '    Option "SpiceDisableTicketing" "True"\n'
                            '    Option "SpiceVdagentEnabled" "True"\n'
                            '    Option "SpiceVdagentVirtioPath" "%s"\n'
                            '    Option "SpiceVdagentUinputPath" "%s"\n'
                            % (self.virtio, self.uinput))
        with open(conf, "w") as f:
            f.write(text)
        self.agents = []

    def __enter__(self):
        super().__enter__()
        env = dict(os.environ, DISPLAY=":%d" % self.display)
        env.pop("LD_LIBRARY_PATH", None)

        def start(args, tag):
            out = open(os.path.join(self.out_dir, "%s-%s.log" % (tag, self.name)), "w")
            p = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
            self.agents.append((p, out))
            return p

        # As Xspice --vdagent starts them (-f: the driver's uinput FIFO instead of
        # /dev/uinput), plus -X: no systemd-logind session to ask which agent is active.
        start(["spice-vdagentd", "-f", "-x", "-X", "-d", "-S", self.udcs, "-s", self.virtio,
               "-u", self.uinput], "vdagentd")
        deadline = time.time() + 10
        while not os.path.exists(self.udcs):
            if time.time() > deadline:
                raise RuntimeError("%s: spice-vdagentd never opened %s" % (self.name, self.udcs))
            time.sleep(0.1)
        start(["spice-vdagent", "-x", "-d", "-s", self.virtio, "-S", self.udcs], "vdagent")
        return self

    def __exit__(self, *exc):
        for p, out in reversed(self.agents):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            out.close()
        r = super().__exit__(*exc)
        shutil.rmtree(self.sock_dir, ignore_errors=True)
        return r

    def x_env(self):
        env = dict(os.environ, DISPLAY=":%d" % self.display)
        env.pop("LD_LIBRARY_PATH", None)
        return env


class Client:
    """spice_agent.py running in the background; its JSON lines are collected as they come
    (a reader thread)."""

    def __init__(self, host, out_dir, tag, *actions):
        self.path = os.path.join(out_dir, "client-%s.jsonl" % tag)
        self.err = open(os.path.join(out_dir, "client-%s.err" % tag), "w")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "spice_agent.py"), "127.0.0.1",
             str(host.port), *actions],
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(json.loads(line))

    def wait_for(self, key, timeout=30):
        """The first line with `key`, or None when it never came."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for d in self.lines:
                    if key in d:
                        return d
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        with self.lock:
            return next((d for d in self.lines if key in d), None)

    def finish(self, timeout=40):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        self.err.close()
        with open(self.path, "w") as f:
            for d in self.lines:
                f.write(json.dumps(d) + "\n")
        return self.lines


def digest(data):
    return "%d bytes sha256 %s" % (len(data), hashlib.sha256(data).hexdigest()[:16])


def big_text():
    return "".join("line %05d abcdefghijklmnopqrstuvwxyz\n" % i for i in range(5000))


def check_connect(x, out_dir, name):
    c = Client(x, out_dir, name + "-connect", "--hold", "0.5")
    caps = c.wait_for("caps")
    lines = c.finish()
    agent = [d["agent"] for d in lines if "agent" in d]
    outcome = {"agent": agent[:1], "caps": None if caps is None else
               {k: caps[k] for k in ("monitors_config", "clipboard")}}
    log("%s: %s" % (name, outcome))
    return outcome


def paste(x, out_dir, tag, text):
    """Client -> guest: what `xclip -o` reads in X after the client grabbed the clipboard."""
    path = os.path.join(out_dir, tag + ".txt")
    with open(path, "w") as f:
        f.write(text)
    c = Client(x, out_dir, tag, "--paste", "@" + path, "--hold", "30", "--timeout", "60")
    try:
        if c.wait_for("grabbed") is None:
            return "the client never grabbed the clipboard"
        # The agent needs a moment to take the X selection for the client.
        got = None
        deadline = time.time() + 15
        while time.time() < deadline:
            r = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=x.x_env(),
                               capture_output=True, timeout=20)
            if r.returncode == 0 and r.stdout:
                got = r.stdout
                break
            time.sleep(0.3)
        if got is None:
            return "xclip -o got nothing"
        return digest(got) + (" (equal)" if got == text.encode() else " (DIFFERENT)")
    finally:
        c.proc.send_signal(signal.SIGTERM)
        c.finish(timeout=10)


def copy(x, out_dir, tag, text):
    """Guest -> client: what the client receives after `xclip -i` took the X clipboard."""
    c = Client(x, out_dir, tag, "--copy", "--hold", "0.2", "--timeout", "40")
    xclip = None
    try:
        if c.wait_for("caps") is None:
            return "the agent never announced its capabilities"
        time.sleep(0.5)
        # -quiet: stays in the foreground (ours to stop); serves one request.
        xclip = subprocess.Popen(["xclip", "-i", "-selection", "clipboard", "-quiet",
                                  "-loops", "1"], env=x.x_env(), stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        xclip.stdin.write(text.encode())
        xclip.stdin.close()
        got = c.wait_for("text", timeout=30)
        if got is None:
            return "the client received no text"
        data = got["text"].encode()
        return digest(data) + (" (equal)" if data == text.encode() else " (DIFFERENT)")
    finally:
        if xclip and xclip.poll() is None:
            xclip.kill()
            xclip.wait()
        c.finish()


def check_clipboard(x, out_dir, name):
    outcome = {}
    for size, text in (("short", "hello from spice-client-glib \u00e9\u00e8"), ("190KB", big_text())):
        outcome["paste-" + size] = paste(x, out_dir, "%s-paste-%s" % (name, size), text)
        guest_text = text.replace("client", "guest").replace("line", "LINE")
        outcome["copy-" + size] = copy(x, out_dir, "%s-copy-%s" % (name, size), guest_text)
    for k, v in outcome.items():
        log("%s: %s: %s" % (name, k, v))
    return outcome


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    lib_dir = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    code = hosts.prerequisites(
        lib_dir, tools=["Xorg", "xterm", "xdpyinfo", "xclip", "spice-vdagent", "spice-vdagentd"],
        files=[hosts.XSPICE_DRIVER])
    if code is not None:
        return code
    checks = {"connect": check_connect, "clipboard": check_clipboard}
    if case not in checks:
        log("unknown case %s" % case)
        return 2
    out_dir = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="agent-interop-")
    os.makedirs(out_dir, exist_ok=True)
    log("output in %s" % out_dir)
    results = {}
    try:
        for name, lib in (("reference", None), ("spiceflow", lib_dir)):
            with AgentXspice(name + "-agent", lib, out_dir) as x:
                hosts.check_library(x, lib is not None, lib_dir)
                results[name] = checks[case](x, out_dir, name)
                if not x.alive():
                    log("FAIL: %s: Xspice died:\n%s" % (name, x.read_log()[-2000:]))
                    return 1
            if x.exit_code not in (0, 1):  # Xorg exits 1 on SIGTERM ("terminating")
                log("FAIL: %s: Xspice exited with %s after SIGTERM" % (name, x.exit_code))
                return 1
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
        return 1
    ref, ours = results["reference"], results["spiceflow"]
    if case == "connect":
        if ref != {"agent": [True], "caps": {"monitors_config": True, "clipboard": True}}:
            log("FAIL: the reference's agent did not connect as expected: %s" % ref)
            return 1
    else:
        bad = {k: v for k, v in ref.items() if not v.endswith("(equal)")}
        if bad:
            log("FAIL: with the reference library: %s" % bad)
            return 1
    if ours != ref:
        log("FAIL: spiceflow differs from the reference:\n  reference %s\n  spiceflow %s"
            % (ref, ours))
        return 1
    log("PASS: %s through spiceflow's agent channel equals the reference's" % case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
