#!/usr/bin/env bash
# The CPU engine through the HTTP server (issue 8): throughput at concurrency 1..64,
# TTFT with a ~1,000-token shared prefix cached vs with the prefix cache off, the
# prefix-cache hit rate, and resident memory (per cached token, per request, and over
# a long run). Uses bench/random_model (stories15M shape, f32, max seq 2048),
# `kvactor serve` and scripts/loadtest.py. Prints Markdown; raw loadtest JSON and the
# RSS samples are left in OUT_DIR.
#
#   bench/http_sweep.sh [BUILD_DIR (default build-perf)] [OUT_DIR (default /tmp/kvactor-http-sweep)]
#   env: THREADS (device threads, default 2), LEVELS (default 1,2,4,8,16,32,64),
#        LONG_REQUESTS (memory run, default 3000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build-perf}" && pwd)
out=${2:-/tmp/kvactor-http-sweep}
threads=${THREADS:-2}
levels=${LEVELS:-1,2,4,8,16,32,64}
long_requests=${LONG_REQUESTS:-3000}
mkdir -p "$out"
kvactor="$build/cli/kvactor"
[[ -x "$kvactor" ]] || kvactor="$build/kvactor"
[[ -x "$kvactor" ]] || { echo "http_sweep: no kvactor binary under $build" >&2; exit 2; }
model="$out/model"
if [[ ! -f "$model/model.bin" ]]; then
  "$build/bench/random_model" --seq 2048 --seed 1 --out "$model" >/dev/null
fi

server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

port=$((20000 + RANDOM % 20000))
# start_server PREFIX_CACHE NUM_PAGES
start_server() {
  port=$((port + 1))
  "$kvactor" serve --model "$model/model.bin" --tokenizer "$model/tokenizer.bin" --host 127.0.0.1 --port "$port" \
    --device-threads "$threads" --num-pages "$2" --prefix-cache "$1" --max-batch 64 >"$out/server-$port.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "http_sweep: server did not start (see $out/server-$port.log)" >&2
  exit 1
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
loadtest() { python3 "$root/scripts/loadtest.py" --url "http://127.0.0.1:$port" --quiet "$@"; }

echo "# kvactor over HTTP: stories15M-shape f32 (random weights), $threads device threads"
echo
echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) hardware threads;" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- Command: \`bench/http_sweep.sh $*\` (THREADS=$threads LEVELS=$levels LONG_REQUESTS=$long_requests)"
echo

# 1. Throughput sweep: 64 random prompts of ~32 words, 64 generated tokens each,
#    every level sends the whole workload; each response is checked against the same
#    prompt sent alone (--reference before).
start_server 1 4096
rss_idle=$(rss_kib)
loadtest --workload random --num-prompts 64 --system-len 20 --question-len 12 --output-len 64 \
  --concurrency "$levels" --reference before --out "$out/sweep" >/dev/null
rss_after_sweep=$(rss_kib)
python3 - "$out/sweep.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("## Throughput by concurrency (`--workload random --num-prompts 64 --output-len 64`)\n")
print("| concurrency | requests | output tokens/s | TTFT p50 ms | TPOT p50 ms | E2E p50 ms | failed |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for p in r["phases"]:
    s = p["summary"]
    print("| %s | %d | %.1f | %.1f | %.2f | %.1f | %d |" % (p.get("concurrency", p["label"]), s["requests"],
          s["output_token_throughput"], s["ttft_ms"]["p50"], s["tpot_ms"]["p50"], s["e2e_ms"]["p50"], s["failed"]))
c = r.get("correctness", {})
print("\n- Correctness (each response vs the same prompt alone): %s" % json.dumps(c)[:300])
PY
stop_server

# 2. TTFT with a ~1,000-token shared prefix: cached vs prefix cache off. One group of
#    16 prompts (shared system prompt + own question), 4 output tokens, concurrency 1.
#    With the cache on, --reference before has sent every prompt once, so each
#    measured request may reuse every full page of its prompt.
ttft_case() {  # ttft_case PREFIX_CACHE NAME
  start_server "$1" 4096
  loadtest --workload shared-prefix --groups 1 --prompts-per-group 16 --system-len 900 --question-len 12 \
    --output-len 4 --concurrency 1 --reference "$3" --out "$out/$2" >/dev/null
  stop_server
}
ttft_case 1 ttft-cached before
ttft_case 0 ttft-uncached none
python3 - "$out/ttft-cached.json" "$out/ttft-uncached.json" <<'PY'
import json, sys
def phase(path):
    return json.load(open(path))["phases"][-1]["summary"]
on, off = phase(sys.argv[1]), phase(sys.argv[2])
n = on["requests"]
avg_prompt = on["prompt_tokens"] / max(n, 1)
allowed = n * ((int(avg_prompt) - 1) // 16 * 16)  # every full page but the one holding the last token
print("\n## TTFT with a ~%d-token shared prefix (16 prompts, concurrency 1)\n" % round(avg_prompt))
print("| prefix cache | TTFT p50 ms | TTFT p90 ms | cached tokens / prompt tokens |")
print("| --- | ---: | ---: | ---: |")
for name, s in (("on (prefix cached)", on), ("off (`--prefix-cache 0`)", off)):
    print("| %s | %.1f | %.1f | %d / %d |" % (name, s["ttft_ms"]["p50"], s["ttft_ms"]["p90"], s["cached_tokens"], s["prompt_tokens"]))
print("\n- TTFT ratio cached / uncached (p50): **%.3f** (target <= 0.2)" % (on["ttft_ms"]["p50"] / off["ttft_ms"]["p50"]))
print("- Hit rate vs what the workload allows: %d cached of ~%d reusable tokens = **%.1f%%** (target >= 95%%)"
      % (on["cached_tokens"], allowed, 100.0 * on["cached_tokens"] / max(allowed, 1)))
PY

# 3. Memory: resident memory per cached token (a fresh server, one long prompt
#    cached), per in-flight request (idle vs the concurrency-64 sweep above), and
#    RSS over LONG_REQUESTS requests (no growth expected).
start_server 1 4096
rss0=$(rss_kib)
loadtest --workload fixed --num-prompts 1 --system-len 1499 --question-len 1 --output-len 1 --concurrency 1 \
  --reference none --out "$out/mem-one" >/dev/null
rss1=$(rss_kib)
cached_prompt=$(python3 -c "import json,sys; print(json.load(open('$out/mem-one.json'))['phases'][-1]['summary']['prompt_tokens'])")
: >"$out/rss.txt"
( while kill -0 "$server_pid" 2>/dev/null; do echo "$(date +%s.%N) $(rss_kib)" >>"$out/rss.txt"; sleep 1; done ) &
sampler=$!
loadtest --workload random --num-prompts 200 --system-len 20 --question-len 12 --output-len 8 --concurrency 16 \
  --phase-duration 600 --max-requests "$long_requests" --max-duration 240 --reference none --out "$out/long" >/dev/null || true
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
long_requests_done=$(python3 -c "import json; print(json.load(open('$out/long.json'))['phases'][-1]['summary']['requests'])")
stop_server
python3 - "$out/rss.txt" "$rss_idle" "$rss_after_sweep" "$rss0" "$rss1" "$cached_prompt" "$long_requests_done" "$(stat -c %s "$model/model.bin")" <<'PY'
import sys
samples = [float(l.split()[1]) for l in open(sys.argv[1]) if len(l.split()) == 2 and l.split()[1].isdigit()]
idle, after_sweep, r0, r1, prompt, done, weights = (float(x) for x in sys.argv[2:9])
kv_bytes_per_token = 2 * 6 * 288 * 4
print("\n## Memory (resident set of the server process)\n")
print("- Idle after start (model file %.0f MiB, read into memory, + runtime): %.1f MiB" % (weights / 2**20, idle / 1024))
scratch = 512 * (288 * 6 + 768 * 2) * 4  # the backend's per-step buffers for one 512-token prefill chunk
print("- One %d-token prompt cached: +%.1f MiB = %.0f bytes per cached token, or %.0f after the %.1f MiB of step"
      " scratch a 512-token prefill chunk needs once (K+V of 6 layers x 288 floats = %d bytes)"
      % (prompt, (r1 - r0) / 1024, (r1 - r0) * 1024 / max(prompt, 1), ((r1 - r0) * 1024 - scratch) / max(prompt, 1),
         scratch / 2**20, kv_bytes_per_token))
print("- After the 64-prompt sweep (up to 64 requests in flight): %.1f MiB, %.1f KiB per request over idle"
      % (after_sweep / 1024, (after_sweep - idle) / 64))
if samples:
    q = len(samples) // 4
    first = samples[: max(q, 1)]
    last = samples[-max(q, 1):]
    print("- Long run: %d requests (concurrency 16, 8 tokens each), RSS sampled every second: first quarter max %.1f MiB,"
          " last quarter max %.1f MiB, overall min/max %.1f / %.1f MiB"
          % (done, max(first) / 1024, max(last) / 1024, min(samples) / 1024, max(samples) / 1024))
PY
echo
echo "- Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
