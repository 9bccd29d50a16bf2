#!/usr/bin/env bash
# One call on a lent GPU machine (issue 19): every GPU test, the attention benchmark
# and its PyTorch peer, the end-to-end backend benchmark, and `kvactor serve --device hip`
# under scripts/loadtest.py. Built elsewhere; runs from a carry folder made by
# bench/hip_device_pack.sh:
#
#   CARRY/bin/{device_hip_tests,attention_bench,matmul_bench,hip_e2e_bench,kvactor,random_model}
#   CARRY/lib/    shared libraries the binaries need (libcudart, CAF, Boost)
#   CARRY/models/ stories260K.bin, tok512.bin, llama2-tokenizer.bin (copied to
#                 KVACTOR_MODELS_DIR, which the binaries were configured with)
#   CARRY/peer_sdpa.py, CARRY/loadtest/*.py
#
#   bench/hip_device_run.sh CARRY OUT_DIR
#
# Each stage has its own time limit and writes its log to OUT_DIR as it runs (at most
# 8 files: the device tool returns no more; here 7: summary.txt, tests.log,
# attention.log, matmul.log, e2e.log, serve.log, loadtest.json), so a stage that fails or runs out of time
# leaves the others' results. summary.txt ends with one line per stage.
# Without a GPU every stage reports "no GPU" (exit 77) and the script still finishes.
set -u
carry=$(cd "${1:?usage: hip_device_run.sh CARRY OUT_DIR}" && pwd)
out=${2:?usage: hip_device_run.sh CARRY OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
models_dir=$(cat "$carry/models_dir")  # KVACTOR_MODELS_DIR the binaries were built with
bin=$carry/bin
lib_path=$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
summary=$out/summary.txt
: >"$summary"
results=()

say() { echo "$*" | tee -a "$summary"; }

# stage NAME SECONDS LOG COMMAND...: runs COMMAND with a time limit, output to LOG
# (and the end of it to summary.txt); records "NAME: exit N in S s".
stage() {
  local name=$1 limit=$2 log=$3
  shift 3
  say "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)"
  local t0=$SECONDS
  LD_LIBRARY_PATH=$lib_path timeout -k 5 "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  local took=$((SECONDS - t0))
  tail -n 25 "$log" >>"$summary"
  local what="exit $rc"
  [[ $rc -eq 77 ]] && what="exit 77 (skipped: no GPU)"
  [[ $rc -eq 124 || $rc -eq 137 ]] && what="exit $rc (TIMED OUT after ${limit}s)"
  results+=("$name: $what in ${took}s")
  say "--- $name: $what in ${took}s"
  return $rc
}

say "hip_device_run: $(date -u) on $(hostname), $(nproc) CPUs"
{ nvidia-smi 2>&1 || echo "nvidia-smi: not available"; } | tee -a "$summary"
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit,driver_version \
  --format=csv 2>&1 | tee -a "$summary"
missing=$(LD_LIBRARY_PATH=$lib_path ldd "$bin"/* 2>&1 | grep "not found" | sort -u)
[[ -n "$missing" ]] && say "MISSING LIBRARIES: $missing"

mkdir -p "$models_dir" && cp "$carry"/models/* "$models_dir"/ 2>/dev/null

# 1. Tests: what ctest -R "^hip " runs. ctest runs each case in its own process, which
# matters for one case only: "without a GPU, construction raises..." ends its process
# with 77 (skipped) where a GPU is present. So: everything else in one process, then
# that case alone.
tests_log=$out/tests.log
stage "hip tests (all but the no-GPU case)" 150 "$tests_log" \
  "$bin/device_hip_tests" --duration=true -tce="*without a GPU*"
tests_rc=$?
stage "hip test: without a GPU (expected: skipped on a GPU)" 20 "$tests_log" \
  "$bin/device_hip_tests" -tc="*without a GPU*"

# 2. Paged-attention decode bandwidth, batch 64, contexts 1K-16K, and the PyTorch peer.
stage "attention_bench" 60 "$out/attention.log" \
  "$bin/attention_bench" --contexts 1024,2048,4096,8192,16384 --batch 64 --iterations 20
if command -v python3 >/dev/null; then
  stage "peer_sdpa (PyTorch)" 60 "$out/attention.log" \
    python3 "$carry/peer_sdpa.py" --contexts 1024,4096,8192,16384 --batch 64
fi

# The matmul kernel's tile shapes on 1B-model projections (and whether each gives
# matmul()'s bits).
stage "matmul_bench" 60 "$out/matmul.log" "$bin/matmul_bench" --tokens 1,4,16,64,256,1024

# 3. End to end through the backend: ~110M and ~1.1B random-weight f16 models.
stage "hip_e2e_bench 110m" 60 "$out/e2e.log" \
  "$bin/hip_e2e_bench" --models 110m --concurrency 1,2,4,8,16,32,64,128,256 --dtype f16
stage "hip_e2e_bench 1b" 100 "$out/e2e.log" \
  "$bin/hip_e2e_bench" --models 1b --concurrency 1,4,16,64,256 --dtype f16 --decode 32

# 4. kvactor serve --device hip (110M-shape f16 GGUF, random weights) under loadtest.py:
# greedy replies at each concurrency must equal the same prompt's reply sent alone.
serve_log=$out/serve.log
model=/tmp/kvactor-m110
if [[ $tests_rc -eq 77 ]]; then
  say "no GPU: kvactor serve --device hip not tried (and no 110M model written)"
  results+=("kvactor serve --device hip: not run (no GPU)")
else
stage "random_model 110m" 60 "$serve_log" \
  "$bin/random_model" --dim 768 --hidden 2048 --layers 12 --heads 12 --kv-heads 12 --vocab 32000 --seq 512 \
  --seed 1 --tokenizer "$models_dir/llama2-tokenizer.bin" --out "$model"
if [[ -f $model/model-f16.gguf ]]; then
  port=18431
  LD_LIBRARY_PATH=$lib_path "$bin/kvactor" serve --config "$carry/serve.json" --model "$model/model-f16.gguf" \
    --tokenizer= --device hip --port $port --max-batch 128 --num-pages 4096 >>"$serve_log" 2>&1 &
  server=$!
  up=0
  for _ in $(seq 1 300); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" \
      2>/dev/null; then
      up=1
      break
    fi
    kill -0 $server 2>/dev/null || break
    sleep 0.2
  done
  if [[ $up -eq 1 ]]; then
    stage "loadtest through kvactor serve --device hip" 75 "$serve_log" \
      python3 "$carry/loadtest/loadtest.py" --url "http://127.0.0.1:$port" --workload random --num-prompts 64 \
      --output-len 32 --concurrency 1,8,32,64 --max-duration 70 --out "$out/loadtest"
    rm -f "$out/loadtest.html"  # the JSON holds the numbers; keeps OUT under 8 files
  else
    say "kvactor serve did not come up (see serve.log)"
    results+=("kvactor serve: did not start")
  fi
  kill -TERM $server 2>/dev/null
  wait $server 2>/dev/null
fi
fi

# 5. Last, if time is left: hardware counters for one attention call and one decode
# matmul (Nsight Compute; works on Firecracker machines, not on gVisor).
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
if [[ $tests_rc -ne 77 && -n $ncu_bin ]]; then
  stage "ncu: paged attention, context 4096" 45 "$out/attention.log" \
    "$ncu_bin" --clock-control none --kernel-name regex:paged_attention --launch-skip 3 --launch-count 2 \
    --section SpeedOfLight --section Occupancy --section MemoryWorkloadAnalysis \
    "$bin/attention_bench" --contexts 4096 --iterations 1
  stage "ncu: decode matmul (1 token, w1 of the 1B shape)" 45 "$out/matmul.log" \
    "$ncu_bin" --clock-control none --kernel-name regex:matmul --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section MemoryWorkloadAnalysis \
    "$bin/matmul_bench" --tokens 1 --iterations 1
fi

say ""
say "=== summary"
for r in "${results[@]}"; do say "$r"; done
grep -h "test cases:" "$tests_log" | tee -a "$summary"
grep -h -e '^|' -e '^- ' -e '^##' "$out/attention.log" "$out/e2e.log" 2>/dev/null | tee -a "$summary"
grep -h -e ' \* |' -e 'NO |' "$out/matmul.log" 2>/dev/null | tee -a "$summary"
exit 0
