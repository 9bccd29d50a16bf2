#!/usr/bin/env bash
# Installs the OpenAI SDK test's npm dependency (the official `openai` package, pinned by
# the committed package-lock.json) into tests/http/openai_sdk/node_modules. Idempotent:
# does nothing when the installed tree already matches the lockfile. Needs node + npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v npm >/dev/null 2>&1; then
  echo "tests/http/openai_sdk/setup.sh: npm not found; the OpenAI SDK test will be skipped" >&2
  exit 0
fi
marker="$here/node_modules/.package-lock.json"
if [[ -f "$marker" && -f "$here/node_modules/openai/package.json" ]] &&
   cmp -s <(sed -n '/"node_modules\/openai"/,/}/p' "$here/package-lock.json") \
          <(sed -n '/"node_modules\/openai"/,/}/p' "$marker"); then
  exit 0
fi
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
