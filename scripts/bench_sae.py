#!/usr/bin/env python3
"""SAE training throughput: steer (Go, GoMLX) vs a plain PyTorch reference vs SAELens's training SAE.

Same shapes for all: d_in 384 and 768, width 16x, batch 4096, TopK k=32 (AuxK-free steady state, unit-norm
decoder with gradient projection), ReLU (L1 weighted by decoder norms) and JumpReLU (straight-through
estimator, rectangle kernel of width 0.05, L0 coefficient 1, unit-norm decoder), Adam (eps 6.25e-10), on the same
cached synthetic activations (written once to a .npy, read by the PyTorch side; the Go benchmark generates
the same distribution in-process). torch uses 2 threads (--threads; the Go side uses GOMAXPROCS = all cores).
steer's TopK is its default sparse Go step (dense encoder matmul, everything else over the k selected
latents); --graph also times its GoMLX graph step (TrainConfig.TopKGraph) as an extra row. The load average
is printed before and after: on a shared machine compare the ratios of one run.
steer's ReLU and JumpReLU use its dense Go step (five matmuls, hand-written gradients).
The SAELens column times sae_lens's TopK / Standard / JumpReLU TrainingSAE training_forward_pass + backward +
Adam step (the core of its SAETrainer, without the LLM/activation-store runner).

Usage: PY="$(bash scripts/venv.sh)/bin/python"; (unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; $PY scripts/bench_sae.py [--steps 3] [--dims 384,768] [--graph] [--skip-go])
Prints a markdown table: tokens/s per implementation and ratios Go/PyTorch, Go/SAELens.
"""
import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

B = 4096


def synth(n, d, seed=1):
    rng = np.random.default_rng(seed)
    nfeat, active = 4 * d, 8
    dic = rng.standard_normal((nfeat, d)).astype(np.float32)
    x = np.zeros((n, d), np.float32)
    for i in range(active):
        j = rng.integers(0, nfeat, n)
        x += (0.5 + rng.random((n, 1), np.float32)) * dic[j]
    return x + 0.01 * rng.standard_normal((n, d)).astype(np.float32)


class JumpF(torch.autograd.Function):
    """f = pre·H(pre − θ); straight-through: ∂f/∂pre = H(pre − θ), ∂f/∂θ = −(θ/ε)·K((pre − θ)/ε), K rectangular."""

    @staticmethod
    def forward(ctx, pre, th, eps):
        ctx.save_for_backward(pre, th)
        ctx.eps = eps
        return pre * (pre > th)

    @staticmethod
    def backward(ctx, g):
        pre, th = ctx.saved_tensors
        k = ((pre - th).abs() < ctx.eps / 2).to(g.dtype)
        return g * (pre > th), (-(th / ctx.eps) * k * g).sum(0), None


class StepF(torch.autograd.Function):
    """H(pre − θ), with ∂/∂θ = −(1/ε)·K((pre − θ)/ε) and no gradient to pre (the L0 estimator)."""

    @staticmethod
    def forward(ctx, pre, th, eps):
        ctx.save_for_backward(pre, th)
        ctx.eps = eps
        return (pre > th).to(pre.dtype)

    @staticmethod
    def backward(ctx, g):
        pre, th = ctx.saved_tensors
        k = ((pre - th).abs() < ctx.eps / 2).to(g.dtype)
        return None, (-(1 / ctx.eps) * k * g).sum(0), None


class Plain(torch.nn.Module):
    def __init__(self, d, s, arch, k):
        super().__init__()
        w = torch.randn(s, d)
        w /= w.norm(dim=1, keepdim=True)
        self.W_dec = torch.nn.Parameter(w)
        self.W_enc = torch.nn.Parameter(w.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(s))
        self.b_dec = torch.nn.Parameter(torch.zeros(d))
        self.log_th = torch.nn.Parameter(torch.full((s,), float(np.log(0.01))))
        self.arch, self.k = arch, k

    def loss(self, x):
        pre = (x - self.b_dec) @ self.W_enc + self.b_enc
        if self.arch == "topk":
            v, i = pre.topk(self.k, dim=-1, sorted=False)
            f = torch.zeros_like(pre).scatter(-1, i, v.relu())
            xh = f @ self.W_dec + self.b_dec
            return (xh - x).pow(2).sum(-1).mean()
        if self.arch == "jumprelu":
            th = self.log_th.exp()
            f = JumpF.apply(pre, th, 0.05)
            xh = f @ self.W_dec + self.b_dec
            return (xh - x).pow(2).sum(-1).mean() + StepF.apply(pre, th, 0.05).sum(-1).mean()
        f = pre.relu()
        xh = f @ self.W_dec + self.b_dec
        return (xh - x).pow(2).sum(-1).mean() + 5 * (f * self.W_dec.norm(dim=1)).sum(-1).mean()


def time_steps(step, steps):
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * B / (time.perf_counter() - t0)


def bench_plain(x, arch, steps):
    d = x.shape[1]
    m = Plain(d, 16 * d, arch, 32)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4, eps=6.25e-10)
    xb = torch.from_numpy(x[:B])

    def step():
        opt.zero_grad(set_to_none=True)
        m.loss(xb).backward()
        if arch in ("topk", "jumprelu"):
            with torch.no_grad():
                g = m.W_dec.grad
                g -= (g * m.W_dec).sum(1, keepdim=True) * m.W_dec
        opt.step()
        if arch in ("topk", "jumprelu"):
            with torch.no_grad():
                m.W_dec /= m.W_dec.norm(dim=1, keepdim=True)

    return time_steps(step, steps)


def bench_saelens(x, arch, steps):
    from sae_lens.saes.sae import TrainStepInput
    from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    d = x.shape[1]
    if arch == "topk":
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d, d_sae=16 * d, k=32))
        coeffs = {}
    elif arch == "jumprelu":
        from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig

        sae = JumpReLUTrainingSAE(JumpReLUTrainingSAEConfig(d_in=d, d_sae=16 * d, l0_coefficient=1.0))
        coeffs = {"l0": 1.0}
    else:
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d, d_sae=16 * d, l1_coefficient=5.0))
        coeffs = {"l1": 5.0}
    opt = torch.optim.Adam(sae.parameters(), lr=1e-4, eps=6.25e-10)
    xb = torch.from_numpy(x[:B])
    dead = torch.zeros(16 * d, dtype=torch.bool)

    def step():
        opt.zero_grad(set_to_none=True)
        out = sae.training_forward_pass(TrainStepInput(sae_in=xb, coefficients=coeffs, dead_neuron_mask=dead, n_training_steps=1, is_logging_step=False))
        out.loss.backward()
        opt.step()

    return time_steps(step, steps)


def bench_go(dim, steps, repo, variants):
    env = dict(os.environ, GOEXPERIMENT="simd", STEER_SAE_BENCH_STEPS=str(steps), STEER_SAE_BENCH_DIMS=str(dim),
               STEER_SAE_BENCH_VARIANTS=",".join(variants))
    out = subprocess.run(["go", "test", "./sae", "-run", "^$", "-bench", "TrainTokensPerSec", "-benchtime", "1x", "-timeout", "30m"],
                         cwd=repo, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout + out.stderr, file=sys.stderr)
        raise SystemExit("go benchmark failed")
    res = {}
    for m in re.finditer(r"BenchmarkTrainTokensPerSec/(\w+)-d(\d+)\S*\s+\d+\s+\d+ ns/op\s+([\d.e+]+) tokens/s", out.stdout):
        res[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--dims", default="384,768")
    ap.add_argument("--archs", default="topk,relu,jumprelu")
    ap.add_argument("--skip-go", action="store_true")
    ap.add_argument("--skip-saelens", action="store_true")
    ap.add_argument("--graph", action="store_true", help="also time steer's TopK GoMLX graph step")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load0 = os.getloadavg()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rows = []
    for dim in [int(v) for v in a.dims.split(",")]:
        cache = f"/tmp/steer-bench-acts-{dim}.npy"
        if not os.path.exists(cache):
            np.save(cache, synth(B, dim))
        x = np.load(cache)
        archs = a.archs.split(",")
        variants = archs + (["topkgraph"] if a.graph and "topk" in archs else [])
        go = {} if a.skip_go else bench_go(dim, a.steps, repo, variants)
        for arch in archs:
            pt = bench_plain(x, arch, a.steps)
            sl = float("nan") if a.skip_saelens else bench_saelens(x, arch, a.steps)
            g = go.get((arch, dim), float("nan"))
            rows.append((arch, dim, g, pt, sl))
            if arch == "topk" and a.graph:
                rows.append(("topk (steer graph step)", dim, go.get(("topkgraph", dim), float("nan")), pt, sl))
            print(f"# {arch} d_in={dim}: go {g:.0f} torch {pt:.0f} saelens {sl:.0f} tokens/s", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, batch {B}, width 16x, k=32; "
          f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end\n")
    print("| arch | d_in | d_sae | steer Go tok/s | PyTorch tok/s | SAELens tok/s | Go/PyTorch | Go/SAELens |")
    print("|---|---|---|---|---|---|---|---|")
    for arch, dim, g, pt, sl in rows:
        print(f"| {arch} | {dim} | {16*dim} | {g:,.0f} | {pt:,.0f} | {sl:,.0f} | {g/pt:.2f} | {g/sl:.2f} |")


if __name__ == "__main__":
    main()
