package weights

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Config is a Hugging Face config.json normalised across architecture families.
// Field names follow the Llama convention; GPT-2's n_embd/n_layer/... are mapped onto them.
type Config struct {
	Source        string   // file the config was read from, for error messages
	ModelType     string   // normalised model_type: one of SupportedModelTypes
	Architectures []string // "architectures" as written

	VocabSize        int
	HiddenSize       int // d_model
	IntermediateSize int // MLP hidden width
	NumLayers        int
	NumHeads         int
	NumKVHeads       int
	HeadDim          int
	MaxPositions     int

	NormEps   float64 // rms_norm_eps, or layer_norm_epsilon for GPT-2
	HiddenAct string  // hidden_act / hidden_activation / activation_function

	TieWordEmbeddings bool
	AttentionBias     bool // bias on q/k/v (and o, except Qwen2 which has q/k/v bias only)
	AttentionOutBias  bool // bias on the attention output projection
	MLPBias           bool

	// Rope is the rotary embedding of full-attention layers (and of all layers, unless RopeLocal is set).
	Rope RopeConfig
	// RopeLocal is Gemma 3's rotary embedding of sliding-window layers (rope_local_base_freq); nil otherwise.
	RopeLocal *RopeConfig
	// PartialRotaryFactor is the fraction of head_dim that is rotated (Phi-3 and others); 1 when absent.
	PartialRotaryFactor float64

	// SlidingWindow is the window of sliding-attention layers, 0 for none.
	SlidingWindow int
	// LayerTypes holds "full_attention" or "sliding_attention" for every layer.
	LayerTypes []string

	// QKLayerNorm: Phi-1/1.5/2's optional LayerNorm of each query and key head (qk_layernorm).
	QKLayerNorm bool

	// GPT-2's attention scaling: AttnUnscaled (scale_attn_weights: false) drops the 1/sqrt(head_dim)
	// factor; AttnScaleInverseLayer (scale_attn_by_inverse_layer_idx) divides layer i's scores by i+1.
	AttnUnscaled, AttnScaleInverseLayer bool

	// Gemma specifics (0: none). Softcaps: Gemma 2 applies both (50 and 30 when left out), Gemma 3
	// only the final one.
	AttnLogitSoftcap   float64
	FinalLogitSoftcap  float64
	QueryPreAttnScalar float64

	BOSTokenIDs []int
	EOSTokenIDs []int
	PadTokenID  int // -1 when absent

	DType string // "torch_dtype" / "dtype" as declared (e.g. "bfloat16"), may be empty
}

// RopeConfig describes a rotary position embedding (rope_theta + rope_scaling, or rope_parameters).
type RopeConfig struct {
	Type  string  // "default", "linear", "dynamic", "llama3", "yarn", "longrope"
	Theta float64 // base frequency

	Factor               float64 // scaling factor (linear, dynamic, llama3, yarn, longrope); 0 when a yarn or longrope config leaves it out (then max_position_embeddings / OriginalMaxPositions)
	LowFreqFactor        float64 // llama3
	HighFreqFactor       float64 // llama3
	OriginalMaxPositions int     // llama3, yarn, longrope: original_max_position_embeddings
	AttentionFactor      float64 // yarn, longrope (0 = computed default)
	BetaFast, BetaSlow   float64 // yarn
	MScale, MScaleAllDim float64 // yarn (DeepSeek style): attention factor mscale(f, MScale)/mscale(f, MScaleAllDim) when both are set
	NoTruncate           bool    // yarn: "truncate": false keeps the correction range unrounded
	// PartialRotary is the object's own partial_rotary_factor (transformers 5 keeps it in
	// rope_parameters, and it wins over the top-level field); 0 when absent.
	PartialRotary float64
	ShortFactor   []float64
	LongFactor    []float64 // longrope
}

// SupportedModelTypes lists the model_type values steer can load.
var SupportedModelTypes = []string{"gemma", "gemma2", "gemma3_text", "gpt2", "llama", "mistral", "phi", "phi3", "qwen2", "qwen3"}

const (
	FullAttention    = "full_attention"
	SlidingAttention = "sliding_attention"
)

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model config: %w", err)
	}
	return ParseConfig(data, path)
}

// rawConfig is a JSON object with typed accessors that record the first error.
type rawConfig struct {
	m      map[string]json.RawMessage
	source string
	err    error
}

func (r *rawConfig) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s", r.source, fmt.Sprintf(format, args...))
	}
}

func (r *rawConfig) has(key string) bool {
	v, ok := r.m[key]
	return ok && string(v) != "null"
}

// first returns the first key among keys that is present (not null), or "".
func (r *rawConfig) first(keys ...string) string {
	for _, k := range keys {
		if r.has(k) {
			return k
		}
	}
	return ""
}

func (r *rawConfig) intField(required bool, def int, keys ...string) int {
	k := r.first(keys...)
	if k == "" {
		if required {
			r.fail("missing field %q", keys[0])
		}
		return def
	}
	var f float64
	if err := json.Unmarshal(r.m[k], &f); err != nil || f != math.Trunc(f) {
		r.fail("field %q must be an integer, got %s", k, truncate(string(r.m[k])))
		return def
	}
	return int(f)
}

func (r *rawConfig) floatField(def float64, keys ...string) float64 {
	k := r.first(keys...)
	if k == "" {
		return def
	}
	var f float64
	if err := json.Unmarshal(r.m[k], &f); err != nil {
		r.fail("field %q must be a number, got %s", k, truncate(string(r.m[k])))
		return def
	}
	return f
}

// optFloat reads a number that may be null (0: off), with def when the key is left out.
func (r *rawConfig) optFloat(def float64, key string) float64 {
	if _, present := r.m[key]; !present {
		return def
	}
	return r.floatField(0, key)
}

func (r *rawConfig) boolField(def bool, keys ...string) bool {
	k := r.first(keys...)
	if k == "" {
		return def
	}
	var b bool
	if err := json.Unmarshal(r.m[k], &b); err != nil {
		r.fail("field %q must be true or false, got %s", k, truncate(string(r.m[k])))
		return def
	}
	return b
}

func (r *rawConfig) stringField(def string, keys ...string) string {
	k := r.first(keys...)
	if k == "" {
		return def
	}
	var s string
	if err := json.Unmarshal(r.m[k], &s); err != nil {
		r.fail("field %q must be a string, got %s", k, truncate(string(r.m[k])))
		return def
	}
	return s
}

// intList reads an int or a list of ints (bos/eos_token_id).
func (r *rawConfig) intList(key string) []int {
	if !r.has(key) {
		return nil
	}
	var one int
	if err := json.Unmarshal(r.m[key], &one); err == nil {
		return []int{one}
	}
	var many []int
	if err := json.Unmarshal(r.m[key], &many); err != nil {
		r.fail("field %q must be an integer or a list of integers, got %s", key, truncate(string(r.m[key])))
	}
	return many
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// ParseConfig parses the bytes of a config.json; source names the file in errors.
func ParseConfig(data []byte, source string) (*Config, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", source, err)
	}
	r := &rawConfig{m: m, source: source}
	modelType := r.stringField("", "model_type")
	if r.err != nil {
		return nil, r.err
	}
	if modelType == "" {
		return nil, fmt.Errorf("%s: missing field \"model_type\" (supported: %s)", source, strings.Join(SupportedModelTypes, ", "))
	}
	// Multimodal Gemma 3 keeps the language model's config under text_config.
	if modelType == "gemma3" && r.has("text_config") {
		var tm map[string]json.RawMessage
		if err := json.Unmarshal(m["text_config"], &tm); err != nil {
			return nil, fmt.Errorf("%s: field \"text_config\" must be an object", source)
		}
		if _, ok := tm["model_type"]; !ok {
			tm["model_type"] = json.RawMessage(`"gemma3_text"`)
		}
		for _, k := range []string{"tie_word_embeddings", "torch_dtype", "dtype"} {
			if _, ok := tm[k]; !ok && r.has(k) {
				tm[k] = m[k]
			}
		}
		r = &rawConfig{m: tm, source: source + " (text_config)"}
		modelType = r.stringField("", "model_type")
	}
	c := &Config{Source: source, ModelType: modelType, PadTokenID: -1}
	if r.has("architectures") {
		if err := json.Unmarshal(m["architectures"], &c.Architectures); err != nil {
			return nil, fmt.Errorf("%s: field \"architectures\" must be a list of strings", source)
		}
	}
	switch modelType {
	case "gpt2":
		parseGPT2(r, c)
	case "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi", "phi3":
		parseDecoder(r, c)
	default:
		return nil, fmt.Errorf("%s: unsupported architecture model_type %q (supported: %s)", source, modelType,
			strings.Join(SupportedModelTypes, ", "))
	}
	c.BOSTokenIDs = r.intList("bos_token_id")
	c.EOSTokenIDs = r.intList("eos_token_id")
	if r.has("pad_token_id") {
		c.PadTokenID = r.intField(false, -1, "pad_token_id")
	}
	c.DType = r.stringField("", "dtype", "torch_dtype")
	if r.err != nil {
		return nil, r.err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseGPT2(r *rawConfig, c *Config) {
	c.VocabSize = r.intField(true, 0, "vocab_size")
	c.HiddenSize = r.intField(true, 0, "n_embd", "hidden_size")
	c.NumLayers = r.intField(true, 0, "n_layer", "num_hidden_layers")
	c.NumHeads = r.intField(true, 0, "n_head", "num_attention_heads")
	c.NumKVHeads = c.NumHeads
	c.IntermediateSize = r.intField(false, 4*c.HiddenSize, "n_inner")
	c.NormEps = r.floatField(1e-5, "layer_norm_epsilon")
	c.HiddenAct = r.stringField("gelu_new", "activation_function")
	c.TieWordEmbeddings = r.boolField(true, "tie_word_embeddings")
	c.AttentionBias, c.AttentionOutBias, c.MLPBias = true, true, true
	c.PartialRotaryFactor = 1
	if c.NumHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumHeads
	}
	// reorder_and_upcast_attn only changes where float16 products are upcast: the same in float32.
	c.AttnUnscaled = !r.boolField(true, "scale_attn_weights")
	c.AttnScaleInverseLayer = r.boolField(false, "scale_attn_by_inverse_layer_idx")
	c.MaxPositions = r.intField(false, 1024, "n_positions", "max_position_embeddings")
	c.LayerTypes = make([]string, max(c.NumLayers, 0))
	for i := range c.LayerTypes {
		c.LayerTypes[i] = FullAttention
	}
}

// familyDefault holds one config class's defaults for fields a config may omit.
type familyDefault struct {
	tie          bool
	act          string
	eps          float64
	theta        float64
	qkvBias      bool
	maxPos       int // max_position_embeddings
	headDimFixed int // head_dim when left out; 0: hidden_size / num_attention_heads
}

// familyDefaults holds transformers' per-class defaults, by model_type.
var familyDefaults = map[string]familyDefault{
	"llama":       {false, "silu", 1e-6, 10000, false, 2048, 0},
	"mistral":     {false, "silu", 1e-6, 10000, false, 131072, 0},
	"qwen2":       {false, "silu", 1e-6, 10000, true, 32768, 0},
	"qwen3":       {false, "silu", 1e-6, 10000, false, 32768, 128},
	"gemma":       {true, "gelu_pytorch_tanh", 1e-6, 10000, false, 8192, 256},
	"gemma2":      {true, "gelu_pytorch_tanh", 1e-6, 10000, false, 8192, 256},
	"gemma3_text": {true, "gelu_pytorch_tanh", 1e-6, 1000000, false, 131072, 256},
	"phi3":        {false, "silu", 1e-5, 10000, false, 4096, 0},
	"phi":         {false, "gelu_new", 1e-5, 10000, true, 2048, 0},
}

// headDim is the family's head_dim default: a fixed size (Gemma 256, Qwen3 128) or the hidden size
// split across the heads.
func (d familyDefault) headDim(split int) int {
	if d.headDimFixed > 0 {
		return d.headDimFixed
	}
	return split
}

func parseDecoder(r *rawConfig, c *Config) {
	d := familyDefaults[c.ModelType]
	c.VocabSize = r.intField(true, 0, "vocab_size")
	c.HiddenSize = r.intField(true, 0, "hidden_size")
	c.IntermediateSize = r.intField(true, 0, "intermediate_size")
	c.NumLayers = r.intField(true, 0, "num_hidden_layers")
	c.NumHeads = r.intField(true, 0, "num_attention_heads")
	c.NumKVHeads = r.intField(false, c.NumHeads, "num_key_value_heads")
	if c.NumHeads > 0 {
		c.HeadDim = r.intField(false, d.headDim(c.HiddenSize/c.NumHeads), "head_dim")
	}
	c.MaxPositions = r.intField(false, d.maxPos, "max_position_embeddings")
	c.NormEps = r.floatField(d.eps, "rms_norm_eps")
	c.HiddenAct = r.stringField(d.act, "hidden_activation", "hidden_act")
	switch c.ModelType {
	case "gemma2", "gemma3_text":
		// Gemma's config carries both; transformers uses hidden_activation.
		c.HiddenAct = r.stringField(d.act, "hidden_activation", "hidden_act")
	case "gemma":
		// transformers 5's GemmaConfig reads hidden_act only, and takes the released checkpoints'
		// "gelu" to mean the tanh approximation.
		if c.HiddenAct = r.stringField(d.act, "hidden_act"); c.HiddenAct == "gelu" {
			c.HiddenAct = "gelu_pytorch_tanh"
		}
		if r.boolField(false, "use_bidirectional_attention") {
			r.fail("use_bidirectional_attention (EmbeddingGemma) is not supported: steer runs causal language models")
		}
	case "phi":
		c.NormEps = r.floatField(d.eps, "layer_norm_eps")
		c.QKLayerNorm = r.boolField(false, "qk_layernorm")
	}
	c.TieWordEmbeddings = r.boolField(d.tie, "tie_word_embeddings")
	switch c.ModelType {
	case "qwen2":
		c.AttentionBias = true // q/k/v carry biases, o_proj does not
	case "phi3":
		c.AttentionBias = false
	case "phi": // every projection carries a bias, the LM head too
		c.AttentionBias, c.AttentionOutBias = true, true
	default:
		c.AttentionBias = r.boolField(false, "attention_bias")
		c.AttentionOutBias = c.AttentionBias
	}
	c.MLPBias = r.boolField(false, "mlp_bias")
	c.PartialRotaryFactor = r.floatField(1, "partial_rotary_factor")
	if c.ModelType == "phi" {
		c.MLPBias = true
		c.PartialRotaryFactor = r.floatField(0.5, "partial_rotary_factor") // PhiConfig's default
	}
	switch c.ModelType {
	case "gemma2":
		// Gemma2Config's defaults (50, 30) when left out; null turns a cap off.
		c.AttnLogitSoftcap = r.optFloat(50, "attn_logit_softcapping")
		c.FinalLogitSoftcap = r.optFloat(30, "final_logit_softcapping")
	case "gemma3_text":
		// Gemma 3 replaced the attention softcap with q/k norms: transformers keeps the config field
		// but never applies it.
		c.FinalLogitSoftcap = r.floatField(0, "final_logit_softcapping")
	}
	switch c.ModelType {
	case "gemma2", "gemma3_text":
		c.QueryPreAttnScalar = r.floatField(256, "query_pre_attn_scalar") // the config classes' default
	case "gemma":
		c.QueryPreAttnScalar = float64(c.HeadDim) // Gemma 1 scales by head_dim^-0.5
	}
	parseRope(r, c, d.theta)
	if c.Rope.PartialRotary != 0 {
		c.PartialRotaryFactor = c.Rope.PartialRotary
	}
	parseLayerTypes(r, c)
}

// parseRope reads rope_theta + rope_scaling (older checkpoints) or rope_parameters (transformers 5),
// which for Gemma 3 may be keyed by layer type.
func parseRope(r *rawConfig, c *Config, defaultTheta float64) {
	theta := r.floatField(defaultTheta, "rope_theta")
	if r.has("rope_parameters") {
		var params map[string]json.RawMessage
		if err := json.Unmarshal(r.m["rope_parameters"], &params); err != nil {
			r.fail("field \"rope_parameters\" must be an object")
			return
		}
		if _, perType := params[FullAttention]; perType {
			c.Rope = parseRopeObject(r, "rope_parameters."+FullAttention, params[FullAttention], theta, true)
			if raw, ok := params[SlidingAttention]; ok {
				local := parseRopeObject(r, "rope_parameters."+SlidingAttention, raw, r.floatField(10000, "rope_local_base_freq"), true)
				c.RopeLocal = &local
			}
		} else {
			c.Rope = parseRopeObject(r, "rope_parameters", r.m["rope_parameters"], theta, false)
		}
	} else if r.has("rope_scaling") {
		c.Rope = parseRopeObject(r, "rope_scaling", r.m["rope_scaling"], theta, false)
	} else {
		c.Rope = defaultRope(theta)
	}
	if c.ModelType == "gemma3_text" && c.RopeLocal == nil {
		local := defaultRope(r.floatField(10000, "rope_local_base_freq"))
		c.RopeLocal = &local
	}
}

// defaultRope is plain RoPE with the field defaults parseRopeObject applies.
func defaultRope(theta float64) RopeConfig {
	return RopeConfig{Type: "default", Theta: theta, Factor: 1, BetaFast: 32, BetaSlow: 1}
}

// parseRopeObject reads one rope_scaling / rope_parameters object (nested: one per layer type) and
// validates it. As transformers' standardize_rope_params: for llama3, yarn and longrope the pre-training length is a
// top-level original_max_position_embeddings when the config has one (Phi-3 keeps it there; it wins over
// the rope object's own outside per-layer-type rope_parameters), else the rope object's, else
// max_position_embeddings.
func parseRopeObject(r *rawConfig, field string, raw json.RawMessage, theta float64, nested bool) RopeConfig {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		r.fail("field %q must be an object", field)
		return RopeConfig{}
	}
	sub := &rawConfig{m: m, source: r.source}
	rc := RopeConfig{Theta: sub.floatField(theta, "rope_theta")}
	rc.Type = sub.stringField("default", "rope_type", "type")
	if rc.Type == "su" {
		rc.Type = "longrope"
	}
	rc.Factor = sub.floatField(0, "factor")
	rc.LowFreqFactor = sub.floatField(0, "low_freq_factor")
	rc.HighFreqFactor = sub.floatField(0, "high_freq_factor")
	rc.OriginalMaxPositions = sub.intField(false, 0, "original_max_position_embeddings")
	rc.AttentionFactor = sub.floatField(0, "attention_factor")
	rc.BetaFast = sub.floatField(32, "beta_fast")
	rc.BetaSlow = sub.floatField(1, "beta_slow")
	rc.MScale = sub.floatField(0, "mscale")
	rc.MScaleAllDim = sub.floatField(0, "mscale_all_dim")
	rc.NoTruncate = !sub.boolField(true, "truncate")
	rc.PartialRotary = sub.floatField(0, "partial_rotary_factor")
	switch rc.Type {
	case "llama3", "yarn", "longrope":
		if !nested && r.has("original_max_position_embeddings") {
			rc.OriginalMaxPositions = r.intField(false, 0, "original_max_position_embeddings")
		}
		if rc.OriginalMaxPositions == 0 {
			rc.OriginalMaxPositions = r.intField(false, 0, "max_position_embeddings", "n_positions")
		}
	default:
		if !sub.has("factor") {
			rc.Factor = 1
		}
	}
	for key, dst := range map[string]*[]float64{"short_factor": &rc.ShortFactor, "long_factor": &rc.LongFactor} {
		if sub.has(key) {
			if err := json.Unmarshal(m[key], dst); err != nil {
				r.fail("field %q must be a list of numbers", field+"."+key)
			}
		}
	}
	if sub.err != nil && r.err == nil {
		r.err = fmt.Errorf("%s (in %q)", sub.err, field)
	}
	switch rc.Type {
	case "default":
	case "linear", "dynamic":
		if rc.Factor <= 0 {
			r.fail("%s: rope factor must be positive, got %v", field, rc.Factor)
		}
	case "llama3":
		for name, v := range map[string]float64{"factor": rc.Factor, "low_freq_factor": rc.LowFreqFactor,
			"high_freq_factor": rc.HighFreqFactor, "original_max_position_embeddings": float64(rc.OriginalMaxPositions)} {
			if v <= 0 {
				r.fail("%s: llama3 rope scaling needs a positive %q", field, name)
			}
		}
		if rc.HighFreqFactor > 0 && rc.LowFreqFactor >= rc.HighFreqFactor {
			r.fail("%s: llama3 low_freq_factor (%v) must be below high_freq_factor (%v)", field, rc.LowFreqFactor, rc.HighFreqFactor)
		}
	case "yarn", "longrope":
		if sub.has("factor") && rc.Factor <= 0 {
			r.fail("%s: %s rope factor must be positive, got %v", field, rc.Type, rc.Factor)
		}
		if rc.Factor == 0 && rc.OriginalMaxPositions <= 0 {
			r.fail("%s: %s rope scaling needs a factor or original_max_position_embeddings", field, rc.Type)
		}
		if rc.Type == "longrope" && (len(rc.ShortFactor) == 0 || len(rc.LongFactor) == 0) {
			r.fail("%s: longrope needs short_factor and long_factor", field)
		}
	default:
		r.fail("%s: unsupported rope_type %q (supported: default, linear, dynamic, llama3, yarn, longrope)", field, rc.Type)
	}
	return rc
}

func parseLayerTypes(r *rawConfig, c *Config) {
	n := max(c.NumLayers, 0)
	window := r.intField(false, 0, "sliding_window")
	if _, present := r.m["sliding_window"]; !present {
		// transformers' class default; an explicit null means no sliding window.
		switch c.ModelType {
		case "mistral", "gemma2", "gemma3_text":
			window = 4096
		}
	}
	if r.has("layer_types") {
		if err := json.Unmarshal(r.m["layer_types"], &c.LayerTypes); err != nil {
			r.fail("field \"layer_types\" must be a list of strings")
			return
		}
		for i, t := range c.LayerTypes {
			if t != FullAttention && t != SlidingAttention {
				r.fail("layer_types[%d] = %q: expected %q or %q", i, t, FullAttention, SlidingAttention)
				return
			}
		}
	} else {
		c.LayerTypes = make([]string, n)
		for i := range c.LayerTypes {
			sliding := false
			switch c.ModelType {
			case "gemma2":
				sliding = (i+1)%2 != 0
			case "gemma3_text":
				pattern := r.intField(false, 6, "sliding_window_pattern")
				sliding = pattern > 0 && (i+1)%pattern != 0
			case "mistral", "phi3":
				sliding = window > 0
			case "qwen2", "qwen3":
				sliding = window > 0 && r.boolField(false, "use_sliding_window") && i >= r.intField(false, n, "max_window_layers")
			}
			if sliding {
				c.LayerTypes[i] = SlidingAttention
			} else {
				c.LayerTypes[i] = FullAttention
			}
		}
	}
	hasSliding := false
	for _, t := range c.LayerTypes {
		hasSliding = hasSliding || t == SlidingAttention
	}
	if hasSliding {
		if window <= 0 {
			r.fail("layers use sliding attention but \"sliding_window\" is missing or not positive")
		}
		c.SlidingWindow = window
	}
	if (c.ModelType == "qwen2" || c.ModelType == "qwen3") && !r.boolField(false, "use_sliding_window") {
		c.SlidingWindow = 0
	}
}

// validate checks that the sizes are positive and consistent with each other.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", c.Source, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumLayers}, {"num_attention_heads", c.NumHeads}, {"num_key_value_heads", c.NumKVHeads},
		{"head_dim", c.HeadDim}} {
		if f.v <= 0 {
			return bad("field %q must be positive, got %d", f.name, f.v)
		}
	}
	if c.NumHeads%c.NumKVHeads != 0 {
		return bad("num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)", c.NumHeads, c.NumKVHeads)
	}
	if c.ModelType == "gpt2" && c.HiddenSize%c.NumHeads != 0 {
		return bad("n_embd (%d) is not a multiple of n_head (%d)", c.HiddenSize, c.NumHeads)
	}
	if len(c.LayerTypes) != c.NumLayers {
		return bad("layer_types has %d entries but num_hidden_layers is %d", len(c.LayerTypes), c.NumLayers)
	}
	if c.PartialRotaryFactor <= 0 || c.PartialRotaryFactor > 1 {
		return bad("partial_rotary_factor must be in (0, 1], got %v", c.PartialRotaryFactor)
	}
	if c.NormEps <= 0 {
		return bad("the norm epsilon must be positive, got %v", c.NormEps)
	}
	if c.ModelType != "gpt2" && c.Rope.Theta <= 0 {
		return bad("rope_theta must be positive, got %v", c.Rope.Theta)
	}
	for _, a := range c.Architectures {
		if want, ok := architectureModelType[a]; ok && want != c.ModelType {
			return bad("architectures lists %q, which is a %s model, but model_type is %q", a, want, c.ModelType)
		}
	}
	return nil
}

// architectureModelType maps known HF class names to their model_type, to catch contradictory configs.
var architectureModelType = map[string]string{
	"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2",
	"Qwen3ForCausalLM": "qwen3", "Gemma2ForCausalLM": "gemma2", "Gemma3ForCausalLM": "gemma3_text",
	"GPT2LMHeadModel": "gpt2", "GPT2Model": "gpt2", "Phi3ForCausalLM": "phi3", "PhiForCausalLM": "phi",
	"GemmaForCausalLM": "gemma",
}

// SlidingLayers returns the indices of sliding-window layers.
func (c *Config) SlidingLayers() []int {
	var out []int
	for i, t := range c.LayerTypes {
		if t == SlidingAttention {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}
