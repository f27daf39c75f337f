package model

// GPT-2: learned position embeddings, LayerNorm, Conv1D weights stored [in, out], fused c_attn,
// gelu_new MLP. HF names: transformer.{wte,wpe,ln_f}, transformer.h.{i}.{ln_1,attn.c_attn,attn.c_proj,
// ln_2,mlp.c_fc,mlp.c_proj}.

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/steer-dev/steer/weights"
)

type gpt2 struct {
	cfg  *weights.Config
	p    string
	head string
}

func newGPT2(cfg *weights.Config) family { return &gpt2{cfg: cfg} }

func (f *gpt2) n(i int, s string) string { return fmt.Sprintf("%sh.%d.%s", f.p, i, s) }

func (f *gpt2) load(l *loader) {
	c := f.cfg
	d, I := c.HiddenSize, c.IntermediateSize
	f.p = l.prefix("wte.weight", "transformer.", "")
	l.embedding(f.p+"wte.weight", c.VocabSize, d)
	l.get(f.p+"wpe.weight", c.MaxPositions, d)
	f.head = l.lmHead(f.p+"wte.weight", "lm_head.weight")
	l.get(f.p+"ln_f.weight", d)
	l.get(f.p+"ln_f.bias", d)
	for i := range c.NumLayers {
		for _, ln := range []string{"ln_1", "ln_2"} {
			l.get(f.n(i, ln+".weight"), d)
			l.get(f.n(i, ln+".bias"), d)
		}
		l.conv1D(f.n(i, "attn.c_attn.weight"), d, 3*d)
		l.get(f.n(i, "attn.c_attn.bias"), 3*d)
		l.conv1D(f.n(i, "attn.c_proj.weight"), d, d)
		l.get(f.n(i, "attn.c_proj.bias"), d)
		l.conv1D(f.n(i, "mlp.c_fc.weight"), d, I)
		l.get(f.n(i, "mlp.c_fc.bias"), I)
		l.conv1D(f.n(i, "mlp.c_proj.weight"), I, d)
		l.get(f.n(i, "mlp.c_proj.bias"), d)
	}
}

func (f *gpt2) ropes() []ropeSpec { return nil }

func (f *gpt2) embed(c *gctx, ids *Node) *Node {
	tok := c.embed(f.p+"wte.weight", ids)
	pos := Gather(c.w(f.p+"wpe.weight"), InsertAxes(c.positions, -1))
	return Add(tok, pos)
}

func (f *gpt2) attn(c *gctx, i int, x *Node) *Node {
	cfg := f.cfg
	d := cfg.HiddenSize
	dims := x.Shape().Dimensions
	B, T := dims[0], dims[1]
	h := layerNorm(x, c.w(f.n(i, "ln_1.weight")), c.w(f.n(i, "ln_1.bias")), cfg.NormEps)
	qkv := c.linear(h, f.n(i, "attn.c_attn.weight"), c.w(f.n(i, "attn.c_attn.bias")))
	split := func(j int) *Node {
		return Reshape(SliceAxis(qkv, -1, AxisRange(j*d, (j+1)*d)), B, T, cfg.NumHeads, cfg.HeadDim)
	}
	o := c.attention(i, split(0), split(1), split(2), attnOptions{scale: gpt2AttnScale(cfg, i)})
	return c.linear(o, f.n(i, "attn.c_proj.weight"), c.w(f.n(i, "attn.c_proj.bias")))
}

func (f *gpt2) mlp(c *gctx, i int, x *Node) *Node {
	h := layerNorm(x, c.w(f.n(i, "ln_2.weight")), c.w(f.n(i, "ln_2.bias")), f.cfg.NormEps)
	h = activation(f.cfg.HiddenAct, c.linear(h, f.n(i, "mlp.c_fc.weight"), c.w(f.n(i, "mlp.c_fc.bias"))))
	return c.linear(h, f.n(i, "mlp.c_proj.weight"), c.w(f.n(i, "mlp.c_proj.bias")))
}

func (f *gpt2) unembed(c *gctx, x *Node) *Node {
	h := layerNorm(x, c.w(f.p+"ln_f.weight"), c.w(f.p+"ln_f.bias"), f.cfg.NormEps)
	return c.linear(h, f.head, nil)
}

// gpt2AttnScale is GPT2Attention's score scaling for layer i: 1/sqrt(head_dim) unless
// scale_attn_weights is false, further divided by i+1 with scale_attn_by_inverse_layer_idx.
func gpt2AttnScale(cfg *weights.Config, i int) float64 {
	s := 1.0
	if !cfg.AttnUnscaled {
		s = 1 / math.Sqrt(float64(cfg.HeadDim))
	}
	if cfg.AttnScaleInverseLayer {
		s /= float64(i + 1)
	}
	return s
}
