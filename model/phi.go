package model

// Phi-1, Phi-1.5 and Phi-2 (model_type "phi"): one LayerNorm per layer feeding attention and MLP in
// parallel (x + attn(ln(x)) + mlp(ln(x))), biases on every projection and on the LM head, partial rotary
// embeddings (partial_rotary_factor, 0.5 by default, 0.4 for Phi-2), an optional LayerNorm of each query
// and key head (qk_layernorm), a gelu_new MLP (fc1, fc2) and a final LayerNorm. HF names:
// model.embed_tokens, model.layers.{i}.{input_layernorm, self_attn.{q,k,v}_proj, self_attn.dense,
// [self_attn.{q,k}_layernorm], mlp.fc1, mlp.fc2}, model.final_layernorm, lm_head (weight and bias).

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/steer-dev/steer/weights"
)

type phi struct {
	cfg  *weights.Config
	p    string
	head string
}

func newPhi(cfg *weights.Config) family { return &phi{cfg: cfg} }

// parallelBlocks: attention and MLP both read the layer's input.
func (f *phi) parallelBlocks() bool { return true }

func (f *phi) load(l *loader) {
	c := f.cfg
	d, hd, H, K, I := c.HiddenSize, c.HeadDim, c.NumHeads, c.NumKVHeads, c.IntermediateSize
	f.p = l.prefix("embed_tokens.weight", "model.", "")
	emb := f.p + "embed_tokens.weight"
	l.embedding(emb, c.VocabSize, d)
	f.head = l.lmHead(emb, "lm_head.weight")
	l.get("lm_head.bias", c.VocabSize)
	l.get(f.p+"final_layernorm.weight", d)
	l.get(f.p+"final_layernorm.bias", d)
	for i := range c.NumLayers {
		n := func(s string) string { return layerName(f.p, i, s) }
		l.get(n("input_layernorm.weight"), d)
		l.get(n("input_layernorm.bias"), d)
		for _, p := range []struct {
			name    string
			out, in int
		}{{"self_attn.q_proj", H * hd, d}, {"self_attn.k_proj", K * hd, d}, {"self_attn.v_proj", K * hd, d},
			{"self_attn.dense", d, H * hd}, {"mlp.fc1", I, d}, {"mlp.fc2", d, I}} {
			l.linear(n(p.name+".weight"), p.out, p.in)
			l.get(n(p.name+".bias"), p.out)
		}
		if c.QKLayerNorm {
			for _, s := range []string{"self_attn.q_layernorm", "self_attn.k_layernorm"} {
				l.get(n(s+".weight"), hd)
				l.get(n(s+".bias"), hd)
			}
		}
	}
}

func (f *phi) ropes() []ropeSpec {
	return []ropeSpec{{cfg: f.cfg.Rope, dim: rotaryDim(f.cfg), maxPositions: f.cfg.MaxPositions}}
}

func (f *phi) embed(c *gctx, ids *Node) *Node { return c.embed(f.p+"embed_tokens.weight", ids) }

// norm is the layer's input LayerNorm, which attention and MLP share.
func (f *phi) norm(c *gctx, i int, x *Node) *Node {
	n := func(s string) string { return layerName(f.p, i, s) }
	return layerNorm(x, c.w(n("input_layernorm.weight")), c.w(n("input_layernorm.bias")), f.cfg.NormEps)
}

func (f *phi) attn(c *gctx, i int, x *Node) *Node {
	cfg := f.cfg
	n := func(s string) string { return layerName(f.p, i, s) }
	h := f.norm(c, i, x)
	q, k, v := projectQKV(c, h, cfg, n("self_attn.q_proj.weight"), n("self_attn.k_proj.weight"), n("self_attn.v_proj.weight"),
		c.w(n("self_attn.q_proj.bias")), c.w(n("self_attn.k_proj.bias")), c.w(n("self_attn.v_proj.bias")))
	if cfg.QKLayerNorm {
		q = layerNorm(q, c.w(n("self_attn.q_layernorm.weight")), c.w(n("self_attn.q_layernorm.bias")), cfg.NormEps)
		k = layerNorm(k, c.w(n("self_attn.k_layernorm.weight")), c.w(n("self_attn.k_layernorm.bias")), cfg.NormEps)
	}
	cos, sin := c.rope(0)
	q, k = applyRope(q, cos, sin), applyRope(k, cos, sin)
	o := c.attention(i, q, k, v, attnOptions{scale: 1 / math.Sqrt(float64(cfg.HeadDim))})
	return c.linear(o, n("self_attn.dense.weight"), c.w(n("self_attn.dense.bias")))
}

func (f *phi) mlp(c *gctx, i int, x *Node) *Node {
	n := func(s string) string { return layerName(f.p, i, s) }
	h := f.norm(c, i, x) // x is the layer's input (parallel block), so this is the attention's norm again
	h = activation(f.cfg.HiddenAct, c.linear(h, n("mlp.fc1.weight"), c.w(n("mlp.fc1.bias"))))
	return c.linear(h, n("mlp.fc2.weight"), c.w(n("mlp.fc2.bias")))
}

func (f *phi) unembed(c *gctx, x *Node) *Node {
	h := layerNorm(x, c.w(f.p+"final_layernorm.weight"), c.w(f.p+"final_layernorm.bias"), f.cfg.NormEps)
	return c.linear(h, f.head, c.w("lm_head.bias"))
}
