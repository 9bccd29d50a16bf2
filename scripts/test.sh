#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing (including Debian's
# chromium and the console test's pinned npm package), build, and run the whole test suite
# (ctest: every area's doctest binary, the script tests and the browser test).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install_deps.sh" --browser
"$root/tests/console/setup.sh"
"$root/scripts/build.sh"
cd "${KVACTOR_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "${KVACTOR_TEST_JOBS:-2}" --timeout 900
