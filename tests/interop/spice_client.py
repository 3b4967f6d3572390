#!/usr/bin/python3
"""spice_client.py: spiceflow's headless SPICE client for the interop tests.

Drives spice-client-glib (the library inside remote-viewer) through PyGObject; no
GTK and no X display are needed. Run it with /usr/bin/python3: Debian's `gi`
module is not visible to a pyenv/venv python.

  watch HOST PORT SECS [--password P] [--out FILE.ppm] [--channel-id N]
        [--glz-window BYTES] [--cache-size BYTES] [--preferred-compression N]
      Connects the main channel and display channel N (default 0) and, for SECS
      of wall time, counts display invalidates and "frames" (1/60 s ticks with at
      least one invalidate: what a 60 Hz client would paint). At the end the
      client's copy of the primary surface is written to FILE.ppm (binary P6).
      Exit status: 0 primary surface received and no channel error,
      2 no primary surface, 3 a channel reported an error (link, auth, io...).
      --top-rects N adds "top_rects": the N most frequent invalidate rectangles
      as [x, y, w, h, count]. spice-client-glib decodes MJPEG streams itself and
      invalidates the stream's destination rectangle once per shown frame, so a
      video stream shows up as one large rectangle with a high count.
      --glz-window sets the session's GLZ window (its DISPLAY_INIT asks for BYTES / 4
      pixels; spice-gtk's default is 12..64 MiB), --cache-size the session's pixmap
      cache (DISPLAY_INIT's pixmap_cache_size is BYTES / 4 pixels; default 80 MiB),
      --preferred-compression the
      SpiceImageCompression it asks for (DISPLAY_PREFERRED_COMPRESSION).
      --stream-out FILE.ppm [--stream-min-area PX] also writes the primary surface as
      it was right after the last invalidate of at least PX pixels (default 100000):
      with a video stream running, the last stream frame the client showed.

  input HOST PORT [--password P] [--keys 0x1e,0x30,...] [--move X,Y]...
        [--click X,Y]... [--display N] [--delay-ms MS] [--timeout SECS]
      Opens the inputs channel and sends, in this order: every key as press +
      release (PC/XT scancodes; 0xe0xx for extended keys), every --move as an
      absolute position, every --click as position + left button press +
      release. Positions use SpiceInputsChannel.position() (client mouse mode
      messages); the mouse mode the server announced is reported.
      Exit status: 0 all sent, 1 the inputs channel never opened,
      3 a channel reported an error after that.

Both print exactly one JSON line on stdout.

Pitfall: SpiceClientGLib.Session.connect / Channel.connect shadow
GObject.connect, so signals are hooked with GObject.Object.connect(obj, ...) and
spice_channel_connect() is called as SpiceClientGLib.Channel.connect(ch).
"""
import argparse
import ctypes
import hashlib
import json
import sys
import time

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

ERROR_EVENTS = {
    Spice.ChannelEvent.ERROR_CONNECT: "connect",
    Spice.ChannelEvent.ERROR_TLS: "tls",
    Spice.ChannelEvent.ERROR_LINK: "link",
    Spice.ChannelEvent.ERROR_AUTH: "auth",
    Spice.ChannelEvent.ERROR_IO: "io",
}
SPICE_MOUSE_BUTTON_LEFT = 1
SURFACE_FMT_32_XRGB = 32
SURFACE_FMT_32_ARGB = 96


# --tls-port / --ca-file (before the subcommand): connect with TLS, trusting that CA.
TLS = {"port": 0, "ca_file": None}


def channel_name(ch):
    return type(ch).__name__.replace("Channel", "").lower() or "channel"


class Client:
    """A session plus the bookkeeping both subcommands share."""

    def __init__(self, host, port, password, glz_window=None, preferred_compression=None,
                 cache_size=None):
        self.loop = GLib.MainLoop()
        self.t0 = time.monotonic()
        self.errors = []
        self.channels = []
        self.opened = []
        self.session = Spice.Session()
        self.uri = "spice://%s:%d" % (host, port)
        if TLS["port"]:
            self.uri = ("spice://%s%s?tls-port=%d" %
                        (host, ":%d" % port if port else "", TLS["port"]))
        self.session.set_property("uri", self.uri)
        if TLS["ca_file"]:
            self.session.set_property("ca-file", TLS["ca_file"])
        if password is not None:
            self.session.set_property("password", password)
        if glz_window is not None:
            self.session.set_property("glz-window-size", glz_window)
        if cache_size is not None:
            self.session.set_property("cache-size", cache_size)
        if preferred_compression is not None:
            self.session.set_property("preferred-compression", preferred_compression)
        GObject.Object.connect(self.session, "channel-new", self._on_channel_new)

    def now(self):
        return round(time.monotonic() - self.t0, 4)

    def _on_channel_new(self, session, ch):
        self.channels.append(ch)
        GObject.Object.connect(ch, "channel-event", self._on_event)
        self.on_channel(ch)

    def _on_event(self, ch, event):
        if event == Spice.ChannelEvent.OPENED:
            self.opened.append(channel_name(ch))
            self.on_opened(ch)
        elif event in ERROR_EVENTS:
            err = "%s: %s" % (channel_name(ch), ERROR_EVENTS[event])
            gerr = ch.get_error() if hasattr(ch, "get_error") else None
            if gerr is not None:
                err += " (%s)" % gerr.message
            self.errors.append(err)
            self.loop.quit()

    def on_channel(self, ch):
        pass

    def on_opened(self, ch):
        pass

    def run(self, seconds):
        if not Spice.Session.connect(self.session):
            self.errors.append("spice_session_connect failed")
            return
        GLib.timeout_add(int(seconds * 1000), self.loop.quit)
        self.loop.run()

    def bytes_per_channel(self):
        out = {}
        for ch in self.channels:
            name = channel_name(ch)
            out[name] = out.get(name, 0) + ch.get_property("total-read-bytes")
        return out

    def close(self):
        self.session.disconnect()


class Watcher(Client):
    def __init__(self, host, port, password, channel_id, **session_props):
        super().__init__(host, port, password, **session_props)
        self.channel_id = channel_id
        self.st = {"invalidates": 0, "frames": 0, "inval_px": 0,
                   "primary_creates": 0, "marks": 0,
                   "t_first_primary": None, "t_first_invalidate": None,
                   "t_last_invalidate": None}
        self.prim = {}
        self.last_tick = -1
        self.rects = {}
        self.stream_min_area = 0  # > 0: keep the picture after large invalidates
        self.stream_shot = None   # (raw surface bytes, seconds)
        self.stream_shots = 0

    def on_channel(self, ch):
        if isinstance(ch, Spice.DisplayChannel):
            if ch.get_property("channel-id") != self.channel_id:
                return
            GObject.Object.connect(ch, "display-primary-create", self._on_primary)
            GObject.Object.connect(ch, "display-primary-destroy",
                                   lambda c: self.prim.clear())
            GObject.Object.connect(ch, "display-invalidate", self._on_invalidate)
            GObject.Object.connect(ch, "display-mark", self._on_mark)
            Spice.Channel.connect(ch)

    def _on_primary(self, ch, fmt, w, h, stride, shmid, addr):
        self.st["primary_creates"] += 1
        if self.st["t_first_primary"] is None:
            self.st["t_first_primary"] = self.now()
        self.prim.update(format=fmt, w=w, h=h, stride=stride, addr=addr)

    def _on_invalidate(self, ch, x, y, w, h):
        t = self.now()
        self.st["invalidates"] += 1
        self.st["inval_px"] += w * h
        self.rects[(x, y, w, h)] = self.rects.get((x, y, w, h), 0) + 1
        if self.st["t_first_invalidate"] is None:
            self.st["t_first_invalidate"] = t
        self.st["t_last_invalidate"] = t
        if self.stream_min_area and w * h >= self.stream_min_area and self.prim:
            self.stream_shot = (ctypes.string_at(self.prim["addr"],
                                                 self.prim["stride"] * self.prim["h"]), t)
            self.stream_shots += 1
        tick = int(t * 60)
        if tick != self.last_tick:
            self.st["frames"] += 1
            self.last_tick = tick

    def _on_mark(self, ch, mark):
        self.st["marks"] += 1

    def primary_report(self, ppm_out, raw=None):
        """Reads the client's primary surface (or `raw`, a copy of it taken earlier);
        returns (json dict, error or None)."""
        if not self.prim:
            return None, None
        w, h, stride, fmt = (self.prim["w"], self.prim["h"], self.prim["stride"],
                             self.prim["format"])
        rep = {"w": w, "h": h, "stride": stride, "format": fmt}
        if fmt not in (SURFACE_FMT_32_XRGB, SURFACE_FMT_32_ARGB):
            return rep, "unsupported primary format %d" % fmt
        if raw is None:
            raw = ctypes.string_at(self.prim["addr"], stride * h)
        rows = bytearray(b"".join(raw[i * stride:i * stride + w * 4] for i in range(h)))
        rows[3::4] = bytes(w * h)  # the X byte of xRGB is undefined
        rep["sha256"] = hashlib.sha256(rows).hexdigest()
        if ppm_out:
            rgb = bytearray(w * h * 3)  # memory order is B, G, R, X
            rgb[0::3], rgb[1::3], rgb[2::3] = rows[2::4], rows[1::4], rows[0::4]
            with open(ppm_out, "wb") as f:
                f.write(b"P6\n%d %d\n255\n" % (w, h) + rgb)
            rep["ppm"] = ppm_out
        return rep, None


class InputSender(Client):
    def __init__(self, host, port, password, actions, delay_ms, display):
        super().__init__(host, port, password)
        self.actions = actions
        self.delay_ms = delay_ms
        self.display = display
        self.sent = {"keys": 0, "moves": 0, "clicks": 0}
        self.started = False
        self.done = False
        self.main = None

    def on_channel(self, ch):
        if isinstance(ch, Spice.MainChannel):
            self.main = ch
        elif isinstance(ch, Spice.InputsChannel):
            Spice.Channel.connect(ch)

    def on_opened(self, ch):
        if not isinstance(ch, Spice.InputsChannel) or self.started:
            return
        self.started = True
        steps = []
        for kind, arg in self.actions:
            if kind == "key":
                steps.append(lambda c=arg: Spice.InputsChannel.key_press(ch, c))
                steps.append(lambda c=arg: (Spice.InputsChannel.key_release(ch, c),
                                            self._count("keys")))
            elif kind == "move":
                x, y = arg
                steps.append(lambda x=x, y=y: (
                    Spice.InputsChannel.position(ch, x, y, self.display, 0),
                    self._count("moves")))
            elif kind == "click":
                x, y = arg
                steps.append(lambda x=x, y=y: Spice.InputsChannel.position(
                    ch, x, y, self.display, 0))
                steps.append(lambda: Spice.InputsChannel.button_press(
                    ch, SPICE_MOUSE_BUTTON_LEFT, 0))
                steps.append(lambda: (Spice.InputsChannel.button_release(
                    ch, SPICE_MOUSE_BUTTON_LEFT, 0), self._count("clicks")))
        # Let the link settle, pace the events like a person would, and leave time for
        # the last message to be written before the session is torn down.
        for i, step in enumerate(steps):
            GLib.timeout_add(200 + self.delay_ms * i, self._once(step))
        GLib.timeout_add(200 + self.delay_ms * len(steps) + 300,
                         self._once(self._finish))

    @staticmethod
    def _once(fn):
        return lambda: (fn(), False)[1]

    def _count(self, what):
        self.sent[what] += 1

    def _finish(self):
        self.done = True
        self.loop.quit()


def parse_xy(text):
    x, y = text.split(",")
    return int(x, 0), int(y, 0)


def cmd_watch(a):
    c = Watcher(a.host, a.port, a.password, a.channel_id, glz_window=a.glz_window,
                preferred_compression=a.preferred_compression, cache_size=a.cache_size)
    if a.stream_out:
        c.stream_min_area = a.stream_min_area
    c.run(a.secs)
    out = {"cmd": "watch", "uri": c.uri, "seconds": c.now(), **c.st,
           "opened": c.opened, "bytes": c.bytes_per_channel(), "errors": c.errors}
    if a.top_rects:
        top = sorted(c.rects.items(), key=lambda kv: -kv[1])[:a.top_rects]
        out["top_rects"] = [[x, y, w, h, n] for (x, y, w, h), n in top]
    prim, err = c.primary_report(a.out)
    out["primary"] = prim
    if a.stream_out:
        out["stream_shots"] = c.stream_shots
        if c.stream_shot is not None:
            shot, _ = c.primary_report(a.stream_out, raw=c.stream_shot[0])
            out["stream_shot"] = {"t": c.stream_shot[1], **(shot or {})}
    if err:
        out["errors"].append(err)
    c.close()
    print(json.dumps(out), flush=True)
    if c.errors:
        return 3
    return 0 if prim and "sha256" in prim else 2


def cmd_input(a):
    actions = []
    if a.keys:
        actions += [("key", int(k, 0)) for k in a.keys.split(",") if k]
    actions += [("move", parse_xy(m)) for m in a.move]
    actions += [("click", parse_xy(c)) for c in a.click]
    c = InputSender(a.host, a.port, a.password, actions, a.delay_ms, a.display)
    c.run(a.timeout)
    mode = c.main.get_property("mouse-mode") if c.main is not None else None
    out = {"cmd": "input", "uri": c.uri, "seconds": c.now(), "opened": c.opened,
           "inputs_opened": c.started, "done": c.done, "sent": c.sent,
           "mouse_mode": mode, "errors": c.errors}
    c.close()
    print(json.dumps(out), flush=True)
    if not c.started:
        return 1
    if c.errors:
        return 3
    return 0 if c.done else 3


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tls-port", type=int, default=0, help="TLS port (PORT 0: TLS only)")
    p.add_argument("--ca-file", help="PEM CA certificate the server's must chain to")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("host")
    w.add_argument("port", type=int)
    w.add_argument("secs", type=float)
    w.add_argument("--password")
    w.add_argument("--out")
    w.add_argument("--channel-id", type=int, default=0)
    w.add_argument("--top-rects", type=int, default=0)
    w.add_argument("--glz-window", type=int)
    w.add_argument("--cache-size", type=int)
    w.add_argument("--preferred-compression", type=int)
    w.add_argument("--stream-out")
    w.add_argument("--stream-min-area", type=int, default=100000)
    i = sub.add_parser("input")
    i.add_argument("host")
    i.add_argument("port", type=int)
    i.add_argument("--password")
    i.add_argument("--keys", default="")
    i.add_argument("--move", action="append", default=[])
    i.add_argument("--click", action="append", default=[])
    i.add_argument("--display", type=int, default=0)
    i.add_argument("--delay-ms", type=int, default=50)
    i.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args(argv)
    TLS["port"], TLS["ca_file"] = a.tls_port, a.ca_file
    return cmd_watch(a) if a.cmd == "watch" else cmd_input(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
