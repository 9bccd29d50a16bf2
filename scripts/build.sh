#!/usr/bin/env bash
# Configures and builds into build/ (Release). Extra arguments go to cmake's configure step,
# e.g. scripts/build.sh -DKVACTOR_SANITIZE=address
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${KVACTOR_BUILD_DIR:-$root/build}
jobs=${KVACTOR_JOBS:-$(nproc)}
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
