package sae

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// EncodeGraph builds the SAE encoder inside a GoMLX graph, with the weights passed as graph nodes
// (in ParamData order), so it can be spliced into a model's forward pass:
//
//	x:         [..., d_in] activations (any leading dims), float32
//	wEnc:      [d_in, d_sae]
//	bEnc:      [d_sae]
//	bDec:      [d_in], subtracted from x first; pass nil when the SAE has apply_b_dec_to_input = false
//	threshold: [d_sae], used by jumprelu and batchtopk only (may be nil for topk/relu)
//
// It returns f [..., d_sae] with exactly the formula of (*SAE).Encode. For topk it uses GoMLX's
// TopKMask (a stable sort: ties go to the lower index, as Encode), which is exact but sort-based; for
// training, Train uses a faster sparse path.
func EncodeGraph(arch Arch, k int, x, wEnc, bEnc, bDec, threshold *Node) *Node {
	xin := x
	if bDec != nil {
		xin = Sub(x, ExpandLeftToRank(bDec, x.Rank()))
	}
	pre := DotGeneral(xin, []int{xin.Rank() - 1}, nil, wEnc, []int{0}, nil)
	pre = Add(pre, ExpandLeftToRank(bEnc, pre.Rank()))
	return ActivateGraph(arch, k, pre, threshold)
}

// ActivateGraph applies the architecture's activation to pre-activations pre [..., d_sae].
func ActivateGraph(arch Arch, k int, pre, threshold *Node) *Node {
	zero := ZerosLike(pre)
	switch arch {
	case ArchTopK:
		mask := TopKMask(pre, k, -1)
		return Where(mask, Max(pre, zero), zero)
	case ArchReLU:
		return Max(pre, zero)
	case ArchJumpReLU, ArchBatchTopK:
		return Where(GreaterThan(pre, ExpandLeftToRank(threshold, pre.Rank())), Max(pre, zero), zero)
	}
	panic("sae: EncodeGraph: unknown architecture " + string(arch))
}

// DecodeGraph builds the decoder: f [..., d_sae] · wDec [d_sae, d_in] + bDec [d_in] → [..., d_in].
func DecodeGraph(f, wDec, bDec *Node) *Node {
	out := DotGeneral(f, []int{f.Rank() - 1}, nil, wDec, []int{0}, nil)
	return Add(out, ExpandLeftToRank(bDec, out.Rank()))
}

// DecodeSparseGraph decodes from per-row active latents: idx [N, k] (Int32) and vals [N, k] →
// [N, d_in] = Σ_m vals[n,m]·W_dec[idx[n,m]] + b_dec. It gathers only the k active decoder rows
// ([N,k] → [N,k,d_in] weighted sum) instead of a dense [N,d_sae]×[d_sae,d_in] matmul.
func DecodeSparseGraph(idx, vals, wDec, bDec *Node) *Node {
	rows := Gather(wDec, InsertAxes(ConvertDType(idx, dtypes.Int32), -1)) // [N, k, d_in]
	out := ReduceSum(Mul(rows, InsertAxes(vals, -1)), 1)
	return Add(out, ExpandLeftToRank(bDec, out.Rank()))
}

// NormalizeGraph applies the SAE's run-time input normalisation (Meta.Normalize constant_norm_rescale or
// layer_norm, see RuntimeNorm) to x [..., d_in] and returns the normalised x and the function that maps a
// reconstruction [..., d_in] back with x's statistics; both are identities for other SAEs. Encode/Forward
// compute the same per-row formulas.
func NormalizeGraph(s *SAE, x *Node) (xn *Node, undo func(*Node) *Node) {
	dims := x.Shape().Dimensions
	bc := func(v *Node) *Node { return BroadcastToDims(v, dims...) } // [..., 1] → [..., d_in]
	d := dims[len(dims)-1]
	switch s.Meta.Normalize {
	case NormConstantNormRescale:
		norm := Sqrt(ReduceAndKeep(Square(x), ReduceSum, -1))
		c := bc(Div(Scalar(x.Graph(), x.DType(), math.Sqrt(float64(d))), norm))
		return Mul(x, c), func(r *Node) *Node { return Div(r, c) }
	case NormLayerNorm:
		mu := bc(ReduceAndKeep(x, ReduceMean, -1))
		xc := Sub(x, mu)
		std := bc(Sqrt(MulScalar(ReduceAndKeep(Square(xc), ReduceSum, -1), 1/float64(max(d-1, 1)))))
		return Div(xc, AddScalar(std, 1e-5)), func(r *Node) *Node { return Add(Mul(r, std), mu) }
	}
	return x, func(r *Node) *Node { return r }
}
