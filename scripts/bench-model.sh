#!/usr/bin/env bash
# Model throughput, steer (pure-Go backend) vs PyTorch CPU, same checkpoints, shapes and thread count:
# prefill batch 8 x 256 (logits for every position), greedy decode at batch 1 and 8 (16-token
# prompts, 64 new tokens), for the embedded tiny-lm and a random GPT-2-small-shaped checkpoint.
#
#   scripts/bench-model.sh            # prints one table; ratio = steer / PyTorch
#
# Environment:
#   STEER_PYTHON      python with torch + transformers (default ~/.cache/steer-venv/bin/python)
#   STEER_BENCH_GPT2  directory of the GPT-2-small checkpoint (default: a temp dir; written by the Go
#                     benchmark, deterministic, reused when present)
#   THREADS           threads for both sides (default 2: GOMAXPROCS and torch.set_num_threads)
#   BENCHTIME         go test -benchtime (default 3x); REPS: PyTorch repetitions (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${STEER_PYTHON:-$HOME/.cache/steer-venv/bin/python}
THREADS=${THREADS:-2}
GPT2=${STEER_BENCH_GPT2:-${TMPDIR:-/tmp}/steer-bench-gpt2-small}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# These halve OpenBLAS's speed on this machine; unset them so the peer runs at its best.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

echo "load before: $(uptime)" >&2
echo "== steer (go test -bench, GOMAXPROCS=$THREADS)" >&2
GOEXPERIMENT=simd GOMAXPROCS=$THREADS STEER_BENCH_GPT2=$GPT2 \
	go test ./model -run '^$' -bench 'Prefill|Decode' -benchtime "${BENCHTIME:-3x}" -timeout 60m | tee "$OUT/go.txt" >&2

echo "== PyTorch ($PY, $THREADS threads)" >&2
"$PY" scripts/bench_model.py --threads "$THREADS" --reps "${REPS:-3}" \
	tiny=assets/tinylm "gpt2-small=$GPT2" 2>/dev/null | tee "$OUT/torch.jsonl" >&2
echo "load after: $(uptime)" >&2

"$PY" - "$OUT/go.txt" "$OUT/torch.jsonl" <<'EOF'
import json, re, sys

steer = {}
for line in open(sys.argv[1]):
    m = re.match(r"Benchmark(Prefill|Decode1|Decode8)/(\S+?)-\d+\s+\d+\s+\d+ ns/op\s+(.*)", line)
    if m:
        metrics = dict((u, float(v)) for v, u in re.findall(r"([\d.]+) (\S+)", m.group(3)))
        steer[(m.group(2), m.group(1).lower())] = metrics["tokens/s"]
torch, peer = {}, {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if "peer" in r:
        peer = r["peer"]
        continue
    torch[(r["model"], r["bench"])] = (r["tokens_per_s"], r["threads"])

names = {"prefill": "prefill 8x256", "decode1": "decode b1", "decode8": "decode b8"}
print(f"PyTorch {peer.get('torch')} (transformers {peer.get('transformers')}, {peer.get('capability')}), tokens/s; "
      "torch threads = the better of 2 and 1")
print(f"{'model':<11} {'benchmark':<14} {'steer':>9} {'PyTorch':>9} {'thr':>4} {'steer/PyTorch':>14}")
for model in ("tiny", "gpt2-small"):
    for b in ("prefill", "decode1", "decode8"):
        s = steer.get((model, b))
        t, thr = torch.get((model, b), (None, ""))
        ratio = f"{s / t:.2f}" if s and t else "-"
        fs = f"{s:.1f}" if s else "-"
        ft = f"{t:.1f}" if t else "-"
        print(f"{model:<11} {names[b]:<14} {fs:>9} {ft:>9} {thr!s:>4} {ratio:>14}")
EOF
