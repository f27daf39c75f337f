#!/usr/bin/env python3
"""PyTorch SAE training step on a CUDA GPU: the peer of `steer sae bench --backend xla:<cuda plugin>`.

The workloads of ../shared/bench/h100-pytorch.md (mean of --steps steps after 3 warm-ups, random data on
the device): W_enc [d_in, d_sae], W_dec [d_sae, d_in], biases, loss = MSE, Adam; TopK keeps the k largest
pre-activations (ReLU of them), decoded densely (scatter into zeros, then f @ W_dec) as in that reference.
Besides the plain step, the TopK rows apply steer's recipe (decoder-gradient projection and renormalisation),
which costs a little more. Precisions: fp32; bf16 as autocast (fp32 weights, bf16 matmuls: what steer's
--select-bf16 compares to) and as bf16 weights (the reference's likely meaning). fp32 matmuls may use TF32
(torch.backends.cuda.matmul.allow_tf32 is printed).

Usage (on the GPU machine): python3 scripts/bench_sae_cuda.py [--steps 10] [--json out.json]
"""
import argparse
import json
import time

import torch


def make(d, s, dtype, dev):
    w = torch.randn(s, d, device=dev)
    w /= w.norm(dim=1, keepdim=True)
    p = {
        "W_dec": torch.nn.Parameter(w.to(dtype)),
        "W_enc": torch.nn.Parameter(w.t().contiguous().to(dtype)),
        "b_enc": torch.nn.Parameter(torch.zeros(s, device=dev, dtype=dtype)),
        "b_dec": torch.nn.Parameter(torch.zeros(d, device=dev, dtype=dtype)),
    }
    return p


def bench(arch, d, s, k, B, mode, steps, recipe, dev):
    dtype = torch.bfloat16 if mode == "bf16" else torch.float32
    p = make(d, s, dtype, dev)
    opt = torch.optim.Adam(p.values(), lr=1e-4, eps=6.25e-10)
    xs = [torch.randn(B, d, device=dev, dtype=dtype) for _ in range(4)]
    auto = mode == "autocast"

    def step(x):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=auto):
            pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
            if arch == "topk":
                v, i = pre.topk(k, dim=-1, sorted=False)
                f = torch.zeros_like(pre).scatter(-1, i, v.relu())
            else:
                f = pre.relu()
            xh = f @ p["W_dec"] + p["b_dec"]
            loss = (xh.float() - x.float()).pow(2).sum(-1).mean()
            if arch == "relu":
                loss = loss + 1e-3 * f.float().abs().sum(-1).mean()
        loss.backward()
        if recipe:
            with torch.no_grad():
                g = p["W_dec"].grad
                g -= (g * p["W_dec"]).sum(1, keepdim=True) * p["W_dec"]
        opt.step()
        if recipe:
            with torch.no_grad():
                p["W_dec"] /= p["W_dec"].norm(dim=1, keepdim=True)

    for i in range(3):
        step(xs[i % 4])
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(xs[i % 4])
    sync()
    ms = 1000 * (time.perf_counter() - t0) / steps
    return ms, B / ms * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--json")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true", help="smoke test: tiny shapes")
    a = ap.parse_args()
    gpu = torch.cuda.get_device_name() if a.device == "cuda" else a.device
    print(f"# torch {torch.__version__}, {gpu}, allow_tf32={torch.backends.cuda.matmul.allow_tf32}")
    B = 64 if a.small else 4096
    rows = []
    for arch, d, s, k, mode, recipe in [
        ("topk", 768, 24576, 32, "bf16", False),
        ("topk", 768, 24576, 32, "autocast", False),
        ("topk", 768, 24576, 32, "fp32", False),
        ("topk", 768, 24576, 32, "fp32", True),
        ("topk", 768, 24576, 32, "bf16", True),
        ("relu", 768, 24576, 0, "fp32", False),
        ("relu", 768, 24576, 0, "autocast", False),
        ("topk", 2304, 16384, 64, "bf16", False),
    ]:
        if a.small:
            d, s = d // 16, s // 16
        ms, tps = bench(arch, d, s, k, B, mode, a.steps, recipe, a.device)
        name = f"{arch}{k if k else ''}_adam_{mode}{'_recipe' if recipe else ''}_{d}x{s}_b{B}"
        rows.append({"workload": name, "ms": ms, "tokens_per_sec": tps})
        print(f"| {name} | {ms:.2f} | {tps:,.0f} |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
