#!/usr/bin/env python3
"""Writes the fixtures under sae/testdata/{saelens,sparsify,gemmascope1,gemmascope2}/ that
TestRealWriterFixtures (sae/saelens_written_test.go) loads with steer's sae.Load.

Every SAE is written by the real writer and every reference number is computed by the real reader:

  - saelens/<name>/: sae-lens 6.54 itself builds a small random SAE (d_in 16, d_sae 48) of each
    architecture it can save and load for inference, with every parameter perturbed to non-trivial values
    (b_dec, b_enc, thresholds, gate/magnitude biases), and saves it with its own save_model /
    save_inference_model. The references come from SAE.load_from_disk on the saved folder:
    x [n,d_in], f = sae.encode(x), xhat = sae.decode(f) (right after encode, so run-time normalisations
    use x's statistics), out = sae(x) (the full forward), in io.safetensors.
  - sparsify/<name>/: EleutherAI's sparsify (eai-sparsify 1.3.3, put on PYTHONPATH; see below) builds and
    saves a SparseCoder with save_to_disk; references from SparseCoder.load_from_disk + encode/decode.
  - gemmascope1/<folder>/params.npz and gemmascope2/<folder>/{params.safetensors,config.json}: written in
    the layout of the published Gemma Scope releases; the references come from sae-lens's own
    gemma_2 / gemma_3 Hugging Face loaders (pretrained_sae_loaders.py) run on the local files, with
    hf_hub_download (and the remote shape query) redirected to the local folder.

For bfloat16 SAEs the references are computed with the weights upcast to float32 (exact), so the fixture
checks that the bf16 weights are read correctly, not bf16 arithmetic.

x avoids near-ties: rows whose pre-activations come within MARGIN of a decision boundary (top-k cut,
threshold, gate, ReLU) are dropped from a larger pool.

Run (no network needed once eai-sparsify and its small pure-python deps are unpacked somewhere):
  python -m pip download --no-deps eai-sparsify==1.3.3 -d /tmp/dl && unzip /tmp/dl/*.whl -d /tmp/sparsify-pkg
  python -m pip install --no-deps --target /tmp/sparsify-deps natsort simple-parsing docstring-parser schedulefree
  PYTHONPATH=/tmp/sparsify-pkg:/tmp/sparsify-deps python sae/testdata/gen_saelens.py
(the fixtures are committed; the Go test needs neither Python nor these packages)
"""
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

import sae_lens
from sae_lens import SAE
from sae_lens.saes import (
    AbsTopKSAE, AbsTopKSAEConfig, BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig, GatedSAE, GatedSAEConfig,
    JumpReLUSAE, JumpReLUSAEConfig, JumpReLUTranscoder, JumpReLUTranscoderConfig, MatchingPursuitSAE,
    MatchingPursuitSAEConfig, MatryoshkaBatchTopKTrainingSAE, MatryoshkaBatchTopKTrainingSAEConfig, SkipTranscoder,
    SkipTranscoderConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig, TopKTrainingSAE,
    TopKTrainingSAEConfig, Transcoder, TranscoderConfig)
from sae_lens.saes.sae import SAEMetadata
import sae_lens.loading.pretrained_sae_loaders as L

HERE = Path(__file__).resolve().parent
D_IN, D_SAE, K, N, POOL = 16, 48, 6, 32, 400
MARGIN = 2e-3
torch.manual_seed(0)
G = torch.Generator().manual_seed(1234)
NOTES = {}


def rnd(*shape, scale=1.0, shift=0.0):
    return torch.randn(*shape, generator=G, dtype=torch.float64) * scale + shift


def perturb(sae, thr=None):
    """Random non-trivial parameters; non-unit decoder row norms."""
    with torch.no_grad():
        for name, p in sae.named_parameters():
            if name == "W_enc":
                v = rnd(*p.shape, scale=0.5)
            elif name == "W_dec":
                v = rnd(*p.shape, scale=0.5) * (0.5 + torch.rand(p.shape[0], 1, generator=G, dtype=torch.float64))
            elif name == "b_dec":
                v = rnd(*p.shape, scale=0.3)
            elif name in ("b_enc", "b_gate", "b_mag"):
                v = rnd(*p.shape, scale=0.3, shift=-0.2)
            elif name == "r_mag":
                v = rnd(*p.shape, scale=0.3)
            elif name == "threshold":
                v = thr if thr is not None else torch.rand(*p.shape, generator=G, dtype=torch.float64) * 0.6 + 0.05
            elif name == "W_skip":
                v = rnd(*p.shape, scale=0.1)
            else:
                raise ValueError(name)
            p.data = v.to(p.dtype)


def sae_cfg(cls, **kw):
    md = kw.pop("metadata", {})
    md.setdefault("model_name", "tiny-test")
    md.setdefault("hook_name", "blocks.1.hook_resid_post")
    return cls(d_in=kw.pop("d_in", D_IN), d_sae=kw.pop("d_sae", D_SAE), metadata=SAEMetadata(**md), **kw)


def margins(pre, kind, k=None, thr=None, gate=None):
    """Per-row distance of the pre-activations to the nearest decision boundary."""
    m = pre.abs().min(-1).values  # ReLU boundary at 0
    if kind == "topk":
        s = pre.sort(-1, descending=True).values
        m = torch.minimum((s[:, k - 1] - s[:, k]).abs(), s[:, :k + 1].abs().min(-1).values)
    elif kind == "abstopk":
        s = pre.abs().sort(-1, descending=True).values
        m = (s[:, k - 1] - s[:, k]).abs()
    elif kind == "jumprelu":
        m = torch.minimum(m, (pre - thr).abs().min(-1).values)
    elif kind == "gated":
        m = torch.minimum(m, gate.abs().min(-1).values)
    return m


def pick_rows(x, m):
    ok = torch.nonzero(m > MARGIN).flatten()
    if len(ok) < N:
        raise RuntimeError(f"only {len(ok)} rows clear the margin")
    return x[ok[:N]]


def pool(scale=1.0, center=None):
    x = rnd(POOL, D_IN, scale=scale)
    if center is not None:
        x = x + center
    return x.float()


def pre_acts(sae, x):
    """hook_sae_acts_pre of sae on x (float32), the pre-activation the architectures select on."""
    _, cache = sae.run_with_cache(x, names_filter=["hook_sae_acts_pre", "hook_sae_input"])
    return cache["hook_sae_acts_pre"].double(), cache["hook_sae_input"]


def record(dirpath, sae, x, kind, k=None, x_in=None, flat=None):
    """Choose rows of x clear of boundaries and write io.safetensors with sae-lens's outputs.
    x_in: how x is fed to sae-lens (e.g. [n, heads, d_head] for hook_z); flat(x_in) gives [n, d_in]."""
    sae.eval()
    with torch.no_grad():
        xin = x if x_in is None else x_in(x)
        pre, _ = pre_acts(sae, xin)
        thr = getattr(sae, "threshold", None)
        gate = None
        if kind == "topk" and getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
            pre = pre * sae.W_dec.double().norm(dim=-1)
        if kind == "gated":
            sin = sae.process_sae_in(xin).double()
            gate = sin @ sae.W_enc.double() + sae.b_gate.double()
        m = margins(pre, kind, k=k, thr=None if thr is None else thr.double(), gate=gate)
        x = pick_rows(x, m)
        xin = x if x_in is None else x_in(x)
        f = sae.encode(xin)
        xhat = sae.decode(f)
        out = sae(xin)
    t = {"x": x.contiguous(), "f": f.float().contiguous(), "xhat": xhat.float().reshape(N, -1).contiguous(),
         "out": out.float().reshape(N, -1).contiguous()}
    save_file(t, str(dirpath / "io.safetensors"))


def fresh(name, group="saelens"):
    p = HERE / group / name
    if p.exists():
        shutil.rmtree(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def load_back(p, dtype=None):
    return SAE.load_from_disk(str(p), device="cpu", dtype=dtype)


def saelens_case(name, cls, cfg_cls, kind, k=None, thr=None, dtype="float32", x_scale=1.0, **cfgkw):
    p = fresh(name)
    if k is not None:
        cfgkw["k"] = k
    cfg = sae_cfg(cfg_cls, dtype=dtype, **cfgkw)
    s = cls(cfg)
    perturb(s, thr=thr)
    s.save_model(str(p))
    ref = load_back(p, dtype="float32" if dtype != "float32" else None)
    x = pool(scale=x_scale, center=ref.b_dec.detach().double() if cfg.apply_b_dec_to_input else None)
    record(p, ref, x, kind, k=k)
    return p


def note_cfg(name, p):
    c = json.load(open(p / "cfg.json"))
    NOTES[name] = {k: c.get(k) for k in ("architecture", "apply_b_dec_to_input", "normalize_activations",
                                         "reshape_activations", "dtype", "k", "rescale_acts_by_decoder_norm") if k in c}


def main():
    print("sae-lens", sae_lens.__version__, "torch", torch.__version__)
    # ---- standard (ReLU) and its cfg options
    for name, kw in {
        "standard": {},
        "standard_nobdec": {"apply_b_dec_to_input": False},
        "standard_bf16": {"dtype": "bfloat16"},
        "standard_expavg": {"normalize_activations": "expected_average_only_in"},
        "standard_whiten": {"normalize_activations": "covariance_whitening"},
        "standard_cnr": {"normalize_activations": "constant_norm_rescale"},
        "standard_ln": {"normalize_activations": "layer_norm"},
        "standard_ln_nobdec": {"normalize_activations": "layer_norm", "apply_b_dec_to_input": False},
    }.items():
        note_cfg(name, saelens_case(name, StandardSAE, StandardSAEConfig, "relu", x_scale=2.0 if "cnr" in name else 1.0, **kw))

    # ---- topk
    for name, kw in {
        "topk": {},
        "topk_nobdec": {"apply_b_dec_to_input": False},
        "topk_rescale": {"rescale_acts_by_decoder_norm": True},
        "topk_rescale_bf16": {"rescale_acts_by_decoder_norm": True, "dtype": "bfloat16"},
        "topk_cnr": {"normalize_activations": "constant_norm_rescale"},
        "topk_ln_rescale": {"normalize_activations": "layer_norm", "rescale_acts_by_decoder_norm": True},
    }.items():
        note_cfg(name, saelens_case(name, TopKSAE, TopKSAEConfig, "topk", k=K, **kw))

    # ---- jumprelu (one with some negative thresholds: ReLU still applies)
    note_cfg("jumprelu", saelens_case("jumprelu", JumpReLUSAE, JumpReLUSAEConfig, "jumprelu"))
    note_cfg("jumprelu_nobdec_bf16", saelens_case("jumprelu_nobdec_bf16", JumpReLUSAE, JumpReLUSAEConfig, "jumprelu",
                                                  apply_b_dec_to_input=False, dtype="bfloat16"))
    neg = torch.linspace(-0.3, 0.5, D_SAE, dtype=torch.float64)
    note_cfg("jumprelu_negthr", saelens_case("jumprelu_negthr", JumpReLUSAE, JumpReLUSAEConfig, "jumprelu", thr=neg))
    note_cfg("jumprelu_ln", saelens_case("jumprelu_ln", JumpReLUSAE, JumpReLUSAEConfig, "jumprelu",
                                         normalize_activations="layer_norm"))

    # ---- gated
    note_cfg("gated", saelens_case("gated", GatedSAE, GatedSAEConfig, "gated"))
    note_cfg("gated_nobdec", saelens_case("gated_nobdec", GatedSAE, GatedSAEConfig, "gated", apply_b_dec_to_input=False))

    # ---- hook_z reshaping: sae-lens takes [n, n_heads, d_head] and flattens it; x is stored flat.
    p = fresh("standard_hookz")
    s = StandardSAE(sae_cfg(StandardSAEConfig, reshape_activations="hook_z",
                            metadata={"hook_name": "blocks.2.attn.hook_z", "hook_head_index": None}))
    perturb(s)
    s.save_model(str(p))
    ref = load_back(p)
    record(p, ref, pool(center=ref.b_dec.detach().double()), "relu", x_in=lambda x: x.reshape(x.shape[0], 4, 4))
    note_cfg("standard_hookz", p)

    # ---- training SAEs: what the trainer writes for inference (save_inference_model) and as a checkpoint (save_model)
    def training(name, cls, cfg_cls, **kw):
        cfg = cfg_cls(d_in=D_IN, d_sae=D_SAE, k=K, metadata=SAEMetadata(model_name="tiny-test", hook_name="blocks.1.hook_resid_post"), **kw)
        s = cls(cfg)
        perturb(s)
        if hasattr(s, "topk_threshold"):
            s.topk_threshold = torch.tensor(0.35, dtype=torch.float64)
        pi = fresh(name)
        s.save_inference_model(str(pi))
        pc = fresh(name + "_ckpt")
        s.save_model(str(pc))
        ref = load_back(pi)  # the inference SAE sae-lens makes of it
        kind = "jumprelu" if isinstance(ref, JumpReLUSAE) else "topk"
        x = pool(center=ref.b_dec.detach().double())
        record(pi, ref, x, kind, k=K)
        shutil.copy(pi / "io.safetensors", pc / "io.safetensors")
        note_cfg(name, pi)
        note_cfg(name + "_ckpt", pc)

    training("batchtopk", BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig)  # rescale_acts_by_decoder_norm defaults True
    training("batchtopk_norescale", BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig, rescale_acts_by_decoder_norm=False)
    training("matryoshka_batchtopk", MatryoshkaBatchTopKTrainingSAE, MatryoshkaBatchTopKTrainingSAEConfig,
             matryoshka_widths=[12, 24, D_SAE])
    training("topk_training", TopKTrainingSAE, TopKTrainingSAEConfig)

    # ---- pre-6.0 configs (flat cfg.json, old key names) as older sae-lens wrote them; sae-lens 6.54 reads
    # them through handle_pre_6_0_config. Weights in the same layout.
    for name, arch_kw, old in [
        ("pre6_standard", {}, {"activation_fn_str": "relu", "normalize_activations": True}),
        ("pre6_topk", {"k": K}, {"activation_fn_str": "topk", "activation_fn_kwargs": {"k": K}, "normalize_activations": "none"}),
        ("pre6_jumprelu", {}, {"architecture": "jumprelu", "activation_fn_str": "relu", "normalize_activations": None}),
        ("pre6_hookz", {}, {"activation_fn_str": "relu", "hook_point": "blocks.2.attn.hook_z"}),
    ]:
        p = fresh(name)
        cls, cfg_cls = {"pre6_topk": (TopKSAE, TopKSAEConfig), "pre6_jumprelu": (JumpReLUSAE, JumpReLUSAEConfig)}.get(
            name, (StandardSAE, StandardSAEConfig))
        s = cls(sae_cfg(cfg_cls, **arch_kw))
        perturb(s)
        s.save_model(str(p))
        flat = {"d_in": D_IN, "d_sae": D_SAE, "dtype": "float32", "device": "cpu", "model_name": "tiny-test",
                "hook_point": "blocks.1.hook_resid_post", "hook_point_layer": 1, "hook_point_head_index": None,
                "apply_b_dec_to_input": True, "context_size": 128, "prepend_bos": True,
                "dataset_path": "some/dataset", "finetuning_scaling_factor": False,
                "sae_lens_training_version": "3.13.0"}
        flat.update(old)
        json.dump(flat, open(p / "cfg.json", "w"))
        ref = load_back(p)
        kind = {"pre6_topk": "topk", "pre6_jumprelu": "jumprelu"}.get(name, "relu")
        x_in = (lambda x: x.reshape(x.shape[0], 4, 4)) if name == "pre6_hookz" else None
        record(p, ref, pool(center=ref.b_dec.detach().double()), kind, k=K, x_in=x_in)
        NOTES[name] = {"pre6_cfg": old, "loaded_as": type(ref).__name__, "reshape": ref.cfg.reshape_activations}

    # ---- architectures steer does not load: written by sae-lens so the test checks the error
    unsupported = {
        "abstopk": (AbsTopKSAE, sae_cfg(AbsTopKSAEConfig, k=K)),
        "transcoder": (Transcoder, sae_cfg(TranscoderConfig, d_out=12, apply_b_dec_to_input=False)),
        "skip_transcoder": (SkipTranscoder, sae_cfg(SkipTranscoderConfig, d_out=D_IN, apply_b_dec_to_input=False)),
        "jumprelu_transcoder": (JumpReLUTranscoder, sae_cfg(JumpReLUTranscoderConfig, d_out=12, apply_b_dec_to_input=False)),
        "matching_pursuit": (MatchingPursuitSAE, sae_cfg(MatchingPursuitSAEConfig)),
    }
    for name, (cls, cfg) in unsupported.items():
        p = fresh("unsupported_" + name)
        s = cls(cfg)
        perturb(s)
        s.save_model(str(p))
        note_cfg("unsupported_" + name, p)

    gemma_scope()
    sparsify_cases()
    json.dump(NOTES, open(HERE / "saelens" / "NOTES.json", "w"), indent=1, sort_keys=True)
    print(json.dumps(NOTES, indent=1, sort_keys=True))


def gemma_scope():
    """Gemma Scope 1 (params.npz) and 2 (params.safetensors + config.json) as published, read by sae-lens's
    gemma_2 / gemma_3 loaders with the download redirected to the local files."""
    def local_download(root):
        def dl(repo_id=None, filename=None, subfolder=None, force_download=False, **kw):
            f = root / (subfolder or "") / filename
            if not f.exists():
                raise L.EntryNotFoundError(str(f))
            return str(f)
        return dl

    def shapes(root):
        def sh(repo_id, filename):
            from safetensors import safe_open
            with safe_open(str(root / filename), "pt") as f:
                return {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
        return sh

    def run(root, loader, repo, folder, x_center_key, kind):
        L.hf_hub_download = local_download(root)
        L.get_safetensors_tensor_shapes = shapes(root)
        cfg, sd, _ = loader(repo, folder, device="cpu")
        from sae_lens.loading.pretrained_sae_loaders import handle_config_defaulting
        cfg = handle_config_defaulting(cfg)
        sae = SAE.load_from_disk(str(root / folder), converter=lambda path, device, cfg_overrides=None: (cfg, sd))
        d = root / folder
        x = pool(center=sae.b_dec.detach().double())
        record(d, sae, x, kind)
        NOTES[f"{root.name}/{folder}"] = {"architecture": cfg["architecture"], "apply_b_dec_to_input": cfg["apply_b_dec_to_input"],
                                          "hook_name": cfg.get("hook_name"), "loaded_as": type(sae).__name__}

    def gs_params(d_in):
        w_enc = rnd(d_in, D_SAE, scale=0.5)
        return {"W_enc": w_enc, "W_dec": rnd(D_SAE, d_in, scale=0.5), "b_enc": rnd(D_SAE, scale=0.3, shift=-0.2),
                "b_dec": rnd(d_in, scale=0.3), "threshold": torch.rand(D_SAE, generator=G, dtype=torch.float64) * 0.6 + 0.05}

    # Gemma Scope 1: np.savez of float32 arrays named W_enc, W_dec, b_enc, b_dec, threshold.
    root = HERE / "gemmascope1"
    if root.exists():
        shutil.rmtree(root)
    # The loader gets d_in from the repo name; gemma-2-2b has d_in 2304, too big for a fixture, so its
    # model table is given a tiny entry for this run (the conversion code itself is untouched).
    orig = L.get_gemma_2_config_from_hf

    def cfg_tiny(repo_id, folder_name, device, force_download=False, cfg_overrides=None):
        c = orig(repo_id, folder_name, device, force_download, cfg_overrides)
        c["d_in"] = D_IN
        c["d_sae"] = D_SAE
        return c
    for folder in ["layer_3/width_16k/average_l0_20", "embedding/width_4k/average_l0_6"]:
        d = root / folder
        d.mkdir(parents=True)
        prm = gs_params(D_IN)
        np.savez(d / "params.npz", **{k: v.float().numpy() for k, v in prm.items()})
        L.get_gemma_2_config_from_hf = cfg_tiny
        run(root, L.gemma_2_sae_huggingface_loader, "google/gemma-scope-2b-pt-res", folder, "b_dec", "jumprelu")
        L.get_gemma_2_config_from_hf = orig

    # Gemma Scope 2: params.safetensors with lower-case w_enc/w_dec, b_enc, b_dec, threshold; config.json.
    root = HERE / "gemmascope2"
    if root.exists():
        shutil.rmtree(root)
    for folder, bf16 in [("resid_post/layer_5_width_16k_l0_small", False), ("mlp_out/layer_2_width_16k_l0_big", True)]:
        d = root / folder
        d.mkdir(parents=True)
        prm = gs_params(D_IN)
        dt = torch.bfloat16 if bf16 else torch.float32
        save_file({"w_enc": prm["W_enc"].to(dt), "w_dec": prm["W_dec"].to(dt), "b_enc": prm["b_enc"].to(dt),
                   "b_dec": prm["b_dec"].to(dt), "threshold": prm["threshold"].to(dt)}, str(d / "params.safetensors"))
        hook = "model.layers.5.output" if "resid" in folder else "model.layers.2.post_feedforward_layernorm.output"
        json.dump({"architecture": "jump_relu", "model_name": "gemma-v3-270m-pt", "hf_hook_point_in": hook,
                   "width": D_SAE, "l0": 10}, open(d / "config.json", "w"))
        run(root, L.gemma_3_sae_huggingface_loader, "google/gemma-scope-2-270m-pt", folder, "b_dec", "jumprelu")
    # a Gemma Scope 2 affine-skip transcoder: steer must refuse it
    d = root / "transcoder/layer_1_width_16k_l0_small_affine"
    d.mkdir(parents=True)
    prm = gs_params(D_IN)
    save_file({"w_enc": prm["W_enc"].float(), "w_dec": prm["W_dec"].float(), "b_enc": prm["b_enc"].float(),
               "b_dec": prm["b_dec"].float(), "threshold": prm["threshold"].float(),
               "affine_skip_connection": rnd(D_IN, D_IN, scale=0.1).float()}, str(d / "params.safetensors"))
    json.dump({"architecture": "jump_relu", "model_name": "gemma-v3-270m-pt", "affine_connection": True,
               "hf_hook_point_in": "model.layers.1.pre_feedforward_layernorm.output",
               "hf_hook_point_out": "model.layers.1.post_feedforward_layernorm.output"}, open(d / "config.json", "w"))


def sparsify_cases():
    """EleutherAI sparsify's own SparseCoder writes the files (save_to_disk); references from its encode/decode
    (its eager embedding-bag decoder: the Triton one needs a GPU)."""
    os.environ["SPARSIFY_DISABLE_TRITON"] = "1"
    try:
        from sparsify import SparseCoder, SparseCoderConfig
        import sparsify
    except ImportError as e:
        print("sparsify not importable, sparsify fixtures left as they are:", e, file=sys.stderr)
        return
    root = HERE / "sparsify"
    if root.exists():
        shutil.rmtree(root)
    for name, kw, dtype in [("layers.3", {}, torch.float32), ("layers.4_bf16", {}, torch.bfloat16),
                            ("layers.5_nonorm", {"normalize_decoder": False}, torch.float32),
                            ("layers.6_groupmax", {"activation": "groupmax"}, torch.float32),
                            ("layers.7_skip", {"skip_connection": True}, torch.float32),
                            ("layers.8_transcode", {"transcode": True}, torch.float32)]:
        cfg = SparseCoderConfig(num_latents=D_SAE, k=K, **kw)
        s = SparseCoder(D_IN, cfg, dtype=dtype)
        with torch.no_grad():
            s.encoder.weight.data = rnd(D_SAE, D_IN, scale=0.5).to(dtype)
            s.encoder.bias.data = rnd(D_SAE, scale=0.3, shift=-0.2).to(dtype)
            s.W_dec.data = (rnd(D_SAE, D_IN, scale=0.5) * (0.5 + torch.rand(D_SAE, 1, generator=G, dtype=torch.float64))).to(dtype)
            s.b_dec.data = rnd(D_IN, scale=0.3).to(dtype)
            if s.W_skip is not None:
                s.W_skip.data = rnd(D_IN, D_IN, scale=0.1).to(dtype)
        d = root / name
        s.save_to_disk(d)
        NOTES["sparsify/" + name] = {"cfg": json.load(open(d / "cfg.json")), "dtype": str(dtype),
                                     "sparsify_version": sparsify.__version__}
        if kw.get("activation") or kw.get("skip_connection") or kw.get("transcode"):
            continue
        ref = SparseCoder.load_from_disk(d).float()  # upcast bf16 weights (exact)
        with torch.no_grad():
            xp = pool(center=ref.b_dec.double())
            pre = torch.relu(torch.nn.functional.linear(xp - ref.b_dec, ref.encoder.weight, ref.encoder.bias)).double()
            x = pick_rows(xp, margins(pre, "topk", k=K))
            enc = ref.encode(x)
            f = torch.zeros(N, D_SAE).scatter_(-1, enc.top_indices, enc.top_acts.float())
            xhat = ref.decode(enc.top_acts, enc.top_indices)
            out = ref(x).sae_out
        save_file({"x": x.contiguous(), "f": f, "xhat": xhat.float().contiguous(), "out": out.float().contiguous()},
                  str(d / "io.safetensors"))
    # sae-lens's own sparsify converter, for the record
    try:
        cfg, sd = L.sparsify_disk_loader(root / "layers.3")
        NOTES["sparsify/saelens_converter"] = {"apply_b_dec_to_input": cfg["apply_b_dec_to_input"],
                                               "W_dec_shape": list(sd["W_dec"].shape), "dtype": cfg["dtype"]}
        try:
            SAE.load_from_disk(str(root / "layers.3"), converter=L.sparsify_disk_loader)
            NOTES["sparsify/saelens_converter"]["loads"] = True
        except Exception as e:  # noqa: BLE001
            NOTES["sparsify/saelens_converter"]["loads"] = f"{type(e).__name__}: {str(e)[:200]}"
    except Exception as e:  # noqa: BLE001
        NOTES["sparsify/saelens_converter"] = f"{type(e).__name__}: {e}"


if __name__ == "__main__":
    main()
