#!/usr/bin/env bash
# Applies the tree's .clang-format to every tracked C++/HIP source, or with --check lists
# the files that differ from it (exit 1 when any do). Needs clang-format (14, Debian 12).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cu' '*.hip')
if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then bad+=("$f"); fi
  done
  if ((${#bad[@]})); then
    printf 'format: differs from .clang-format: %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files match .clang-format"
else
  clang-format -i --style=file "${files[@]}"
fi
