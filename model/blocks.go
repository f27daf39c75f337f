package model

// Shared building blocks of the decoder families: norms, projections, rotary embeddings,
// grouped-query attention with causal / sliding-window masks and soft-capping, and MLPs.
// Shapes follow TransformerLens: B batch, T query positions, S key positions, D d_model,
// H query heads, K key/value heads, Dh head dim.

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// lr expands w with leading axes to x's rank, for broadcasting (GoMLX broadcasts only size-1 axes).
func lr(w, x *Node) *Node {
	if w.Rank() < x.Rank() {
		return ExpandLeftToRank(w, x.Rank())
	}
	return w
}

// linear applies an HF nn.Linear weight w [out,in] (and bias b [out], may be nil) to x [..., in].
func linear(x, w, b *Node) *Node {
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
	if b != nil {
		y = Add(y, lr(b, y))
	}
	return y
}

// conv1D applies a GPT-2 Conv1D weight w [in,out] and bias b [out] to x [..., in].
func conv1D(x, w, b *Node) *Node {
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
	if b != nil {
		y = Add(y, lr(b, y))
	}
	return y
}

// rmsNorm normalises the last axis: x * rsqrt(mean(x²) + eps) * w, or * (1 + w) for Gemma.
func rmsNorm(x, w *Node, eps float64, plusOne bool) *Node {
	ms := ReduceAndKeep(Square(x), ReduceMean, -1)
	y := Mul(x, Rsqrt(AddScalar(ms, eps)))
	if plusOne {
		return Mul(y, lr(AddScalar(w, 1), y))
	}
	return Mul(y, lr(w, y))
}

// layerNorm is torch.nn.LayerNorm over the last axis (biased variance).
func layerNorm(x, w, b *Node, eps float64) *Node {
	mean := ReduceAndKeep(x, ReduceMean, -1)
	xc := Sub(x, mean)
	v := ReduceAndKeep(Square(xc), ReduceMean, -1)
	y := Mul(xc, Rsqrt(AddScalar(v, eps)))
	y = Mul(y, lr(w, y))
	if b != nil {
		y = Add(y, lr(b, y))
	}
	return y
}

// activation applies an HF activation by name.
func activation(name string, x *Node) *Node {
	switch name {
	case "silu", "swish":
		return Mul(x, Sigmoid(x))
	case "gelu_pytorch_tanh", "gelu_new", "gelu_fast", "gelu_python_tanh", "gelu_tanh":
		// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))
		inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
		return Mul(MulScalar(x, 0.5), AddScalar(Tanh(inner), 1))
	case "gelu", "gelu_python":
		return Mul(MulScalar(x, 0.5), AddScalar(Erf(MulScalar(x, 1/math.Sqrt2)), 1))
	case "relu":
		return Max(x, ZerosLike(x))
	}
	panic(errorf("unsupported activation %q", name))
}

// gatedMLP is down(act(gate(x)) * up(x)) with HF Linear weights (no biases unless given).
func gatedMLP(x *Node, act string, gate, up, down *Node) *Node {
	return linear(Mul(activation(act, linear(x, gate, nil)), linear(x, up, nil)), down, nil)
}

// softcap is tanh(x / cap) * cap.
func softcap(x *Node, cap float64) *Node {
	return MulScalar(Tanh(DivScalar(x, cap)), cap)
}

// rotateHalf maps [x1, x2] (halves of the last axis) to [-x2, x1].
func rotateHalf(x *Node) *Node {
	n := x.Shape().Dimensions[x.Rank()-1]
	x1 := SliceAxis(x, -1, AxisRange(0, n/2))
	x2 := SliceAxis(x, -1, AxisRange(n/2, n))
	return Concatenate([]*Node{Neg(x2), x1}, -1)
}

// applyRope rotates the first rotDim features of every head of x [B,T,H,Dh] with cos, sin [B,T,1,rotDim]
// (HF's rotate_half convention); the remaining features (partial rotary) pass through.
func applyRope(x, cos, sin *Node) *Node {
	dh := x.Shape().Dimensions[3]
	rot := cos.Shape().Dimensions[3]
	if rot == dh {
		return Add(Mul(x, cos), Mul(rotateHalf(x), sin))
	}
	xr := SliceAxis(x, -1, AxisRange(0, rot))
	xp := SliceAxis(x, -1, AxisRange(rot, dh))
	xr = Add(Mul(xr, cos), Mul(rotateHalf(xr), sin))
	return Concatenate([]*Node{xr, xp}, -1)
}

// attnOptions configures one attention layer.
type attnOptions struct {
	scale   float64 // multiplies q·k
	softcap float64 // 0 for none
	window  int     // sliding window, 0 for full causal attention
}

// attention runs grouped-query attention for layer of q [B,T,H,Dh] against k, v [B,T,K,Dh]
// (already rotated), through the graph's KV cache when it has one, and returns [B,T,H*Dh].
func (c *gctx) attention(layer int, q, k, v *Node, o attnOptions) *Node {
	dims := q.Shape().Dimensions
	B, T, H, Dh := dims[0], dims[1], dims[2], dims[3]
	K := k.Shape().Dimensions[2]
	G := H / K
	kh := TransposeAllAxes(k, 0, 2, 1, 3) // [B,K,T,Dh]
	vh := TransposeAllAxes(v, 0, 2, 1, 3)
	if c.cacheK != nil { // caches are kept as [B,K,Cap,Dh], so no per-step transpose of the whole cache
		kh = c.cacheWrite(c.cacheK[layer], kh)
		vh = c.cacheWrite(c.cacheV[layer], vh)
		c.newK[layer], c.newV[layer] = kh, vh
	}
	S := kh.Shape().Dimensions[2]
	// q: [B,T,K,G,Dh] -> [B,K,G,T,Dh] -> [B,K,G*T,Dh]
	qh := Reshape(q, B, T, K, G, Dh)
	qh = TransposeAllAxes(qh, 0, 2, 3, 1, 4)
	qh = Reshape(qh, B, K, G*T, Dh)
	scores := DotGeneral(qh, []int{3}, []int{0, 1}, kh, []int{3}, []int{0, 1}) // [B,K,G*T,S]
	scores = MulScalar(scores, o.scale)
	if o.softcap > 0 {
		scores = softcap(scores, o.softcap)
	}
	scores = Reshape(scores, B, K, G, T, S)
	mask := c.mask(o.window) // [B,1,1,T,S]
	scores = Where(BroadcastToShape(mask, scores.Shape()), scores,
		BroadcastToShape(Scalar(c.g, dtypes.Float32, -1e30), scores.Shape()))
	probs := Softmax(scores, -1)
	probs = Reshape(probs, B, K, G*T, S)
	out := DotGeneral(probs, []int{3}, []int{0, 1}, vh, []int{2}, []int{0, 1}) // [B,K,G*T,Dh]
	out = Reshape(out, B, K, G, T, Dh)
	out = TransposeAllAxes(out, 0, 3, 1, 2, 4) // [B,T,K,G,Dh]
	return Reshape(out, B, T, H*Dh)
}

// mask returns the boolean attention mask [B,1,1,T,S] for a window (0 = full causal), built once per window.
func (c *gctx) mask(window int) *Node {
	if m, ok := c.masks[window]; ok {
		return m
	}
	qpos := InsertAxes(c.positions, -1)   // [B,T,1]
	kpos := InsertAxes(c.keyPositions, 1) // [B,1,S]
	valid := InsertAxes(c.keyValid, 1)    // [B,1,S] bool
	m := LogicalAnd(valid, LessOrEqual(kpos, qpos))
	if window > 0 {
		m = LogicalAnd(m, LessThan(Sub(qpos, kpos), Scalar(c.g, dtypes.Int32, window)))
	}
	m = InsertAxes(m, 1, 1) // [B,1,1,T,S]
	c.masks[window] = m
	return m
}

// rope returns cos and sin [B,T,1,rot] for a rotary embedding kind (an index into the model's ropes).
func (c *gctx) rope(kind int) (cos, sin *Node) {
	if cs, ok := c.ropeCache[kind]; ok {
		return cs[0], cs[1]
	}
	invFreq, scale := c.ropeInvFreq[kind], c.ropeScale[kind]         // [B,rot/2] (per row), scalar
	pos := InsertAxes(ConvertDType(c.positions, dtypes.Float32), -1) // [B,T,1]
	freqs := Mul(pos, InsertAxes(invFreq, 1))                        // [B,T,rot/2]
	emb := Concatenate([]*Node{freqs, freqs}, -1)
	emb = InsertAxes(emb, 2) // [B,T,1,rot]
	cos, sin = Mul(Cos(emb), scale), Mul(Sin(emb), scale)
	c.ropeCache[kind] = [2]*Node{cos, sin}
	return cos, sin
}

// cacheWrite returns cache [B,K,Cap,Dh] with x [B,K,T,Dh] written at slots offset..offset+T-1.
// (The pure-Go backend has no DynamicUpdateSlice: a select with a slot mask does the same.)
func (c *gctx) cacheWrite(cache, x *Node) *Node {
	cs := cache.Shape()
	capacity, T := cs.Dimensions[2], x.Shape().Dimensions[2]
	slots := Iota(c.g, shapes.Make(dtypes.Int32, capacity), 0)
	if T == 1 {
		sel := Equal(slots, c.offset)                               // [Cap]
		sel = BroadcastToShape(Reshape(sel, 1, 1, capacity, 1), cs) // [B,K,Cap,Dh]
		return Where(sel, BroadcastToShape(x, cs), cache)
	}
	// place[s, t] = 1 where s == offset + t.
	ts := Iota(c.g, shapes.Make(dtypes.Int32, capacity, T), 1)
	ss := Iota(c.g, shapes.Make(dtypes.Int32, capacity, T), 0)
	hit := Equal(ss, Add(ts, c.offset))
	place := ConvertDType(hit, dtypes.Float32)                   // [Cap,T]
	placed := DotGeneral(place, []int{1}, nil, x, []int{2}, nil) // [Cap,B,K,Dh]
	placed = TransposeAllAxes(placed, 1, 2, 0, 3)                // [B,K,Cap,Dh]
	written := ReduceLogicalOr(hit, 1)                           // [Cap]
	written = BroadcastToShape(Reshape(written, 1, 1, capacity, 1), cs)
	return Where(written, placed, cache)
}
