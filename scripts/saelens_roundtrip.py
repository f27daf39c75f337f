#!/usr/bin/env python3
"""Checks steer's SAELens output against the real sae-lens package.

Usage: saelens_roundtrip.py CASE_DIR [CASE_DIR ...]
Each CASE_DIR (written by the Go test TestSAELensPythonRoundTrip in sae/) holds an SAE in SAELens v6
layout (cfg.json, sae_weights.safetensors, sparsity.safetensors) and io.safetensors with
x [n,d_in], and steer's outputs f [n,d_sae] = Encode(x) and xhat [n,d_in] = Decode(f).
Loads the SAE with sae_lens.SAE.load_from_disk, recomputes encode/decode in float32 and compares.
Exit status 0 only if every case matches.
"""
import json
import sys

import torch
from safetensors.torch import load_file
from sae_lens import SAE


def check(case: str) -> bool:
    sae = SAE.load_from_disk(case, device="cpu")
    sae.eval()
    io = load_file(f"{case}/io.safetensors")
    x, f_go, xhat_go = io["x"], io["f"], io["xhat"]
    with torch.no_grad():
        f_py = sae.encode(x)
        xhat_py = sae.decode(f_py)
        xhat_from_go_f = sae.decode(f_go)
    cfg = json.load(open(f"{case}/cfg.json"))
    ok = True
    # Same active set (topk/jumprelu thresholds can only flip on near-ties; the inputs avoid them).
    same_support = torch.equal(f_py != 0, f_go != 0)
    f_err = (f_py - f_go).abs().max().item()
    x_err = (xhat_py - xhat_go).abs().max().item()
    x2_err = (xhat_from_go_f - xhat_go).abs().max().item()
    tol = 1e-4 * max(1.0, x.abs().max().item())
    if not same_support or f_err > tol or x_err > tol or x2_err > tol:
        ok = False
    sp = load_file(f"{case}/sparsity.safetensors")["sparsity"]
    if sp.shape != (cfg["d_sae"],):
        ok = False
    print(f"{'OK  ' if ok else 'FAIL'} {cfg['architecture']:9s} {type(sae).__name__:12s} d_in={cfg['d_in']} d_sae={cfg['d_sae']} "
          f"same_support={same_support} max|f_go-f_py|={f_err:.2e} max|xhat_go-xhat_py|={x_err:.2e} "
          f"max|decode_py(f_go)-xhat_go|={x2_err:.2e} L0={float((f_py != 0).float().sum(-1).mean()):.1f}")
    return ok


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    results = [check(c) for c in sys.argv[1:]]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
