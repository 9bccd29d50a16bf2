#!/usr/bin/env bash
# Packs what bench/hip_device_run.sh needs on a GPU machine that has the NVIDIA
# driver and nothing of this project: the GPU binaries of an nvcc build, the shared
# libraries they load that such a machine may lack (libcudart, CAF, Boost), the test
# models, the PyTorch peer and the load-test client.
#
#   cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DKVACTOR_HIP=nvidia -DKVACTOR_MODELS_DIR=/tmp/kvmodels
#   cmake --build build-gpu -j2 --target device_hip_tests attention_bench matmul_bench hip_e2e_bench kvactor random_model
#   bench/hip_device_pack.sh build-gpu DEST        # then carry DEST and run:
#   bench/hip_device_run.sh DEST "$OUT"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: hip_device_pack.sh BUILD_DIR DEST}" && pwd)
dest=${2:?usage: hip_device_pack.sh BUILD_DIR DEST}
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib" "$dest/models" "$dest/loadtest"

binaries=("$build/tests/device_hip/device_hip_tests" "$build/bench/attention_bench" "$build/bench/matmul_bench"
          "$build/bench/hip_e2e_bench"
          "$build/kvactor" "$build/bench/random_model")
for b in "${binaries[@]}"; do
  [[ -x $b ]] || { echo "hip_device_pack: missing $b (build it first)" >&2; exit 1; }
  strip -o "$dest/bin/$(basename "$b")" "$b"
done
# Every shared library outside the C runtime and libstdc++/libgcc (which the GPU
# machine's newer system has): libcudart, CAF, Boost, and what they pull in.
ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so' |
  while read -r lib; do cp -L "$lib" "$dest/lib/"; done

# The models dir the binaries were configured with (KVACTOR_MODELS_DIR is compiled in).
models_dir=$(sed -n 's/^KVACTOR_MODELS_DIR:PATH=//p' "$build/CMakeCache.txt")
echo "$models_dir" >"$dest/models_dir"
# Where to copy them from: KVACTOR_SOURCE_MODELS, else ../shared/models beside the
# checkout (or beside the folder of worktrees).
src_models=${KVACTOR_SOURCE_MODELS:-}
for candidate in "$root/../shared/models" "$root/../../shared/models"; do
  [[ -z $src_models && -f $candidate/stories260K.bin ]] && src_models=$candidate
done
[[ -n $src_models ]] || { echo "hip_device_pack: no models folder; set KVACTOR_SOURCE_MODELS" >&2; exit 1; }
for m in stories260K.bin tok512.bin llama2-tokenizer.bin; do cp "$src_models/$m" "$dest/models/"; done

cp "$root/bench/peer_sdpa.py" "$root/bench/hip_device_run.sh" "$root/bench/hip_serve_1b.sh" "$dest/"
cp "$root"/scripts/loadtest*.py "$dest/loadtest/"
cp "$root/configs/default.json" "$dest/serve.json"
du -sh "$dest"
ls -la "$dest/lib"
