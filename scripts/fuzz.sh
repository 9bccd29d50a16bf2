#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan, build-fuzz/) and runs each for
# a bounded time, starting from its seed corpus and every saved regression input.
# Skips with a message (exit 0) when clang or libFuzzer is missing.
#   KVACTOR_FUZZ_SECONDS   seconds per target (default 30)
#   KVACTOR_FUZZ_TARGETS   space-separated subset (default: all of them)
#   KVACTOR_FUZZ_BUILD_DIR (default build-fuzz)
# A crash fails the run; its input is left in $build/artifacts/<target>/. Fix the bug,
# then keep the input as fuzz/regressions/<target>/<name> (it is replayed by ctest).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${KVACTOR_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${KVACTOR_FUZZ_SECONDS:-30}
targets=${KVACTOR_FUZZ_TARGETS:-"request_json http_request gguf_loader llama2c_loader tokenizer chat_template gbnf"}
jobs=${KVACTOR_JOBS:-$(nproc)}
cxx=${KVACTOR_FUZZ_CXX:-clang++}
cc=${KVACTOR_FUZZ_CC:-clang}

if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "fuzz: KVACTOR_FUZZ_SECONDS must be a whole number of seconds (got '$seconds')" >&2
  exit 2
fi
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: skipped: $cxx not found (scripts/install_deps.sh --fuzz installs clang)"
  exit 0
fi
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$probe_dir/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" -o "$probe_dir/probe" >/dev/null 2>&1; then
  echo "fuzz: skipped: $cxx cannot link -fsanitize=fuzzer,address,undefined (libFuzzer runtime missing?)"
  exit 0
fi

CC=$cc CXX=$cxx cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVACTOR_SANITIZE=fuzzer \
  -DKVACTOR_BUILD_TESTS=OFF -DKVACTOR_BUILD_BENCH=OFF -DKVACTOR_HIP=off >/dev/null
build_targets=()
for t in $targets; do build_targets+=("fuzz_$t"); done
cmake --build "$build_dir" -j "$jobs" --target "${build_targets[@]}"

summary="$build_dir/fuzz-summary.txt"
: >"$summary"
failed=()
for t in $targets; do
  work="$build_dir/corpus/$t"   # new inputs go here; the repository's corpus stays as committed
  artifacts="$build_dir/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="$build_dir/fuzz-$t.log"
  dict=()
  if [[ -f "$root/fuzz/dictionaries/$t.dict" ]]; then dict=(-dict="$root/fuzz/dictionaries/$t.dict"); fi
  # Text targets stay small so each run is fast (libFuzzer spends its time on the largest
  # inputs it is allowed); the full-size regression inputs are replayed by ctest instead.
  case "$t" in
    gguf_loader | llama2c_loader) max_len=65536 ;;
    *) max_len=8192 ;;
  esac
  echo "fuzz: $t for ${seconds}s"
  set +e
  "$build_dir/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
    "$work" "$root/fuzz/corpus/$t" "$root/fuzz/regressions/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  line="$t: ${seconds}s, ${runs:-?} executions, coverage ${cov:-?} edges, ${ft:-?} features, corpus $(find "$work" -type f | wc -l) new inputs"
  if ((rc != 0)); then
    line+=", FAILED (rc $rc): see $log and $artifacts/"
    failed+=("$t")
    tail -n 40 "$log"
  fi
  echo "$line" | tee -a "$summary"
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $build_dir/artifacts/)" >&2
  exit 1
fi
