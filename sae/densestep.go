package sae

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// The dense ReLU / JumpReLU training step on CPU backends (the default there; TrainConfig.DenseGraph
// selects the graph step instead, densegraph.go: the same maths as one GoMLX graph). The five products of
// the step run as compiled GoMLX matmuls (the backend's packed AVX-512 kernel): pre = (x−b_dec)·W_encᵀ, x̂ = f·W_dec, ∂f = g·W_decᵀ,
// ∂W_dec = fᵀg, ∂W_encᵀ = ∂preᵀ(x−b_dec). Everything elementwise runs in Go in two passes over the
// [B,S] matrices instead of autodiff's many single-op passes:
//
//	pass 1 (rows in parallel): f = act(pre + b_enc), written into a buffer the backend reads in place;
//	pass 2 (column blocks in parallel, rows in order, so sums are deterministic): ∂pre from ∂f, the
//	  sparsity term (ReLU: coef·‖W_dec,j‖/B; JumpReLU: the straight-through estimator of f and of L0 for
//	  log θ), and the column sums ∂b_enc, firing counts, Σf and the L0 count.
//
// Adam (and, for JumpReLU, the decoder-gradient projection and renormalisation) then runs per latent row,
// fused with the sparsity gradient of W_dec. The graph step computes the same update up to float32
// rounding (TestDenseStepMatchesGraph).
type denseStep struct {
	// shared with the backend (Go writes them, the matmuls read them in place): x − b_dec [B,d] and its
	// transpose [d,B], f and ∂pre [B,S], g [B,d] and its transpose. The weight gradients are computed
	// transposed, gᵀf and (x−b_dec)ᵀ∂pre [d,S]: the layouts in which the backend's matmul contracts over B
	// without transposing a [B,S] operand (460 against 870 ms per product at 768→12288).
	xinT, xinTrT, fT, dpT, gT, gTrT *tensors.Tensor
	mm                              map[string]*Exec
	preKeep                         []float32 // JumpReLU: pre + b_enc, kept for pass 2
}

func (t *trainer) dense() (*denseStep, error) {
	if t.ds != nil {
		return t.ds, nil
	}
	B, d, S := t.cfg.BatchSize, t.d, t.S
	ds := &denseStep{mm: map[string]*Exec{}}
	mk := func(dims ...int) (*tensors.Tensor, error) {
		x := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
		return x, x.MaterializeOnDevice(t.backend, true, 0)
	}
	var err error
	for _, p := range []struct {
		dst  **tensors.Tensor
		dims []int
	}{{&ds.xinT, []int{B, d}}, {&ds.xinTrT, []int{d, B}}, {&ds.fT, []int{B, S}}, {&ds.dpT, []int{B, S}}, {&ds.gT, []int{B, d}},
		{&ds.gTrT, []int{d, B}}} {
		if *p.dst, err = mk(p.dims...); err != nil {
			return nil, fmt.Errorf("sae: dense step buffers: %w", err)
		}
	}
	t.ds = ds
	return ds, nil
}

// matmul runs a·b contracting axis ac of a with axis bc of b (compiled once per pair of axes and shapes).
func (ds *denseStep) matmul(t *trainer, a *tensors.Tensor, ac int, b *tensors.Tensor, bc int) (*tensors.Tensor, error) {
	key := fmt.Sprint(ac, bc)
	e, ok := ds.mm[key]
	if !ok {
		var err error
		if e, err = NewExec(t.backend, func(x, y *Node) *Node { return DotGeneral(x, []int{ac}, nil, y, []int{bc}, nil) }); err != nil {
			return nil, err
		}
		ds.mm[key] = e
	}
	outs, err := e.Exec(a, b)
	if err != nil {
		return nil, fmt.Errorf("sae: step %d: matmul: %w", t.step+1, err)
	}
	return outs[0], nil
}

// sharedState makes the run state (params, Adam moments) shared with the backend, so that the matmuls read
// the parameters in place and Go updates them in place, and returns their buffers.
func (t *trainer) sharedState() ([][]float32, error) {
	st := make([][]float32, len(t.state))
	for i, x := range t.state {
		if !x.IsShared() {
			if err := x.ToLocal(); err != nil {
				return nil, err
			}
			if err := x.MaterializeOnDevice(t.backend, true, 0); err != nil {
				return nil, fmt.Errorf("sae: dense step: %w", err)
			}
			if !x.IsShared() {
				return nil, fmt.Errorf("sae: dense step: backend %s has no shared buffers", t.backend.Name())
			}
		}
		st[i] = flat(x)
	}
	return st, nil
}

// flat returns the shared buffer of a tensor made by dense() (valid while the tensor lives).
func flat(x *tensors.Tensor) []float32 {
	var a []float32
	x.MutableFlatData(func(f any) { a = f.([]float32) })
	return a
}

// readOut calls fn with an exec output's buffer (read in place), then frees it.
func readOut(x *tensors.Tensor, fn func([]float32)) error {
	defer x.FinalizeAll()
	return tensors.ConstFlatData(x, fn)
}

func (t *trainer) trainStepDense(x []float32, lr, coef float64) (p Progress, err error) {
	cfg := t.cfg
	ds, err := t.dense()
	if err != nil {
		return p, err
	}
	B, d, S := cfg.BatchSize, t.d, t.S
	jump := cfg.Arch == ArchJumpReLU
	xin, xinTr, f, dp, g, gTr := flat(ds.xinT), flat(ds.xinTrT), flat(ds.fT), flat(ds.dpT), flat(ds.gT), flat(ds.gTrT)
	st, err := t.sharedState()
	if err != nil {
		return p, err
	}
	var stepErr error
	func() {
		wEncT, bEnc, bDec, logTh, wDec := st[0], st[1], st[2], st[3], st[4]
		parallelRows(B, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				xr, xi := x[r*d:(r+1)*d], xin[r*d:(r+1)*d]
				for i := range d {
					xi[i] = xr[i] - bDec[i]
					xinTr[i*B+r] = xi[i]
				}
			}
		})
		th := make([]float32, S)
		if jump {
			for j, l := range logTh {
				th[j] = float32(math.Exp(float64(l)))
			}
		}
		// pre, pass 1: f = act(pre + b_enc)
		pre, err := ds.matmul(t, ds.xinT, 1, t.state[0], 1)
		if err != nil {
			stepErr = err
			return
		}
		var preKeep []float32 // JumpReLU needs pre + b_enc again in pass 2
		if jump {
			if len(ds.preKeep) != B*S {
				ds.preKeep = make([]float32, B*S)
			}
			preKeep = ds.preKeep
		}
		if stepErr = readOut(pre, func(pv []float32) {
			parallelRows(B, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					pr, fr := pv[r*S:(r+1)*S], f[r*S:(r+1)*S]
					if jump {
						jumpBias32(pr, bEnc, th, fr, preKeep[r*S:(r+1)*S])
					} else {
						reluBias32(pr, bEnc, fr)
					}
				}
			})
		}); stepErr != nil {
			return
		}
		// x̂ = f·W_dec + b_dec, e = x − x̂, g = −2e/B
		xh, err := ds.matmul(t, ds.fT, 1, t.state[4], 0)
		if err != nil {
			stepErr = err
			return
		}
		rowSE := make([]float64, B)
		gs := float32(-2) / float32(B)
		if stepErr = readOut(xh, func(xv []float32) {
			parallelRows(B, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					var se float64
					for i := range d {
						e := x[r*d+i] - (xv[r*d+i] + bDec[i])
						se += float64(e) * float64(e)
						g[r*d+i] = gs * e
						gTr[i*B+r] = gs * e
					}
					rowSE[r] = se
				}
			})
		}); stepErr != nil {
			return
		}
		var mse float64
		for _, v := range rowSE {
			mse += v
		}
		mse /= float64(B)
		// ∂f = g·W_decᵀ, pass 2 over column blocks
		norms := make([]float32, S)
		for j := range S {
			norms[j] = float32(math.Sqrt(float64(dot32(wDec[j*d:(j+1)*d], wDec[j*d:(j+1)*d]))))
		}
		df, err := ds.matmul(t, ds.gT, 1, t.state[4], 1)
		if err != nil {
			stepErr = err
			return
		}
		gbEnc, gTh, sumF, fired := make([]float32, S), make([]float32, S), make([]float32, S), make([]float32, S)
		cf := float32(coef) / float32(B)
		cfn := make([]float32, S) // ReLU: ∂(coef·Σ f_j‖W_dec,j‖/B)/∂f_j
		for j := range S {
			cfn[j] = cf * norms[j]
		}
		eps := float32(cfg.JumpBandwidth)
		var lo, hi, aTh []float32
		if jump {
			lo, hi, aTh = make([]float32, S), make([]float32, S), make([]float32, S)
			for j := range S {
				lo[j], hi[j], aTh[j] = th[j]-eps/2, th[j]+eps/2, -th[j]/eps
			}
		}
		if stepErr = readOut(df, func(dv []float32) {
			const blk = 64
			parallelDynamic(S, blk, func(_, j0, j1 int) {
				for r := range B {
					o := r * S
					if !jump {
						reluBack32(f[o+j0:o+j1], dv[o+j0:o+j1], cfn[j0:j1], dp[o+j0:o+j1], fired[j0:j1], sumF[j0:j1], gbEnc[j0:j1])
						continue
					}
					// STE: ∂f/∂z = H(z−θ); ∂f/∂θ = −(θ/ε)K((z−θ)/ε); ∂L0/∂θ = −(1/ε)K, K = [|z−θ| < ε/2]
					jumpBack32(preKeep[o+j0:o+j1], dv[o+j0:o+j1], th[j0:j1], lo[j0:j1], hi[j0:j1], aTh[j0:j1], -cf/eps,
						dp[o+j0:o+j1], fired[j0:j1], gTh[j0:j1], gbEnc[j0:j1])
				}
			})
		}); stepErr != nil {
			return
		}
		var sparsity, l0 float64
		for j := range S {
			l0 += float64(fired[j])
			if !jump {
				sparsity += float64(sumF[j]) * float64(norms[j])
			}
		}
		if jump {
			sparsity = l0
		}
		p.MSE = mse
		p.Loss = mse + coef*sparsity/float64(B)
		p.L0 = l0 / float64(B)
		p.FVU = mse * float64(B) / centeredSS(x, B, d)
		p.LR = lr
		if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
			stepErr = fmt.Errorf("sae: step %d: non-finite loss %v (mse %v): stopping; the last checkpoint is kept", t.step+1, p.Loss, p.MSE)
			return
		}
		// ∂W_decᵀ = gᵀf, ∂W_encᵀᵀ = (x − b_dec)ᵀ∂pre, both [d,S]
		gDecT, err := ds.matmul(t, ds.gTrT, 1, ds.fT, 0)
		if err != nil {
			stepErr = err
			return
		}
		gEncT, err := ds.matmul(t, ds.xinTrT, 1, ds.dpT, 0)
		if err != nil {
			gDecT.FinalizeAll()
			stepErr = err
			return
		}
		defer gDecT.FinalizeAll()
		defer gEncT.FinalizeAll()
		// ∂b_dec = Σ_rows g − Σ_j ∂b_enc,j W_encᵀ[j] (in fixed order)
		gbDec := make([]float32, d)
		for r := range B {
			axpy32(1, g[r*d:(r+1)*d], gbDec)
		}
		for j := range S {
			axpy32(-gbEnc[j], wEncT[j*d:(j+1)*d], gbDec)
		}
		ad := newAdamConsts(lr, t.step)
		var bad atomic.Bool
		stepErr = readOut(gDecT, func(gdec []float32) {
			stepErr = tensors.ConstFlatData(gEncT, func(genc []float32) {
				const cb = 32 // latents per task: gradients gathered from the [d,S] products in [cb,d] blocks
				nw := runtime.GOMAXPROCS(0)
				scratch := make([]float32, 2*cb*d*nw)
				parallelDynamic(S, cb, func(w, j0, j1 int) {
					gdB := scratch[2*w*cb*d : (2*w+1)*cb*d]
					geB := scratch[(2*w+1)*cb*d : (2*w+2)*cb*d]
					for i := range d {
						for jj, v := range gdec[i*S+j0 : i*S+j1] {
							gdB[jj*d+i] = v
						}
						for jj, v := range genc[i*S+j0 : i*S+j1] {
							geB[jj*d+i] = v
						}
					}
					for j := j0; j < j1; j++ {
						rows := j * d
						wd := wDec[rows : rows+d]
						gd := gdB[(j-j0)*d : (j-j0+1)*d]
						if jump { // unit-norm decoder: project the gradient off the row
							axpy32(-dot32(gd, wd), wd, gd)
						} else if sumF[j] > 0 && norms[j] > 0 { // ∂/∂W_dec,j of coef·Σf_j‖W_dec,j‖/B
							axpy32(cf*sumF[j]/norms[j], wd, gd)
						}
						ad.update(wEncT[rows:rows+d], st[nParams][rows:rows+d], st[2*nParams][rows:rows+d], geB[(j-j0)*d:(j-j0+1)*d])
						ad.update(bEnc[j:j+1], st[nParams+1][j:j+1], st[2*nParams+1][j:j+1], gbEnc[j:j+1])
						gl := []float32{gTh[j] * th[j]} // ∂/∂log θ = θ·∂/∂θ
						ad.update(logTh[j:j+1], st[nParams+3][j:j+1], st[2*nParams+3][j:j+1], gl)
						ad.update(wd, st[nParams+4][rows:rows+d], st[2*nParams+4][rows:rows+d], gd)
						if jump {
							nrm := float32(math.Sqrt(float64(dot32(wd, wd))))
							scal32(1/max(nrm, 1e-12), wd)
						}
						if !finite32(wd) || !finite32(wEncT[rows:rows+d]) || bEnc[j]-bEnc[j] != 0 || logTh[j]-logTh[j] != 0 {
							bad.Store(true)
						}
					}
				})
			})
		})
		if stepErr != nil {
			return
		}
		ad.update(bDec, st[nParams+2], st[2*nParams+2], gbDec)
		if bad.Load() || !finite32(bDec) {
			stepErr = fmt.Errorf("sae: step %d: non-finite parameters after the update (loss %v): stopping; the last checkpoint is kept", t.step+1, p.Loss)
			return
		}
		p.DeadFrac = countFirings(t, fired)
	}()
	return p, stepErr
}

// reluBackGeneric is reluBack32's scalar form (also its tail).
func reluBackGeneric(f, df, cfn, dp, fired, sumF, gb []float32) {
	for i, fv := range f {
		var d float32
		if fv > 0 {
			d = df[i] + cfn[i]
			fired[i]++
			sumF[i] += fv
		}
		dp[i] = d
		gb[i] += d
	}
}

// jumpBiasGeneric is jumpBias32's scalar form (also its tail).
func jumpBiasGeneric(pre, bias, th, out, keep []float32) {
	for i := range out {
		z := pre[i] + bias[i]
		keep[i] = z
		if z > th[i] {
			out[i] = z
		} else {
			out[i] = 0
		}
	}
}

// jumpBackGeneric is jumpBack32's scalar form (also its tail).
func jumpBackGeneric(z, df, th, lo, hi, a []float32, c float32, dp, fired, gTh, gb []float32) {
	for i, zv := range z {
		var d float32
		if zv > th[i] {
			d = df[i]
			fired[i]++
		}
		dp[i] = d
		gb[i] += d
		if zv > lo[i] && zv < hi[i] {
			gTh[i] += a[i]*df[i] + c
		}
	}
}
