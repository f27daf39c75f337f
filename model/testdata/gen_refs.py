"""Generates tiny random-weight reference checkpoints for the families without shared fixtures.

Run with a Python that has torch and transformers (any CPU/GPU build):
    python model/testdata/gen_refs.py model/testdata [FAMILY ...]
(all families, or the ones named; gemma and phi, added later, are seeded by their names, so they come
out the same either way).
Each <family>/ gets config.json, model.safetensors (bf16 to keep them small) and golden.safetensors
(input_ids [2,T], logits, resid_post.{i}, greedy_ids = row 0 + 8 greedy tokens,
greedy_short_ids = the first 10 tokens of row 0 + 12 greedy tokens), computed in float32.
"""
import json, os, sys, zlib
import torch
import transformers
from safetensors.torch import save_file

out = sys.argv[1]
torch.manual_seed(0)

common = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=64,
              tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)

families = {
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM,
                dict(sliding_window=5, rope_theta=10000.0), 12),
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM,
              dict(rope_theta=1000000.0, tie_word_embeddings=True, attention_bias=True), 12),
    "gemma3_text": (transformers.Gemma3TextConfig, transformers.Gemma3ForCausalLM,
                    dict(sliding_window=4, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                         rope_theta=1000000.0, rope_local_base_freq=10000.0, query_pre_attn_scalar=24,
                         rope_scaling={"rope_type": "linear", "factor": 2.0},
                         final_logit_softcapping=None, attn_logit_softcapping=None, tie_word_embeddings=True,
                         hidden_activation="gelu_pytorch_tanh"), 12),
    # Gemma 1: two pre-norms, (1 + w) RMSNorm, scaled embeddings; "gelu" is the released configs' legacy
    # name for the tanh approximation.
    "gemma": (transformers.GemmaConfig, transformers.GemmaForCausalLM,
              dict(hidden_act="gelu", tie_word_embeddings=True, rope_theta=10000.0), 12),
    # Phi-1/1.5/2: parallel attention and MLP on one LayerNorm, biases everywhere (LM head too), partial
    # rotary 0.4 (Phi-2's), q/k LayerNorm, grouped-query heads.
    "phi": (transformers.PhiConfig, transformers.PhiForCausalLM,
            dict(partial_rotary_factor=0.4, qk_layernorm=True, hidden_act="gelu_new", layer_norm_eps=1e-5,
                 rope_theta=10000.0), 12),
    "phi3": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
             dict(partial_rotary_factor=0.5, original_max_position_embeddings=16, max_position_embeddings=64,
                  rope_scaling={"type": "longrope", "short_factor": [1.0, 1.2, 1.5, 2.0],
                                "long_factor": [1.0, 2.0, 4.0, 8.0]},
                  sliding_window=None, rope_theta=10000.0), 20),
}

only = sys.argv[2:]
for name, (cfg_cls, model_cls, extra, T) in families.items():
    if only and name not in only:
        continue
    if name in ("gemma", "phi"):
        torch.manual_seed(zlib.crc32(name.encode()))
    kw = dict(common)
    kw.update(extra)
    cfg = cfg_cls(**kw)
    cfg._attn_implementation = "eager"
    model = model_cls(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(torch.randn_like(p) * 0.3)  # perturb norms so a wrong norm formula shows
            else:
                p.normal_(0, 0.08)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    model = model_cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    ids = torch.randint(3, cfg.vocab_size, (2, T))
    acts = {}
    hooks = [layer.register_forward_hook(
        lambda m, i, o, k=k: acts.__setitem__(f"resid_post.{k}", (o[0] if isinstance(o, tuple) else o).detach().clone()))
        for k, layer in enumerate(model.model.layers)]
    with torch.no_grad():
        logits = model(ids).logits
    for h in hooks:
        h.remove()
    with torch.no_grad():
        greedy = model.generate(ids[:1], max_new_tokens=8, min_new_tokens=8, do_sample=False,
                                eos_token_id=None, pad_token_id=0)
        # A short prompt whose generation crosses original_max_position_embeddings (Phi-3 longrope switch).
        short = model.generate(ids[:1, :10], max_new_tokens=12, min_new_tokens=12, do_sample=False,
                               eos_token_id=None, pad_token_id=0)
    gold = {"input_ids": ids.to(torch.int64), "logits": logits.float().contiguous(), "greedy_ids": greedy[0].to(torch.int64),
            "greedy_short_ids": short[0].to(torch.int64)}
    gold.update({k: v.float().contiguous() for k, v in acts.items()})
    save_file(gold, os.path.join(d, "golden.safetensors"))
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors", "golden.safetensors"):
            os.remove(os.path.join(d, f))
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "class": model_cls.__name__}, f)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    print(name, "ok", T)
