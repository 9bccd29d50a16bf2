#!/usr/bin/env bash
# bench/RESULTS.md is the concatenation of every benchmark's own results file
# (bench/results/<area>.md, each written by its tool). Run after any benchmark.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
{
  echo "# kvactor benchmark results"
  echo
  echo "Each section below is written by its benchmark tool (see bench/results/); this file is"
  echo "assembled by bench/assemble_results.sh. Ratios are measured within one run, as the"
  echo "machine is shared and noisy."
  for area in kvcache engine engine-backend quant models peer-models peer actors http loadtest cluster hip; do
    f="$dir/results/$area.md"
    [[ -f "$f" ]] || continue
    echo
    # Demote the section's headings one level so the file has a single title.
    sed -e 's/^#/##/' "$f"
  done
} > "$dir/RESULTS.md"
echo "wrote $dir/RESULTS.md"
