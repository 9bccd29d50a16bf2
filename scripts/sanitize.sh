#!/usr/bin/env bash
# Builds and runs a subset of the test suite under a sanitizer, in its own build dir
# (no benchmarks, no GPU code):
#   scripts/sanitize.sh address   ASan+UBSan (build-asan/): every test binary, the CLI
#                                 tests and the fuzz replays; not the browser test
#   scripts/sanitize.sh thread    TSan (build-tsan/): kvcache_tests and device_tests (the thread
#                                 pool and the multi-threaded CPU backend; no CAF, so no false
#                                 reports); KVACTOR_TSAN_ACTORS=1 adds actors_tests, which
#                                 uninstrumented CAF makes report false races
# Which binaries and why: fuzz/README.md ("Sanitizers in CI").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-}
jobs=${KVACTOR_JOBS:-$(nproc)}
test_jobs=${KVACTOR_TEST_JOBS:-2}

case "$kind" in
  address)
    build_dir=${KVACTOR_ASAN_BUILD_DIR:-$root/build-asan}
    # The CLI (kvactor) is built too: http_tests and the CLI tests run it.
    targets=(kvcache_tests model_tests template_tests device_tests actors_tests http_tests kvactor
             request_json_replay http_request_replay gguf_loader_replay llama2c_loader_replay tokenizer_replay
             chat_template_replay)
    # Not here: the browser test (chromium; the console's JavaScript, not memory safety),
    # the soak (its own stage, long) and the multi-process cluster scenarios (minutes of
    # wall time each; their code is covered by the in-process tests). No HIP code is built.
    exclude='^(console_browser|scripts_soak|cluster_processes_.*)$'
    # Leaks fail the run; detect_stack_use_after_return finds use of dead stack frames.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:abort_on_error=0}
    # fuzz/ubsan.supp: one vptr report inside CAF's own mailbox queue (explained there).
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$root/fuzz/ubsan.supp}
    ;;
  thread)
    build_dir=${KVACTOR_TSAN_BUILD_DIR:-$root/build-tsan}
    # device_tests: device/thread_pool and the CPU backend's parallel matmul/attention run
    # on several threads; none of it uses CAF, so every report is ours.
    targets=(kvcache_tests device_tests)
    # actors_tests under TSan reports ~2,000 races per run that are CAF hand-overs TSan
    # cannot see (Debian's libcaf_core is not instrumented; fuzz/README.md): opt-in only.
    if [[ "${KVACTOR_TSAN_ACTORS:-0}" == 1 ]]; then targets+=(actors_tests); fi
    exclude=''
    # CAF from Debian is not instrumented: see fuzz/tsan.supp for what is suppressed and why.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/fuzz/tsan.supp}
    ;;
  *)
    echo "usage: scripts/sanitize.sh address|thread" >&2
    exit 2
    ;;
esac

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKVACTOR_SANITIZE="$kind" -DKVACTOR_BUILD_BENCH=OFF \
  -DKVACTOR_HIP=off >/dev/null
available=()
known_targets=$(cmake --build "$build_dir" --target help)
for t in "${targets[@]}"; do
  # Areas that do not exist (yet) in this checkout are skipped, not failed.
  if grep -qx "\.\.\. $t" <<<"$known_targets"; then available+=("$t"); fi
done
echo "sanitize $kind: building ${available[*]}"
cmake --build "$build_dir" -j "$jobs" --target "${available[@]}"

cd "$build_dir"
# Only tests whose program was built here: ctest lists doctest cases of built binaries only,
# and add_test() entries of other programs are filtered by what their command runs.
ctest_args=(--output-on-failure -j "$test_jobs" --timeout 1800)
skip=$(ctest --show-only=json-v1 | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
built = set(sys.argv[1:])
skip = []
for t in d["tests"]:
    cmd = t.get("command")
    if not cmd:  # its program is not built here (a doctest *_NOT_BUILT placeholder, a CLI test)
        skip.append(t["name"])
        continue
    names = {os.path.basename(c) for c in cmd}
    # A test runs one of our programs directly, or through sh/python/node with it as an argument.
    programs = {n for n in names if n.endswith("_tests") or n.endswith("_replay") or n in ("kvactor",)}
    runs_other = any(n.endswith("_bench") or n in ("random_model",) for n in names)
    # Script tests (python, node) drive the kvactor binary: only where it is built; never the browser.
    script = not programs and os.path.basename(cmd[0]) in ("python3", "node", "sh")
    if (programs and not programs <= built) or runs_other or (script and ("kvactor" not in built or "node" in names)):
        skip.append(t["name"])
print("\n".join(skip))
' "${available[@]}")
regex=$exclude
while IFS= read -r name; do
  [[ -z "$name" ]] && continue
  quoted=$(printf '%s' "$name" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
  regex=${regex:+$regex|}^$quoted\$
done <<<"$skip"
if [[ -n "$regex" ]]; then ctest_args+=(-E "$regex"); fi
ctest "${ctest_args[@]}"
