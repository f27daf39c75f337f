package sae

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// newTestTrainer sets up a trainer as Train does (defaults, backend, init on the first batch).
func newTestTrainer(t testing.TB, be compute.Backend, cfg TrainConfig, data []float32, d int) (*trainer, []float32) {
	t.Helper()
	if err := cfg.defaults(d); err != nil {
		t.Fatal(err)
	}
	tr := &trainer{cfg: cfg, d: d, S: cfg.DSAE, steps: int(cfg.Tokens / int64(cfg.BatchSize)), stepExec: map[string]*graph.Exec{}, backend: be}
	batch := append([]float32(nil), data[:cfg.BatchSize*d]...)
	tr.init(batch)
	return tr, batch
}

// cloneTrainer copies tr's run state into a new trainer with config cfg.
func cloneTrainer(t *testing.T, tr *trainer, cfg TrainConfig) *trainer {
	t.Helper()
	c := &trainer{cfg: cfg, d: tr.d, S: tr.S, steps: tr.steps, stepExec: map[string]*graph.Exec{}, backend: tr.backend,
		scale: tr.scale, step: tr.step, rows: tr.rows, btThresh: tr.btThresh,
		since: append([]int64(nil), tr.since...), firedTot: append([]int64(nil), tr.firedTot...)}
	for _, s := range tr.state {
		v, err := tensors.CopyFlatData[float32](s)
		if err != nil {
			t.Fatal(err)
		}
		c.state = append(c.state, tensors.FromFlatDataAndDimensions(v, s.Shape().Dimensions...))
	}
	return c
}

// relDiff returns max|a−b| / max|b| (0 when both are all-zero).
func relDiff(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}

func stateDiffs(t *testing.T, a, b *trainer, from, to int) []float64 {
	var out []float64
	for i := from; i < to; i++ {
		va, _ := tensors.CopyFlatData[float32](a.state[i])
		vb, _ := tensors.CopyFlatData[float32](b.state[i])
		out = append(out, relDiff(va, vb))
	}
	return out
}

// TestSparseStepMatchesGraph checks the sparse Go step against the GoMLX graph step (d 16, S 64, k 4,
// batch 32, half of the latents dead so AuxK is active): the Adam first moments after one step (= 0.1·the
// gradient) and the parameters after one and several steps agree to float32 rounding.
func TestSparseStepMatchesGraph(t *testing.T) {
	const d, B = 16, 32
	data := synthData(B*12, d, 48, 3, 11)
	for _, arch := range []Arch{ArchTopK, ArchBatchTopK} {
		for _, aux := range []bool{false, true} {
			name := string(arch)
			if aux {
				name += "-aux"
			}
			t.Run(name, func(t *testing.T) {
				be := goBackend(t)
				cfg := TrainConfig{Arch: arch, DSAE: 64, K: 4, BatchSize: B, Tokens: B * 12, LR: 3e-3, Seed: 5, KAux: 8,
					DeadTokens: B * 100, WarmupSteps: 2}
				base, _ := newTestTrainer(t, be, cfg, data, d)
				if aux {
					for j := range base.since {
						if j%2 == 0 {
							base.since[j] = cfg.DeadTokens + B*100 // stays dead for the whole test
						}
					}
				}
				gcfg := base.cfg
				gcfg.TopKGraph = true
				gr := cloneTrainer(t, base, gcfg)
				sp := cloneTrainer(t, base, base.cfg)
				const steps = 8
				maxP, maxM := 0.0, 0.0
				for s := range steps {
					batch := data[s*B*d : (s+1)*B*d]
					pg, err := gr.trainStep(batch, true)
					if err != nil {
						t.Fatal(err)
					}
					ps, err := sp.trainStep(batch, true)
					if err != nil {
						t.Fatal(err)
					}
					gr.step++
					sp.step++
					if s == 0 {
						gm := stateDiffs(t, sp, gr, nParams, 2*nParams) // m = 0.1·grad
						gp := stateDiffs(t, sp, gr, 0, nParams)
						t.Logf("step 1: grad rel diff W_encT %.2e b_enc %.2e b_dec %.2e W_dec %.2e; params %.2e %.2e %.2e %.2e",
							gm[0], gm[1], gm[2], gm[4], gp[0], gp[1], gp[2], gp[4])
						for _, v := range append(gm, gp...) {
							maxM = math.Max(maxM, v)
						}
					}
					if math.Abs(pg.MSE-ps.MSE) > 1e-4*pg.MSE || math.Abs(pg.AuxLoss-ps.AuxLoss) > 1e-4*math.Abs(pg.AuxLoss)+1e-9 ||
						pg.L0 != ps.L0 || math.Abs(pg.FVU-ps.FVU) > 1e-4 || pg.DeadFrac != ps.DeadFrac {
						t.Fatalf("step %d stats differ: graph %+v sparse %+v", s+1, pg, ps)
					}
					if aux && s == 0 && (pg.AuxLoss == 0 || ps.AuxLoss == 0) {
						t.Fatalf("AuxK not active: graph %+v sparse %+v", pg, ps)
					}
					if arch == ArchBatchTopK && math.Abs(gr.btThresh-sp.btThresh) > 1e-7*math.Abs(gr.btThresh) {
						t.Fatalf("batchtopk threshold %v vs %v", sp.btThresh, gr.btThresh)
					}
				}
				for i := range 3 * nParams {
					for j, v := range stateDiffs(t, sp, gr, i, i+1) {
						_ = j
						if i < nParams {
							maxP = math.Max(maxP, v)
						}
					}
				}
				diffs := stateDiffs(t, sp, gr, 0, 3*nParams)
				t.Logf("after %d steps: params rel diff %.2e (per tensor %.2e), m %.2e, v %.2e", steps, maxP, diffs[:nParams], diffs[nParams:2*nParams], diffs[2*nParams:])
				if maxM > 1e-5 || maxP > 1e-5 {
					t.Fatalf("sparse step differs from the graph step: step-1 max %.2e, after %d steps params %.2e", maxM, steps, maxP)
				}
				for j := range sp.since {
					if sp.since[j] != gr.since[j] || sp.firedTot[j] != gr.firedTot[j] {
						t.Fatalf("dead-latent counters differ at %d", j)
					}
				}
			})
		}
	}
}

// TestBatchTopKSelectMatchesMask: the radix select keeps exactly batchTopKMask's set (ties included) and
// gives the same threshold EMA.
func TestBatchTopKSelectMatchesMask(t *testing.T) {
	const B, S, k = 16, 96, 5
	for seed := range uint64(4) {
		pre := randVec(rand.New(rand.NewPCG(seed, 1)), B*S, 1)
		if seed%2 == 1 { // many ties
			for i := range pre {
				pre[i] = float32(math.Round(float64(pre[i]) * 4))
			}
		}
		a := &trainer{cfg: TrainConfig{Arch: ArchBatchTopK, K: k, BatchSize: B}, S: S, d: 1}
		b := &trainer{cfg: a.cfg, S: S, d: 1}
		mask := a.batchTopKMask(pre, B)
		sp := &sparseStep{B: B, S: S, rowCnt: make([]int32, B), rowOff: make([]int32, B+1), rowTies: make([]int32, B)}
		zeros := make([]float32, S)
		b.batchTopKSelect(sp, pre, zeros)
		got := make([]bool, B*S)
		for r := range B {
			for e := sp.rowOff[r]; e < sp.rowOff[r+1]; e++ {
				got[r*S+int(sp.eIdx[e])] = true
				if sp.eVal[e] != pre[r*S+int(sp.eIdx[e])] {
					t.Fatal("value mismatch")
				}
			}
		}
		if !slices.Equal(got, mask) || a.btThresh != b.btThresh {
			t.Fatalf("seed %d: radix select differs from the sorted mask (thresholds %v %v)", seed, b.btThresh, a.btThresh)
		}
	}
}

// TestTopKBiasMatchesTopKIndices: the threshold-scan selection over pre + bias gives topKIndices' indices
// and order (ties to the lower index) on the biased row.
func TestTopKBiasMatchesTopKIndices(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		n := 1 + r.IntN(200)
		k := 1 + r.IntN(n)
		pre, bias := randVec(r, n, 1), randVec(r, n, 0.5)
		if trial%2 == 1 { // many ties
			for i := range pre {
				pre[i], bias[i] = float32(math.Round(float64(pre[i])*2)), float32(math.Round(float64(bias[i])*2))
			}
		}
		row := make([]float32, n)
		for i := range row {
			row[i] = pre[i] + bias[i]
		}
		want := make([]int32, k)
		topKIndices(row, k, want)
		got, vals := make([]int32, k), make([]float32, k)
		topKBias(pre, bias, k, got, vals)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (n %d k %d): got %v want %v", trial, n, k, got, want)
		}
		for m, j := range got {
			if vals[m] != row[j] {
				t.Fatalf("trial %d: value mismatch", trial)
			}
		}
	}
}

// BenchmarkSparseStepAux times the sparse TopK step (d_in 384, width 6144, k 32, batch 4096) with half
// of the latents forced dead, so AuxK (k_aux = 192) runs on every step, against the same step without.
//
//	GOEXPERIMENT=simd go test ./sae -run '^$' -bench SparseStepAux -benchtime 1x
func BenchmarkSparseStepAux(b *testing.B) {
	const d, B, steps = 384, 4096, 4
	data := synthData(B*2, d, 4*d, 8, 1)
	be, err := compute.NewWithConfig("go")
	if err != nil {
		b.Fatal(err)
	}
	for _, aux := range []bool{false, true} {
		b.Run(map[bool]string{false: "noaux", true: "aux"}[aux], func(b *testing.B) {
			cfg := TrainConfig{Arch: ArchTopK, DSAE: 16 * d, K: 32, BatchSize: B, Tokens: B * 100, Seed: 1, DeadTokens: 1 << 40}
			tr, batch := newTestTrainer(b, be, cfg, data, d)
			for range b.N {
				var el time.Duration
				var auxLoss float64
				for s := range steps + 1 {
					if aux {
						for j := range tr.since {
							if j%2 == 0 {
								tr.since[j] = 1 << 41
							}
						}
					}
					t0 := time.Now()
					p, err := tr.trainStep(batch, true)
					if err != nil {
						b.Fatal(err)
					}
					tr.step++
					if s > 0 {
						el += time.Since(t0)
					}
					auxLoss = p.AuxLoss
				}
				b.ReportMetric(float64(steps*B)/el.Seconds(), "tokens/s")
				b.ReportMetric(auxLoss, "aux_loss")
			}
		})
	}
}
