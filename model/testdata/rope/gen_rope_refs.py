"""Reference rotary frequencies from transformers for steer's rope test (model/rope_test.go).

Run with the scripts/ venv (transformers pinned in scripts/requirements.txt):
    python model/testdata/rope/gen_rope_refs.py model/testdata/rope/refs.json
Each case is a config.json as a checkpoint would ship it; transformers loads it with AutoConfig and its
ROPE_INIT_FUNCTIONS give the inverse frequencies and the attention factor (cos/sin scaling) at seq_len.
"""
import json, os, sys, tempfile
import transformers
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

base = dict(vocab_size=128, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=64, max_position_embeddings=4096,
            rope_theta=500000.0)


def case(name, model_type, seq_lens, **kw):
    cfg = dict(base, model_type=model_type)
    cfg.update(kw)
    return name, cfg, seq_lens


cases = [
    case("default", "llama", [16], rope_theta=10000.0),
    case("linear", "llama", [16], rope_scaling={"rope_type": "linear", "factor": 4.0}),
    case("dynamic", "qwen2", [100, 4096, 9000], rope_scaling={"type": "dynamic", "factor": 2.0}),
    case("dynamic_original_ignored", "llama", [100, 9000],
         rope_scaling={"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": 1024}),
    case("llama3", "llama", [16], rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                "high_freq_factor": 4.0, "original_max_position_embeddings": 512}),
    case("llama3_no_original", "llama", [16], rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0}),
    case("yarn_qwen", "qwen2", [16], rope_theta=1000000.0, max_position_embeddings=131072,
         rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}),
    case("yarn_betas", "llama", [16], rope_scaling={"rope_type": "yarn", "factor": 16.0, "beta_fast": 16,
                                                    "beta_slow": 2, "original_max_position_embeddings": 256}),
    case("yarn_mscale", "qwen2", [16], max_position_embeddings=163840,
         rope_scaling={"rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 0.707,
                       "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1}),
    case("yarn_mscale_equal", "qwen2", [16], max_position_embeddings=163840,
         rope_scaling={"rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 1.0,
                       "original_max_position_embeddings": 4096}),
    case("yarn_no_truncate", "llama", [16], rope_scaling={"rope_type": "yarn", "factor": 4.0, "truncate": False,
                                                          "original_max_position_embeddings": 1024}),
    case("yarn_attention_factor", "llama", [16], rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                                               "attention_factor": 0.8,
                                                               "original_max_position_embeddings": 1024}),
    case("yarn_toplevel_original", "qwen2", [16], original_max_position_embeddings=512,
         rope_scaling={"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 1024}),
    case("longrope_phi3", "phi3", [100, 5000], partial_rotary_factor=0.5, head_dim=64, max_position_embeddings=131072,
         original_max_position_embeddings=4096,
         rope_scaling={"type": "longrope", "short_factor": [1.0 + 0.05 * i for i in range(16)],
                       "long_factor": [1.0 + 0.5 * i for i in range(16)]}),
    case("longrope_factor", "phi3", [100, 5000], partial_rotary_factor=0.5, head_dim=64, max_position_embeddings=131072,
         original_max_position_embeddings=4096,
         rope_scaling={"type": "longrope", "factor": 8.0, "short_factor": [1.0] * 16,
                       "long_factor": [1.0 + 0.25 * i for i in range(16)]}),
]

out = []
for name, cfg, seq_lens in cases:
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        config = transformers.AutoConfig.from_pretrained(d)
    rope_type = config.rope_parameters.get("rope_type", "default")
    for seq in seq_lens:
        if rope_type == "default":
            inv, att = LlamaRotaryEmbedding.compute_default_rope_parameters(config, device="cpu", seq_len=seq)
        else:
            inv, att = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", seq_len=seq)
        out.append({"name": f"{name}/seq{seq}", "config": cfg, "seq_len": seq,
                    "inv_freq": [float(v) for v in inv.tolist()], "attention_factor": float(att)})

with open(sys.argv[1], "w") as f:
    json.dump({"transformers": transformers.__version__, "cases": out}, f, indent=1)
print(len(out), "cases")
