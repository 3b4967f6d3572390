#!/usr/bin/python3
"""spice-html5 (the web client, Debian package spice-html5) in headless Chromium against
`spiceflow serve`, through websockify on loopback.

    html5_interop_test.py SPICEFLOW_BIN CASE [OUT_DIR]

CASE off|quic|lz: a --frozen synthetic desktop served with that --image-compression; the
  pixels of spice-html5's primary canvas (read through the DevTools protocol with
  getImageData) must equal the server's --dump-frame pixel for pixel.
CASE jpeg: the same with JPEG; PSNR against --dump-frame must be at least 30 dB.
CASE stream: --synthetic video with MJPEG streaming; spice-html5 must play the stream (its
  canvas changes while the video runs) and, once the video stops (--stop-after), end on the
  picture a fresh spicy-screenshot gets, pixel for pixel (the region returns as lossless tiles).

spice-html5 decodes no GLZ, ZLIB-GLZ or LZ4; the server must not send them to it (it does
not advertise those caps). Every process runs on free 127.0.0.1 ports and is stopped.
Exit 0 pass, 1 fail, 77 skip (chromium, websockify or spice-html5 missing)."""
import base64
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77
HTML5_DIR = "/usr/share/spice-html5"


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Processes:
    """Starts processes in their own groups; stops every one of them on exit."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.procs = []

    def start(self, name, args, **kw):
        out = open(os.path.join(self.out_dir, name + ".log"), "w")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        self.procs.append((p, out))
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p, out in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait()
            out.close()


class DevTools:
    """Just enough of a WebSocket client (RFC 6455) to speak Chromium's DevTools protocol."""

    def __init__(self, ws_url):
        u = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("DevTools closed during the WebSocket upgrade")
            reply += chunk
        head, self.pending = reply.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"DevTools WebSocket upgrade refused: {head[:80]!r}")
        self.next_id = 0

    def _exact(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(max(65536, n - len(self.pending)))
            if not chunk:
                raise RuntimeError("DevTools connection closed")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def _send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _recv_message(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            message += self._exact(n)  # frames from the browser are not masked
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method, **params):
        self.next_id += 1
        self._send_text(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = self._recv_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


# The primary canvas (spice-html5 names it spice_surface_<id>) as {w, h, rgba base64}.
READ_CANVAS = """(() => {
  const c = [...document.querySelectorAll('canvas')].find(e => e.id.startsWith('spice_surface_')
      && e.parentElement && e.parentElement.id === 'spice-screen');
  if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  return {w: c.width, h: c.height, rgba: btoa(s)};
})()"""


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = []
    pos = 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    pos += 1
    if parts[0] != b"P6" or parts[3] != b"255":
        raise RuntimeError(f"{path}: not a binary 8-bit PPM")
    w, h = int(parts[1]), int(parts[2])
    return w, h, data[pos:pos + w * h * 3]


def rgba_to_rgb(rgba):
    out = bytearray(len(rgba) // 4 * 3)
    out[0::3] = rgba[0::4]
    out[1::3] = rgba[1::4]
    out[2::3] = rgba[2::4]
    return bytes(out)


def psnr(a, b):
    if a == b:
        return math.inf
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    return 10 * math.log10(255 * 255 * len(a) / se)


def differing_pixels(a, b):
    return sum(1 for i in range(0, len(a), 3) if a[i:i + 3] != b[i:i + 3])


class Browser:
    """Headless Chromium with the DevTools protocol on a free loopback port."""

    def __init__(self, procs, out_dir, url):
        self.profile = tempfile.mkdtemp(prefix="sf-chromium-", dir=out_dir)
        self.port = free_port()
        procs.start("chromium", [
            shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-features=Translate", f"--user-data-dir={self.profile}",
            "--window-size=1400,1000", "--remote-debugging-address=127.0.0.1",
            f"--remote-debugging-port={self.port}", "--remote-allow-origins=*", url])
        if not wait_port(self.port, 30):
            raise RuntimeError("chromium's DevTools port never opened")
        deadline = time.monotonic() + 30
        while True:
            tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list"))
            pages = [t for t in tabs if t.get("type") == "page" and "spice" in t.get("url", "")]
            if pages:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("chromium opened no spice-html5 page")
            time.sleep(0.2)
        self.tools = DevTools(pages[0]["webSocketDebuggerUrl"])

    def canvas(self):
        v = self.tools.evaluate(READ_CANVAS)
        if not v:
            return None
        return v["w"], v["h"], rgba_to_rgb(base64.b64decode(v["rgba"]))


def serve(procs, out_dir, spiceflow, args):
    port = free_port()
    dump = os.path.join(out_dir, "server.ppm")
    procs.start("spiceflow", [spiceflow, "serve", "--addr", "127.0.0.1", "--port", str(port),
                              "--dump-frame", dump, *args])
    if not wait_port(port):
        raise RuntimeError("spiceflow did not start listening")
    return port, dump


def open_html5(procs, out_dir, spice_port):
    ws_port = free_port()
    procs.start("websockify", ["websockify", "--web", HTML5_DIR, f"127.0.0.1:{ws_port}",
                               f"127.0.0.1:{spice_port}"])
    if not wait_port(ws_port):
        raise RuntimeError("websockify did not start listening")
    url = f"http://127.0.0.1:{ws_port}/spice_auto.html?host=127.0.0.1&port={ws_port}"
    return Browser(procs, out_dir, url)


def wait_for_picture(browser, want, timeout, exact):
    """Polls the canvas until it equals `want` (exact) or reaches 30 dB; returns the last."""
    w, h, pixels = want
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        got = browser.canvas()
        if got and got[0] == w and got[1] == h:
            last = got[2]
            if last == pixels or (not exact and psnr(last, pixels) >= 30.0):
                return last
        time.sleep(0.5)
    return last


def case_still(spiceflow, out_dir, codec):
    size = "800x600"
    with Processes(out_dir) as procs:
        port, dump = serve(procs, out_dir, spiceflow,
                           ["--synthetic", "office", "--size", size, "--frozen",
                            "--image-compression", codec])
        deadline = time.monotonic() + 20
        while not os.path.exists(dump) and time.monotonic() < deadline:
            time.sleep(0.1)
        want = read_ppm(dump)
        browser = open_html5(procs, out_dir, port)
        got = wait_for_picture(browser, want, 30, exact=(codec != "jpeg"))
        if got is None:
            log(f"FAIL: spice-html5 never showed an {size} primary canvas")
            return 1
        if codec == "jpeg":
            value = psnr(got, want[2])
            log(f"jpeg: PSNR {value:.1f} dB against --dump-frame")
            return 0 if value >= 30.0 else 1
        if got != want[2]:
            log(f"FAIL: {differing_pixels(got, want[2])} pixels differ from --dump-frame")
            return 1
        log(f"{codec}: spice-html5's canvas equals --dump-frame ({size})")
        return 0


def case_stream(spiceflow, out_dir):
    size = "1280x720"
    with Processes(out_dir) as procs:
        # 150 frames at 30 fps of video, then the desktop stands still.
        started = time.monotonic()
        port, _ = serve(procs, out_dir, spiceflow,
                        ["--synthetic", "video", "--size", size, "--stop-after", "150",
                         "--streaming-video", "filter", "--image-compression", "quic",
                         "--video-codecs", "spice:mjpeg"])
        browser = open_html5(procs, out_dir, port)
        seen = set()
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            got = browser.canvas()
            if got:
                seen.add(hash(got[2]))
            time.sleep(0.25)
        log(f"stream: {len(seen)} distinct pictures in 4 s of video")
        if len(seen) < 4:
            log("FAIL: spice-html5's canvas did not follow the video")
            return 1
        # The video stops after 150 frames (5 s); its region returns as lossless tiles once
        # it has been still for a while. A fresh spicy-screenshot is the server's picture.
        time.sleep(max(0.0, started + 7.0 - time.monotonic()))
        shot = os.path.join(out_dir, "spicy.ppm")
        r = subprocess.run(["spicy-screenshot", "-h", "127.0.0.1", "-p", str(port), "-o", shot],
                           capture_output=True, timeout=60)
        if r.returncode != 0 or not os.path.exists(shot):
            log(f"FAIL: spicy-screenshot failed: {r.stderr.decode(errors='replace')[-300:]}")
            return 1
        want = read_ppm(shot)
        got = wait_for_picture(browser, want, 30, exact=True)
        if got != want[2]:
            n = differing_pixels(got, want[2]) if got else "all"
            log(f"FAIL: after the video stopped, {n} pixels differ from the server's picture")
            return 1
        with open(os.path.join(out_dir, "spiceflow.log")) as f:
            server_log = f.read()
        if "stream" not in server_log.lower():
            log("note: the server log does not mention a stream")
        log("stream: spice-html5 followed the video and ended pixel-exact")
        return 0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    spiceflow, case = sys.argv[1], sys.argv[2]
    out_dir = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="sf-html5-")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    missing = [t for t in ("chromium", "websockify") if not shutil.which(t)]
    if missing or not os.path.exists(os.path.join(HTML5_DIR, "spice_auto.html")):
        log(f"SKIP: missing {missing or ['spice-html5']}")
        return SKIP
    if case in ("off", "quic", "lz", "jpeg"):
        return case_still(spiceflow, out_dir, case)
    if case == "stream":
        return case_stream(spiceflow, out_dir)
    log(f"unknown case {case}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
