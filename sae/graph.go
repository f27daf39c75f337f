package sae

import (
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
