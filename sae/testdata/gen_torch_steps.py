#!/usr/bin/env python3
"""Writes sae/testdata/torchsteps/steps.safetensors, the reference that TestStepsMatchTorchAutograd
(sae/torchref_test.go) checks steer's SAE training steps against.

An independent implementation of the training recipe in PyTorch, float64, gradients from torch autograd
(the losses below are written from the recipe, not ported from steer's hand-written gradients), Adam from
torch.optim.Adam. From one initial state (float32-representable values, written to the file) it runs
STEPS steps on fixed batches for each case and records the parameters after every step and the Adam
moments after the last one.

The recipe, per step s (0-based), x the batch [B,d] (already scaled: steer's NoNormalize-equivalent, scale 1):

  lr_s     = LR · min(1, (s+1)/warmup) · decay, decay = 1 − (s − start + 1)/(steps − start) for
             s ≥ start = int(steps·(1 − decay_frac)), else 1 (linear warm-up, linear decay to 0)
  coef_s   = coef · min(1, (s+1)/sparsity_warmup)             (ReLU L1 / JumpReLU L0 coefficient)
  pre      = (x − b_dec) W_encᵀ + b_enc                        (b_dec subtracted from the input)
  f        = topk:      ReLU of the k largest pre per row (ties: lower index), 0 elsewhere   (Gao et al.)
             batchtopk: ReLU of the k·B largest pre of the whole batch                     (Bussmann et al.)
             relu:      ReLU(pre)
             jumprelu:  pre·H(pre − θ), θ = exp(log_threshold), STE: ∂/∂pre = H(pre − θ),
                        ∂/∂θ = −(θ/ε)·K((pre − θ)/ε), K the rectangle 1{|u| < 1/2}   (Rajamanoharan et al.)
  x̂        = f W_dec + b_dec
  mse      = Σ (x − x̂)² / B                  (summed over d_in, mean over rows)
  loss     = mse
           + relu:      coef_s · Σ_rows Σ_j f_j ‖W_dec,j‖₂ / B          (Anthropic, April 2024 update)
           + jumprelu:  coef_s · Σ_rows Σ_j H(pre_j − θ_j) / B, STE ∂/∂θ = −(1/ε)·K(...), no ∂/∂pre
           + topk/batchtopk with dead latents (AuxK, Gao et al.):
                        aux_coef · min(n_dead / k_aux, 1) · Σ (ê − e)² / B, e = (x − x̂) detached,
                        ê = f_aux W_dec (no bias), f_aux = ReLU of the min(k_aux, n_dead) largest pre
                        per row among the dead latents
  dead     : a latent is dead when it has not fired (f > 0) for ≥ dead_tokens rows; the counters
             (tokens since fired: 0 when fired in the step's main activations, else += B) are updated
             after each step and decide the next step's dead set
  Adam     : β = (0.9, 0.999), eps = 6.25e-10 (added to sqrt(v̂)), bias correction (torch.optim.Adam)
  unit norm: every arch but relu: the W_dec gradient's component along each (unit) decoder row is removed
             before Adam, and the rows are renormalised after the update. ReLU keeps the decoder free
             (its L1 is weighted by the decoder norms instead).

Conventions that are steer's choices (followed here): AuxK's loss is in the units of the main MSE (Σ over
d_in, mean over rows) and scaled by min(n_dead/k_aux, 1) (as EleutherAI's sparsify) rather than normalised
by the residual's variance as in Gao et al.'s code; the decoder stays unit-norm for JumpReLU; the
coefficient warm-up and lr schedule count steps from 1 (s+1).

Selections are made on the float64 pre-activations; the data and the seed are chosen so that no decision
(top-k cut, batch cut, ReLU kink, JumpReLU threshold and kernel edges) comes within MARGIN of its boundary
in any step, so steer's float32 steps must make the same decisions.

Run: python sae/testdata/gen_torch_steps.py  (torch, safetensors; CPU; the fixture is committed)
"""

import json
import math
import os

import numpy as np
import torch
from safetensors.torch import save_file

torch.set_default_dtype(torch.float64)

D, S, B, K, STEPS = 16, 64, 32, 4, 3
MARGIN = 3e-5
CFG = dict(d_sae=S, k=K, batch_size=B, tokens=B * 4, lr=3e-3, warmup_steps=2, decay_frac=0.5,
           sparsity_warmup_steps=3, l1_coef=0.05, l0_coef=0.02, jump_bandwidth=0.5, k_aux=8,
           aux_coef=1.0 / 32, dead_tokens=B * 100)
CASES = [("topk", "topk", False), ("topk-aux", "topk", True), ("batchtopk", "batchtopk", False),
         ("batchtopk-aux", "batchtopk", True), ("relu", "relu", False), ("jumprelu", "jumprelu", False)]
PARAMS = ["W_encT", "b_enc", "b_dec", "log_threshold", "W_dec"]


class Margin(Exception):
    pass


def near(v, m=MARGIN):
    if v.numel() and bool((v.abs() < m).any()):
        raise Margin(float(v.abs().min()))


def lr_at(s, steps):
    c = CFG
    lr = c["lr"]
    if s < c["warmup_steps"]:
        lr *= (s + 1) / c["warmup_steps"]
    start = int(steps * (1 - c["decay_frac"]))
    if s >= start:
        lr *= 1 - (s - start + 1) / (steps - start)
    return lr


class JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, th, eps):
        ctx.save_for_backward(z, th)
        ctx.eps = eps
        return z * (z > th)

    @staticmethod
    def backward(ctx, g):
        z, th = ctx.saved_tensors
        eps = ctx.eps
        kern = ((z - th) / eps).abs() < 0.5
        return g * (z > th), (-(th / eps) * kern * g).sum(0), None


class Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, th, eps):
        ctx.save_for_backward(z, th)
        ctx.eps = eps
        return (z > th).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        z, th = ctx.saved_tensors
        kern = ((z - th) / ctx.eps).abs() < 0.5
        return torch.zeros_like(z), (-(1 / ctx.eps) * kern * g).sum(0), None


def topk_rows(v, k):
    """Top-k per row, ties to the lower index, with the margin check on the cut."""
    srt, idx = torch.sort(v, dim=1, descending=True, stable=True)
    if v.shape[1] > k:
        near(srt[:, k - 1] - srt[:, k])
    return idx[:, :k]


def run_case(arch, aux, x_all, init, since0):
    c = CFG
    steps = c["tokens"] // c["batch_size"]
    p = {n: torch.tensor(init[n], dtype=torch.float64).clone().requires_grad_(True) for n in PARAMS}
    opt = torch.optim.Adam([p[n] for n in PARAMS], lr=c["lr"], betas=(0.9, 0.999), eps=6.25e-10)
    since = since0.copy()
    unit = arch != "relu"
    out, stats = {}, []
    bt_thresh = 0.0
    for s in range(STEPS):
        x = torch.tensor(x_all[s], dtype=torch.float64)
        for g in opt.param_groups:
            g["lr"] = lr_at(s, steps)
        coef = {"relu": c["l1_coef"], "jumprelu": c["l0_coef"]}.get(arch, 0.0)
        coef *= min(1.0, (s + 1) / c["sparsity_warmup_steps"])
        opt.zero_grad(set_to_none=True)
        xin = x - p["b_dec"]
        pre = xin @ p["W_encT"].T + p["b_enc"]
        prd = pre.detach()
        loss_sp = None
        if arch == "topk":
            idx = topk_rows(prd, K)
            near(prd.gather(1, idx))
            mask = torch.zeros_like(prd, dtype=torch.bool).scatter_(1, idx, True)
            f = torch.where(mask, torch.relu(pre), torch.zeros_like(pre))
        elif arch == "batchtopk":
            flat = prd.flatten()
            n = min(K * B, int((flat > 0).sum()))
            srt, order = torch.sort(flat, descending=True, stable=True)
            near(srt[n - 1] - srt[n : n + 1])
            near(srt[n - 1 : n])
            mask = torch.zeros_like(flat, dtype=torch.bool)
            mask[order[:n]] = True
            mask = mask.view_as(prd)
            f = torch.where(mask, torch.relu(pre), torch.zeros_like(pre))
            mn = float(srt[n - 1])
            bt_thresh = mn if s == 0 else 0.99 * bt_thresh + 0.01 * mn
        elif arch == "relu":
            near(prd)
            f = torch.relu(pre)
            loss_sp = coef * (f * p["W_dec"].norm(dim=1)).sum() / B
        elif arch == "jumprelu":
            eps = c["jump_bandwidth"]
            th = p["log_threshold"].exp()
            u = prd - th.detach()
            near(u)
            near(u.abs() - eps / 2)
            f = JumpReLU.apply(pre, th, eps)
            loss_sp = coef * Step.apply(pre, th, eps).sum() / B
        xhat = f @ p["W_dec"] + p["b_dec"]
        e = x - xhat
        mse = (e**2).sum() / B
        loss = mse
        if loss_sp is not None:
            loss = loss + loss_sp
        dead = since >= c["dead_tokens"]
        n_dead = int(dead.sum())
        aux_loss = torch.zeros(())
        if arch in ("topk", "batchtopk") and n_dead > 0 and c["aux_coef"] > 0:
            ka = min(c["k_aux"], n_dead)
            dead_idx = torch.tensor(np.nonzero(dead)[0])
            pd = prd[:, dead_idx]
            sel = topk_rows(pd, ka)
            near(pd.gather(1, sel))
            amask = torch.zeros_like(prd, dtype=torch.bool)
            amask[torch.arange(B)[:, None], dead_idx[sel]] = True
            fa = torch.where(amask, torch.relu(pre), torch.zeros_like(pre))
            ehat = fa @ p["W_dec"]
            scale = c["aux_coef"] * min(n_dead / c["k_aux"], 1.0)
            aux_loss = scale * ((ehat - e.detach()) ** 2).sum() / B
            loss = loss + aux_loss
        loss.backward()
        if unit:
            with torch.no_grad():
                g, w = p["W_dec"].grad, p["W_dec"]
                g -= (g * w).sum(1, keepdim=True) * w
        opt.step()
        if unit:
            with torch.no_grad():
                p["W_dec"] /= p["W_dec"].norm(dim=1, keepdim=True).clamp_min(1e-12)
        fired = (f.detach() > 0).sum(0).numpy()
        since = np.where(fired > 0, 0, since + B)
        for n in PARAMS:
            out[f"{s + 1}.{n}"] = p[n].detach().clone()
        stats.append(dict(loss=float(loss.detach()), mse=float(mse.detach()), aux=float(aux_loss.detach()), l0=float((f > 0).sum()) / B,
                          lr=lr_at(s, steps), coef=coef, n_dead=n_dead, batchtopk_threshold=bt_thresh))
    for n in PARAMS:
        st = opt.state.get(p[n], {})
        out[f"adam_m.{n}"] = st.get("exp_avg", torch.zeros_like(p[n])).detach().clone()
        out[f"adam_v.{n}"] = st.get("exp_avg_sq", torch.zeros_like(p[n])).detach().clone()
    return out, stats, since


def make(seed):
    r = np.random.default_rng(seed)
    dic = r.standard_normal((48, D))
    dic /= np.linalg.norm(dic, axis=1, keepdims=True)
    n = STEPS * B
    code = np.zeros((n, 48))
    for i in range(n):
        j = r.choice(48, 3, replace=False)
        code[i, j] = r.exponential(1.0, 3) + 0.2
    x = (code @ dic + 0.05 * r.standard_normal((n, D)) + 0.3).astype(np.float32).reshape(STEPS, B, D)
    wdec = r.standard_normal((S, D))
    wdec /= np.linalg.norm(wdec, axis=1, keepdims=True)
    init = {
        "W_dec": wdec.astype(np.float32),
        "W_encT": (wdec + 0.2 * r.standard_normal((S, D))).astype(np.float32),
        "b_enc": (0.1 * r.standard_normal(S)).astype(np.float32),
        "b_dec": (x[0].mean(0) + 0.05 * r.standard_normal(D)).astype(np.float32),
        "log_threshold": np.log(0.3 + 0.2 * r.random(S)).astype(np.float32),
    }
    return x, init


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for seed in range(1000):
        x, init = make(seed)
        since_aux = np.where(np.arange(S) % 2 == 0, CFG["dead_tokens"] + 100 * B, 0).astype(np.int64)
        try:
            res = {}
            for name, arch, aux in CASES:
                since0 = since_aux if aux else np.zeros(S, np.int64)
                res[name] = (arch, aux, since0) + run_case(arch, aux, x, init, since0)
        except Margin:
            continue
        break
    else:
        raise SystemExit("no seed without near-ties")
    print("seed", seed)
    tensors = {"x": torch.tensor(x)}
    for n in PARAMS:
        tensors["init." + n] = torch.tensor(init[n])
    meta = {"seed": seed, "steps": STEPS, "d_in": D, "config": CFG, "cases": {}}
    for name, (arch, aux, since0, out, stats, since) in res.items():
        tensors[name + ".since0"] = torch.tensor(since0)
        tensors[name + ".since"] = torch.tensor(since)
        for k, v in out.items():
            if k.endswith("log_threshold") and arch != "jumprelu" and not k.startswith("adam"):
                continue  # unchanged (no gradient) for the other archs; the test checks that it stays put
            tensors[f"{name}.{k}"] = v.to(torch.float32)
        meta["cases"][name] = {"arch": arch, "aux": aux, "stats": stats}
        print(name, [(round(s["mse"], 5), round(s["aux"], 6), s["l0"], s["n_dead"]) for s in stats])
    os.makedirs(os.path.join(here, "torchsteps"), exist_ok=True)
    path = os.path.join(here, "torchsteps", "steps.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"torch_reference": json.dumps(meta), "generator": "gen_torch_steps.py, torch " + torch.__version__})
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
