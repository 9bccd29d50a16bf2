#!/usr/bin/env bash
# Installs the console browser test's npm dependency (playwright-core, pinned by the
# committed package-lock.json) into tests/console/node_modules. Idempotent: does nothing
# when the installed tree already matches the lockfile. Needs node + npm (Debian: nodejs,
# npm) and, to run the test, Debian's chromium; playwright downloads no browser.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v npm >/dev/null 2>&1; then
  echo "tests/console/setup.sh: npm not found; the console browser test will be skipped" >&2
  exit 0
fi
marker="$here/node_modules/.package-lock.json"
if [[ -f "$marker" && -f "$here/node_modules/playwright-core/package.json" ]] &&
   cmp -s <(sed -n '/"node_modules\/playwright-core"/,/}/p' "$here/package-lock.json") \
          <(sed -n '/"node_modules\/playwright-core"/,/}/p' "$marker"); then
  exit 0
fi
cd "$here"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
