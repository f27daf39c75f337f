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

// linear applies the linear weight name (stored [in,out], possibly as column blocks: see
// loader.columns) and bias b [out] (may be nil) to x [..., in].
func (c *gctx) linear(x *Node, name string, b *Node) *Node {
	blocks := c.wBlocks(name)
	k := x.Shape().Dimensions[x.Rank()-1]
	if rows := x.Shape().Size() / k; len(blocks) > 1 && rows*k*blocks[0].Shape().Dimensions[1] >= smallMatmulFlops {
		// Too many rows for the small kernel (prefill): one product with the whole weight, whose copy
		// costs less than the output's. (Several large products at once can also deadlock the
		// backend's worker pool: its Saturate waits for a free worker without working itself.)
		blocks = []*Node{Concatenate(blocks, 1)}
	}
	ys := make([]*Node, len(blocks))
	for i, w := range blocks {
		ys[i] = DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
	}
	y := ys[0]
	if len(ys) > 1 {
		y = Concatenate(ys, -1)
	}
	if b != nil {
		y = Add(y, lr(b, y))
	}
	return y
}

// embed returns the embeddings [B,T,D] of ids [B,T] from the embedding name, stored transposed as
// [D,V] (loader.embedding), possibly as column blocks: it gathers columns, from every block, keeping
// each id's own (about three passes over [B,T,D] per block), or, for many ids, from the blocks
// concatenated back into one [D,V] (one copy of the embedding).
func (c *gctx) embed(name string, ids *Node) *Node {
	blocks := c.wBlocks(name)
	vocab := 0
	for _, w := range blocks {
		vocab += w.Shape().Dimensions[1]
	}
	if len(blocks) > 1 && 3*ids.Shape().Size()*len(blocks) > vocab {
		blocks = []*Node{Concatenate(blocks, 1)}
	}
	if len(blocks) == 1 {
		return gatherColumns(blocks[0], ids)
	}
	var out *Node
	start := 0
	for _, w := range blocks {
		n := w.Shape().Dimensions[1]
		local := SubScalar(ids, start)
		in := LogicalAnd(GreaterOrEqual(local, ScalarZero(c.g, dtypes.Int32)), LessThan(local, Scalar(c.g, dtypes.Int32, n)))
		x := gatherColumns(w, ClipScalar(local, 0, float64(n-1)))
		x = Mul(x, InsertAxes(ConvertDType(in, dtypes.Float32), -1))
		if out == nil {
			out = x
		} else {
			out = Add(out, x)
		}
		start += n
	}
	return out
}

// gatherColumns returns columns ids [B,T] of w [D,N] as [B,T,D].
func gatherColumns(w, ids *Node) *Node {
	D := w.Shape().Dimensions[0]
	at := InsertAxes(ids, -1) // [B,T,1]
	last := at.Rank() - 1
	return BackendGather(w, at, last, []int{last}, []int{1}, []int{1}, []int{D, 1}, false)
}

// wBlocks returns the column blocks of a weight (one node when it is stored whole).
func (c *gctx) wBlocks(name string) []*Node {
	names, ok := c.blocks[name]
	if !ok {
		return []*Node{c.w(name)}
	}
	out := make([]*Node, len(names))
	for i, n := range names {
		out[i] = c.w(n)
	}
	return out
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
		return fusedGelu(x, false, func() *Node {
			inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
			return Mul(MulScalar(x, 0.5), AddScalar(Tanh(inner), 1))
		})
	case "gelu", "gelu_python":
		return fusedGelu(x, true, func() *Node {
			return Mul(MulScalar(x, 0.5), AddScalar(Erf(MulScalar(x, 1/math.Sqrt2)), 1))
		})
	case "relu":
		return Max(x, ZerosLike(x))
	}
	panic(errorf("unsupported activation %q", name))
}

// fusedGelu is the backend's fused GELU (one parallel pass instead of seven elementwise ops on the
// pure-Go backend), or the decomposed formula where the backend has none.
func fusedGelu(x *Node, exact bool, decomposed func() *Node) *Node {
	y, _ := InternalFusedOpCaller(func() *Node { return BackendFusedGelu(x, exact) }, decomposed, false)
	return y
}

// gatedMLP is down(act(gate(x)) * up(x)) with linear weights (no biases).
func (c *gctx) gatedMLP(x *Node, act, gate, up, down string) *Node {
	return c.linear(Mul(activation(act, c.linear(x, gate, nil)), c.linear(x, up, nil)), down, nil)
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
	// Keys and values as [B*K,T,Dh]: one batch axis, so the backend's matmul takes them as they are
	// (merging two batch axes of a graph output, like a cache, costs it a copy).
	kh := Reshape(TransposeAllAxes(k, 0, 2, 1, 3), B*K, T, Dh)
	vh := Reshape(TransposeAllAxes(v, 0, 2, 1, 3), B*K, T, Dh)
	if c.cacheK != nil { // caches are kept as [B*K,Cap,Dh], so no per-step transpose of the whole cache
		kh = c.cacheWrite(c.cacheK[layer], kh)
		vh = c.cacheWrite(c.cacheV[layer], vh)
		c.newK[layer], c.newV[layer] = kh, vh
	}
	S := kh.Shape().Dimensions[1]
	// q: [B,T,K,G,Dh] -> [B,K,G,T,Dh] -> [B*K,G*T,Dh]; the scale is applied to q (fewer values than the scores).
	qh := Reshape(q, B, T, K, G, Dh)
	qh = TransposeAllAxes(qh, 0, 2, 3, 1, 4)
	qh = MulScalar(Reshape(qh, B*K, G*T, Dh), o.scale)
	scores := DotGeneral(qh, []int{2}, []int{0}, kh, []int{2}, []int{0}) // [B*K,G*T,S]
	if o.softcap > 0 {
		scores = softcap(scores, o.softcap)
	}
	scores = Reshape(scores, B, K, G, T, S)
	mask := c.mask(o.window) // [B,1,1,T,S]
	scores = Where(BroadcastToShape(mask, scores.Shape()), scores,
		BroadcastToShape(Scalar(c.g, dtypes.Float32, -1e30), scores.Shape()))
	probs := Softmax(scores, -1)
	probs = Reshape(probs, B*K, G*T, S)
	out := DotGeneral(probs, []int{2}, []int{0}, vh, []int{1}, []int{0}) // [B*K,G*T,Dh]
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

// cacheWrite returns cache [B*K,Cap,Dh] with x [B*K,T,Dh] written at slots offset..offset+T-1.
// Each slot of a cache is written once (a decoder starts every cache from zeros), so adding x into the
// cache writes it: a ScatterSum, which the pure-Go backend runs in place on the donated cache buffer,
// touching B·K·T·Dh values instead of the whole cache (it has no DynamicUpdateSlice).
func (c *gctx) cacheWrite(cache, x *Node) *Node {
	d := x.Shape().Dimensions
	idx := shapes.Make(dtypes.Int32, d[0], d[1], 1)
	slots := Add(Iota(c.g, idx, 1), c.offset)
	at := Concatenate([]*Node{Iota(c.g, idx, 0), slots}, -1) // [B*K,T,2]: (row, slot)
	return ScatterSum(cache, at, x, true, true)
}
