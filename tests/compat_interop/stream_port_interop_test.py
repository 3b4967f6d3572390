#!/usr/bin/python3
"""The streaming agent's port (org.spice-space.stream.0) on spiceflow and on the reference.

    stream_port_interop_test.py LIB_DIR STREAM_HOST CASE [OUT_DIR]

A recording of what spice-streaming-agent writes is made at test time: FFmpeg renders
FRAMES frames of testsrc2 (640x360, a moving, natural-ish picture) and encodes them (MJPEG:
one JPEG per frame; H.264: libx264 zero-latency, split into access units on its AUD NALs);
each frame becomes a DATA message after one FORMAT message. STREAM_HOST (stream_host.cpp,
written against <spice.h> only) registers the port, opens it, and plays the recording
whenever the server's START_STOP names its codec. spice_client.py (spice-client-glib)
connects the stream's display channel and writes its picture after the recording ended:
it must match one of the last source frames above PSNR_MIN_DB - the last one for MJPEG;
for H.264 spice-gtk's GStreamer decoder (avdec_h264) holds one frame back until the next
arrives, so with the stream paused the client shows the one before the last (measured the
same on both libraries); at most MAX_FRAMES_BEHIND frames before the last are accepted. The host's log of START_STOP (one naming the codec when the client joined, an
empty one when it left) is checked too.

CASE mjpeg:   MJPEG frames.
CASE h264:    H.264 frames (the client decodes them with GStreamer).
CASE garbage: MJPEG, but after 10 frames the host writes a DATA header claiming 64 MiB and a
              message of an unknown type: the server answers NOTIFY_ERROR, closes the port
              (state 0), and when the agent reopens it, asks for a new stream; the client
              ends with the last frame as in the mjpeg case.
CASE qemu:    unmodified QEMU (SeaBIOS, no agent in the guest) with the port on a
              virtserialport: the guest never opens it, so no stream display appears
              (display 1 never shows a surface) and display 0 shows QEMU's picture, equal
              on both libraries (the server-side picture is the fallback).

The same host binary runs on our library (LD_LIBRARY_PATH=LIB_DIR) and on the reference; both
outcomes are reported. Ours must pass every check; the reference's PSNR is printed next to it.
Exit 0 pass, 1 fail, 77 skip (ffmpeg, numpy or spice-client-glib missing)."""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

from hosts_interop_test import (SKIP, Qemu, check_library, free_port, log, matches,
                                prerequisites, settled_pictures)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "..", "interop", "spice_client.py")
WIDTH, HEIGHT, FPS, FRAMES = 640, 360, 30, 45
# The client's picture against the source frame it shows: 39.8 dB for MJPEG at -q:v 2 and
# 37.8 dB for H.264 at CRF 18 (on both libraries); against a neighbouring frame (1/30 s
# apart) this content measures below 21 dB, so the threshold also identifies the frame.
PSNR_MIN_DB = 32.0
MAX_FRAMES_BEHIND = {"mjpeg": 0, "h264": 1, "garbage": 0}
CLIENT_SECS = 5.0
STREAM_TYPE_FORMAT, STREAM_TYPE_DATA = 2, 3
CODECS = {"mjpeg": 1, "h264": 3}


def message(mtype, body):
    return struct.pack("<BBHI", 1, 0, mtype, len(body)) + body


def make_recording(codec, out_dir):
    """Returns (recording path, the source frames as RGB bytes, last first)."""
    src = os.path.join(out_dir, "source.rgb")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=%dx%d:rate=%d" % (WIDTH, HEIGHT, FPS), "-frames:v",
                    str(FRAMES), "-pix_fmt", "rgb24", "-f", "rawvideo", src], check=True)
    raw_in = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "%dx%d" % (WIDTH, HEIGHT), "-r",
              str(FPS), "-i", src]
    frames = []
    if codec == "mjpeg":
        pattern = os.path.join(out_dir, "f%04d.jpg")
        subprocess.run(["ffmpeg", "-v", "error", "-y", *raw_in, "-c:v", "mjpeg", "-q:v", "2",
                        "-pix_fmt", "yuvj420p", "-f", "image2", pattern], check=True)
        for i in range(1, FRAMES + 1):
            with open(pattern % i, "rb") as f:
                frames.append(f.read())
    else:
        h264 = os.path.join(out_dir, "video.h264")
        subprocess.run(["ffmpeg", "-v", "error", "-y", *raw_in, "-c:v", "libx264", "-preset",
                        "veryfast", "-tune", "zerolatency", "-crf", "18", "-pix_fmt", "yuv420p",
                        "-x264-params", "aud=1", "-f", "h264", h264], check=True)
        data = open(h264, "rb").read()
        # Access units begin with an access unit delimiter (NAL type 9).
        starts = [m.start() for m in re.finditer(b"\x00\x00\x00\x01\x09", data)]
        frames = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
    if len(frames) != FRAMES:
        raise RuntimeError("%d %s frames encoded, expected %d" % (len(frames), codec, FRAMES))
    rec = message(STREAM_TYPE_FORMAT, struct.pack("<IIB3x", WIDTH, HEIGHT, CODECS[codec]))
    rec += b"".join(message(STREAM_TYPE_DATA, f) for f in frames)
    path = os.path.join(out_dir, "recording.bin")
    with open(path, "wb") as f:
        f.write(rec)
    size = WIDTH * HEIGHT * 3
    data = open(src, "rb").read()
    return path, [data[(FRAMES - 1 - i) * size:(FRAMES - i) * size] for i in range(FRAMES)]


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n", 3)
    w, h = map(int, parts[1].split())
    return w, h, parts[3]


def psnr(a, b):
    import numpy as np
    x = np.frombuffer(a, dtype=np.uint8).astype(np.float64)
    y = np.frombuffer(b, dtype=np.uint8).astype(np.float64)
    mse = float(np.mean((x - y) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def run(name, host_bin, lib_dir, recording, args, out_dir, channel_id):
    """The host on one library and the client on the stream's display channel; returns both
    reports."""
    os.makedirs(out_dir, exist_ok=True)
    port = free_port()
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if lib_dir:
        env["LD_LIBRARY_PATH"] = lib_dir
    out_path = os.path.join(out_dir, "host.out")
    ppm = os.path.join(out_dir, "client.ppm")
    if os.path.exists(ppm):
        os.unlink(ppm)
    with open(os.path.join(out_dir, "host.log"), "w") as herr, open(out_path, "w") as hout:
        host = subprocess.Popen([host_bin, "--port", str(port), "--recording", recording,
                                 "--fps", str(FPS), *args], env=env, stdout=hout, stderr=herr)
        try:
            deadline = time.time() + 20
            while not any('"ready"' in l for l in open(out_path)):
                if host.poll() is not None or time.time() > deadline:
                    raise RuntimeError("%s: host did not start (exit %s): %s"
                                       % (name, host.poll(), open(out_path).read()[-2000:]))
                time.sleep(0.05)
            cenv = dict(os.environ)
            cenv.pop("LD_LIBRARY_PATH", None)
            client = subprocess.run(
                ["/usr/bin/python3", CLIENT, "watch", "127.0.0.1", str(port), str(CLIENT_SECS),
                 "--channel-id", str(channel_id), "--out", ppm],
                env=cenv, capture_output=True, text=True, timeout=60)
            with open(os.path.join(out_dir, "client.log"), "w") as f:
                f.write(client.stderr)
            time.sleep(0.5)  # the host hears of the client leaving (START_STOP, no codec)
        finally:
            host.send_signal(signal.SIGTERM)
            try:
                host.wait(timeout=20)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()
    lines = [l for l in open(out_path).read().splitlines() if l.startswith("{")]
    if host.returncode != 0 or len(lines) < 2:
        raise RuntimeError("%s: host exited %s: %s" % (name, host.returncode,
                                                       open(out_path).read()[-2000:]))
    try:
        client_report = json.loads(client.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError("%s: client printed no report (exit %d): %s"
                           % (name, client.returncode, client.stderr[-2000:]))
    return json.loads(lines[-1]), client_report, ppm


def check(name, case, host, client, ppm, frames):
    """Returns (problems, psnr, frames behind the last)."""
    problems = []
    codec = CODECS["mjpeg" if case == "garbage" else case]
    if client.get("errors"):
        problems.append("client errors %s" % client["errors"])
    starts = host["start_stops"]
    if not starts or codec not in starts[0]:
        problems.append("no START_STOP naming codec %d when the client joined: %s"
                        % (codec, starts))
    elif starts[-1] != []:
        problems.append("no START_STOP without codecs after the client left: %s" % starts)
    value, behind = None, None
    if not os.path.exists(ppm):
        problems.append("the client got no picture on the stream's display channel")
    else:
        w, h, rgb = read_ppm(ppm)
        if (w, h) != (WIDTH, HEIGHT):
            problems.append("the stream's display is %dx%d, not %dx%d" % (w, h, WIDTH, HEIGHT))
        else:
            # The source frame the client shows: the best match among the last few.
            scores = [psnr(rgb, f) for f in frames[:4]]
            behind = max(range(len(scores)), key=lambda i: scores[i])
            value = scores[behind]
            if value < PSNR_MIN_DB:
                problems.append("PSNR %.1f dB < %.1f against the best-matching source frame"
                                % (value, PSNR_MIN_DB))
            if behind > MAX_FRAMES_BEHIND[case]:
                problems.append("the client shows the frame %d before the last" % behind)
    if case == "garbage":
        if not host["notify_errors"]:
            problems.append("no NOTIFY_ERROR after the malformed message")
        if host["state_off"] < 1:
            problems.append("the port was not closed (state 0) after the malformed message")
        if len(starts) < 2:
            problems.append("no new START_STOP after the agent reopened the port: %s" % starts)
    return problems, value, behind


def watch(port, channel_id, secs, ppm=None):
    """spice_client.py watch on display `channel_id`: (exit code, report)."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    args = ["/usr/bin/python3", CLIENT, "watch", "127.0.0.1", str(port), str(secs),
            "--channel-id", str(channel_id)] + (["--out", ppm] if ppm else [])
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=secs + 60)
    try:
        return r.returncode, json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return r.returncode, {}


def case_qemu(lib_dir, out_dir):
    extra = ["-device", "virtio-serial", "-chardev",
             "spiceport,id=stream,name=org.spice-space.stream.0",
             "-device", "virtserialport,chardev=stream,name=org.spice-space.stream.0"]
    want = None
    for name, lib in (("reference", None), ("spiceflow", lib_dir)):
        with Qemu(name, lib, out_dir, extra=extra) as q:
            check_library(q, lib is not None, lib_dir)
            # Display 0: QEMU's picture (the reference's settled screen, then ours must
            # reach one of its pictures, as the screenshot case checks).
            if want is None:
                want = set(settled_pictures(q, out_dir, name))
                ok = bool(want)
            else:
                ok = matches(q, want, out_dir, name)
            code1, r1 = watch(q.port, 1, 2)
            alive = q.alive()
        log("%s: display 0 %s; display 1: exit %d, %s" % (
            name, "matches the reference's settled picture" if ok else "DIFFERS", code1,
            r1.get("primary") or "no surface"))
        if not alive:
            log("FAIL: %s: QEMU died" % name)
            return 1
        if code1 != 2 or r1.get("primary"):
            log("FAIL: %s: display 1 showed a surface without an agent" % name)
            return 1
        if not ok:
            log("FAIL: %s: display 0 did not show the reference's picture" % name)
            return 1
    log("PASS")
    return 0


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    lib_dir, host_bin, case = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    out_dir = os.path.abspath(sys.argv[4] if len(sys.argv) > 4 else "stream_port_out")
    if case not in ("mjpeg", "h264", "garbage", "qemu"):
        print(__doc__)
        return 2
    skip = prerequisites(lib_dir, tools=("qemu-system-x86_64",) if case == "qemu" else ("ffmpeg",))
    if skip is not None:
        return skip
    if case == "qemu":
        os.makedirs(out_dir, exist_ok=True)
        return case_qemu(lib_dir, out_dir)
    try:
        import numpy  # noqa: F401
    except ImportError:
        log("SKIP: needs numpy")
        return SKIP
    os.makedirs(out_dir, exist_ok=True)
    codec = "mjpeg" if case == "garbage" else case
    recording, frames = make_recording(codec, out_dir)
    args = ["--garbage-after", "10"] if case == "garbage" else []
    failed = False
    # The stream's display channel: spiceflow always serves display 0 (the QXL desktop, blank
    # without a QXL device), so the stream is display 1; the reference gives the stream the
    # first free display id, which is 0 in this host without a QXL device (1 under QEMU).
    for name, lib, channel_id in (("spiceflow", lib_dir, 1), ("reference", None, 0)):
        host, client, ppm = run(name, host_bin, lib, recording, args, os.path.join(out_dir, name),
                                channel_id)
        if name == "spiceflow" and not host["library"].startswith(lib_dir):
            log("FAIL: the host loaded %s, not ours" % host["library"])
            return 1
        problems, value, behind = check(name, case, host, client, ppm, frames)
        log("%s (%s): picture PSNR %s dB against the source frame %s before the last, START_STOPs %s, NOTIFY_ERROR %s, state 0 x%d, "
            "display channel bytes %s" % (name, host["library"],
                                          "%.1f" % value if value is not None else "-", behind,
                                          host["start_stops"], host["notify_errors"],
                                          host["state_off"], client.get("bytes", {})))
        if problems:
            log("%s: %s" % ("FAIL" if name == "spiceflow" else "reference differs",
                            "; ".join(problems)))
            failed = failed or name == "spiceflow"
    if failed:
        return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
