package sae

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// Graph inputs of a training step: x, params (5), m (5), v (5), lr, bc1, bc2, coef, auxScale, then
// the variant's extra inputs: sparse: idx [B,k] Int32; dense masked: mask [B,S] Bool; aux: auxMask [B,S] Bool.
// Outputs: params, m, v (15), loss, mse, aux, fvu, l0, fired [S].
const (
	inX       = 0
	inParams  = 1
	inLR      = 1 + 3*nParams
	inBC1     = inLR + 1
	inBC2     = inLR + 2
	inCoef    = inLR + 3
	inAuxSc   = inLR + 4
	inExtra   = inLR + 5
	nOutStats = 6
)

type stepVariant struct {
	device bool // OnDevice: topk selection, AuxK and bookkeeping in the graph (devicestep.go)
	sparse bool // topk sparse path (idx input)
	masked bool // dense with a selection mask input (batchtopk, or topk with aux)
	aux    bool // auxMask input
	// auxCols (device, aux): AuxK over this many gathered columns holding the dead latents (longest dead
	// first) instead of all S; 0 = all
	auxCols int
}

func (v stepVariant) key() string {
	return fmt.Sprintf("%v%v%v%v%d", v.device, v.sparse, v.masked, v.aux, v.auxCols)
}

func (t *trainer) buildStep(v stepVariant, in []*Node) []*Node {
	if v.device {
		if t.cfg.Arch.dense() {
			return t.buildDenseDeviceStep(in)
		}
		return t.buildDeviceStep(v.aux, v.auxCols, in)
	}
	cfg := t.cfg
	if !v.sparse && !v.masked && cfg.Arch.dense() && !cfg.AutodiffGraph {
		return t.buildDenseGraphStep(in) // the same update with hand-written gradients (densegraph.go)
	}
	g := in[0].Graph()
	x := in[inX]
	wEncT, bEnc, bDec, logTh, wDec := in[inParams], in[inParams+1], in[inParams+2], in[inParams+3], in[inParams+4]
	coef, auxScale := in[inCoef], in[inAuxSc]
	B := x.Shape().Dimensions[0]
	bf := float64(B)
	xin := Sub(x, InsertAxes(bDec, 0))
	zero := ScalarZero(g, dtypes.Float32)
	var xhat, f, l0, fired, sparsityLoss *Node
	var preDense *Node
	dense := func() *Node {
		if preDense == nil {
			preDense = Add(DotGeneral(xin, []int{1}, nil, wEncT, []int{1}, nil), InsertAxes(bEnc, 0)) // [B,S]
		}
		return preDense
	}
	if v.sparse {
		idxIn := in[inExtra]
		idx := InsertAxes(idxIn, -1)                                               // [B,k,1]
		rows := Gather(wEncT, idx)                                                 // [B,k,d]
		pre := Add(ReduceSum(Mul(rows, InsertAxes(xin, 1)), 2), Gather(bEnc, idx)) // [B,k]
		vals := Max(pre, zero)
		xhat = DecodeSparseGraph(idxIn, vals, wDec, bDec)
		pos := ConvertDType(GreaterThan(vals, zero), dtypes.Float32)
		l0 = DivScalar(ReduceAllSum(pos), bf)
		fired = ScatterSum(Zeros(g, bEnc.Shape()), idx, StopGradient(pos), false, false)
	} else {
		pre := dense()
		switch {
		case v.masked:
			f = Where(in[inExtra], Max(pre, zero), ZerosLike(pre))
		case cfg.Arch == ArchReLU:
			f = Max(pre, zero)
		case cfg.Arch == ArchJumpReLU:
			th := InsertAxes(Exp(logTh), 0) // [1,S]
			mask := StopGradient(ConvertDType(GreaterThan(pre, th), dtypes.Float32))
			eps := cfg.JumpBandwidth
			u := DivScalar(Sub(pre, th), eps)
			kern := StopGradient(ConvertDType(LessThan(Abs(u), Scalar(g, dtypes.Float32, 0.5)), dtypes.Float32))
			// Straight-through: value pre·H(pre−θ); ∂/∂θ = −(θ/ε)·K((pre−θ)/ε); ∂/∂pre = H(pre−θ).
			cTh := StopGradient(Neg(DivScalar(Mul(th, kern), eps)))
			thB := BroadcastToDims(th, B, t.S)
			ste := Sub(Mul(thB, cTh), StopGradient(Mul(thB, cTh)))
			f = Add(Mul(pre, mask), ste)
			// L0 with the same STE: value Σ H, ∂/∂θ = −(1/ε)·K.
			c0 := StopGradient(Neg(DivScalar(kern, eps)))
			l0ste := Add(mask, Sub(Mul(thB, c0), StopGradient(Mul(thB, c0))))
			sparsityLoss = Mul(coef, DivScalar(ReduceAllSum(l0ste), bf))
		}
		xhat = DecodeGraph(f, wDec, bDec)
		pos := ConvertDType(GreaterThan(StopGradient(f), zero), dtypes.Float32)
		l0 = DivScalar(ReduceAllSum(pos), bf)
		fired = ReduceSum(pos, 0)
		if cfg.Arch == ArchReLU {
			norms := Sqrt(ReduceSum(Square(wDec), 1)) // [S]
			sparsityLoss = Mul(coef, DivScalar(ReduceAllSum(Mul(f, InsertAxes(norms, 0))), bf))
		}
	}
	e := Sub(x, xhat)
	mse := DivScalar(ReduceAllSum(Square(e)), bf)
	loss := mse
	if sparsityLoss != nil {
		loss = Add(loss, sparsityLoss)
	}
	auxLoss := zero
	if v.aux {
		pre := dense()
		fa := Where(in[len(in)-1], Max(pre, zero), ZerosLike(pre))
		ehat := DotGeneral(fa, []int{1}, nil, wDec, []int{0}, nil)
		auxLoss = Mul(auxScale, DivScalar(ReduceAllSum(Square(Sub(ehat, StopGradient(e)))), bf))
		loss = Add(loss, auxLoss)
	}
	xc := Sub(x, ReduceAndKeep(x, ReduceMean, 0))
	fvu := Div(ReduceAllSum(Square(StopGradient(e))), ReduceAllSum(Square(xc)))

	params := in[inParams : inParams+nParams]
	grads := Gradient(loss, params...)
	newP, newM, newV := t.adam(in, grads, cfg.Arch != ArchReLU, in[inLR], in[inBC1], in[inBC2])
	out := make([]*Node, 0, 3*nParams+nOutStats)
	out = append(out, newP...)
	out = append(out, newM...)
	out = append(out, newV...)
	out = append(out, loss, mse, auxLoss, fvu, l0)
	return append(out, fired, ConvertDType(allFinite(newP...), dtypes.Float32))
}

// adam applies one Adam step to the parameters in in (x, params, m, v first) given their gradients;
// with unitNorm the decoder gradient is first projected off each decoder row and the rows are renormalised
// after the update.
func (t *trainer) adam(in []*Node, grads []*Node, unitNorm bool, lr, bc1, bc2 *Node) (newP, newM, newV []*Node) {
	g := in[0].Graph()
	wDec := in[inParams+4]
	grads = append([]*Node(nil), grads...)
	if unitNorm { // remove the gradient component parallel to each decoder row
		par := ReduceSum(Mul(grads[4], wDec), 1)
		grads[4] = Sub(grads[4], Mul(InsertAxes(par, 1), wDec))
	}
	newP, newM, newV = make([]*Node, nParams), make([]*Node, nParams), make([]*Node, nParams)
	for i := range nParams {
		p, gr := in[inParams+i], grads[i]
		m := Add(MulScalar(in[inParams+nParams+i], adamB1), MulScalar(gr, 1-adamB1))
		vv := Add(MulScalar(in[inParams+2*nParams+i], adamB2), MulScalar(Square(gr), 1-adamB2))
		upd := Div(Div(m, bc1), AddScalar(Sqrt(Div(vv, bc2)), adamEps))
		np := Sub(p, Mul(lr, upd))
		if i == 4 && unitNorm {
			np = Div(np, InsertAxes(Max(Sqrt(ReduceSum(Square(np), 1)), Scalar(g, dtypes.Float32, 1e-12)), 1))
		}
		newP[i], newM[i], newV[i] = np, m, vv
	}
	return newP, newM, newV
}

func (t *trainer) exec(v stepVariant) (*Exec, error) {
	if e, ok := t.stepExec[v.key()]; ok {
		return e, nil
	}
	e, err := NewExec(t.backend, func(g *Graph, in []*Node) []*Node { return t.buildStep(v, in) })
	if err != nil {
		return nil, err
	}
	t.stepExec[v.key()] = e
	return e, nil
}

func (t *trainer) encodeExec() (*Exec, error) {
	if t.encExec != nil {
		return t.encExec, nil
	}
	e, err := NewExec(t.backend, func(x, wEncT, bEnc, bDec *Node) *Node {
		xin := Sub(x, InsertAxes(bDec, 0))
		return Add(DotGeneral(xin, []int{1}, nil, wEncT, []int{1}, nil), InsertAxes(bEnc, 0))
	})
	t.encExec = e
	return e, err
}

// sparsityCoef is this step's ReLU L1 / JumpReLU L0 coefficient, with its linear warm-up (0 for TopK).
func (t *trainer) sparsityCoef() float64 {
	cfg := t.cfg
	coef := 0.0
	switch cfg.Arch {
	case ArchReLU:
		coef = cfg.L1Coef
	case ArchJumpReLU:
		coef = cfg.L0Coef
	}
	if cfg.SparsityWarmupSteps > 0 && t.step < cfg.SparsityWarmupSteps {
		coef *= float64(t.step+1) / float64(cfg.SparsityWarmupSteps)
	}
	return coef
}

// trainStep runs one step on batch. sync asks the OnDevice step to read its results back (progress
// reports, checkpoints, the end); the other steps always do.
func (t *trainer) trainStep(batch []float32, sync bool) (p Progress, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sae: step %d: %v", t.step+1, r)
		}
	}()
	cfg := t.cfg
	B, S, d := cfg.BatchSize, t.S, t.d
	if t.onDevice {
		x := tensors.FromFlatDataAndDimensions(batch, B, d)
		defer x.FinalizeAll()
		return t.trainStepDevice(x, sync)
	}
	scaled := make([]float32, len(batch))
	for i, v := range batch {
		scaled[i] = v * t.scale
	}
	stepNum := float64(t.step + 1)
	lr := cfg.lrAt(t.step, t.steps)
	coef := t.sparsityCoef()
	var dead []bool
	nDead := 0
	for j := range S {
		if t.since[j] >= cfg.DeadTokens {
			if dead == nil {
				dead = make([]bool, S)
			}
			dead[j] = true
			nDead++
		}
	}
	if (cfg.Arch == ArchTopK || cfg.Arch == ArchBatchTopK) && !cfg.TopKGraph && !cfg.TopKSparse {
		return t.trainStepSparse(scaled, lr, dead, nDead)
	}
	if usesDenseStep(cfg, t.backend) {
		return t.trainStepDense(scaled, lr, coef)
	}
	xT := tensors.FromFlatDataAndDimensions(scaled, B, d)
	defer xT.FinalizeAll()
	auxScale := 0.0
	var v stepVariant
	var extra []any
	if cfg.Arch == ArchTopK || cfg.Arch == ArchBatchTopK {
		useAux := nDead > 0 && cfg.AuxCoef > 0
		if cfg.Arch == ArchTopK && !useAux && cfg.TopKSparse {
			v.sparse = true
		} else {
			v.masked = true
		}
		enc, err := t.encodeExec()
		if err != nil {
			return p, err
		}
		outs, err := enc.Exec(xT, t.state[0], t.state[1], t.state[2])
		if err != nil {
			return p, fmt.Errorf("sae: step %d: encode: %w", t.step+1, err)
		}
		var idx []int32
		var mask, auxMask []bool
		err = tensors.ConstFlatData(outs[0], func(pre []float32) {
			switch {
			case cfg.Arch == ArchTopK:
				idx = make([]int32, B*cfg.K)
				parallelRows(B, func(r0, r1 int) {
					for r := r0; r < r1; r++ {
						topKIndices(pre[r*S:(r+1)*S], cfg.K, idx[r*cfg.K:(r+1)*cfg.K])
					}
				})
				if v.masked {
					mask = make([]bool, B*S)
					for r := range B {
						for _, j := range idx[r*cfg.K : (r+1)*cfg.K] {
							mask[r*S+int(j)] = true
						}
					}
				}
			default: // batchtopk
				mask = t.batchTopKMask(pre, B)
			}
			if useAux {
				kAux := min(cfg.KAux, nDead)
				auxScale = cfg.AuxCoef * math.Min(float64(nDead)/float64(cfg.KAux), 1)
				auxMask = make([]bool, B*S)
				deadIdx := make([]int32, 0, nDead)
				for j, dd := range dead {
					if dd {
						deadIdx = append(deadIdx, int32(j))
					}
				}
				parallelRows(B, func(r0, r1 int) {
					vals := make([]float32, nDead)
					sel := make([]int32, kAux)
					for r := r0; r < r1; r++ {
						for m, j := range deadIdx {
							vals[m] = pre[r*S+int(j)]
						}
						topKIndices(vals, kAux, sel)
						for _, m := range sel {
							auxMask[r*S+int(deadIdx[m])] = true
						}
					}
				})
			}
		})
		outs[0].FinalizeAll()
		if err != nil {
			return p, err
		}
		if v.sparse {
			extra = append(extra, tensors.FromFlatDataAndDimensions(idx, B, cfg.K))
		} else {
			extra = append(extra, tensors.FromFlatDataAndDimensions(mask, B, S))
		}
		if useAux {
			v.aux = true
			extra = append(extra, tensors.FromFlatDataAndDimensions(auxMask, B, S))
		}
	}
	e, err := t.exec(v)
	if err != nil {
		return p, err
	}
	args := []any{xT}
	for _, s := range t.state {
		args = append(args, s)
	}
	f32 := func(x float64) *tensors.Tensor { return tensors.FromScalar(float32(x)) }
	args = append(args, f32(lr), f32(1-math.Pow(adamB1, stepNum)), f32(1-math.Pow(adamB2, stepNum)), f32(coef), f32(auxScale))
	args = append(args, extra...)
	outs, err := e.Exec(args...)
	if err != nil {
		return p, fmt.Errorf("sae: step %d: %w", t.step+1, err)
	}
	stat := func(i int) float64 { return float64(tensors.ToScalar[float32](outs[3*nParams+i])) }
	p.Loss, p.MSE, p.AuxLoss, p.FVU, p.L0 = stat(0), stat(1), stat(2), stat(3), stat(4)
	p.LR = lr
	// the new parameters too (checked in the graph): a finite loss can still come with an overflowing update
	bad := math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) || stat(6) == 0
	if bad {
		for _, o := range outs {
			o.FinalizeAll()
		}
		return p, fmt.Errorf("sae: step %d: non-finite loss %v (mse %v): stopping; the last checkpoint is kept", t.step+1, p.Loss, p.MSE)
	}
	for i := range 3 * nParams {
		t.state[i].FinalizeAll()
		t.state[i] = outs[i]
	}
	fired, _ := tensors.CopyFlatData[float32](outs[3*nParams+5])
	p.DeadFrac = countFirings(t, fired)
	for i := 3 * nParams; i < len(outs); i++ {
		outs[i].FinalizeAll()
	}
	return p, nil
}

// batchTopKMask keeps the k·B largest positive pre-activations of the batch (ties: lower flat index) and
// updates the inference threshold EMA with the smallest kept value (SAELens BatchTopK semantics).
func (t *trainer) batchTopKMask(pre []float32, B int) []bool {
	n := t.cfg.K * B
	cand := make([]int32, 0, len(pre)/8)
	for i, v := range pre {
		if v > 0 {
			cand = append(cand, int32(i))
		}
	}
	if n > len(cand) {
		n = len(cand)
	}
	sort.Slice(cand, func(a, b int) bool {
		va, vb := pre[cand[a]], pre[cand[b]]
		if va != vb {
			return va > vb
		}
		return cand[a] < cand[b]
	})
	mask := make([]bool, len(pre))
	for _, i := range cand[:n] {
		mask[i] = true
	}
	if n > 0 {
		minPos := float64(pre[cand[n-1]])
		if t.step == 0 {
			t.btThresh = minPos // start the EMA at the first value (SAELens starts at 0)
		} else {
			t.btThresh = 0.99*t.btThresh + 0.01*minPos
		}
	}
	return mask
}
