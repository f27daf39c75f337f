package model

// Llama family: Llama (incl. Llama 3 rope scaling), Mistral (sliding window), Qwen2 (q/k/v biases)
// and Qwen3 (per-head q/k RMSNorm). HF names: model.embed_tokens, model.layers.{i}.{input_layernorm,
// self_attn.{q,k,v,o}_proj, [self_attn.{q,k}_norm], post_attention_layernorm, mlp.{gate,up,down}_proj},
// model.norm, lm_head.

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/steer-dev/steer/weights"
)

type llama struct {
	cfg    *weights.Config
	p      string // prefix of the decoder ("model.")
	head   string // output projection tensor
	qkNorm bool   // Qwen3
	qkvB   bool   // biases on q/k/v
	oB     bool   // bias on o_proj
}

func newLlama(cfg *weights.Config) family { return &llama{cfg: cfg} }

func (f *llama) load(l *loader) {
	c := f.cfg
	d, I := c.HiddenSize, c.IntermediateSize
	f.p, f.head = l.decoderStem([]string{"model.", ""}, []string{"lm_head.weight"})
	f.qkNorm = c.ModelType == "qwen3"
	f.qkvB = c.AttentionBias
	f.oB = c.AttentionOutBias
	for i := range c.NumLayers {
		n := func(s string) string { return layerName(f.p, i, s) }
		l.get(n("input_layernorm.weight"), d)
		l.get(n("post_attention_layernorm.weight"), d)
		l.selfAttn(n, c, f.qkvB, f.oB, f.qkNorm)
		l.gatedMLP(n, c)
		if c.MLPBias {
			l.get(n("mlp.gate_proj.bias"), I)
			l.get(n("mlp.up_proj.bias"), I)
			l.get(n("mlp.down_proj.bias"), d)
		}
	}
}

func (f *llama) ropes() []ropeSpec {
	return []ropeSpec{{cfg: f.cfg.Rope, dim: rotaryDim(f.cfg), maxPositions: f.cfg.MaxPositions}}
}

func rotaryDim(c *weights.Config) int {
	return int(float64(c.HeadDim) * c.PartialRotaryFactor)
}

func (f *llama) embed(c *gctx, ids *Node) *Node {
	return c.embed(f.p+"embed_tokens.weight", ids)
}

func (f *llama) attn(c *gctx, i int, x *Node) *Node {
	cfg := f.cfg
	n := func(s string) string { return layerName(f.p, i, s) }
	h := rmsNorm(x, c.w(n("input_layernorm.weight")), cfg.NormEps, false)
	q, k, v := projectQKV(c, h, cfg, n("self_attn.q_proj.weight"), n("self_attn.k_proj.weight"), n("self_attn.v_proj.weight"),
		c.wOpt(n("self_attn.q_proj.bias")), c.wOpt(n("self_attn.k_proj.bias")), c.wOpt(n("self_attn.v_proj.bias")))
	if f.qkNorm {
		q = rmsNorm(q, c.w(n("self_attn.q_norm.weight")), cfg.NormEps, false)
		k = rmsNorm(k, c.w(n("self_attn.k_norm.weight")), cfg.NormEps, false)
	}
	cos, sin := c.rope(0)
	q, k = applyRope(q, cos, sin), applyRope(k, cos, sin)
	o := c.attention(i, q, k, v, attnOptions{scale: 1 / math.Sqrt(float64(cfg.HeadDim)), window: layerWindow(cfg, i)})
	return c.linear(o, n("self_attn.o_proj.weight"), c.wOpt(n("self_attn.o_proj.bias")))
}

func (f *llama) mlp(c *gctx, i int, x *Node) *Node {
	n := func(s string) string { return layerName(f.p, i, s) }
	h := rmsNorm(x, c.w(n("post_attention_layernorm.weight")), f.cfg.NormEps, false)
	g := c.linear(h, n("mlp.gate_proj.weight"), c.wOpt(n("mlp.gate_proj.bias")))
	u := c.linear(h, n("mlp.up_proj.weight"), c.wOpt(n("mlp.up_proj.bias")))
	return c.linear(Mul(activation(f.cfg.HiddenAct, g), u), n("mlp.down_proj.weight"), c.wOpt(n("mlp.down_proj.bias")))
}

func (f *llama) unembed(c *gctx, x *Node) *Node {
	h := rmsNorm(x, c.w(f.p+"norm.weight"), f.cfg.NormEps, false)
	return c.linear(h, f.head, nil)
}

// projectQKV applies separate q/k/v projections and splits heads: q [B,T,H,Dh], k, v [B,T,K,Dh].
func projectQKV(c *gctx, h *Node, cfg *weights.Config, wq, wk, wv string, bq, bk, bv *Node) (q, k, v *Node) {
	dims := h.Shape().Dimensions
	B, T := dims[0], dims[1]
	q = Reshape(c.linear(h, wq, bq), B, T, cfg.NumHeads, cfg.HeadDim)
	k = Reshape(c.linear(h, wk, bk), B, T, cfg.NumKVHeads, cfg.HeadDim)
	v = Reshape(c.linear(h, wv, bv), B, T, cfg.NumKVHeads, cfg.HeadDim)
	return
}

// layerWindow is the sliding window of layer i (0 = full attention).
func layerWindow(cfg *weights.Config, i int) int {
	if cfg.SlidingWindow > 0 && i < len(cfg.LayerTypes) && cfg.LayerTypes[i] == weights.SlidingAttention {
		return cfg.SlidingWindow
	}
	return 0
}
