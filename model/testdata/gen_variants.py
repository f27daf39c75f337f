"""Config variants: small random-weight models, one per config option worth checking, with goldens from transformers.

Run with a Python that has torch and transformers (scripts/venv.sh makes one):
    python model/testdata/gen_variants.py model/testdata/variants [NAME ...]
Each NAME/ gets config.json (some fields deleted afterwards, to check the config classes' defaults),
model.safetensors (bfloat16) and golden.safetensors (input_ids [2,T], logits and resid_post.{i} in
float32, greedy_ids = row 0 + 10 greedy tokens); seeded by the name, so any subset comes out the same.
model/forward_test.go's TestConfigVariants checks every directory.
"""
import json, os, sys, zlib, traceback
import torch, transformers
from safetensors.torch import save_file

out = sys.argv[1]
base = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)
T = 12
V = {}
def v(name, cls, drop=(), save=None, **kw):
    V[name] = (cls, kw, drop, save or {})
L = transformers
v("llama_bias", L.LlamaConfig, attention_bias=True, mlp_bias=True)
v("llama_headdim", L.LlamaConfig, head_dim=20, rms_norm_eps=1e-5)
v("llama_gelu_tied", L.LlamaConfig, hidden_act="gelu_pytorch_tanh", tie_word_embeddings=True)
v("llama_mha_linear", L.LlamaConfig, num_key_value_heads=4, rope_scaling={"rope_type": "linear", "factor": 3.0})
v("llama_yarn", L.LlamaConfig, rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16})
v("llama_dynamic", L.LlamaConfig, max_position_embeddings=8, rope_scaling={"rope_type": "dynamic", "factor": 2.0})
v("llama_llama3", L.LlamaConfig, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}, rope_theta=500000.0)
v("mistral_headdim_nowin", L.MistralConfig, head_dim=24, sliding_window=None)
v("mistral_win3", L.MistralConfig, sliding_window=3)
v("qwen2_tied", L.Qwen2Config, tie_word_embeddings=True)
v("qwen2_slide", L.Qwen2Config, use_sliding_window=True, sliding_window=4, max_window_layers=1)
v("qwen3_headdim", L.Qwen3Config, head_dim=20, attention_bias=False)
v("qwen3_slide", L.Qwen3Config, use_sliding_window=True, sliding_window=4, max_window_layers=2, head_dim=12)
v("gemma_headdim", L.GemmaConfig, head_dim=20, hidden_act="gelu_pytorch_tanh", num_key_value_heads=1)
v("gemma2_caps", L.Gemma2Config, head_dim=16, sliding_window=4, query_pre_attn_scalar=20, attn_logit_softcapping=5.0, final_logit_softcapping=3.0)
v("gemma2_nocaps", L.Gemma2Config, head_dim=12, sliding_window=6, query_pre_attn_scalar=12, attn_logit_softcapping=None, final_logit_softcapping=None, num_hidden_layers=4)
v("gemma3_caps", L.Gemma3TextConfig, head_dim=16, sliding_window=3, query_pre_attn_scalar=16, attn_logit_softcapping=4.0, final_logit_softcapping=6.0,
  layer_types=["sliding_attention", "full_attention", "sliding_attention"], rope_theta=1000000.0, rope_local_base_freq=10000.0)
v("gemma3_yarn", L.Gemma3TextConfig, head_dim=16, sliding_window=5, query_pre_attn_scalar=16,
  rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}, rope_theta=1000000.0, rope_local_base_freq=10000.0)
v("gpt2_invlayer", L.GPT2Config, n_embd=32, n_layer=3, n_head=4, n_positions=64, scale_attn_by_inverse_layer_idx=True, activation_function="gelu_new")
v("gpt2_relu_noscale", L.GPT2Config, n_embd=32, n_layer=3, n_head=4, n_positions=64, scale_attn_weights=False, activation_function="relu", n_inner=40, tie_word_embeddings=True)
v("gpt2_gelu_untied", L.GPT2Config, n_embd=32, n_layer=2, n_head=2, n_positions=64, activation_function="gelu", tie_word_embeddings=False, layer_norm_epsilon=1e-3)
v("phi_noqk_full", L.PhiConfig, partial_rotary_factor=1.0, qk_layernorm=False, num_key_value_heads=4)
v("phi_half_tied", L.PhiConfig, partial_rotary_factor=0.5, qk_layernorm=False, tie_word_embeddings=True, hidden_act="gelu")
v("phi3_window", L.Phi3Config, sliding_window=4, partial_rotary_factor=1.0)
v("phi3_tied_partial", L.Phi3Config, partial_rotary_factor=0.5, tie_word_embeddings=True, num_key_value_heads=4)

v("gemma3_attncap", L.Gemma3TextConfig, head_dim=16, sliding_window=32, query_pre_attn_scalar=16, attn_logit_softcapping=4.0, final_logit_softcapping=None,
  layer_types=["sliding_attention", "full_attention", "sliding_attention"], rope_theta=1000000.0, rope_local_base_freq=10000.0)
v("gemma3_win3", L.Gemma3TextConfig, head_dim=16, sliding_window=3, query_pre_attn_scalar=16,
  layer_types=["sliding_attention", "full_attention", "sliding_attention"], rope_theta=1000000.0, rope_local_base_freq=10000.0)
v("gpt2_noscale", L.GPT2Config, n_embd=32, n_layer=3, n_head=4, n_positions=64, scale_attn_weights=False)
v("gpt2_relu", L.GPT2Config, n_embd=32, n_layer=3, n_head=4, n_positions=64, activation_function="relu")
v("gpt2_ninner_tied", L.GPT2Config, n_embd=32, n_layer=3, n_head=4, n_positions=64, n_inner=40, tie_word_embeddings=True)
v("phi3_p075", L.Phi3Config, partial_rotary_factor=0.75, hidden_size=48)  # rotary dim 9: odd
v("phi3_mha_tied", L.Phi3Config, tie_word_embeddings=True, num_key_value_heads=4)

v("gemma2_defaults", L.Gemma2Config, head_dim=256, query_pre_attn_scalar=256, sliding_window=4096, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
  drop=["head_dim", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping", "sliding_window"])
v("gemma3_defaults", L.Gemma3TextConfig, head_dim=256, query_pre_attn_scalar=256, num_hidden_layers=2, sliding_window=4, num_attention_heads=2, num_key_value_heads=1,
  drop=["head_dim", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping"])
v("qwen3_defaults", L.Qwen3Config, head_dim=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, drop=["head_dim", "max_position_embeddings"])
v("gpt2_defaults", L.GPT2Config, n_embd=32, n_layer=2, n_head=4, drop=["n_positions", "scale_attn_weights", "n_inner"])
v("mistral_nullwin", L.MistralConfig, sliding_window=None)
v("gemma2_finalcap", L.Gemma2Config, head_dim=16, sliding_window=4, query_pre_attn_scalar=16, attn_logit_softcapping=None, final_logit_softcapping=2.0)

# Checkpoint layouts: float16 weights in several shards (model.safetensors.index.json), float32 and float64 weights.
v("llama_f16_sharded", L.LlamaConfig, save={"dtype": torch.float16, "shard": "40KB"})
v("qwen2_f32", L.Qwen2Config, num_hidden_layers=2, save={"dtype": torch.float32})
v("gemma_f64", L.GemmaConfig, num_hidden_layers=2, head_dim=8, save={"dtype": torch.float64})

only = sys.argv[2:]
for name, (cls, kw, drop, save) in V.items():
    if only and name not in only:
        continue
    try:
        torch.manual_seed(zlib.crc32(name.encode()))
        k = dict(base)
        if cls is L.GPT2Config:
            k = dict(vocab_size=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
        k.update(kw)
        cfg = cls(**k)
        cfg._attn_implementation = "eager"
        model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "norm" in n or "ln" in n:
                    p.add_(torch.randn_like(p) * 0.3)
                else:
                    p.normal_(0, 0.1)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        model.to(save.get("dtype", torch.bfloat16)).save_pretrained(d, safe_serialization=True, max_shard_size=save.get("shard", "5GB"))
        if drop:
            cj = json.load(open(os.path.join(d, "config.json")))
            for key in drop:
                cj.pop(key, None)
            json.dump(cj, open(os.path.join(d, "config.json"), "w"), indent=1)
        model = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        ids = torch.randint(3, 64, (2, T))
        layers = model.transformer.h if hasattr(model, "transformer") else model.model.layers
        acts = {}
        hooks = [layer.register_forward_hook(
            lambda m, i, o, k=k: acts.__setitem__(f"resid_post.{k}", (o[0] if isinstance(o, tuple) else o).detach().clone()))
            for k, layer in enumerate(layers)]
        with torch.no_grad():
            o = model(ids)
        for h in hooks:
            h.remove()
        with torch.no_grad():
            greedy = model.generate(ids[:1], max_new_tokens=10, min_new_tokens=10, do_sample=False, eos_token_id=None, pad_token_id=0)
        gold = {"input_ids": ids, "logits": o.logits.float().contiguous(), "greedy_ids": greedy[0]}
        gold.update({k: v.float().contiguous() for k, v in acts.items()})
        save_file(gold, os.path.join(d, "golden.safetensors"))
        for f in os.listdir(d):
            if f != "config.json" and not f.endswith(".safetensors") and not f.endswith(".index.json"):
                os.remove(os.path.join(d, f))
            else:
                os.chmod(os.path.join(d, f), 0o644)
        print(name, "ok")
    except Exception as e:
        print(name, "FAILED", repr(e)[:300])
