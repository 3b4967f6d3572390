#!/usr/bin/python3
"""Audio through spiceflow's libspice-server.so.1 and through the reference library.

    audio_interop_test.py LIB_DIR AUDIO_HOST CASE [OUT_DIR]

AUDIO_HOST (audio_host.cpp, written against <spice.h> only) registers a playback and a record
device, plays a known stereo sweep and reads what the record device gets; audio_client.py
(spice-client-glib) receives the playback and sends its own signal on the record channel.
The same host binary runs on our library (LD_LIBRARY_PATH=LIB_DIR) and on the reference
(no LD_LIBRARY_PATH); /proc/PID/maps confirms which one the loader picked.

CASE raw:        --rate 44100 (Opus cannot): raw both ways. Playback: the client's samples
                 equal the host's from the first frame on. Record: the host reads exactly
                 what the client sent.
CASE opus:       --rate 48000: Opus both ways (the client decodes playback with its own
                 libopus, we decode its record packets). SNR >= 20 dB each way after aligning
                 on Opus's delay, and the playback channel carries < 600 bytes per 10 ms.
CASE nocompress: --rate 48000 --playback-compression off: raw playback (exact), Opus record.
CASE qemu:       unmodified QEMU (SeaBIOS, -audiodev spice with an intel-hda + hda-duplex
                 codec) instead of audio_host: the client links the playback and record
                 channels, Opus is offered (QEMU sets 48 kHz), no START (the guest plays
                 nothing), no errors; the same as with the reference.
Every case also checks PLAYBACK/RECORD START (format, channels, rate), the VOLUME and MUTE the
host set, whether Opus is offered, and that spice-client-glib logged no warning; spiceflow's
outcome must equal the reference's.

One difference is expected and checked: the reference's record ring (sound.cpp
snd_record_handle_write, 0.15.1 and upstream) copies the part of a message that wraps past
the end of its 8192-sample ring from `data + now` on a byte pointer, i.e. from `now` bytes
instead of `now` samples into the message, so those samples come out garbled (about 3% of a
raw stream). The reference's record output must equal exactly that model of the client's
samples (or the true samples, should a fixed reference be installed); spiceflow's must be
the true samples. Opus SNR on the reference leaves those samples out.

Exit 0 pass, 1 fail, 77 skip (spice-client-glib, numpy, the host binary or QEMU missing)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from hosts_interop_test import HERE, REFERENCE_LIB, SKIP, Qemu, free_port, log

RING = 8192   # the reference's RECORD_SAMPLES_SIZE
FRAME = 480   # samples per SPICE audio frame (both directions)
CLIENT_SECS = 4.0
RECORD_FRAMES = 200  # 2 s from the client
SNR_MIN_DB = 20.0
CASES = {
    "raw": {"args": ["--rate", "44100"], "rate": 44100, "opus_offered": False,
            "playback_opus": False, "record_opus": False},
    "opus": {"args": ["--rate", "48000"], "rate": 48000, "opus_offered": True,
             "playback_opus": True, "record_opus": True},
    "qemu": {"args": ["-audiodev", "spice,id=snd0", "-device", "intel-hda",
                      "-device", "hda-duplex,audiodev=snd0"]},
    "nocompress": {"args": ["--rate", "48000", "--playback-compression", "off"], "rate": 48000,
                   "opus_offered": True, "playback_opus": False, "record_opus": True},
}
VOLUME = [30000, 45000]


def run_pair(name, host_bin, lib_dir, case, out_dir):
    """Runs the host on one library and the client against it; returns what both reported."""
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.unlink(os.path.join(out_dir, f))
    port = free_port()
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if lib_dir:
        env["LD_LIBRARY_PATH"] = lib_dir
    args = [host_bin, "--port", str(port), "--out", out_dir, "--volume",
            "%d,%d" % tuple(VOLUME), *CASES[case]["args"]]
    # Its stdout (the JSON lines, and our library's log) goes to a file: a pipe nobody reads
    # while the client runs could fill and stall the host.
    out_path = os.path.join(out_dir, "host.out")
    with open(os.path.join(out_dir, "host.log"), "w") as herr, open(out_path, "w") as hout:
        host = subprocess.Popen(args, env=env, stdout=hout, stderr=herr)
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
                ["/usr/bin/python3", os.path.join(HERE, "audio_client.py"), "127.0.0.1",
                 str(port), str(CLIENT_SECS), out_dir, "--record-frames", str(RECORD_FRAMES)],
                env=cenv, capture_output=True, text=True, timeout=60)
            with open(os.path.join(out_dir, "client.log"), "w") as f:
                f.write(client.stderr)
            # Let the host read the record tail, then stop it (it writes its summary).
            time.sleep(0.5)
        finally:
            host.send_signal(signal.SIGTERM)
            try:
                host.wait(timeout=20)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()
    out = open(out_path).read()
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if host.returncode != 0 or not lines:
        raise RuntimeError("%s: host exited %s; output %r" % (name, host.returncode, out))
    host_report = json.loads(lines[-1])
    try:
        client_report = json.loads(client.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError("%s: client printed no report (exit %d): %s"
                           % (name, client.returncode, client.stderr[-2000:]))
    warnings = [l for l in client.stderr.splitlines() if "WARNING" in l or "CRITICAL" in l]
    return host_report, client_report, warnings


def run_qemu(name, lib_dir, out_dir):
    """QEMU with a SPICE sound card on one library and the client against it."""
    os.makedirs(out_dir, exist_ok=True)
    with Qemu(name, lib_dir, out_dir, extra=CASES["qemu"]["args"]) as q:
        library = q.spice_library()
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)
        client = subprocess.run(
            ["/usr/bin/python3", os.path.join(HERE, "audio_client.py"), "127.0.0.1",
             str(q.port), "3", out_dir], env=env, capture_output=True, text=True, timeout=60)
        alive = q.alive()
    report = json.loads(client.stdout.strip().splitlines()[-1])
    warnings = [l for l in client.stderr.splitlines() if "WARNING" in l or "CRITICAL" in l]
    problems = []
    if not alive:
        problems.append("QEMU died")
    if report["errors"] or warnings:
        problems.append("client errors %s, warnings %s" % (report["errors"], warnings[:3]))
    for ch in ("playback", "record"):
        if not report[ch] or report[ch]["wire_bytes"] == 0:
            problems.append("the %s channel did not open" % ch)
    outcome = {ch: report[ch] and {"opus": report[ch]["server_offers_opus"],
                                   "volume": report[ch]["volume"], "mute": report[ch]["mute"]}
               for ch in ("playback", "record")}
    outcome["playback_start"] = report["playback_start"]
    outcome["record_start"] = report["record_start"]
    log("  %s: %s" % (name, json.dumps(outcome)))
    return library, problems, outcome


def load(np, path):
    with open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data[: len(data) // 4 * 4], dtype="<i2").reshape(-1, 2).astype(np.float64)


def snr_db(np, want, got, mask=None, max_lag=2000, skip=2000):
    """SNR of got[i + lag] against want[i] at the lag (< max_lag) that maximises it; the
    first `skip` samples (the codec's start-up) and got's samples where `mask` is False are
    left out. Returns (dB, lag)."""
    # The lag from the cross-correlation of the left channels (FFT), then SNR there.
    n = 1 << int(np.ceil(np.log2(len(want) + len(got))))
    corr = np.fft.irfft(np.fft.rfft(got[:, 0], n) * np.conj(np.fft.rfft(want[:, 0], n)), n)
    lag = int(np.argmax(corr[:max_lag]))
    m = min(len(want), len(got) - lag)
    a = want[skip:m]
    d = got[skip + lag:m + lag]
    if mask is not None:
        keep = mask[skip + lag:m + lag]
        a, d = a[keep], d[keep]
    err = ((a - d) ** 2).sum()
    return 10 * np.log10((a * a).sum() / max(err, 1.0)), lag


def reference_ring_model(sent, n_samples):
    """What the reference's record ring returns for `sent` (raw bytes, one message per
    FRAME samples): the part of a message past the ring's end is copied from `now` bytes
    into it instead of `now` samples. Also the mask of samples it leaves intact."""
    out = bytearray()
    intact = []
    for k in range(n_samples // FRAME):
        frame = sent[k * FRAME * 4:(k + 1) * FRAME * 4]
        now = min(RING - (k * FRAME) % RING, FRAME)
        out += frame[: now * 4] + frame[now: now + (FRAME - now) * 4]
        intact += [True] * now + [False] * (FRAME - now)
    return bytes(out), intact


def check(np, name, case, host, client, warnings, out_dir, is_reference):
    """Checks one run; returns (problems, outcome) where outcome must match across libraries."""
    c = CASES[case]
    rate = c["rate"]
    problems = []
    if client["errors"]:
        problems.append("client channel errors: %s" % client["errors"])
    if warnings:
        problems.append("spice-client-glib warned: %s" % warnings[:3])
    if client["playback_start"] != [1, 2, rate]:
        problems.append("PLAYBACK_START %s, want [S16, 2, %d]" % (client["playback_start"], rate))
    if client["record_start"] != [1, 2, rate]:
        problems.append("RECORD_START %s, want [S16, 2, %d]" % (client["record_start"], rate))
    if host["frame_size"] != FRAME:
        problems.append("get_buffer lent %d samples, want %d" % (host["frame_size"], FRAME))
    for ch in ("playback", "record"):
        info = client[ch] or {}
        if info.get("volume") != VOLUME or info.get("mute") is not False:
            problems.append("%s volume/mute %s/%s, want %s/False"
                            % (ch, info.get("volume"), info.get("mute"), VOLUME))
        if info.get("server_offers_opus") != c["opus_offered"]:
            problems.append("%s: Opus offered %s, want %s"
                            % (ch, info.get("server_offers_opus"), c["opus_offered"]))

    played = open(os.path.join(out_dir, "played.raw"), "rb").read()
    heard = open(os.path.join(out_dir, "client_played.raw"), "rb").read()
    sent = open(os.path.join(out_dir, "client_sent.raw"), "rb").read()
    recorded = open(os.path.join(out_dir, "recorded.raw"), "rb").read()
    outcome = {"playback_start": client["playback_start"], "record_start": client["record_start"],
               "volume": VOLUME, "frame_size": host["frame_size"]}

    # Playback: at least 1.5 s heard, raw byte-exact from the first frame, Opus within SNR.
    min_bytes = int(1.5 * rate) * 4
    if len(heard) < min_bytes:
        problems.append("playback: %d bytes heard, want >= %d" % (len(heard), min_bytes))
    bytes_per_buffer = client["playback"]["wire_bytes"] / max(1, client["playback_buffers"])
    outcome["playback_compressed"] = bytes_per_buffer < 600
    if outcome["playback_compressed"] != c["playback_opus"]:
        problems.append("playback: %.0f wire bytes per 10 ms frame: Opus %s, want %s"
                        % (bytes_per_buffer, outcome["playback_compressed"], c["playback_opus"]))
    if c["playback_opus"]:
        db, lag = snr_db(np, load(np, os.path.join(out_dir, "played.raw")),
                         load(np, os.path.join(out_dir, "client_played.raw")))
        log("  %s playback: Opus SNR %.1f dB at lag %d" % (name, db, lag))
        outcome["playback_ok"] = db >= SNR_MIN_DB
    else:
        outcome["playback_ok"] = len(heard) > 0 and played[: len(heard)] == heard
        log("  %s playback: raw, %d bytes heard, equal to the host's: %s"
            % (name, len(heard), outcome["playback_ok"]))
    if not outcome["playback_ok"]:
        problems.append("playback: the client's samples do not match the host's")

    # Record: everything the client sent reached the host.
    n_sent = len(sent) // 4
    if n_sent != RECORD_FRAMES * FRAME:
        problems.append("record: the client sent %d samples, want %d" % (n_sent, RECORD_FRAMES * FRAME))
    if len(recorded) != len(sent):
        problems.append("record: the host read %d samples, the client sent %d"
                        % (len(recorded) // 4, n_sent))
    model, intact = reference_ring_model(sent, n_sent)
    if c["record_opus"]:
        mask = np.array(intact + [True] * max(0, len(recorded) // 4 - len(intact)))
        db, lag = snr_db(np, load(np, os.path.join(out_dir, "client_sent.raw")),
                         load(np, os.path.join(out_dir, "recorded.raw")),
                         mask=mask if is_reference else None)
        log("  %s record: Opus SNR %.1f dB at lag %d%s"
            % (name, db, lag, " (ring-wrap samples left out)" if is_reference else ""))
        outcome["record_ok"] = db >= SNR_MIN_DB
    else:
        exact = recorded == sent
        garbled = recorded == model
        log("  %s record: raw, %d samples; equal to the client's: %s; equal to the reference's "
            "ring-wrap model: %s" % (name, len(recorded) // 4, exact, garbled))
        outcome["record_ok"] = exact or (is_reference and garbled)
    if not outcome["record_ok"]:
        problems.append("record: the host's samples do not match what the client sent")
    return problems, outcome


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    lib_dir, host_bin, case = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    out_root = sys.argv[4] if len(sys.argv) > 4 else tempfile.mkdtemp(prefix="sf-audio-")
    if case not in CASES:
        print("unknown case %r (%s)" % (case, ", ".join(CASES)))
        return 2
    try:
        import numpy as np
    except ImportError:
        log("SKIP: python3-numpy is not installed")
        return SKIP
    probe = subprocess.run(["/usr/bin/python3", "-c",
                            "import gi; gi.require_version('SpiceClientGLib', '2.0'); "
                            "from gi.repository import SpiceClientGLib"], capture_output=True)
    if probe.returncode != 0:
        log("SKIP: spice-client-glib's GObject introspection is not installed")
        return SKIP
    if not os.access(host_bin, os.X_OK):
        log("SKIP: %s is not built" % host_bin)
        return SKIP

    runs = [("spiceflow", lib_dir, False)]
    if os.path.exists(REFERENCE_LIB):
        runs.append(("reference", None, True))
    else:
        log("note: %s is not installed; spiceflow is checked alone" % REFERENCE_LIB)
    failed = False
    outcomes = {}
    for name, lib, is_reference in runs:
        out_dir = os.path.join(out_root, name)
        want_lib = os.path.realpath(os.path.join(lib, "libspice-server.so.1") if lib else REFERENCE_LIB)
        if case == "qemu":
            if not shutil.which("qemu-system-x86_64"):
                log("SKIP: qemu-system-x86_64 is not installed")
                return SKIP
            log("%s: QEMU %s" % (name, " ".join(CASES[case]["args"])))
            library, problems, outcome = run_qemu(name, lib, out_dir)
            if library != want_lib:
                problems.append("QEMU loaded %s, not %s" % (library, want_lib))
            for p in problems:
                log("FAIL %s: %s" % (name, p))
            failed |= bool(problems)
            outcomes[name] = outcome
            continue
        log("%s: audio_host %s, client %.0f s" % (name, " ".join(CASES[case]["args"]), CLIENT_SECS))
        host, client, warnings = run_pair(name, host_bin, lib, case, out_dir)
        if host["library"] != want_lib:
            log("FAIL %s: the host loaded %s, not %s" % (name, host["library"], want_lib))
            failed = True
            continue
        problems, outcome = check(np, name, case, host, client, warnings, out_dir, is_reference)
        log("  %s: host put %d frames (%d get_buffer calls lent nothing), read %d samples; "
            "client heard %d buffers" % (name, host["frames_put"], host["null_buffers"],
                                          host["recorded_samples"], client["playback_buffers"]))
        for p in problems:
            log("FAIL %s: %s" % (name, p))
        failed |= bool(problems)
        outcomes[name] = outcome
    if len(outcomes) == 2 and outcomes["spiceflow"] != outcomes["reference"]:
        log("FAIL: spiceflow's outcome %s differs from the reference's %s"
            % (outcomes["spiceflow"], outcomes["reference"]))
        failed = True
    log("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
