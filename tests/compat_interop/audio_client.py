#!/usr/bin/python3
"""audio_client.py: a spice-client-glib client of the playback and record channels.

    audio_client.py HOST PORT SECS OUT_DIR [--record-frames N]

Connects a session with audio enabled and opens the playback and record channels (no audio
device: the library's signals are the client's view). For SECS of wall time:
  - every "playback-data" buffer (decoded by spice-client-glib: raw, or Opus through its
    own libopus decoder) is appended to OUT_DIR/client_played.raw;
  - on "record-start" it sends N frames of 480 stereo S16 samples of its own test signal
    (10 ms each, paced by the clock) with SpiceRecordChannel.send_data(), and appends them
    to OUT_DIR/client_sent.raw. Its signal: left a linear chirp 300 Hz -> 3 kHz over 2 s,
    right a 700 Hz sine, at 35% of full scale, at the rate RECORD_START named.
At the end it prints one JSON line: what START said, how many buffers and bytes arrived,
the wire bytes of the playback channel, the volume and mute the server set, whether the
server offered Opus, and channel errors. Run with /usr/bin/python3 (Debian's gi module).
Exit status 0, or 3 when a channel reported an error.

The session, its error bookkeeping and the main loop are ../interop/spice_client.py's
Client (whose pitfall applies: signals are hooked with GObject.Object.connect(obj, ...)).
"""
import argparse
import ctypes
import json
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from spice_client import Client, GLib, GObject, Spice  # noqa: E402

# spice-protocol's protocol.h (not exported by the GIR).
SPICE_PLAYBACK_CAP_OPUS = 3
SPICE_RECORD_CAP_OPUS = 2
FRAME = 480


def client_sample(n, rate):
    t = n / rate
    period = 2.0
    tt = math.fmod(t, period)
    # Linear chirp f(t) = f0 + (f1 - f0) t / T: phase 2 pi (f0 t + (f1 - f0) t^2 / 2T).
    phase = 2 * math.pi * (300 * tt + (3000 - 300) * tt * tt / (2 * period))
    left = int(round(0.35 * 32767 * math.sin(phase)))
    right = int(round(0.35 * 32767 * math.sin(2 * math.pi * 700 * t)))
    return struct.pack("<hh", left, right)


class AudioClient(Client):
    def __init__(self, host, port, out_dir, record_frames):
        super().__init__(host, port, None)
        self.session.set_property("enable-audio", True)
        self.record_frames = record_frames
        self.played = open(os.path.join(out_dir, "client_played.raw"), "wb")
        self.sent = open(os.path.join(out_dir, "client_sent.raw"), "wb")
        self.playback = None
        self.record = None
        self.st = {"playback_start": None, "playback_starts": 0, "playback_stops": 0,
                   "playback_buffers": 0, "playback_bytes": 0,
                   "t_first_playback": None, "record_start": None, "record_frames_sent": 0}
        self.rec_rate = None
        self.rec_t0 = None
        self.rec_next = 0

    def on_channel(self, ch):
        if isinstance(ch, Spice.PlaybackChannel):
            self.playback = ch
            GObject.Object.connect(ch, "playback-start", self.on_playback_start)
            GObject.Object.connect(ch, "playback-data", self.on_playback_data)
            GObject.Object.connect(ch, "playback-stop", self.on_playback_stop)
            Spice.Channel.connect(ch)
        elif isinstance(ch, Spice.RecordChannel):
            self.record = ch
            GObject.Object.connect(ch, "record-start", self.on_record_start)
            Spice.Channel.connect(ch)

    def on_playback_start(self, ch, fmt, channels, rate):
        self.st["playback_start"] = [fmt, channels, rate]
        self.st["playback_starts"] += 1

    def on_playback_stop(self, ch):
        self.st["playback_stops"] += 1

    def on_playback_data(self, ch, data, size):
        # `data` is the gpointer of the decoded PCM, valid during the signal.
        self.played.write(ctypes.string_at(data, size))
        self.st["playback_buffers"] += 1
        self.st["playback_bytes"] += size
        if self.st["t_first_playback"] is None:
            self.st["t_first_playback"] = self.now()

    def on_record_start(self, ch, fmt, channels, rate):
        self.st["record_start"] = [fmt, channels, rate]
        if self.rec_t0 is None:
            self.rec_rate = rate
            self.rec_t0 = time.monotonic()
            GLib.timeout_add(10, self.record_tick)

    def record_tick(self):
        # Frames due by the clock (a late tick catches up by at most 4 frames).
        due = int((time.monotonic() - self.rec_t0) * 100) + 1 - self.st["record_frames_sent"]
        for _ in range(max(0, min(due, 4))):
            if self.st["record_frames_sent"] >= self.record_frames:
                return False
            frame = b"".join(client_sample(self.rec_next + i, self.rec_rate) for i in range(FRAME))
            self.rec_next += FRAME
            buf = ctypes.create_string_buffer(frame, len(frame))
            stamp = int(time.monotonic() * 1000) & 0xffffffff
            Spice.RecordChannel.send_data(self.record, ctypes.addressof(buf), len(frame), stamp)
            self.sent.write(frame)
            self.st["record_frames_sent"] += 1
        return self.st["record_frames_sent"] < self.record_frames

    @staticmethod
    def volume_of(ch):
        n = ch.get_property("nchannels")
        ptr = ch.get_property("volume")
        if not n or not ptr:
            return []
        return list((ctypes.c_uint16 * n).from_address(ptr))

    def report(self):
        st = dict(self.st, errors=self.errors)
        for name, ch, opus_cap in (("playback", self.playback, SPICE_PLAYBACK_CAP_OPUS),
                                   ("record", self.record, SPICE_RECORD_CAP_OPUS)):
            if ch is None:
                st[name] = None
                continue
            st[name] = {"volume": self.volume_of(ch), "mute": bool(ch.get_property("mute")),
                        "server_offers_opus": bool(ch.test_capability(opus_cap)),
                        "wire_bytes": ch.get_property("total-read-bytes")}
        self.played.close()
        self.sent.close()
        self.close()
        return st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("secs", type=float)
    ap.add_argument("out_dir")
    ap.add_argument("--record-frames", type=int, default=200)
    a = ap.parse_args()
    c = AudioClient(a.host, a.port, a.out_dir, a.record_frames)
    c.run(a.secs)
    st = c.report()
    print(json.dumps(st), flush=True)
    return 3 if st["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
