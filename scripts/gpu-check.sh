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
# STEER_GPU_SECTIONS picks sections (comma-separated; default all): correct, torch, parts (where a step's
# time goes; STEER_SAE_PARTS_ONLY filters them), bench (steer's step variants, TopK, ReLU and JumpReLU;
# STEER_SAE_BENCH_ONLY filters them), benchdet (sparsegrad with XLA's deterministic scatter), hlo (XLA's optimised HLO of the bf16 step, into $OUT/hlo.tar.xz),
# e2e (train + eval tiny-lm).
#
# The comparison prepared in session 4 (no GPU then; each variant passed the CPU and XLA-CPU checks): the
# bf16 TopK step against its candidate graphs, the AuxK step, the parts they change, and PyTorch, in two
# device calls (each under the 600 s a call may take; 13 step variants at ~15 s each):
#   STEER_GPU_SECTIONS=correct,torch,parts STEER_SAE_PARTS_ONLY=noop,gathers,grad_,scatter_bf16 \
#     OUT=$OUT bash scripts/gpu-check.sh .gpu
#   STEER_GPU_SECTIONS=bench,benchdet STEER_SAE_BENCH_STEPS=20 STEER_BENCH_TIMEOUT=400 \
#     STEER_SAE_BENCH_ONLY=topk_device_bf16_768x24576,topk_device_bf16_auxk,topk_device_bf16_bf16rows,topk_device_bf16_selpre,topk_device_bf16_biascol,topk_device_bf16_firedscatter,topk_device_bf16_sparsegrad \
#     OUT=$OUT bash scripts/gpu-check.sh .gpu
# (sparsegrad's scatter-adds are fp32 atomics on a GPU: run-to-run nondeterministic, so it can become the
# default only with a deterministic alternative or as an opt-in; add the section benchdet to time it with
# XLA's deterministic, sort-based scatter.)
set -u
BIN=$(cd "${1:-.gpu}" && pwd)
OUT=${OUT:-/tmp/steer-gpu}
SECTIONS=${STEER_GPU_SECTIONS:-correct,torch,parts,bench,e2e}
mkdir -p "$OUT"
for f in "$BIN"/*.xz; do [ -e "$f" ] && xz -dkf "$f"; done
chmod +x "$BIN"/*.test "$BIN"/steer 2>/dev/null
if [ -z "${STEER_XLA_PLUGIN:-}" ]; then
  DIR=$(python3 -c 'import os, jax_plugins.xla_cuda13 as m; print(os.path.dirname(m.__file__))') || { echo "no jax-cuda13-pjrt plugin"; exit 1; }
  SITE=$(dirname "$(dirname "$DIR")")
  export STEER_XLA_PLUGIN=$DIR/xla_cuda_plugin.so XLA_FLAGS=--xla_gpu_cuda_data_dir=$SITE/nvidia/cu13
fi
export GOMLX_NO_AUTO_INSTALL=1 STEER_SAE_BENCH_JSON="$OUT/steer.jsonl"
on() { [[ ",$SECTIONS," == *",$1,"* ]]; }
el() { echo "$(( $(date +%s) - t0 ))s"; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
echo "plugin: $STEER_XLA_PLUGIN"
t0=$(date +%s)
if on correct; then
  echo "== correctness on CUDA (tiny-lm vs transformers; the on-device SAE step vs the Go step)"
  [ -x "$BIN/model.test" ] && (cd model && timeout 150 "$BIN/model.test" -test.run XLABackend -test.v 2>&1 | grep -v '^=== RUN' | tail -8) | tee "$OUT/model.txt"
  [ -x "$BIN/sae.test" ] && (cd sae && timeout 240 "$BIN/sae.test" -test.run XLA -test.v 2>&1 | grep -v '^=== RUN' | tail -24) | tee "$OUT/sae.txt"
fi
if on parts; then
  echo "== where a bf16 step's time goes ($(el))"; command -v nsys ncu nvprof || true
  (cd sae && timeout 150 "$BIN/sae.test" -test.run '^$' -test.bench XLAParts -test.benchtime 1x 2>&1 | grep -E '"part"|FAIL|panic|rror' | cut -c1-300)
fi
if on bench; then
  echo "== steer step variants ($(el))"
  (cd sae && timeout "${STEER_BENCH_TIMEOUT:-240}" "$BIN/sae.test" -test.run '^$' -test.bench XLATrain -test.benchtime 1x 2>&1 | grep -E 'variant|FAIL|panic|rror' | cut -c1-700)
fi
if on benchdet; then
  # XLA's deterministic scatter (sort-based, no atomics) for the sparsegrad variants, against the baseline
  echo "== step variants with --xla_gpu_exclude_nondeterministic_ops ($(el))"
  (cd sae && XLA_FLAGS="$XLA_FLAGS --xla_gpu_exclude_nondeterministic_ops=true" STEER_SAE_BENCH_JSON="$OUT/steer-det.jsonl" \
    STEER_SAE_BENCH_ONLY=${STEER_SAE_BENCH_DET_ONLY:-topk_device_bf16_768x24576,topk_device_bf16_sparsegrad,topk_device_bf16_selpre_sparsegrad_768} \
    timeout "${STEER_BENCH_TIMEOUT:-240}" "$BIN/sae.test" -test.run '^$' -test.bench XLATrain -test.benchtime 1x 2>&1 | grep -E 'variant|FAIL|panic|rror' | cut -c1-700)
fi
if on torch; then
  echo "== PyTorch on this card ($(el))"
  timeout 150 python3 scripts/bench_sae_cuda.py --steps 20 --json "$OUT/torch.json"
fi
if on hlo; then
  echo "== optimised HLO of the bf16 step ($(el))"
  (cd sae && XLA_FLAGS="$XLA_FLAGS --xla_dump_to=/tmp/hlo --xla_dump_hlo_as_text" STEER_SAE_BENCH_JSON=/dev/null STEER_SAE_BENCH_STEPS=2 STEER_SAE_BENCH_ONLY=topk_device_bf16_768 \
    timeout 120 "$BIN/sae.test" -test.run '^$' -test.bench 'XLATrain/topk_device_bf16_768x24576_k32$' -test.benchtime 1x >/dev/null 2>&1)
  (cd /tmp/hlo && ls -S | head -5 && tar cJf "$OUT/hlo.tar.xz" $(ls | grep -E 'after_optimizations.txt$|thunk' | head -40))
fi
if on e2e && [ -x "$BIN/steer" ]; then
  echo "== steer sae train + eval on the GPU, tiny-lm on its embedded samples ($(el))"
  B="xla:$STEER_XLA_PLUGIN"
  timeout 200 "$BIN/steer" sae train --backend "$B" --site resid_post.3 --width 6144 --k 32 --tokens ${STEER_GPU_TOKENS:-1000000} \
    --lr 0.002 --bf16 --batch-contexts 64 --out /tmp/gpu-sae 2>/tmp/train.err | tee "$OUT/train.txt"
  tail -3 /tmp/train.err; cp /tmp/gpu-sae/training_log.txt "$OUT/" 2>/dev/null
  skip=$(sed -n 's/.*--skip-docs \([0-9]*\)).*/\1/p' "$OUT/train.txt")
  timeout 120 "$BIN/steer" sae eval --sae /tmp/gpu-sae --backend "$B" --skip-docs "${skip:-15000}" --tokens ${STEER_GPU_EVAL_TOKENS:-100000} --ce-contexts 200 | tee "$OUT/eval.txt"
fi
echo "== done ($(el))"
