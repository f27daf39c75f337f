package sae

import (
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// buildDeviceStep is the OnDevice TopK training graph with its gradients written out (no autodiff), so
// that every heavy operation is a dense matmul or a gather of the k selected rows:
//
//	forward:  pre = (x − b_dec)·W_encᵀ + b_enc [B,S] (selection only); idx = top-k(pre) [B,k];
//	          the k pre-activations recomputed in float32 from the gathered W_enc rows; f = ReLU;
//	          x̂ = Σ_m f_m W_dec[idx_m] + b_dec from the gathered W_dec rows [B,k,d]
//	backward: g = ∂L/∂x̂ = −2(x − x̂)/B; ∂f_m = g·W_dec[idx_m] (same gathered rows); ∂pre = ∂f·[pre > 0];
//	          the [B,S] matrices F (f at idx) and P (∂pre at idx) are scattered densely, then
//	          ∂W_dec = Fᵀg and ∂W_encᵀ = Pᵀ(x − b_dec) are two dense matmuls (tensor cores), ∂b_enc = Σ_rows P,
//	          ∂b_dec = Σ_rows g − (Σ_rows P)·W_encᵀ
//	AuxK:     top-k_aux over the dead latents' pre-activations (taken from pre), ê = A·W_dec (dense),
//	          ∂ê = 2·scale·(ê − e)/B, ∂A = ∂ê·W_decᵀ at the selected entries (dense), added to P, and
//	          [F;A]ᵀ[g;∂ê] for ∂W_dec
//
// A scatter-add of B·k rows into W_dec/W_enc (autodiff's gradient of a gather) is what a GPU does worst;
// the dense form costs 2·B·S·d multiply-adds each but runs on the matrix units. With BF16Matmuls the
// [B,S]×[S,d]-sized products take bfloat16 operands (float32 accumulation and results).
//
// With auxCols > 0 the AuxK part gathers the pre-activations of at most auxCols dead latents (the
// longest dead first; all of them while there are no more) into [B,auxCols] and works there: the top-k_aux,
// ê from the gathered decoder rows, and ∂W_dec's aux rows scattered back (the columns are distinct).
func (t *trainer) buildDeviceStep(aux bool, auxCols int, in []*Node) []*Node {
	g := in[0].Graph()
	cfg := t.cfg
	hyper := in[devHyper]
	h := func(i int) *Node { return Reshape(Slice(hyper, AxisElem(i))) }
	x := Mul(in[inX], h(3))
	wEncT, bEnc, bDec, wDec := in[inParams], in[inParams+1], in[inParams+2], in[inParams+4]
	B, d, S, k := x.Shape().Dimensions[0], t.d, t.S, cfg.K
	bf := float64(B)
	zero := ScalarZero(g, dtypes.Float32)

	has := func(knob string) bool { return strings.Contains(cfg.deviceGraph, knob) }
	xin := Sub(x, InsertAxes(bDec, 0))
	var xa *Node // [B,d+1(+pad)]: xin, then columns of ones (the first is b_enc's); bf16 selection, biascol
	if t.bf16Select() || has("biascol") {
		xa = t.withOnes(xin)
	}
	pre := t.selectionPre(xin, xa, wEncT, bEnc) // [B,S]
	idx := t.selectTopK(pre, k)
	idx1 := InsertAxes(idx, -1)
	rowIdx := func(ix *Node) *Node { // [B,m] → [B,m,2] (row, column) scatter indices into [B,S]
		rows := Iota(g, shapes.Make(dtypes.Int32, ix.Shape().Dimensions[0], ix.Shape().Dimensions[1], 1), 0)
		return Concatenate([]*Node{rows, InsertAxes(ix, -1)}, -1)
	}
	ij := rowIdx(idx)
	rows := func(w *Node) *Node { return Gather(w, idx1) } // the k selected rows [B,k,d]
	if cfg.BF16Matmuls && has("bf16rows") {
		// (benchmarks) gather the rows from bfloat16 copies: half the bytes of the step's largest reads,
		// at the price of bf16 weights in the recomputed pre-activations and the decode
		rows = func(w *Node) *Node { return ConvertDType(Gather(ConvertDType(w, t.half()), idx1), dtypes.Float32) }
	}
	var preSel *Node // [B,k]
	if has("selpre") {
		// (benchmarks) the k pre-activations as the selection product gave them (bf16 with --bf16, as
		// autocast's encoder output): no [B,k,d] gather of encoder rows
		preSel = ConvertDType(Reshape(Gather(pre, ij), B, k), dtypes.Float32)
	} else {
		encRows := rows(wEncT) // [B,k,d]
		preSel = Add(ReduceSum(Mul(encRows, InsertAxes(xin, 1)), 2), Gather(bEnc, idx1))
	}
	vals := Max(preSel, zero)
	decRows := rows(wDec)                                                                   // [B,k,d]
	xhat := Add(ReduceSum(Mul(decRows, InsertAxes(vals, -1)), 1), InsertAxes(bDec, 0))      // [B,d]
	e := Sub(x, xhat)                                                                       // [B,d]
	mse := DivScalar(ReduceAllSum(Square(e)), bf)                                           // Σ‖e‖²/B
	gx := MulScalar(e, -2/bf)                                                               // ∂L/∂x̂
	active := GreaterThan(preSel, zero)                                                     // [B,k]
	dpre := Where(active, ReduceSum(Mul(decRows, InsertAxes(gx, 1)), 2), ZerosLike(preSel)) // [B,k]
	// With bfloat16 matmuls, F and P are scattered as bfloat16, the dtype the gradient products read: a
	// float32 [B,S] matrix and its conversion would be two more passes over 4·B·S bytes each.
	sdt := dtypes.Float32
	if t.cfg.BF16Matmuls && !strings.Contains(t.cfg.deviceGraph, "f32scatter") {
		sdt = t.half()
	}
	bs := shapes.Make(sdt, B, S)
	// (benchmarks) sparsegrad: the weight gradients as scatter-adds of the B·k selected rows (fp32
	// atomics on a GPU: fast but not deterministic there) instead of dense products over [B,S] matrices;
	// the AuxK step keeps the dense form
	sparse := has("sparsegrad") && !aux
	var F, P *Node // [B,S]
	if !sparse {
		F = Scatter(ij, ConvertDType(vals, sdt), bs, false, true)
		P = Scatter(ij, ConvertDType(dpre, sdt), bs, false, true)
	}
	lossN := mse
	auxLoss := zero
	fCat, gCat := F, gx
	var gWDecAux func(gWDec *Node) *Node // adds the compact AuxK rows of ∂W_dec
	if aux {
		since := in[devSince]
		dead := t.deadGraph(since) // [S]
		nDead := ReduceAllSum(ConvertDType(dead, dtypes.Float32))
		var ga, A, ia, dpreA *Node
		if auxCols > 0 {
			key := Where(dead, ConvertDType(since, dtypes.Float32), Scalar(g, dtypes.Float32, -1))
			_, cols := TopK(key, auxCols, -1) // [C]: dead latents, longest dead first (then alive ones, masked)
			// in latent order: rows gathered in order, and ties in the top-k_aux broken by latent as in the full step
			cols = Sort(cols, 0, true)
			cols1 := InsertAxes(cols, -1)
			C := auxCols
			colIdx := Concatenate([]*Node{Iota(g, shapes.Make(dtypes.Int32, B, C, 1), 0), BroadcastToDims(InsertAxes(cols1, 0), B, C, 1)}, -1)
			var iaC *Node
			auxLoss, ga, A, iaC, dpreA = t.auxKPart(Reshape(Gather(pre, colIdx), B, C), Gather(dead, cols1), Gather(wDec, cols1), nDead, e, sdt)
			ia = Reshape(Gather(cols, InsertAxes(iaC, -1)), B, cfg.KAux) // the latents
			gWDecAux = func(gWDec *Node) *Node {
				return ScatterSum(gWDec, cols1, t.mm(A, []int{0}, ga, []int{0}), false, true) // + A_Cᵀ·∂ê at the C rows
			}
		} else {
			auxLoss, ga, A, ia, dpreA = t.auxKPart(pre, dead, wDec, nDead, e, sdt)
			fCat, gCat = Concatenate([]*Node{F, A}, 0), Concatenate([]*Node{gx, ga}, 0)
		}
		lossN = Add(lossN, auxLoss)
		P = ScatterSum(P, rowIdx(ia), ConvertDType(dpreA, sdt), false, true) // a dead latent may also be among the k
	}
	var gWDec, gWEncT, gBEnc *Node // [S,d], [S,d], [S]
	switch {
	case sparse:
		sd := shapes.Make(dtypes.Float32, S, d)
		gWDec = Scatter(idx1, Mul(InsertAxes(vals, -1), InsertAxes(gx, 1)), sd, false, false)
		gWEncT = Scatter(idx1, Mul(InsertAxes(dpre, -1), InsertAxes(xin, 1)), sd, false, false)
		gBEnc = Scatter(idx1, dpre, shapes.Make(dtypes.Float32, S), false, false)
	case has("biascol"):
		// (benchmarks) ∂b_enc = Σ_rows P as the ones column of the same product: no pass over P of its own
		gW := t.mm(P, []int{0}, xa, []int{0}) // [S,d+1(+pad)]
		gWEncT, gBEnc = Slice(gW, AxisRange(), AxisRange(0, d)), Reshape(Slice(gW, AxisRange(), AxisElem(d)), S)
	default:
		gWEncT = t.mm(P, []int{0}, xin, []int{0})
		gBEnc = ReduceSum(ConvertDType(P, dtypes.Float32), 0)
	}
	if !sparse {
		gWDec = t.mm(fCat, []int{0}, gCat, []int{0})
	}
	if gWDecAux != nil {
		gWDec = gWDecAux(gWDec)
	}
	gBDec := Sub(ReduceSum(gx, 0), Reshape(DotGeneral(InsertAxes(gBEnc, 0), []int{1}, nil, wEncT, []int{0}, nil), d))
	grads := []*Node{gWEncT, gBEnc, gBDec, ZerosLike(in[inParams+3]), gWDec}

	xc := Sub(x, ReduceAndKeep(x, ReduceMean, 0))
	fvu := Div(ReduceAllSum(Square(e)), ReduceAllSum(Square(xc)))
	l0 := DivScalar(ReduceAllSum(ConvertDType(active, dtypes.Float32)), bf)
	// [S]: a dense reduction (no atomics: deterministic); F ≥ 0, so its sign is whether the latent fired
	// (a comparison with a zero constant made XLA materialise a third [B,S] buffer of zeros)
	var fired *Node
	if sparse || has("firedscatter") {
		// (benchmarks) B·k additions of 0/1 into [S]: exact in float32 whatever their order
		fired = Scatter(idx1, ConvertDType(active, dtypes.Float32), shapes.Make(dtypes.Float32, S), false, false)
	} else {
		fired = ReduceSum(Sign(ConvertDType(F, dtypes.Float32)), 0)
	}
	newP, newM, newV := t.adam(in, grads, true, h(0), h(1), h(2))
	out := make([]*Node, 0, 3*nParams+9)
	out = append(out, newP...)
	out = append(out, newM...)
	out = append(out, newV...)
	out = append(out, lossN, mse, auxLoss, fvu, l0)
	return append(out, t.deviceBookkeeping(in, fired, allFinite(append(newP, lossN)...))...)
}

// auxKPart is AuxK over n candidate columns (all S latents, or the compact step's gathered ones): pre
// [B,n] their selection pre-activations, dead [n], wDecN [n,d] their decoder rows, nDead the dead latents
// in all, e = x − x̂ [B,d]. It returns the aux loss, ∂aux/∂ê [B,d], A [B,n] (the selected dead latents'
// activations, in sdt), the selected columns [B,k_aux] and their ∂pre [B,k_aux].
func (t *trainer) auxKPart(pre, dead, wDecN, nDead, e *Node, sdt dtypes.DType) (auxLoss, ga, A, ia, dpreA *Node) {
	g := pre.Graph()
	B, n, kAux := pre.Shape().Dimensions[0], pre.Shape().Dimensions[1], t.cfg.KAux
	zero := ScalarZero(g, dtypes.Float32)
	deadB := BroadcastToDims(InsertAxes(dead, 0), B, n)
	masked := Where(deadB, pre, BroadcastToDims(Infinity(g, pre.DType(), -1), B, n))
	ia = t.selectTopK(masked, kAux) // [B,kAux]
	ij := Concatenate([]*Node{Iota(g, shapes.Make(dtypes.Int32, B, kAux, 1), 0), InsertAxes(ia, -1)}, -1)
	preA := ConvertDType(Reshape(Gather(pre, ij), B, kAux), dtypes.Float32)
	isDead := Reshape(Gather(deadB, ij), B, kAux)
	valsA := Where(isDead, Max(preA, zero), ZerosLike(preA))
	A = Scatter(ij, ConvertDType(valsA, sdt), shapes.Make(sdt, B, n), false, true)
	ehat := t.mm(A, []int{1}, wDecN, []int{0}) // [B,d]
	scale := MulScalar(Min(DivScalar(nDead, float64(kAux)), Scalar(g, dtypes.Float32, 1)), t.cfg.AuxCoef)
	r := Sub(ehat, e)
	bf := float64(B)
	auxLoss = Mul(scale, DivScalar(ReduceAllSum(Square(r)), bf))
	ga = Mul(MulScalar(r, 2/bf), scale)        // ∂aux/∂ê [B,d]
	gaN := t.mm(ga, []int{1}, wDecN, []int{1}) // [B,n] = ∂ê·W_decᵀ
	dpreA = Where(LogicalAnd(isDead, GreaterThan(preA, zero)), Reshape(Gather(gaN, ij), B, kAux), ZerosLike(preA))
	return auxLoss, ga, A, ia, dpreA
}

// selectTopK is topKSel with the configured method (TrainConfig.topKMethod; benchmarks: deviceGraph's
// "chunks=c1/c2/..." when they fit, "gomlxtopk").
func (t *trainer) selectTopK(pre *Node, k int) *Node {
	sel := topKSel{fullSort: t.cfg.topKMethod == "sort", gomlx: strings.Contains(t.cfg.deviceGraph, "gomlxtopk")}
	if i := strings.Index(t.cfg.deviceGraph, "chunks="); i >= 0 {
		spec, _, _ := strings.Cut(t.cfg.deviceGraph[i+len("chunks="):], ",")
		n := pre.Shape().Dimensions[1]
		for _, f := range strings.Split(spec, "/") {
			c, err := strconv.Atoi(f)
			if err != nil || !chunkFits(n, k, c) {
				sel.chunks = nil
				break
			}
			sel.chunks = append(sel.chunks, c)
			n = k * c
		}
	}
	return sel.indices(pre, k)
}

// mm is a DotGeneral with one contracting axis each (no batch axes): float32, or bfloat16 operands with
// float32 results when BF16Matmuls.
func (t *trainer) mm(a *Node, ac []int, b *Node, bc []int) *Node {
	if !t.cfg.BF16Matmuls {
		return DotGeneral(a, ac, nil, b, bc, nil)
	}
	return Dot(ConvertDType(a, t.half()), ConvertDType(b, t.half())).
		WithOutputDType(dtypes.Float32).General(ac, nil, bc, nil)
}

// half is the reduced precision of BF16Matmuls: bfloat16 (tests may set trainer.lowp to float32).
func (t *trainer) half() dtypes.DType {
	if t.lowp == dtypes.InvalidDType {
		return dtypes.BFloat16
	}
	return t.lowp
}
