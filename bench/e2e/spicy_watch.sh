#!/usr/bin/env bash
# spicy_watch.sh [SYNTHETIC] [SECONDS] [SIZE]: one synthetic desktop (default office, 20 s,
# 1920x1080) served by build/bin/spiceflow under /usr/bin/time -v and watched by the real
# spice-gtk client `spicy` in a virtual X server (Xvfb). Prints the server's frames per
# second delivered to spicy, draws, COPY_BITS, stream frames and bytes sent (from the
# display channel's closing log line), and its CPU seconds and peak RSS.
# Needs: xvfb, spice-client-gtk (tools/install-deps.sh installs both). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-office}; SECS=${2:-20}; SIZE=${3:-1920x1080}
BIN=build/bin/spiceflow
[ -x "$BIN" ] || { echo "build first: $BIN missing" >&2; exit 1; }
OUT=$(mktemp -d /tmp/spicy_watch.XXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# A free X display number.
D=90; while [ -e /tmp/.X11-unix/X$D ] || [ -e /tmp/.X$D-lock ]; do D=$((D + 1)); done
Xvfb :$D -screen 0 1920x1200x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 & PIDS+=($!)
/usr/bin/time -v "$BIN" serve --port "$PORT" --size "$SIZE" --synthetic "$W" \
    >"$OUT/server.out" 2>"$OUT/server.log" & SERVER=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
DISPLAY=:$D spicy -h 127.0.0.1 -p "$PORT" >"$OUT/spicy.log" 2>&1 & SPICY=$!; PIDS+=($SPICY)
sleep "$SECS"
kill "$SPICY"; sleep 0.5
# /usr/bin/time ignores SIGINT while it waits: signal the server itself.
kill -INT $(pgrep -P "$SERVER") 2>/dev/null || true; wait "$SERVER" || true
echo "workload=$W size=$SIZE seconds=$SECS (logs in $OUT)"
grep -E "display:" "$OUT/server.log" | sed 's/^.*\] //'
grep -E "User time|System time|Elapsed|Maximum resident" "$OUT/server.log" | sed 's/^\s*//'
