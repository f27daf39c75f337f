#!/usr/bin/env bash
# Fetches a CPU PJRT plugin (libpjrt_cpu.so, from the PyPI wheel fastatomstruct-xla-cpu) so that the
# XLA backend — the code path steer uses on CUDA — can be tested on a machine without a GPU.
# Usage: scripts/xla-cpu-plugin.sh [OUTDIR]; prints the plugin's path on stdout. Cached by version.
set -euo pipefail
version=2026.6.23
out=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/steer/xla-cpu/$version}
so="$out/fastatomstruct_xla_cpu/libpjrt_cpu.so"
if [ ! -s "$so" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "xla-cpu-plugin: downloading fastatomstruct-xla-cpu==$version from PyPI" >&2
  python3 -m pip download --no-deps --only-binary=:all: -q -d "$tmp" "fastatomstruct-xla-cpu==$version" >&2
  mkdir -p "$tmp/x"
  (cd "$tmp/x" && python3 -m zipfile -e "$tmp"/fastatomstruct_xla_cpu-*.whl .)
  mkdir -p "$out"
  rm -rf "$out/fastatomstruct_xla_cpu"
  mv "$tmp/x/fastatomstruct_xla_cpu" "$out/"
fi
echo "$so"
