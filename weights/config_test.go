package weights

import (
	"reflect"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
)

func TestFixtureConfigs(t *testing.T) {
	cases := []struct {
		fam       string
		modelType string
		tie       bool
		layers    int
		heads, kv int
		headDim   int
		rope      RopeConfig
		sliding   []string
	}{
		{"gpt2", "gpt2", true, 3, 4, 4, 16, RopeConfig{}, nil},
		{"llama", "llama", false, 3, 4, 2, 16, RopeConfig{Type: "default", Theta: 10000}, nil},
		{"qwen2", "qwen2", true, 3, 4, 2, 16, RopeConfig{Type: "default", Theta: 1e6}, nil},
		{"gemma2", "gemma2", true, 3, 4, 2, 16, RopeConfig{Type: "default", Theta: 10000},
			[]string{SlidingAttention, FullAttention, SlidingAttention}},
		{"llama32_rope_llama3", "llama", true, 3, 4, 2, 16,
			RopeConfig{Type: "llama3", Theta: 5e5, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 32}, nil},
	}
	for _, c := range cases {
		cfg, err := LoadConfig(sharedtest.Path(t, "fixtures/transformers/"+c.fam))
		if err != nil {
			t.Fatalf("%s: %v", c.fam, err)
		}
		if cfg.ModelType != c.modelType || cfg.TieWordEmbeddings != c.tie || cfg.NumLayers != c.layers ||
			cfg.NumHeads != c.heads || cfg.NumKVHeads != c.kv || cfg.HeadDim != c.headDim {
			t.Errorf("%s: got %+v", c.fam, cfg)
		}
		if c.rope.Type != "" {
			got := cfg.Rope
			got.BetaFast, got.BetaSlow = 0, 0
			if got.Factor == 1 && c.rope.Factor == 0 {
				got.Factor = 0
			}
			if !reflect.DeepEqual(got, c.rope) {
				t.Errorf("%s: rope %+v, want %+v", c.fam, got, c.rope)
			}
		}
		if c.sliding != nil && !reflect.DeepEqual(cfg.LayerTypes, c.sliding) {
			t.Errorf("%s: layer types %v, want %v", c.fam, cfg.LayerTypes, c.sliding)
		}
	}
	g, err := LoadConfig(sharedtest.Path(t, "fixtures/transformers/gemma2"))
	if err != nil {
		t.Fatal(err)
	}
	if g.SlidingWindow != 4 || g.AttnLogitSoftcap == 0 || g.FinalLogitSoftcap == 0 || g.QueryPreAttnScalar == 0 {
		t.Errorf("gemma2 specifics missing: %+v", g)
	}
}

const llamaBase = `"model_type": "llama", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2`

// Both rope spellings (transformers <5 and 5) must give the same configuration.
func TestRopeForms(t *testing.T) {
	legacy, err := ParseConfig([]byte(`{`+llamaBase+`, "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3",
	  "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}`), "legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	v5, err := ParseConfig([]byte(`{`+llamaBase+`, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0,
	  "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}`), "v5.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(legacy.Rope, v5.Rope) || legacy.Rope.Type != "llama3" || legacy.Rope.Theta != 5e5 || legacy.Rope.Factor != 32 {
		t.Errorf("legacy %+v vs v5 %+v", legacy.Rope, v5.Rope)
	}
	// "type" is the pre-4.45 spelling of rope_type.
	old, err := ParseConfig([]byte(`{`+llamaBase+`, "rope_scaling": {"type": "linear", "factor": 2.0}}`), "old.json")
	if err != nil || old.Rope.Type != "linear" || old.Rope.Factor != 2 || old.Rope.Theta != 10000 {
		t.Errorf("old form: %+v %v", old.Rope, err)
	}
}

func TestGemma3RopeParametersPerLayerType(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"model_type": "gemma3_text", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
	 "num_hidden_layers": 7, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 32, "sliding_window": 512,
	 "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
	                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}}`), "g3.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rope.Type != "linear" || cfg.Rope.Factor != 8 || cfg.Rope.Theta != 1e6 {
		t.Errorf("global rope %+v", cfg.Rope)
	}
	if cfg.RopeLocal == nil || cfg.RopeLocal.Theta != 1e4 || cfg.RopeLocal.Type != "default" {
		t.Errorf("local rope %+v", cfg.RopeLocal)
	}
	want := []string{SlidingAttention, SlidingAttention, SlidingAttention, SlidingAttention, SlidingAttention, FullAttention, SlidingAttention}
	if !reflect.DeepEqual(cfg.LayerTypes, want) {
		t.Errorf("layer types %v", cfg.LayerTypes)
	}
	// query_pre_attn_scalar left out: Gemma3TextConfig's 256, not head_dim (testdata/variants/gemma3_defaults).
	if !cfg.TieWordEmbeddings || cfg.QueryPreAttnScalar != 256 || cfg.HiddenAct != "gelu_pytorch_tanh" {
		t.Errorf("gemma3 defaults: %+v", cfg)
	}
	// The legacy spelling: rope_theta + rope_local_base_freq + rope_scaling.
	legacy, err := ParseConfig([]byte(`{"model_type": "gemma3_text", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
	 "num_hidden_layers": 7, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 32, "sliding_window": 512,
	 "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 8.0}}`), "g3old.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(legacy.Rope, cfg.Rope) || !reflect.DeepEqual(*legacy.RopeLocal, *cfg.RopeLocal) {
		t.Errorf("legacy gemma3 rope %+v %+v", legacy.Rope, legacy.RopeLocal)
	}
}

func TestFamilyDefaultsAndTying(t *testing.T) {
	for _, c := range []struct {
		json string
		tie  bool
		bias bool
	}{
		{`{` + llamaBase + `}`, false, false},
		{`{` + llamaBase + `, "tie_word_embeddings": true}`, true, false},
		{`{` + strings.Replace(llamaBase, "llama", "qwen2", 1) + `}`, false, true},
		{`{` + strings.Replace(llamaBase, "llama", "qwen2", 1) + `, "tie_word_embeddings": true}`, true, true},
		{`{` + strings.Replace(llamaBase, "llama", "gemma2", 1) + `, "tie_word_embeddings": false}`, false, false},
		{`{` + strings.Replace(llamaBase, "llama", "mistral", 1) + `}`, false, false},
	} {
		cfg, err := ParseConfig([]byte(c.json), "c.json")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.TieWordEmbeddings != c.tie || cfg.AttentionBias != c.bias {
			t.Errorf("%s: tie=%v bias=%v, want %v %v", cfg.ModelType, cfg.TieWordEmbeddings, cfg.AttentionBias, c.tie, c.bias)
		}
	}
	phi, err := ParseConfig([]byte(`{"model_type": "phi3", "vocab_size": 100, "hidden_size": 96, "intermediate_size": 128,
	  "num_hidden_layers": 2, "num_attention_heads": 4, "partial_rotary_factor": 0.75, "sliding_window": 2047,
	  "max_position_embeddings": 131072, "original_max_position_embeddings": 4096,
	  "rope_scaling": {"type": "longrope", "short_factor": [1, 1], "long_factor": [2, 3]}}`), "phi.json")
	if err != nil {
		t.Fatal(err)
	}
	if phi.Rope.Type != "longrope" || phi.Rope.OriginalMaxPositions != 4096 || phi.PartialRotaryFactor != 0.75 ||
		phi.SlidingWindow != 2047 || phi.NumKVHeads != 4 || phi.HeadDim != 24 || len(phi.Rope.LongFactor) != 2 {
		t.Errorf("phi3: %+v", phi)
	}
	// Phi-1/1.5/2: LayerNorm eps under layer_norm_eps, biases everywhere, partial rotary 0.5 unless given
	// (transformers 5 writes it inside rope_parameters, where it wins), q/k LayerNorm
	for _, c := range []struct {
		extra   string
		partial float64
	}{{``, 0.5}, {`, "partial_rotary_factor": 0.4`, 0.4},
		{`, "partial_rotary_factor": 0.5, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.4}`, 0.4}} {
		p1, err := ParseConfig([]byte(`{"model_type": "phi", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 256,
		  "num_hidden_layers": 2, "num_attention_heads": 4, "layer_norm_eps": 1e-4, "qk_layernorm": true`+c.extra+`}`), "phi2.json")
		if err != nil {
			t.Fatal(err)
		}
		if p1.NormEps != 1e-4 || !p1.QKLayerNorm || !p1.AttentionBias || !p1.AttentionOutBias || !p1.MLPBias || p1.HiddenAct != "gelu_new" ||
			p1.PartialRotaryFactor != c.partial || p1.TieWordEmbeddings || p1.HeadDim != 16 {
			t.Errorf("phi %s: %+v", c.extra, p1)
		}
	}
	// Gemma 1: tied, "gelu" read as the tanh approximation, scaled by head_dim^-0.5
	g1, err := ParseConfig([]byte(`{`+strings.Replace(llamaBase, "llama", "gemma", 1)+`, "hidden_act": "gelu", "hidden_activation": null}`), "g1.json")
	if err != nil {
		t.Fatal(err)
	}
	if !g1.TieWordEmbeddings || g1.HiddenAct != "gelu_pytorch_tanh" || g1.QueryPreAttnScalar != float64(g1.HeadDim) || g1.SlidingWindow != 0 {
		t.Errorf("gemma: %+v", g1)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"model_type": "bloom"}`, `unsupported architecture model_type "bloom" (supported: gemma, gemma2, gemma3_text, gpt2, llama, mistral, phi, phi3`},
		{`{` + strings.Replace(llamaBase, "llama", "gemma", 1) + `, "use_bidirectional_attention": true}`, "use_bidirectional_attention"},
		{`{"vocab_size": 3}`, `missing field "model_type"`},
		{`{"model_type": "llama", "vocab_size": 100}`, `missing field "hidden_size"`},
		{`{` + llamaBase + `, "hidden_size": "big"}`, `field "hidden_size" must be an integer`},
		{`{` + strings.Replace(llamaBase, `"num_key_value_heads": 2`, `"num_key_value_heads": 3`, 1) + `}`,
			"num_attention_heads (4) is not a multiple of num_key_value_heads (3)"},
		{`{` + llamaBase + `, "architectures": ["Qwen2ForCausalLM"]}`, `architectures lists "Qwen2ForCausalLM"`},
		{`{` + llamaBase + `, "layer_types": ["full_attention"]}`, "layer_types has 1 entries but num_hidden_layers is 2"},
		{`{` + llamaBase + `, "rope_scaling": {"rope_type": "llama3", "factor": 8}}`, `llama3 rope scaling needs a positive`},
		{`{` + llamaBase + `, "rope_scaling": {"rope_type": "ntk-magic"}}`, `unsupported rope_type "ntk-magic"`},
		{`{` + strings.Replace(llamaBase, "llama", "mistral", 1) + `, "sliding_window": null, "layer_types": ["sliding_attention", "full_attention"]}`,
			`"sliding_window" is missing`},
		{`{` + llamaBase + `, "num_hidden_layers": 0}`, `"num_hidden_layers" must be positive`},
		{`{"model_type": "gpt2", "vocab_size": 10, "n_embd": 10, "n_layer": 1, "n_head": 3, "n_positions": 8}`, "not a multiple of n_head"},
		{`[1, 2]`, "invalid JSON"},
	} {
		_, err := ParseConfig([]byte(c.json), "model/config.json")
		if err == nil {
			t.Errorf("accepted %s", c.json)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "model/config.json") {
			t.Errorf("error %q should start with the file name and contain %q", err, c.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{` + llamaBase + `, "rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 32}}`))
	f.Add([]byte(`{"model_type": "gpt2", "vocab_size": 10, "n_embd": 12, "n_layer": 1, "n_head": 3, "n_positions": 8}`))
	f.Add([]byte(`{"model_type": "gemma3", "text_config": {"vocab_size": 1, "hidden_size": 4, "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "sliding_window": 2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			return
		}
		if cfg.NumLayers <= 0 || len(cfg.LayerTypes) != cfg.NumLayers || cfg.NumHeads%cfg.NumKVHeads != 0 {
			t.Fatalf("accepted an inconsistent config: %+v", cfg)
		}
	})
}
