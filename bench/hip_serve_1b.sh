#!/usr/bin/env bash
# kvactor serve --device hip with a ~1.1B random-weight f16 model (TinyLlama shape) under loadtest.py,
# concurrency 1..256, every reply compared with the same prompt sent alone.
set -u
# usage (on the GPU machine, from a folder packed by bench/hip_device_pack.sh): bash CARRY/hip_serve_1b.sh OUTDIR
carry=$(cd "$(dirname "$0")" && pwd); out=$1; bin=$carry/bin
lib_path=$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p /tmp/kvmodels && cp "$carry"/models/* /tmp/kvmodels/ 2>/dev/null
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/serve1b.log"
start=$SECONDS
timeout 170 "$bin/random_model" --dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4 --vocab 32000 --seq 512 \
  --seed 1 --tokenizer /tmp/kvmodels/llama2-tokenizer.bin --out /tmp/m1b >>"$out/serve1b.log" 2>&1
echo "random_model: exit $? in $((SECONDS - start)) s" | tee -a "$out/serve1b.log"
ls -la /tmp/m1b >>"$out/serve1b.log"
port=18432
LD_LIBRARY_PATH=$lib_path "$bin/kvactor" serve --config "$carry/serve.json" --model /tmp/m1b/model-f16.gguf \
  --tokenizer= --device hip --port $port --max-batch 256 --num-pages 8192 >>"$out/serve1b.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null && break
  kill -0 $server 2>/dev/null || break; sleep 0.2
done
timeout 200 python3 "$carry/loadtest/loadtest.py" --url "http://127.0.0.1:$port" --workload random --num-prompts 256 \
  --output-len 32 --concurrency 1,8,32,64,128,256 --max-duration 180 --out "$out/loadtest1b" >>"$out/serve1b.log" 2>&1
echo "loadtest: exit $?" | tee -a "$out/serve1b.log"
rm -f "$out/loadtest1b.html"
kill -TERM $server 2>/dev/null; wait $server 2>/dev/null
tail -30 "$out/serve1b.log"
