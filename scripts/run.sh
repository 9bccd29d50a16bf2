#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, build, and run
# kvactor on the bundled model (../shared/models). Extra arguments go to kvactor.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install_deps.sh"
"$root/scripts/build.sh"
models=${KVACTOR_MODELS_DIR:-$root/../shared/models}
# Default: serve the HTTP API on the bundled model at 127.0.0.1:8000 (Ctrl-C drains and exits).
if [[ $# -eq 0 ]]; then
  set -- serve --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin"
fi
exec "$root/build/kvactor" "$@"
