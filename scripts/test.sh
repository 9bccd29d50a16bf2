#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, build, and run
# the whole test suite (ctest: every area's doctest binary plus the end-to-end tests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install_deps.sh"
"$root/scripts/build.sh"
cd "${KVACTOR_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "${KVACTOR_TEST_JOBS:-2}" --timeout 900
