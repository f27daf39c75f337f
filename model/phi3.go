package model

// Phi-3 (and Phi-4-mini): fused qkv_proj ([q; k; v] rows) and gate_up_proj ([gate; up] rows),
// partial rotary embeddings, longrope scaling, optional sliding window. HF names:
// model.embed_tokens, model.layers.{i}.{input_layernorm, self_attn.qkv_proj, self_attn.o_proj,
// post_attention_layernorm, mlp.gate_up_proj, mlp.down_proj}, model.norm, lm_head.

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/steer-dev/steer/weights"
)

type phi3 struct {
	cfg  *weights.Config
	p    string
	head string
}

func newPhi3(cfg *weights.Config) family { return &phi3{cfg: cfg} }

func (f *phi3) load(l *loader) {
	c := f.cfg
	d, hd, H, K, I := c.HiddenSize, c.HeadDim, c.NumHeads, c.NumKVHeads, c.IntermediateSize
	f.p, f.head = l.decoderStem([]string{"model.", ""}, []string{"lm_head.weight"})
	for i := range c.NumLayers {
		n := func(s string) string { return layerName(f.p, i, s) }
		l.get(n("input_layernorm.weight"), d)
		l.get(n("post_attention_layernorm.weight"), d)
		l.linear(n("self_attn.qkv_proj.weight"), (H+2*K)*hd, d)
		l.linear(n("self_attn.o_proj.weight"), d, H*hd)
		l.linear(n("mlp.gate_up_proj.weight"), 2*I, d)
		l.linear(n("mlp.down_proj.weight"), d, I)
	}
}

func (f *phi3) ropes() []ropeSpec {
	return []ropeSpec{{cfg: f.cfg.Rope, dim: rotaryDim(f.cfg), maxPositions: f.cfg.MaxPositions}}
}

func (f *phi3) embed(c *gctx, ids *Node) *Node {
	return c.embed(f.p+"embed_tokens.weight", ids)
}

func (f *phi3) attn(c *gctx, i int, x *Node) *Node {
	cfg := f.cfg
	n := func(s string) string { return layerName(f.p, i, s) }
	dims := x.Shape().Dimensions
	B, T := dims[0], dims[1]
	H, K, hd := cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
	h := rmsNorm(x, c.w(n("input_layernorm.weight")), cfg.NormEps, false)
	qkv := c.linear(h, n("self_attn.qkv_proj.weight"), nil)
	q := Reshape(SliceAxis(qkv, -1, AxisRange(0, H*hd)), B, T, H, hd)
	k := Reshape(SliceAxis(qkv, -1, AxisRange(H*hd, (H+K)*hd)), B, T, K, hd)
	v := Reshape(SliceAxis(qkv, -1, AxisRange((H+K)*hd, (H+2*K)*hd)), B, T, K, hd)
	cos, sin := c.rope(0)
	q, k = applyRope(q, cos, sin), applyRope(k, cos, sin)
	o := c.attention(i, q, k, v, attnOptions{scale: 1 / math.Sqrt(float64(hd)), window: layerWindow(cfg, i)})
	return c.linear(o, n("self_attn.o_proj.weight"), nil)
}

func (f *phi3) mlp(c *gctx, i int, x *Node) *Node {
	n := func(s string) string { return layerName(f.p, i, s) }
	I := f.cfg.IntermediateSize
	h := rmsNorm(x, c.w(n("post_attention_layernorm.weight")), f.cfg.NormEps, false)
	gu := c.linear(h, n("mlp.gate_up_proj.weight"), nil)
	g := SliceAxis(gu, -1, AxisRange(0, I))
	u := SliceAxis(gu, -1, AxisRange(I, 2*I))
	return c.linear(Mul(activation(f.cfg.HiddenAct, g), u), n("mlp.down_proj.weight"), nil)
}

func (f *phi3) unembed(c *gctx, x *Node) *Node {
	h := rmsNorm(x, c.w(f.p+"norm.weight"), f.cfg.NormEps, false)
	return c.linear(h, f.head, nil)
}

// cacheResetPosition: transformers' Phi3ForCausalLM.prepare_inputs_for_generation drops the KV cache
// (recomputing the whole sequence with the long factors) when a sequence first grows past
// original_max_position_embeddings under longrope.
func (f *phi3) cacheResetPosition() int {
	if f.cfg.Rope.Type == "longrope" && f.cfg.Rope.OriginalMaxPositions > 0 {
		return f.cfg.Rope.OriginalMaxPositions
	}
	return 0
}
