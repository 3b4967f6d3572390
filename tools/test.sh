#!/usr/bin/env bash
# test.sh: the whole test suite from a clean checkout: installs the Debian packages
# (idempotent, quick when all are there), configures, builds, and runs ctest.
# Extra arguments go to ctest, e.g. `tools/test.sh -LE interop` for the fast set alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build
ctest --test-dir build --output-on-failure --timeout 300 "$@"
