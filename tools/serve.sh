#!/usr/bin/env bash
# serve.sh: installs the Debian packages, builds spiceflow, and serves the default
# synthetic desktop on 127.0.0.1:5900 (open it with `remote-viewer spice://127.0.0.1:5900`
# or `spicy -h 127.0.0.1 -p 5900`). Extra arguments go to `spiceflow serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build
exec build/bin/spiceflow serve "$@"
