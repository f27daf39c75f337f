package sae

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// The sparse TopK / BatchTopK training step (the default for those architectures; TrainConfig.TopKGraph
// selects the GoMLX graph step instead).
//
// Only the encoder matmul (x − b_dec)·W_encᵀ [B,S] is dense: a compiled GoMLX exec on the pure-Go backend
// (its packed AVX-512 kernel, ~120-170 GFLOP/s on 2 cores here; a simple hand-written archsimd kernel
// measured ~20 GFLOP/s). x − b_dec is formed in Go and b_enc is added in Go inside the top-k scan (the
// backend's broadcast add is generic and slow); the exec's output buffer is read in place (ConstFlatData),
// not copied. Everything else is done in Go over the selected latents:
//
//	phase A (parallel over rows): selection (top-k per row, or the batch top-k·B by a radix select),
//	  x̂ = b_dec + Σ_sel f_j W_dec[j], e = x − x̂, g = ∂L/∂x̂ = −2e/B, ∂pre_j = g·W_dec[j] for the
//	  selected j (all have pre_j > 0), AuxK likewise on the top-k_aux dead latents against e, and the
//	  per-row ∂b_dec contribution g − Σ_j ∂pre_j W_enc[j];
//	phase B (parallel over latents): the per-latent lists of (row, f, ∂pre) (built in row order) give
//	  ∂W_dec[j] = Σ f g_row, ∂W_enc[j] = Σ ∂pre (x−b_dec)_row, ∂b_enc[j] = Σ ∂pre; the gradient
//	  projection, Adam and the renormalisation of row j are fused in the same pass (Adam runs on every
//	  row, so moments decay where the gradient is 0, as in the graph step).
//
// Every sum has a fixed order independent of the number of goroutines and of scheduling, so runs are
// bit-identical for a given seed (and resumes reproduce uninterrupted runs).
type sparseStep struct {
	B, d, S int
	xT      *tensors.Tensor // [B,d] encoder input, reused

	xin, g, ga, rb []float32 // [B,d]: x − b_dec, ∂L/∂x̂, AuxK ∂L/∂ê, per-row ∂b_dec contribution
	rowMSE, rowAux []float64 // [B]

	// per-row entries (CSR over rows): latent, value f (= pre > 0), ∂pre
	selIdx  []int32   // [B·k] per-row selection scratch (topk)
	selVal  []float32 // [B·k]
	bEnc0   []float32 // [S] b_enc at the start of the step
	rowCnt  []int32   // [B] entries kept per row
	rowOff  []int32   // [B+1]
	eIdx    []int32
	eVal    []float32
	eDp     []float32
	aux     bool
	auxIdx  []int32   // [B·kAux] (only entries with pre > 0; auxCnt per row)
	auxVal  []float32 // [B·kAux]
	auxDp   []float32 // [B·kAux]
	auxCnt  []int32   // [B]
	kAux    int
	deadIdx []int32

	// per-latent lists (CSR over latents)
	lOff  []int32 // [S+1]
	lRow  []int32 // row, or −1−row for an AuxK entry
	lF    []float32
	lDp   []float32
	fired []int32 // [S] main entries per latent

	// batchtopk scratch
	rowTies []int32
}

func (t *trainer) sparse() *sparseStep {
	if t.sp != nil {
		return t.sp
	}
	B, d, S := t.cfg.BatchSize, t.d, t.S
	sp := &sparseStep{B: B, d: d, S: S,
		xin: make([]float32, B*d), g: make([]float32, B*d), rb: make([]float32, B*d),
		rowMSE: make([]float64, B), rowAux: make([]float64, B),
		rowCnt: make([]int32, B), rowOff: make([]int32, B+1), auxCnt: make([]int32, B),
		lOff: make([]int32, S+1), fired: make([]int32, S), rowTies: make([]int32, B), bEnc0: make([]float32, S),
	}
	sp.xT = tensors.FromFlatDataAndDimensions(make([]float32, B*d), B, d)
	t.sp = sp
	return sp
}

// withFlat gives fn the float32 data of the tensors (the tensors' own storage, mutable), holding each.
func withFlat(ts []*tensors.Tensor, fn func(flat [][]float32)) error {
	flat := make([][]float32, len(ts))
	var rec func(i int) error
	rec = func(i int) error {
		if i == len(ts) {
			fn(flat)
			return nil
		}
		var inner error
		err := tensors.MutableFlatData(ts[i], func(a []float32) {
			flat[i] = a
			inner = rec(i + 1)
		})
		if err != nil {
			return err
		}
		return inner
	}
	return rec(0)
}

// parallelDynamic runs fn over [0,n) in chunks of size chunk taken from a shared counter.
func parallelDynamic(n, chunk int, fn func(w, i0, i1 int)) {
	w := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if w <= 1 {
		fn(0, 0, n)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for wi := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i0 := int(next.Add(int64(chunk))) - chunk
				if i0 >= n {
					return
				}
				fn(wi, i0, min(i0+chunk, n))
			}
		}()
	}
	wg.Wait()
}

func (t *trainer) trainStepSparse(scaled []float32, lr float64, dead []bool, nDead int) (p Progress, err error) {
	cfg := t.cfg
	sp := t.sparse()
	B, d := sp.B, sp.d
	// x − b_dec in Go (kept for the backward), then the matmul alone in the exec: b_enc is added in Go,
	// fused into the top-k scan (the backend's broadcast add is generic and slow)
	if err := tensors.ConstFlatData(t.state[2], func(bDec []float32) {
		parallelRows(B, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				xr, xin := scaled[r*d:(r+1)*d], sp.xin[r*d:(r+1)*d]
				for i := range d {
					xin[i] = xr[i] - bDec[i]
				}
			}
		})
	}); err != nil {
		return p, err
	}
	if err := tensors.MutableFlatData(sp.xT, func(a []float32) { copy(a, sp.xin) }); err != nil {
		return p, err
	}
	mm, err := t.matmulExec()
	if err != nil {
		return p, err
	}
	outs, err := mm.Exec(sp.xT, t.state[0])
	if err != nil {
		return p, fmt.Errorf("sae: step %d: encode: %w", t.step+1, err)
	}
	defer outs[0].FinalizeAll()

	useAux := nDead > 0 && cfg.AuxCoef > 0
	auxScale := 0.0
	sp.aux = useAux
	if useAux {
		sp.kAux = min(cfg.KAux, nDead)
		auxScale = cfg.AuxCoef * math.Min(float64(nDead)/float64(cfg.KAux), 1)
		sp.deadIdx = sp.deadIdx[:0]
		for j, dd := range dead {
			if dd {
				sp.deadIdx = append(sp.deadIdx, int32(j))
			}
		}
	}

	var stepErr error
	err = tensors.ConstFlatData(outs[0], func(pre []float32) { // the backend's buffer, not a copy
		stepErr = withFlat(t.state, func(st [][]float32) {
			p, stepErr = t.sparseUpdate(sp, scaled, pre, st, lr, auxScale)
		})
	})
	if err == nil {
		err = stepErr
	}
	if err != nil {
		return p, err
	}
	p.DeadFrac = countFirings(t, sp.fired)
	return p, nil
}

// matmulExec compiles xin [B,d] · W_encTᵀ → [B,S].
func (t *trainer) matmulExec() (*Exec, error) {
	if t.mmExec != nil {
		return t.mmExec, nil
	}
	e, err := NewExec(t.backend, func(xin, wEncT *Node) *Node {
		return DotGeneral(xin, []int{1}, nil, wEncT, []int{1}, nil)
	})
	t.mmExec = e
	return e, err
}

// selectRows fills the per-row entries (CSR) from pre: top-k per row or the batch top-k·B.
// pre is the bias-free matmul (read-only); the selection is over pre + bias.
func (t *trainer) selectRows(sp *sparseStep, pre, bias []float32) {
	B, S, k := sp.B, sp.S, t.cfg.K
	if t.cfg.Arch == ArchTopK {
		if len(sp.selIdx) != B*k {
			sp.selIdx = make([]int32, B*k)
			sp.selVal = make([]float32, B*k)
		}
		parallelRows(B, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				sel, val := sp.selIdx[r*k:(r+1)*k], sp.selVal[r*k:(r+1)*k]
				topKBias(pre[r*S:(r+1)*S], bias, k, sel, val)
				c := 0
				for m, j := range sel {
					if val[m] > 0 {
						sel[c], val[c] = j, val[m]
						c++
					}
				}
				sp.rowCnt[r] = int32(c)
			}
		})
		sp.rowOff[0] = 0
		for r := range B {
			sp.rowOff[r+1] = sp.rowOff[r] + sp.rowCnt[r]
		}
		n := int(sp.rowOff[B])
		sp.eIdx, sp.eVal, sp.eDp = grow(sp.eIdx, n), growF(sp.eVal, n), growF(sp.eDp, n)
		parallelRows(B, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				o := int(sp.rowOff[r])
				c := int(sp.rowCnt[r])
				copy(sp.eIdx[o:o+c], sp.selIdx[r*k:])
				copy(sp.eVal[o:o+c], sp.selVal[r*k:])
			}
		})
		return
	}
	t.batchTopKSelect(sp, pre, bias)
}

func grow(a []int32, n int) []int32 {
	if cap(a) < n {
		return make([]int32, n, n+n/4)
	}
	return a[:n]
}

func growF(a []float32, n int) []float32 {
	if cap(a) < n {
		return make([]float32, n, n+n/4)
	}
	return a[:n]
}

// batchTopKSelect keeps the k·B largest positive pre-activations of the batch, ties to the lower flat
// index (the same set as batchTopKMask), by an exact two-pass radix select on the float bits (positive
// float32s order as their uint32 bits), and updates the inference-threshold EMA.
func (t *trainer) batchTopKSelect(sp *sparseStep, pre, bias []float32) {
	B, S := sp.B, sp.S
	want := int64(t.cfg.K) * int64(B)
	hist := func(match func(u uint32) (int, bool)) []int64 {
		var mu sync.Mutex
		all := make([]int64, 1<<16)
		parallelRows(B, func(r0, r1 int) {
			h := make([]int64, 1<<16)
			row := make([]float32, S)
			for r := r0; r < r1; r++ {
				copy(row, pre[r*S:(r+1)*S])
				addTo(bias, row)
				for _, v := range row {
					if v > 0 {
						if b, ok := match(math.Float32bits(v)); ok {
							h[b]++
						}
					}
				}
			}
			mu.Lock() // integer sums: order-independent
			for i, c := range h {
				all[i] += c
			}
			mu.Unlock()
		})
		return all
	}
	h1 := hist(func(u uint32) (int, bool) { return int(u >> 16), true })
	var total int64
	for _, c := range h1 {
		total += c
	}
	n := min(want, total)
	sp.rowOff[0] = 0
	if n == 0 {
		clear(sp.rowCnt)
		for r := range B {
			sp.rowOff[r+1] = 0
		}
		return
	}
	// find the top-16-bit bucket holding the n-th largest
	var above int64
	hi := 0
	for b := len(h1) - 1; b >= 0; b-- {
		if above+h1[b] >= n {
			hi = b
			break
		}
		above += h1[b]
	}
	h2 := hist(func(u uint32) (int, bool) { return int(u & 0xffff), int(u>>16) == hi })
	lo := 0
	for b := len(h2) - 1; b >= 0; b-- {
		if above+h2[b] >= n {
			lo = b
			break
		}
		above += h2[b]
	}
	th := uint32(hi)<<16 | uint32(lo)
	quota := n - above // how many entries equal to th to keep, by lowest flat index
	parallelRows(B, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			var gt, eq int32
			for j, v := range pre[r*S : (r+1)*S] {
				v += bias[j]
				if v > 0 {
					u := math.Float32bits(v)
					if u > th {
						gt++
					} else if u == th {
						eq++
					}
				}
			}
			sp.rowCnt[r], sp.rowTies[r] = gt, eq
		}
	})
	left := quota
	for r := range B {
		take := min(int64(sp.rowTies[r]), left)
		left -= take
		sp.rowTies[r] = int32(take)
		sp.rowCnt[r] += int32(take)
		sp.rowOff[r+1] = sp.rowOff[r] + sp.rowCnt[r]
	}
	m := int(sp.rowOff[B])
	sp.eIdx, sp.eVal, sp.eDp = grow(sp.eIdx, m), growF(sp.eVal, m), growF(sp.eDp, m)
	parallelRows(B, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			o := sp.rowOff[r]
			ties := sp.rowTies[r]
			for j, v := range pre[r*S : (r+1)*S] {
				v += bias[j]
				if v > 0 {
					u := math.Float32bits(v)
					if u > th || (u == th && ties > 0) {
						if u == th {
							ties--
						}
						sp.eIdx[o], sp.eVal[o] = int32(j), v
						o++
					}
				}
			}
		}
	})
	minPos := float64(math.Float32frombits(th))
	if t.step == 0 {
		t.btThresh = minPos
	} else {
		t.btThresh = 0.99*t.btThresh + 0.01*minPos
	}
}

// sparseUpdate runs phases A and B on the state (st: params, m, v as float32 slices).
func (t *trainer) sparseUpdate(sp *sparseStep, x, pre []float32, st [][]float32, lr, auxScale float64) (Progress, error) {
	var p Progress
	B, d, S := sp.B, sp.d, sp.S
	wEncT, bEnc, bDec, wDec := st[0], st[1], st[2], st[4]
	bias := sp.bEnc0 // b_enc before this step's update
	copy(bias, bEnc)
	t.selectRows(sp, pre, bias)

	if sp.aux {
		ka := sp.kAux
		sp.auxIdx, sp.auxVal, sp.auxDp = grow(sp.auxIdx, B*ka), growF(sp.auxVal, B*ka), growF(sp.auxDp, B*ka)
		if len(sp.ga) != B*d {
			sp.ga = make([]float32, B*d)
		}
		nDead := len(sp.deadIdx)
		parallelRows(B, func(r0, r1 int) {
			vals := make([]float32, nDead)
			zeros := make([]float32, nDead)
			selV := make([]float32, ka)
			for r := r0; r < r1; r++ {
				prow := pre[r*S : (r+1)*S]
				for m, j := range sp.deadIdx {
					vals[m] = prow[j] + bias[j]
				}
				sel := sp.auxIdx[r*ka : (r+1)*ka]
				topKBias(vals, zeros, ka, sel, selV) // positions in deadIdx: ties to the lower latent index
				c := 0
				for m, pos := range sel {
					if v := selV[m]; v > 0 {
						sel[c] = sp.deadIdx[pos]
						sp.auxVal[r*ka+c] = v
						c++
					}
				}
				sp.auxCnt[r] = int32(c)
			}
		})
	}

	// phase A
	bf := float32(B)
	gScale := float32(-2) / bf
	aScale := float32(2*auxScale) / bf
	parallelRows(B, func(r0, r1 int) {
		xhat := make([]float32, d)
		diff := make([]float32, d)
		for r := r0; r < r1; r++ {
			xr := x[r*d : (r+1)*d]
			copy(xhat, bDec)
			o0, o1 := sp.rowOff[r], sp.rowOff[r+1]
			for e := o0; e < o1; e++ {
				j := int(sp.eIdx[e])
				axpy32(sp.eVal[e], wDec[j*d:(j+1)*d], xhat)
			}
			g := sp.g[r*d : (r+1)*d]
			var se float64
			for i := range d {
				ei := xr[i] - xhat[i]
				se += float64(ei) * float64(ei)
				diff[i] = ei
				g[i] = gScale * ei
			}
			sp.rowMSE[r] = se
			rb := sp.rb[r*d : (r+1)*d]
			copy(rb, g)
			for e := o0; e < o1; e++ {
				j := int(sp.eIdx[e])
				dp := dot32(g, wDec[j*d:(j+1)*d])
				sp.eDp[e] = dp
				axpy32(-dp, wEncT[j*d:(j+1)*d], rb)
			}
			if sp.aux {
				ka := sp.kAux
				clear(xhat) // ê
				for c := range int(sp.auxCnt[r]) {
					j := int(sp.auxIdx[r*ka+c])
					axpy32(sp.auxVal[r*ka+c], wDec[j*d:(j+1)*d], xhat)
				}
				ga := sp.ga[r*d : (r+1)*d]
				var sa float64
				for i := range d {
					df := xhat[i] - diff[i]
					sa += float64(df) * float64(df)
					ga[i] = aScale * df
				}
				sp.rowAux[r] = sa
				for c := range int(sp.auxCnt[r]) {
					j := int(sp.auxIdx[r*ka+c])
					dp := dot32(ga, wDec[j*d:(j+1)*d])
					sp.auxDp[r*ka+c] = dp
					axpy32(-dp, wEncT[j*d:(j+1)*d], rb)
				}
			}
		}
	})
	var mse, auxL float64
	for r := range B {
		mse += sp.rowMSE[r]
		if sp.aux {
			auxL += sp.rowAux[r]
		}
	}
	var l0 int
	if sp.aux {
		auxL *= auxScale / float64(B)
	}
	l0 = int(sp.rowOff[B])
	p.MSE = mse / float64(B)
	p.AuxLoss = auxL
	p.Loss = p.MSE + p.AuxLoss
	p.L0 = float64(l0) / float64(B)
	p.LR = lr
	p.FVU = mse / centeredSS(x, B, d)
	if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
		return p, fmt.Errorf("sae: step %d: non-finite loss %v (mse %v): stopping; the last checkpoint is kept", t.step+1, p.Loss, p.MSE)
	}

	// per-latent lists, in row order (main entry before the AuxK entry of the same row)
	clear(sp.lOff)
	clear(sp.fired)
	for _, j := range sp.eIdx[:l0] {
		sp.lOff[j+1]++
		sp.fired[j]++
	}
	if sp.aux {
		for r := range B {
			for c := range int(sp.auxCnt[r]) {
				sp.lOff[sp.auxIdx[r*sp.kAux+c]+1]++
			}
		}
	}
	for j := range S {
		sp.lOff[j+1] += sp.lOff[j]
	}
	tot := int(sp.lOff[S])
	sp.lRow, sp.lF, sp.lDp = grow(sp.lRow, tot), growF(sp.lF, tot), growF(sp.lDp, tot)
	pos := append([]int32(nil), sp.lOff[:S]...)
	for r := range B {
		for e := sp.rowOff[r]; e < sp.rowOff[r+1]; e++ {
			j := sp.eIdx[e]
			q := pos[j]
			pos[j]++
			sp.lRow[q], sp.lF[q], sp.lDp[q] = int32(r), sp.eVal[e], sp.eDp[e]
		}
		if sp.aux {
			for c := range int(sp.auxCnt[r]) {
				e := r*sp.kAux + c
				j := sp.auxIdx[e]
				q := pos[j]
				pos[j]++
				sp.lRow[q], sp.lF[q], sp.lDp[q] = -1-int32(r), sp.auxVal[e], sp.auxDp[e]
			}
		}
	}

	ad := newAdamConsts(lr, t.step)

	// b_dec: Σ_rows in fixed blocks of 64 rows (block sums in parallel, then summed in order)
	const blk = 64
	nb := (B + blk - 1) / blk
	part := make([]float32, nb*d)
	parallelRows(nb, func(b0, b1 int) {
		for b := b0; b < b1; b++ {
			acc := part[b*d : (b+1)*d]
			for r := b * blk; r < min((b+1)*blk, B); r++ {
				axpy32(1, sp.rb[r*d:(r+1)*d], acc)
			}
		}
	})
	gbDec := make([]float32, d)
	for b := range nb {
		axpy32(1, part[b*d:(b+1)*d], gbDec)
	}

	// phase B
	nw := runtime.GOMAXPROCS(0)
	scratch := make([]float32, 2*d*nw)
	zeroS := []float32{0}
	var bad atomic.Bool
	parallelDynamic(S, 32, func(w, j0, j1 int) {
		gDec := scratch[2*w*d : (2*w+1)*d]
		gEnc := scratch[(2*w+1)*d : (2*w+2)*d]
		for j := j0; j < j1; j++ {
			clear(gDec)
			clear(gEnc)
			var gb float32
			for q := sp.lOff[j]; q < sp.lOff[j+1]; q++ {
				r := sp.lRow[q]
				src := sp.g
				if r < 0 {
					r = -1 - r
					src = sp.ga
				}
				axpy32(sp.lF[q], src[int(r)*d:int(r+1)*d], gDec)
				dp := sp.lDp[q]
				axpy32(dp, sp.xin[int(r)*d:int(r+1)*d], gEnc)
				gb += dp
			}
			wd := wDec[j*d : (j+1)*d]
			if sp.lOff[j+1] > sp.lOff[j] { // projection (zero gradient stays zero)
				axpy32(-dot32(gDec, wd), wd, gDec)
			}
			rows := j * d
			ad.update(wEncT[rows:rows+d], st[nParams][rows:rows+d], st[2*nParams][rows:rows+d], gEnc)
			gbs := []float32{gb}
			ad.update(bEnc[j:j+1], st[nParams+1][j:j+1], st[2*nParams+1][j:j+1], gbs)
			ad.update(st[3][j:j+1], st[nParams+3][j:j+1], st[2*nParams+3][j:j+1], zeroS)
			ad.update(wd, st[nParams+4][rows:rows+d], st[2*nParams+4][rows:rows+d], gDec)
			nrm := float32(math.Sqrt(float64(dot32(wd, wd))))
			scal32(1/max(nrm, 1e-12), wd)
			if !finite32(wd) || !finite32(wEncT[rows:rows+d]) || bEnc[j]-bEnc[j] != 0 {
				bad.Store(true)
			}
		}
	})
	ad.update(bDec, st[nParams+2], st[2*nParams+2], gbDec)
	if bad.Load() || !finite32(bDec) {
		return p, fmt.Errorf("sae: step %d: non-finite parameters after the update (loss %v): stopping; the last checkpoint is kept", t.step+1, p.Loss)
	}
	return p, nil
}

// centeredSS returns Σ (x − column mean)² over n rows of x [n,d] (float64).
func centeredSS(x []float32, n, d int) float64 {
	mean := make([]float64, d)
	for r := range n {
		for i, v := range x[r*d : (r+1)*d] {
			mean[i] += float64(v)
		}
	}
	for i := range mean {
		mean[i] /= float64(n)
	}
	var s float64
	for r := range n {
		for i, v := range x[r*d : (r+1)*d] {
			dd := float64(v) - mean[i]
			s += dd * dd
		}
	}
	return s
}

type adamConsts struct {
	lr, bc1, bc2, b1, b2, c1, c2, eps float32
}

func finite32(a []float32) bool {
	for _, v := range a {
		if v-v != 0 {
			return false
		}
	}
	return true
}
