#!/usr/bin/env bash
# Installs the Debian 12 packages kvactor needs, only those missing (idempotent).
# Usage: scripts/install_deps.sh [--browser] [--fuzz]
#   --browser adds chromium + node for console tests
#   --fuzz    adds clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh)
set -euo pipefail

packages=(g++ cmake make ccache pkg-config python3
          libcaf-dev libboost-dev nlohmann-json3-dev doctest-dev
          libpcre2-dev python3-jinja2 python3-jsonschema)
for arg in "$@"; do
  case "$arg" in
    --browser) packages+=(chromium nodejs npm) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;  # Debian 12's clang is clang-14
    *) echo "install_deps.sh: unknown option $arg (known: --browser, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm may come from outside Debian (node's own installer); accept any working npm.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
read -r -a missing <<<"${missing[*]}"

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
