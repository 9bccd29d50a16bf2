#!/usr/bin/env bash
# Side by side on real-shape quantized files (issue 14 item 6): kvactor serve at its default
# configuration vs llama.cpp's llama-server (-t 2 -np 8 --no-repack) on the SAME GGUF files,
# driven by the same streaming client (bench/peer_client.py), one server at a time.
#
#   bench/peer_models.sh [--reps N] [--shape tinyllama|small]
#
# Files (under bench/out/peer-models, ignored; never committed): a random-weight
# TinyLlama-1.1B-shaped model (dim 2048, hidden 5632, 22 layers, 32 heads, 4 kv heads, the
# 32,000-token Llama 2 vocabulary) written by `kvactor convert` as Q8_0, and that file
# requantized by llama.cpp's `llama-quantize --allow-requantize` to Q4_K_M. llama.cpp is
# built outside the checkout by ../shared/peer/build_llama_cpp.sh (benchmarks only).
# Results: bench/results/peer-models.md (appended run by run, with machine and load).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=2
shape=tinyllama
while (($#)); do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--shape tinyllama|small]" >&2; exit 2 ;;
  esac
done
case "$shape" in
  tinyllama) dims=(--dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4) ;;
  small) dims=(--dim 512 --hidden 1536 --layers 4 --heads 8 --kv-heads 4) ;;  # a quick check of the script
  *) echo "unknown shape $shape" >&2; exit 2 ;;
esac
models=${KVACTOR_MODELS_DIR:-$root/../shared/models}
peer_bin=$("$root/../shared/peer/build_llama_cpp.sh" | tail -n 1)
build=${KVACTOR_BUILD_DIR:-$root/build}
"$root/scripts/build.sh" >/dev/null
out=$root/bench/out/peer-models/$shape
mkdir -p "$out"
if [ ! -f "$out/q8_0.gguf" ]; then
  "$build/bench/random_model" "${dims[@]}" --vocab 32000 --seq 2048 --seed 1 --out "$out/random" \
    --tokenizer "$models/llama2-tokenizer.bin" >/dev/null
  "$build/kvactor" convert "$out/random/model.bin" "$out/random/tokenizer.bin" "$out/q8_0.gguf" --type q8_0
  rm -rf "$out/random"
fi
[ -f "$out/q4_k_m.gguf" ] ||
  "$peer_bin/llama-quantize" --allow-requantize "$out/q8_0.gguf" "$out/q4_k_m.gguf" Q4_K_M >"$out/quantize.log" 2>&1

port=18610
wait_up() {  # url pid
  for _ in $(seq 1 600); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}
run_server() {  # name file -> JSON on stdout
  local name=$1 file=$2 pid
  port=$((port + 1))
  if [ "$name" = kvactor ]; then
    "$build/kvactor" serve --model "$file" --port "$port" >"$out/$name.log" 2>&1 &
  else
    "$peer_bin/llama-server" -m "$file" -t 2 -np 8 -c 4096 --no-repack --port "$port" >"$out/$name.log" 2>&1 &
  fi
  pid=$!
  if ! wait_up "http://127.0.0.1:$port" "$pid"; then
    echo "$name did not start on $file:" >&2; tail -n 20 "$out/$name.log" >&2; kill "$pid" 2>/dev/null; return 1
  fi
  local rss_kb
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  python3 "$root/bench/peer_client.py" --url "http://127.0.0.1:$port" --concurrency 1,8,16 --requests 8 \
    --prompt-len 130 --max-tokens 32 --seed "$((RANDOM))" | tail -n 1 |
    python3 -c "import json,sys; d=json.load(sys.stdin); d['rss_after_load_mib']=$rss_kb/1024; d['rss_after_run_mib']=int(open('/proc/$pid/status').read().split('VmRSS:')[1].split()[0])/1024; print(json.dumps(d))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

results=$out/results.jsonl
: >"$results"
for rep in $(seq 1 "$reps"); do
  for f in q8_0 q4_k_m; do
    for name in kvactor llama.cpp; do  # alternate servers so load drift hits both
      echo "rep $rep: $name on $f.gguf" >&2
      json=$(run_server "$name" "$out/$f.gguf")
      echo "{\"rep\": $rep, \"file\": \"$f\", \"server\": \"$name\", \"file_mib\": $(($(stat -c %s "$out/$f.gguf") / 1048576)), \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"result\": $json}" >>"$results"
    done
  done
done
python3 - "$results" "$root/bench/results/peer-models.md" "$shape" <<'EOF'
import json, sys, platform, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
lines = [f"\n## {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, shape {sys.argv[3]}, {cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} CPUs\n",
         "| rep | file | server | load | prefill tok/s | c=1 tok/s | c=8 tok/s | c=16 tok/s | TTFT p50 c=1 ms | ITL p50 c=1 ms | RSS load / run MiB (file MiB) |",
         "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
for r in rows:
    res = r["result"]; lv = {l["concurrency"]: l for l in res["levels"]}
    lines.append(f"| {r['rep']} | {r['file']} | {r['server']} | {r['load']} | {res['prefill_tok_s']:.1f} | "
                 + " | ".join(f"{lv[c]['tok_s']:.2f}" for c in (1, 8, 16))
                 + f" | {lv[1]['ttft_p50_ms']:.0f} | {lv[1]['itl_p50_ms']:.1f} | {res['rss_after_load_mib']:.0f} / {res['rss_after_run_mib']:.0f} ({r['file_mib']}) |")
lines.append("\nRatio kvactor / llama.cpp (same rep, same file):\n")
lines.append("| rep | file | prefill | c=1 | c=8 | c=16 |")
lines.append("| --- | --- | ---: | ---: | ---: | ---: |")
by = {(r["rep"], r["file"], r["server"]): r["result"] for r in rows}
for (rep, f, s), res in sorted(by.items()):
    if s != "kvactor" or (rep, f, "llama.cpp") not in by: continue
    peer = by[(rep, f, "llama.cpp")]
    k = {l["concurrency"]: l["tok_s"] for l in res["levels"]}; p = {l["concurrency"]: l["tok_s"] for l in peer["levels"]}
    lines.append(f"| {rep} | {f} | {res['prefill_tok_s'] / peer['prefill_tok_s']:.2f} | " + " | ".join(f"{k[c] / p[c]:.2f}" for c in (1, 8, 16)) + " |")
open(sys.argv[2], "a").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
