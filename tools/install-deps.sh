#!/usr/bin/env bash
# install-deps.sh: installs every Debian 12 package that spiceflow's build, tests and
# benchmarks need. Idempotent: when everything is already there it only checks (a second).
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  libspice-protocol-dev libspice-server-dev
  liburing-dev libopus-dev libtbb-dev liblz4-dev libjpeg62-turbo-dev libssl-dev zlib1g-dev libpixman-1-dev
  libcli11-dev libspdlog-dev libfmt-dev
  # video encoders: FFmpeg's libx264/libvpx (and NVENC/VAAPI when a device is there)
  libavcodec-dev libavutil-dev libswscale-dev
  # the Vulkan raster backend: headers and glslc to build; the loader, Mesa's lavapipe and
  # the Khronos validation layer to run its tests without a GPU
  libvulkan-dev glslc spirv-tools libvulkan1 mesa-vulkan-drivers vulkan-validationlayers
  # TLS tests make their certificates with the openssl command
  openssl
  # spiceflow-meter: the measuring client
  libspice-client-glib-2.0-dev libpng-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  spice-client-gtk gir1.2-spiceclientglib-2.0 python3-gi python3 python3-numpy tshark
  # spice-gtk decodes H.264 (h264parse + avdec_h264), VP8 and VP9 streams with GStreamer
  gstreamer1.0-libav gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  xvfb procps time gnuplot-nox
  # spice-html5 (the web client) in headless Chromium through websockify
  spice-html5 websockify chromium
  # compat interop: unmodified QEMU (SeaBIOS) and Xspice on build/compat/libspice-server.so.1
  qemu-system-x86 seabios xserver-xspice xterm xfonts-base x11-utils
  # ... and its guest agent (Xspice --vdagent), with X's clipboard read and written by xclip
  spice-vdagent xclip
  # the streaming agent's test recordings (ffmpeg) and Xspice's video player (ffplay)
  ffmpeg
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
