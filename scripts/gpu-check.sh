#!/usr/bin/env bash
# The GPU check, run on a CUDA machine (no Go toolchain needed there): correctness of the XLA/PJRT CUDA
# path against the same references as CPU, then SAE training throughput of steer against PyTorch on the
# same card. Needs python3 with torch and jax-cuda13-pjrt (the CUDA PJRT plugin steer loads), and test
# binaries built here (no network, no Go there); each section runs when its binary is there:
#
#   mkdir -p .gpu && go test -c -tags xla -ldflags=-s -o .gpu/model.test ./model && \
#     go test -c -tags xla -ldflags=-s -o .gpu/sae.test ./sae && go build -tags xla -ldflags=-s -o .gpu/steer ./cmd/steer && \
#     xz -T2 -6 .gpu/*
#
# then, on the GPU machine, from the repository root: OUT=results bash scripts/gpu-check.sh .gpu
set -u
BIN=$(cd "${1:-.gpu}" && pwd)
OUT=${OUT:-/tmp/steer-gpu}
mkdir -p "$OUT"
for f in "$BIN"/*.xz; do [ -e "$f" ] && xz -dkf "$f"; done
chmod +x "$BIN"/*.test "$BIN"/steer 2>/dev/null
if [ -z "${STEER_XLA_PLUGIN:-}" ]; then
  DIR=$(python3 -c 'import os, jax_plugins.xla_cuda13 as m; print(os.path.dirname(m.__file__))') || { echo "no jax-cuda13-pjrt plugin"; exit 1; }
  SITE=$(dirname "$(dirname "$DIR")")
  export STEER_XLA_PLUGIN=$DIR/xla_cuda_plugin.so XLA_FLAGS=--xla_gpu_cuda_data_dir=$SITE/nvidia/cu13
fi
export GOMLX_NO_AUTO_INSTALL=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
echo "plugin: $STEER_XLA_PLUGIN"
t0=$(date +%s)
echo "== 1. correctness on CUDA (tiny-lm vs transformers; the on-device SAE step vs the Go step)"
[ -x "$BIN/model.test" ] && (cd model && timeout 150 "$BIN/model.test" -test.run XLA -test.v 2>&1 | grep -v '^=== RUN' | tail -8) | tee "$OUT/model.txt"
[ -x "$BIN/sae.test" ] && (cd sae && timeout 150 "$BIN/sae.test" -test.run XLA -test.v 2>&1 | grep -v '^=== RUN' | tail -12) | tee "$OUT/sae.txt"
echo "== 2. PyTorch on this card ($(( $(date +%s) - t0 ))s)"
[ -n "${STEER_GPU_NO_TORCH:-}" ] || timeout 150 python3 scripts/bench_sae_cuda.py --steps 20 --json "$OUT/torch.json"
echo "== 3. steer ($(( $(date +%s) - t0 ))s)"
[ -x "$BIN/sae.test" ] && (cd sae && STEER_SAE_BENCH_JSON="$OUT/steer.jsonl" timeout "${STEER_BENCH_TIMEOUT:-240}" "$BIN/sae.test" -test.run '^$' -test.bench XLATrain -test.benchtime 1x 2>&1 | grep -E 'variant|FAIL|panic|Error|error' | cut -c1-600)
if [ -x "$BIN/steer" ]; then
  echo "== 4. steer sae train + eval on the GPU, tiny-lm on its embedded samples ($(( $(date +%s) - t0 ))s)"
  B="xla:$STEER_XLA_PLUGIN"
  timeout 200 "$BIN/steer" sae train --backend "$B" --site resid_post.3 --width 6144 --k 32 --tokens ${STEER_GPU_TOKENS:-1000000} \
    --lr 0.002 --bf16 --batch-contexts 64 --out /tmp/gpu-sae 2>/tmp/train.err | tee "$OUT/train.txt"
  tail -3 /tmp/train.err; cp /tmp/gpu-sae/training_log.txt "$OUT/" 2>/dev/null
  skip=$(sed -n 's/.*--skip-docs \([0-9]*\)).*/\1/p' "$OUT/train.txt")
  timeout 120 "$BIN/steer" sae eval --sae /tmp/gpu-sae --backend "$B" --skip-docs "${skip:-15000}" --tokens 100000 --ce-contexts 200 | tee "$OUT/eval.txt"
fi
echo "== done ($(( $(date +%s) - t0 ))s)"
