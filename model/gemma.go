package model

// Gemma 1, 2 and 3 (text): embeddings scaled by sqrt(d_model), (1 + w) RMSNorm, GeGLU
// (gelu_pytorch_tanh) MLP. Gemma 1 has Llama's two pre-norms (input_layernorm before attention,
// post_attention_layernorm before the MLP). Gemma 2 adds sandwich norms (pre/post attention, pre/post
// feed-forward), query_pre_attn_scalar, attention and final logit soft-capping and alternating
// sliding-window layers; Gemma 3 per-head q/k norms and a separate rope base for sliding layers
// (rope_local_base_freq).

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/steer-dev/steer/weights"
)

type gemma struct {
	cfg    *weights.Config
	p      string
	head   string
	gemma1 bool // no sandwich norms
	gemma3 bool
}

func newGemma(cfg *weights.Config) family {
	return &gemma{cfg: cfg, gemma1: cfg.ModelType == "gemma", gemma3: cfg.ModelType == "gemma3_text"}
}

// norms are the layer's RMSNorm weights: Gemma 1's two pre-norms, or the sandwich's four.
func (f *gemma) norms() []string {
	if f.gemma1 {
		return []string{"input_layernorm", "post_attention_layernorm"}
	}
	return []string{"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"}
}

func (f *gemma) load(l *loader) {
	c := f.cfg
	d := c.HiddenSize
	f.p, f.head = l.decoderStem([]string{"model.", "model.language_model.", "language_model.model.", ""},
		[]string{"lm_head.weight", "language_model.lm_head.weight"})
	for i := range c.NumLayers {
		n := func(s string) string { return layerName(f.p, i, s) }
		for _, norm := range f.norms() {
			l.get(n(norm+".weight"), d)
		}
		l.selfAttn(n, c, c.AttentionBias, c.AttentionBias, f.gemma3)
		l.gatedMLP(n, c)
	}
}

func (f *gemma) ropes() []ropeSpec {
	r := []ropeSpec{{cfg: f.cfg.Rope, dim: rotaryDim(f.cfg), maxPositions: f.cfg.MaxPositions}}
	if f.gemma3 && f.cfg.RopeLocal != nil {
		r = append(r, ropeSpec{cfg: *f.cfg.RopeLocal, dim: rotaryDim(f.cfg), maxPositions: f.cfg.MaxPositions})
	}
	return r
}

func (f *gemma) embed(c *gctx, ids *Node) *Node {
	x := c.embed(f.p+"embed_tokens.weight", ids)
	// transformers: hidden * tensor(hidden_size**0.5, dtype=activation dtype) (float32 here).
	return Mul(x, Scalar(c.g, dtypes.Float32, float32(math.Sqrt(float64(f.cfg.HiddenSize)))))
}

func (f *gemma) attn(c *gctx, i int, x *Node) *Node {
	cfg := f.cfg
	n := func(s string) string { return layerName(f.p, i, s) }
	h := rmsNorm(x, c.w(n("input_layernorm.weight")), cfg.NormEps, true)
	q, k, v := projectQKV(c, h, cfg, n("self_attn.q_proj.weight"), n("self_attn.k_proj.weight"), n("self_attn.v_proj.weight"),
		c.wOpt(n("self_attn.q_proj.bias")), c.wOpt(n("self_attn.k_proj.bias")), c.wOpt(n("self_attn.v_proj.bias")))
	window := layerWindow(cfg, i)
	ropeKind := 0
	if f.gemma3 {
		q = rmsNorm(q, c.w(n("self_attn.q_norm.weight")), cfg.NormEps, true)
		k = rmsNorm(k, c.w(n("self_attn.k_norm.weight")), cfg.NormEps, true)
		if cfg.LayerTypes[i] == weights.SlidingAttention && cfg.RopeLocal != nil {
			ropeKind = 1
		}
	}
	cos, sin := c.rope(ropeKind)
	q, k = applyRope(q, cos, sin), applyRope(k, cos, sin)
	o := c.attention(i, q, k, v, attnOptions{
		scale:   1 / math.Sqrt(cfg.QueryPreAttnScalar),
		softcap: cfg.AttnLogitSoftcap,
		window:  window,
	})
	o = c.linear(o, n("self_attn.o_proj.weight"), c.wOpt(n("self_attn.o_proj.bias")))
	if f.gemma1 {
		return o
	}
	return rmsNorm(o, c.w(n("post_attention_layernorm.weight")), cfg.NormEps, true)
}

func (f *gemma) mlp(c *gctx, i int, x *Node) *Node {
	n := func(s string) string { return layerName(f.p, i, s) }
	pre := "pre_feedforward_layernorm.weight"
	if f.gemma1 {
		pre = "post_attention_layernorm.weight" // Gemma 1's (Llama's) name for the MLP's pre-norm
	}
	h := rmsNorm(x, c.w(n(pre)), f.cfg.NormEps, true)
	h = c.gatedMLP(h, f.cfg.HiddenAct, n("mlp.gate_proj.weight"), n("mlp.up_proj.weight"), n("mlp.down_proj.weight"))
	if f.gemma1 {
		return h
	}
	return rmsNorm(h, c.w(n("post_feedforward_layernorm.weight")), f.cfg.NormEps, true)
}

func (f *gemma) unembed(c *gctx, x *Node) *Node {
	h := rmsNorm(x, c.w(f.p+"norm.weight"), f.cfg.NormEps, true)
	logits := c.linear(h, f.head, nil)
	if f.cfg.FinalLogitSoftcap > 0 {
		logits = softcap(logits, f.cfg.FinalLogitSoftcap)
	}
	return logits
}
