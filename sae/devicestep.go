package sae

import (
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// The device-resident TopK training step (TrainConfig.OnDevice; the default on accelerator backends).
//
// On a GPU every host↔device transfer and every synchronisation costs more than the step's arithmetic, so
// here one compiled graph (devicegraph.go) does the whole step: the dense encoder matmul that selects, the
// per-row top-k (chunk maxima first, then an exact top-k among the k best chunks: see topKGraph), the k
// selected pre-activations recomputed in float32 by gathering their W_enc rows, the sparse decode
// (gathering only the k active W_dec rows), AuxK on the dead latents, the backward pass written out as
// dense matmuls, the decoder-gradient projection, Adam and the decoder renormalisation, and the run's
// bookkeeping: the
// per-latent tokens-since-fired counters, the firing counts and the first non-finite step. The host only
// uploads the batch. It reads results back every deviceSyncEvery steps (and at progress reports and
// checkpoints): the counters, the first bad step (the run stops there with the last checkpoint intact,
// as on the CPU path) and the number of dead latents, which decides whether the next steps compile in the
// AuxK branch. That decision changes only at multiples of deviceSyncEvery and is saved in checkpoints,
// so runs stay deterministic and resumable.
const deviceSyncEvery = 8

// Inputs of the device step: x [B,d] (raw), params (5), m (5), v (5), then hyper [5] F32 (lr, 1−β1^t,
// 1−β2^t, the input scale s, the step number, exact to 2^24 steps: one upload per step for all scalars),
// since [S] Int32,
// firedAcc [S] F32, badStep Int32 scalar. Outputs: params, m, v, loss, mse, aux, fvu, l0, then firedAcc',
// since', badStep', nDead.
const (
	devHyper = 1 + 3*nParams + iota
	devSince
	devFired
	devBad
)

// deviceState is the run bookkeeping that lives on the device with the OnDevice step.
type deviceState struct {
	since, fired, bad *tensors.Tensor
	deadView          int               // dead latents as of the last sync at a multiple of deviceSyncEvery
	stats             []*tensors.Tensor // the last step's loss, mse, aux, fvu, l0, nDead
}

// topKGraph returns the indices [B,k] (Int32) of the k largest entries of each row of pre [B,S].
//
// A full sort of every row (GoMLX's TopK) moves B·S·log S elements. Instead, when S splits into chunks
// of c with at least k chunks, it takes each chunk's maximum, the k best chunks by their maxima, and the
// top k of those k·c candidates: every row's top k lies in those chunks (a chunk whose maximum is not
// among the k largest maxima has k chunks each holding an element at least as large as all of its own).
// Ties between equal values may resolve differently than a stable full sort.
func topKGraph(pre *Node, k int, fullSort bool) *Node {
	B, S := pre.Shape().Dimensions[0], pre.Shape().Dimensions[1]
	c := 0
	for _, cc := range []int{32, 16, 8, 4} {
		if S%cc == 0 && S/cc >= k && k*cc < S {
			c = cc
			break
		}
	}
	if fullSort || c == 0 {
		_, idx := TopK(pre, k, -1)
		return idx
	}
	g := pre.Graph()
	nc := S / c
	cmax := ReduceMax(Reshape(pre, B, nc, c), 2) // [B, nc]
	_, ci := TopK(cmax, k, -1)                   // [B, k] chunk indices
	rowC := MulScalar(Iota(g, ci.Shape(), 0), float64(nc))
	flatC := Add(ci, ConvertDType(rowC, dtypes.Int32))
	cand := Gather(Reshape(pre, B*nc, c), InsertAxes(flatC, -1)) // [B, k, c]
	_, pi := TopK(Reshape(cand, B, k*c), k, -1)                  // [B, k] in [0, k·c)
	cI := Scalar(g, dtypes.Int32, c)
	slot := Div(pi, cI)
	elem := Sub(pi, Mul(slot, cI))
	rowK := ConvertDType(MulScalar(Iota(g, pi.Shape(), 0), float64(k)), dtypes.Int32)
	chunk := Gather(Reshape(ci, B*k), InsertAxes(Add(slot, rowK), -1)) // [B, k]
	return Add(Mul(chunk, cI), elem)
}

// selectionPre is the dense encoder pre-activation [B,S] used only to choose latents (no gradient flows
// through it): float32, or bfloat16 operands when BF16Matmuls (rounding can swap near-tied latents).
func (t *trainer) selectionPre(xin, wEncT, bEnc *Node) *Node {
	return Add(t.mm(xin, []int{1}, wEncT, []int{1}), InsertAxes(bEnc, 0))
}

// deviceBookkeeping returns firedAcc', since', badStep', nDead from the step's firing counts and
// finiteness.
func (t *trainer) deviceBookkeeping(in []*Node, fired, finite *Node) []*Node {
	g := fired.Graph()
	B := t.cfg.BatchSize
	capT := t.sinceCap()
	since := in[devSince]
	grown := Min(AddScalar(since, float64(B)), Scalar(g, dtypes.Int32, capT))
	newSince := Where(GreaterThan(fired, ScalarZero(g, dtypes.Float32)), ZerosLike(since), grown)
	bad := in[devBad]
	step := ConvertDType(Slice(in[devHyper], AxisElem(4)), dtypes.Int32)
	newBad := Where(LogicalAnd(Equal(bad, ScalarZero(g, dtypes.Int32)), LogicalNot(finite)), Reshape(step), bad)
	dead := t.deadGraph(newSince)
	nDead := ReduceAllSum(ConvertDType(dead, dtypes.Float32))
	return []*Node{Add(in[devFired], fired), newSince, newBad, nDead}
}

// sinceCap is where the on-device (Int32) tokens-since-fired counters stop growing.
func (t *trainer) sinceCap() int64 {
	return min(t.cfg.DeadTokens, math.MaxInt32-int64(t.cfg.BatchSize))
}

// deadGraph: since ≥ DeadTokens, as a [S] Bool (never true when DeadTokens is beyond the Int32 counters).
func (t *trainer) deadGraph(since *Node) *Node {
	if t.cfg.DeadTokens > t.sinceCap() {
		return GreaterThan(since, Scalar(since.Graph(), dtypes.Int32, math.MaxInt32))
	}
	return GreaterOrEqual(since, Scalar(since.Graph(), dtypes.Int32, t.cfg.DeadTokens))
}

// allFinite is true when every element of the nodes is finite.
func allFinite(nodes ...*Node) *Node {
	var ok *Node
	for _, n := range nodes {
		f := LogicalAll(IsFinite(n))
		if ok == nil {
			ok = f
		} else {
			ok = LogicalAnd(ok, f)
		}
	}
	return ok
}

// initDevice moves the bookkeeping to the device representation (from t.since / t.firedTot).
func (t *trainer) initDevice() {
	since := make([]int32, t.S)
	capT := t.sinceCap()
	dead := 0
	for j, s := range t.since {
		since[j] = int32(min(s, capT))
		if s >= t.cfg.DeadTokens {
			dead++
		}
	}
	view := dead
	if t.dev != nil {
		view = t.dev.deadView // restored from a checkpoint
	}
	t.dev = &deviceState{
		since:    tensors.FromFlatDataAndDimensions(since, t.S),
		fired:    tensors.FromFlatDataAndDimensions(make([]float32, t.S), t.S),
		bad:      tensors.FromScalar(int32(0)),
		deadView: view,
	}
}

// trainStepDevice runs one OnDevice step on the raw (unscaled) batch xT [B,d], which may already be on
// the device; it reads results back (a synchronisation) only when sync is set or at a multiple of
// deviceSyncEvery.
func (t *trainer) trainStepDevice(xT *tensors.Tensor, sync bool) (p Progress, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sae: step %d: %v", t.step+1, r)
		}
	}()
	lr := t.cfg.lrAt(t.step, t.steps)
	if t.dev == nil || t.dev.since == nil {
		t.initDevice()
	}
	v := stepVariant{device: true, aux: t.dev.deadView > 0 && t.cfg.AuxCoef > 0}
	e, err := t.exec(v)
	if err != nil {
		return p, err
	}
	stepNum := float64(t.step + 1)
	args := []any{xT}
	for _, s := range t.state {
		args = append(args, s)
	}
	hyper := []float32{float32(lr), float32(1 - math.Pow(adamB1, stepNum)), float32(1 - math.Pow(adamB2, stepNum)), t.scale, float32(stepNum)}
	args = append(args, tensors.FromFlatDataAndDimensions(hyper, len(hyper)), t.dev.since, t.dev.fired, t.dev.bad)
	outs, err := e.Exec(args...)
	if err != nil {
		return p, fmt.Errorf("sae: step %d: %w", t.step+1, err)
	}
	for i := range 3 * nParams {
		t.state[i].FinalizeAll()
		t.state[i] = outs[i]
	}
	o := 3 * nParams
	for _, s := range t.dev.stats {
		s.FinalizeAll()
	}
	t.dev.stats = []*tensors.Tensor{outs[o], outs[o+1], outs[o+2], outs[o+3], outs[o+4], outs[o+8]}
	t.dev.fired.FinalizeAll()
	t.dev.since.FinalizeAll()
	t.dev.bad.FinalizeAll()
	t.dev.fired, t.dev.since, t.dev.bad = outs[o+5], outs[o+6], outs[o+7]
	p.LR = lr
	if !sync && (t.step+1)%deviceSyncEvery != 0 {
		return p, nil
	}
	if bad := tensors.ToScalar[int32](t.dev.bad); bad != 0 {
		return p, fmt.Errorf("sae: step %d: non-finite loss or weights: stopping; the last checkpoint is kept", bad)
	}
	stat := func(i int) float64 { return float64(tensors.ToScalar[float32](t.dev.stats[i])) }
	p.Loss, p.MSE, p.AuxLoss, p.FVU, p.L0 = stat(0), stat(1), stat(2), stat(3), stat(4)
	nDead := int(stat(5))
	if (t.step+1)%deviceSyncEvery == 0 {
		t.dev.deadView = nDead
	}
	// fold the firing counts (exact in float32: at most deviceSyncEvery·B per sync) and the counters
	fired, err := tensors.CopyFlatData[float32](t.dev.fired)
	if err != nil {
		return p, err
	}
	since, err := tensors.CopyFlatData[int32](t.dev.since)
	if err != nil {
		return p, err
	}
	for j, c := range fired {
		t.firedTot[j] += int64(c)
		t.since[j] = int64(since[j])
	}
	t.dev.fired.FinalizeAll()
	t.dev.fired = tensors.FromFlatDataAndDimensions(make([]float32, t.S), t.S)
	p.DeadFrac = float64(nDead) / float64(t.S)
	return p, nil
}

// prefetcher reads, checks and uploads the next batches on its own goroutine while the device runs the
// current step (an XLA execution blocks until the device is done, and the upload of a batch takes about
// as long as a step on a GPU). Batches come out in source order with the source position after each, so
// checkpoints and resumes are unchanged.
type prefetcher struct {
	out  chan prefetched
	free chan *tensors.Tensor
	done chan struct{}
	wg   sync.WaitGroup
}

type prefetched struct {
	x    *tensors.Tensor // [B,d] raw activations, on the device
	rows int64           // source rows consumed after this batch
	err  error
}

const prefetchDepth = 2

// startPrefetch starts reading batches for steps t.step, t.step+1, ...; first, if not nil, is the batch of
// step t.step (already read, t.rows counts it).
func (t *trainer) startPrefetch(src Source, first []float32) *prefetcher {
	B, d := t.cfg.BatchSize, t.d
	pf := &prefetcher{out: make(chan prefetched, prefetchDepth), free: make(chan *tensors.Tensor, prefetchDepth+2), done: make(chan struct{})}
	for range prefetchDepth + 2 {
		pf.free <- tensors.FromShape(shapes.Make(dtypes.Float32, B, d))
	}
	rows := t.rows
	step := t.step
	pf.wg.Add(1)
	go func() {
		defer pf.wg.Done()
		for ; step < t.steps; step++ {
			var x *tensors.Tensor
			select {
			case x = <-pf.free:
			case <-pf.done:
				return
			}
			var err error
			if first != nil {
				x.MutableFlatData(func(flat any) { copy(flat.([]float32), first) })
				first = nil
			} else {
				x.MutableFlatData(func(flat any) { err = readBatchFrom(src, flat.([]float32), d, step, rows) })
				if err == nil {
					rows += int64(B)
				}
			}
			if err == nil {
				err = x.MaterializeOnDevice(t.backend, false, 0)
			}
			select {
			case pf.out <- prefetched{x: x, rows: rows, err: err}:
			case <-pf.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return pf
}

// recycle frees x's device buffer and returns its host buffer to the pool.
func (pf *prefetcher) recycle(x *tensors.Tensor) {
	x.InvalidateOnDevice()
	pf.free <- x
}

func (pf *prefetcher) stop() {
	close(pf.done)
	pf.wg.Wait()
}
