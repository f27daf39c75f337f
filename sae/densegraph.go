package sae

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// buildDenseGraphStep is the dense ReLU / JumpReLU training graph with its gradients written out (no
// autodiff): the update of buildStep's dense branch (and of the Go dense step, densestep.go) in one graph
// whose heavy work is five dense matmuls, in layouts a GPU's GEMMs take directly, and whose [B,S]
// elementwise work is a few fusable expressions of pre and ∂f:
//
//	forward:  pre = (x − b_dec)·W_encᵀ + b_enc [B,S]; active = pre > 0 (ReLU) or pre > θ (JumpReLU);
//	          f = pre·active; x̂ = f·W_dec + b_dec [B,d]; e = x − x̂
//	backward: g = ∂L/∂x̂ = −2e/B [B,d]; ∂f = g·W_decᵀ [B,S];
//	          ReLU:     ∂pre = (∂f + coef·‖W_dec,j‖/B)·active (the decoder-norm-weighted L1)
//	          JumpReLU: ∂pre = ∂f·active (straight-through), and with K = [|pre − θ|/ε < ½] (rectangle
//	                    kernel) ∂θ = Σ_rows K·(−(θ/ε)·∂f − coef/(εB)) (f's and the L0 penalty's estimators),
//	                    ∂log θ = θ·∂θ
//	          ∂W_dec = fᵀg (+ ReLU: coef·Σ_rows f_j/B·W_dec,j/‖W_dec,j‖) [S,d]; ∂W_encᵀ = ∂preᵀ(x − b_dec)
//	          [S,d]; ∂b_enc = Σ_rows ∂pre; ∂b_dec = Σ_rows g − ∂b_enc·W_encᵀ
//
// then Adam (JumpReLU: with the decoder-gradient projection and row renormalisation). Autodiff's graph
// of the same loss also computes ∂(x − b_dec) = ∂pre·W_encᵀ [B,d] for ∂b_dec, a sixth product of the
// same size (∂b_dec only needs ∂b_enc·W_encᵀ), and cannot take bfloat16 products. With BF16Matmuls the
// five products take bfloat16 operands (float32 accumulation and results, t.mm); the pre-activations then
// carry bfloat16 rounding of x − b_dec and W_enc, everything after the products is float32.
// Measured on an H200 at 768→24576, batch 4096 (the step alone on resident batches): autodiff 21.2 ms,
// this graph 17.5 ms in float32 and 3.0 ms with BF16Matmuls (PyTorch on the same card: 21.1 ms fp32,
// 5.0 ms autocast); in the OnDevice loop (buildDenseDeviceStep), 3.13 ms per bf16 ReLU training step.
// Inputs and outputs are buildStep's (step.go); TestDenseGraphMatchesAutodiff checks the two agree.
func (t *trainer) buildDenseGraphStep(in []*Node) []*Node {
	out, fired, finite := t.denseGraphUpdate(in, in[inX], in[inLR], in[inBC1], in[inBC2], in[inCoef])
	return append(out, fired, ConvertDType(finite, dtypes.Float32))
}

// buildDenseDeviceStep is the OnDevice ReLU / JumpReLU step: the same update on the raw batch (scaled in
// the graph), its scalars from the hyper vector (lr, 1−β1^t, 1−β2^t, scale, step, sparsity coefficient)
// and the dead-latent bookkeeping on the device (devicestep.go's contract; no AuxK).
func (t *trainer) buildDenseDeviceStep(in []*Node) []*Node {
	hyper := in[devHyper]
	h := func(i int) *Node { return Reshape(Slice(hyper, AxisElem(i))) }
	out, fired, finite := t.denseGraphUpdate(in, Mul(in[inX], h(3)), h(0), h(1), h(2), h(5))
	return append(out, t.deviceBookkeeping(in, fired, finite)...)
}

// denseGraphUpdate returns params', m', v', loss, mse, aux (0), fvu, l0, then the firing counts [S] and
// whether the new weights are finite, for the scaled batch x and the step's scalars.
func (t *trainer) denseGraphUpdate(in []*Node, x, lr, bc1, bc2, coef *Node) (out []*Node, fired, finite *Node) {
	g := in[0].Graph()
	cfg := t.cfg
	jump := cfg.Arch == ArchJumpReLU
	wEncT, bEnc, bDec, logTh, wDec := in[inParams], in[inParams+1], in[inParams+2], in[inParams+3], in[inParams+4]
	B := x.Shape().Dimensions[0]
	bf := float64(B)
	zero := ScalarZero(g, dtypes.Float32)
	// op converts a matmul operand that two products read once (t.mm then leaves it as it is)
	op := func(a *Node) *Node {
		if cfg.BF16Matmuls {
			return ConvertDType(a, t.half())
		}
		return a
	}

	xin := Sub(x, InsertAxes(bDec, 0)) // [B,d]
	xinOp := op(xin)
	pre := Add(t.mm(xinOp, []int{1}, wEncT, []int{1}), InsertAxes(bEnc, 0)) // [B,S]
	var th, active *Node
	if jump {
		th = InsertAxes(Exp(logTh), 0) // [1,S]
		active = GreaterThan(pre, th)  // θ > 0, so also f > 0
	} else {
		active = GreaterThan(pre, zero)
	}
	f := Where(active, pre, zero) // [B,S]
	fOp := op(f)
	xhat := Add(t.mm(fOp, []int{1}, wDec, []int{0}), InsertAxes(bDec, 0)) // [B,d]
	e := Sub(x, xhat)
	mse := DivScalar(ReduceAllSum(Square(e)), bf)
	gx := MulScalar(e, -2/bf) // ∂mse/∂x̂ [B,d]
	gxOp := op(gx)
	df := t.mm(gxOp, []int{1}, wDec, []int{1})   // [B,S]
	actF := ConvertDType(active, dtypes.Float32) // [B,S]
	fired = ReduceSum(actF, 0)                   // [S]
	l0 := DivScalar(ReduceAllSum(fired), bf)
	cB := DivScalar(coef, bf) // coef/B
	var dpre, sparsity, gLogTh *Node
	var norms, sumF *Node
	if jump {
		dpre = Where(active, df, zero)
		eps := cfg.JumpBandwidth
		// the kernel as the autodiff branch writes it, so that the same entries fall inside the band
		kern := LessThan(Abs(DivScalar(Sub(pre, th), eps)), Scalar(g, dtypes.Float32, 0.5))
		gTh := ReduceSum(Where(kern, Add(Mul(df, th), cB), zero), 0) // [S], times −1/ε below
		gLogTh = Mul(MulScalar(gTh, -1/eps), Reshape(th, t.S))       // ∂/∂log θ = θ·∂/∂θ
		sparsity = Mul(cB, ReduceAllSum(fired))                      // coef·L0
	} else {
		norms = Sqrt(ReduceSum(Square(wDec), 1)) // [S]
		dpre = Where(active, Add(df, InsertAxes(Mul(norms, cB), 0)), zero)
		sumF = ReduceSum(f, 0) // [S]
		sparsity = Mul(cB, ReduceAllSum(Mul(sumF, norms)))
		gLogTh = ZerosLike(logTh)
	}
	gWDec := t.mm(fOp, []int{0}, gxOp, []int{0}) // [S,d]
	if !jump {
		// ∂/∂W_dec,j of coef·Σ f_j‖W_dec,j‖/B (a zero row, which autodiff would turn into NaN, gets none)
		w := Where(GreaterThan(norms, zero), Div(Mul(sumF, cB), norms), zero) // [S]
		gWDec = Add(gWDec, Mul(InsertAxes(w, 1), wDec))
	}
	gWEncT := t.mm(op(dpre), []int{0}, xinOp, []int{0}) // [S,d]
	gBEnc := ReduceSum(dpre, 0)                         // [S]
	gBDec := Sub(ReduceSum(gx, 0), DotGeneral(gBEnc, []int{0}, nil, wEncT, []int{0}, nil))
	loss := Add(mse, sparsity)

	xc := Sub(x, ReduceAndKeep(x, ReduceMean, 0))
	fvu := Div(ReduceAllSum(Square(e)), ReduceAllSum(Square(xc)))
	grads := []*Node{gWEncT, gBEnc, gBDec, gLogTh, gWDec}
	newP, newM, newV := t.adam(in, grads, jump, lr, bc1, bc2)
	out = make([]*Node, 0, 3*nParams+nOutStats+4)
	out = append(out, newP...)
	out = append(out, newM...)
	out = append(out, newV...)
	out = append(out, loss, mse, zero, fvu, l0)
	return out, fired, allFinite(append(newP, loss)...)
}
