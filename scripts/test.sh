#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing (including Debian's
# chromium, clang and the console test's pinned npm package), build, and run every test
# stage:
#   unit   the whole suite (ctest in build/: every area's doctest binary, the fuzz
#          replays, the script tests and the browser test)
#   asan   the suite under ASan+UBSan (scripts/sanitize.sh address, build-asan/)
#   tsan   kvcache and actor tests under TSan (scripts/sanitize.sh thread, build-tsan/)
#   fuzz   each libFuzzer target for KVACTOR_FUZZ_SECONDS (default 30) (scripts/fuzz.sh)
# All stages run by default; KVACTOR_TEST_STAGES=unit,asan picks some. Every stage runs
# even if an earlier one failed; the exit status is non-zero if any failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stages=${KVACTOR_TEST_STAGES:-unit,asan,tsan,fuzz}
IFS=',' read -r -a wanted <<<"$stages"
for s in "${wanted[@]}"; do
  case "$s" in
    unit | asan | tsan | fuzz) ;;
    *) echo "KVACTOR_TEST_STAGES: unknown stage '$s' (known: unit, asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
done
want() { [[ ",$stages," == *",$1,"* ]]; }

deps=()
if want unit; then deps+=(--browser); fi
if want fuzz; then deps+=(--fuzz); fi
"$root/scripts/install_deps.sh" "${deps[@]}"
want unit && "$root/tests/console/setup.sh" && "$root/tests/http/openai_sdk/setup.sh"

failed=()
run_stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== stage $name"
  if "$@"; then
    echo "=== stage $name passed in $((SECONDS - start))s"
  else
    echo "=== stage $name FAILED after $((SECONDS - start))s"
    failed+=("$name")
  fi
}
# Stages run inside `if`, where errexit is off: each step checks its own status.
unit_suite() {
  "$root/scripts/build.sh" || return 1
  (cd "${KVACTOR_BUILD_DIR:-$root/build}" && ctest --output-on-failure -j "${KVACTOR_TEST_JOBS:-2}" --timeout 900)
}

if want unit; then run_stage unit unit_suite; fi
if want asan; then run_stage asan "$root/scripts/sanitize.sh" address; fi
if want tsan; then run_stage tsan "$root/scripts/sanitize.sh" thread; fi
if want fuzz; then run_stage fuzz "$root/scripts/fuzz.sh"; fi

if ((${#failed[@]})); then
  echo "failed stages: ${failed[*]}" >&2
  exit 1
fi
echo "all stages passed: $stages"
