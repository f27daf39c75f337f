package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// TestTopKGraphMatchesTopKIndices: the chunked in-graph top-k picks exactly the k largest entries of each
// row (compared by value, so that ties among bfloat16 values may pick either), for float32 and bfloat16
// (packed-key sorts) rows, shapes that use each chunk size and planned levels, the full sort and GoMLX TopK.
func TestTopKGraphMatchesTopKIndices(t *testing.T) {
	be := goBackend(t)
	r := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		B, S, k int
		sel     topKSel
	}{{4, 1536, 32, topKSel{}}, {3, 256, 16, topKSel{}}, {5, 96, 8, topKSel{}}, {2, 60, 7, topKSel{}}, {6, 64, 4, topKSel{}},
		{2, 40, 40, topKSel{}}, {3, 4096, 16, topKSel{}}, {2, 24576, 32, topKSel{}}, {4, 1536, 32, topKSel{chunks: []int{16, 4}}},
		{3, 4096, 16, topKSel{chunks: []int{32, 8, 2}}}, {5, 96, 4, topKSel{chunks: []int{8, 2}}}, {4, 1536, 32, topKSel{gomlx: true}},
		{3, 500, 16, topKSel{fullSort: true}}, {2, 24576, 384, topKSel{}}, {3, 4096, 128, topKSel{}}, {2, 4096, 32, topKSel{gomlx: true}}} {
		for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
			pre := randVec(r, c.B*c.S, 1)
			if dt == dtypes.BFloat16 { // the reference sees the rounded values; half of the rows negative
				for i := range pre {
					if (i/c.S)%2 == 1 {
						pre[i] -= 10
					}
					pre[i] = bfloat16.FromFloat32(pre[i]).Float32()
				}
			}
			e, err := NewExec(be, func(x *Node) *Node { return c.sel.indices(ConvertDType(x, dt), c.k) })
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.Exec(tensors.FromFlatDataAndDimensions(pre, c.B, c.S))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := tensors.CopyFlatData[int32](out[0])
			want := make([]int32, c.k)
			for row := range c.B {
				// compare the selected values (ties among bf16 values may pick different indices)
				topKIndices(pre[row*c.S:(row+1)*c.S], c.k, want)
				gv, wv := make([]float32, c.k), make([]float32, c.k)
				seen := map[int32]bool{}
				for m := range c.k {
					if g := got[row*c.k+m]; g < 0 || int(g) >= c.S || seen[g] {
						t.Fatalf("%+v %s row %d: bad or repeated index %d in %v", c, dt, row, g, got[row*c.k:(row+1)*c.k])
					} else {
						seen[g] = true
						gv[m] = pre[row*c.S+int(g)]
					}
					wv[m] = pre[row*c.S+int(want[m])]
				}
				slices.Sort(gv)
				slices.Sort(wv)
				if !slices.Equal(gv, wv) {
					t.Fatalf("%+v %s row %d: got values %v want %v", c, dt, row, gv, wv)
				}
			}
		}
	}
	for _, c := range []struct {
		n, k   int
		want   []int
		stable bool
	}{{24576, 32, []int{64, 16}, false}, {16384, 64, []int{64, 16}, false}, {24576, 384, []int{32}, true}, {64, 4, []int{8}, false}, {40, 40, nil, false}} {
		if got, st := topKChunks(c.n, c.k); !slices.Equal(got, c.want) || st != c.stable {
			t.Fatalf("topKChunks(%d, %d) = %v %v, want %v %v", c.n, c.k, got, st, c.want, c.stable)
		}
	}
}

// TestDeviceStepMatchesSparse checks the OnDevice step (everything in one graph) against the default sparse
// Go step for 8 steps (d 16, S 64, k 4, batch 32), with and without half of the latents dead (AuxK active),
// with the chunked and the full-sort selection: same statistics, parameters and Adam moments to float32
// rounding, same dead-latent counters and firing totals.
func TestDeviceStepMatchesSparse(t *testing.T) {
	be := goBackend(t)
	checkDeviceStepMatchesSparse(t, be)
}

// checkDeviceStepMatchesSparse runs the OnDevice step on devBackend against the sparse Go step.
func checkDeviceStepMatchesSparse(t *testing.T, devBackend compute.Backend) {
	const d, B = 16, 32
	data := synthData(B*12, d, 48, 3, 11)
	for _, aux := range []bool{false, true} {
		for _, method := range []string{"chunked", "sort", "chunked,selpre,sparsegrad,biascol", "chunked,compactaux"} {
			fullSort := method == "sort"
			graph := strings.TrimPrefix(strings.TrimPrefix(method, "chunked"), ",")
			name := map[bool]string{false: "noaux", true: "aux"}[aux] + "-" + method
			t.Run(name, func(t *testing.T) {
				be := goBackend(t)
				cfg := TrainConfig{DSAE: 64, K: 4, BatchSize: B, Tokens: B * 12, LR: 3e-3, Seed: 5, KAux: 8,
					DeadTokens: B * 100, WarmupSteps: 2}
				base, _ := newTestTrainer(t, be, cfg, data, d)
				if aux {
					for j := range base.since {
						if j%2 == 0 {
							base.since[j] = cfg.DeadTokens + B*100
						}
					}
				}
				dcfg := base.cfg
				dcfg.topKMethod = map[bool]string{false: "chunked", true: "sort"}[fullSort]
				dcfg.deviceGraph = graph // the f32 graph with the sparse-gradient variants (AuxK keeps the dense form)
				if graph == "compactaux" {
					// AuxK over 48 gathered columns: the 32 dead latents fit, so the step is exact
					dcfg.deviceGraph, dcfg.auxCols = "", 48
				}
				dv := cloneTrainer(t, base, dcfg)
				dv.onDevice = true
				dv.backend = devBackend
				sp := cloneTrainer(t, base, base.cfg)
				for s := range 8 {
					batch := data[s*B*d : (s+1)*B*d]
					pd, err := dv.trainStep(batch, true)
					if err != nil {
						t.Fatal(err)
					}
					ps, err := sp.trainStep(batch, true)
					if err != nil {
						t.Fatal(err)
					}
					dv.step++
					sp.step++
					if math.Abs(pd.MSE-ps.MSE) > 1e-4*ps.MSE || math.Abs(pd.AuxLoss-ps.AuxLoss) > 1e-4*math.Abs(ps.AuxLoss)+1e-9 ||
						pd.L0 != ps.L0 || math.Abs(pd.FVU-ps.FVU) > 1e-4 || pd.DeadFrac != ps.DeadFrac {
						t.Fatalf("step %d stats differ: device %+v sparse %+v", s+1, pd, ps)
					}
					if aux && s == 0 && pd.AuxLoss == 0 {
						t.Fatalf("AuxK not active on the device step: %+v", pd)
					}
				}
				diffs := stateDiffs(t, sp, dv, 0, 3*nParams)
				t.Logf("after 8 steps: params rel diff %.2e, m %.2e, v %.2e", diffs[:nParams], diffs[nParams:2*nParams], diffs[2*nParams:])
				for i, v := range diffs {
					if i%nParams == 3 { // log_threshold: unused by topk
						continue
					}
					if v > 2e-5 {
						t.Fatalf("state tensor %d differs by %.2e", i, v)
					}
				}
				for j := range sp.since {
					if min(sp.since[j], cfg.DeadTokens) != min(dv.since[j], cfg.DeadTokens) || sp.firedTot[j] != dv.firedTot[j] {
						t.Fatalf("latent %d: since %d/%d fired %d/%d", j, sp.since[j], dv.since[j], sp.firedTot[j], dv.firedTot[j])
					}
				}
			})
		}
	}
}

// TestDeviceTrainResume: an OnDevice run stopped after a checkpoint and resumed ends with the same weights
// as an uninterrupted one, and a run is reproducible for its seed (syncs happen only every few steps, so
// this also covers the dead-latent view saved in the checkpoint).
func TestDeviceTrainResume(t *testing.T) {
	const d, B = 8, 16
	data := synthData(B*40, d, 24, 2, 3)
	cfg := TrainConfig{DSAE: 32, K: 3, BatchSize: B, Tokens: B * 40, LR: 3e-3, Seed: 9, KAux: 4, DeadTokens: B * 3,
		OnDevice: On, CheckpointEvery: 12}
	run := func(dir string, stopAt int) *TrainResult {
		c := cfg
		c.RunDir = dir
		c.Resume = true
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, err := Train(ctx, NewSliceSource(data, d), c, TrainOptions{ProgressEvery: 5, Progress: func(p Progress) {
			if stopAt > 0 && p.Step >= stopAt {
				cancel()
			}
		}})
		if stopAt > 0 {
			if err == nil {
				t.Fatal("expected the run to be cancelled")
			}
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	full := run(t.TempDir(), 0)
	dir := t.TempDir()
	run(dir, 30) // checkpoints at 12 and 24, cancelled at 30
	resumed := run(dir, 0)
	again := run(t.TempDir(), 0)
	for _, pair := range [][2]*TrainResult{{full, resumed}, {full, again}} {
		if !slices.Equal(pair[0].SAE.WDec, pair[1].SAE.WDec) || !slices.Equal(pair[0].SAE.WEnc, pair[1].SAE.WEnc) ||
			!slices.Equal(pair[0].LogSparsity, pair[1].LogSparsity) {
			t.Fatal("OnDevice runs differ (resume or repeat)")
		}
	}
}

// TestDeviceStepBF16Graphs checks the bfloat16 OnDevice graphs (the default: selection with the bias
// folded into the product and a bf16 result, F and ∂pre scattered as bf16, AuxK's ∂pre scatter-added
// into ∂pre; and the two earlier layouts kept for benchmarks), with AuxK on:
//   - structure: run with float32 as their reduced precision, every graph follows the sparse Go step to
//     float32 rounding (weights, Adam moments, firing counts) over 4 steps;
//   - precision: in real bfloat16, one step's loss terms are within 3% of float32's (near-tied latents swap).
func TestDeviceStepBF16Graphs(t *testing.T) {
	be := goBackend(t)
	checkDeviceStepBF16Graphs(t, be)
}

// checkDeviceStepBF16Graphs runs TestDeviceStepBF16Graphs's checks with the OnDevice graphs on devBackend.
func checkDeviceStepBF16Graphs(t *testing.T, devBackend compute.Backend) {
	const d, B = 16, 32
	data := synthData(B*12, d, 48, 3, 11)
	be := goBackend(t)
	cfg := TrainConfig{DSAE: 64, K: 4, BatchSize: B, Tokens: B * 12, LR: 3e-3, Seed: 5, KAux: 8, DeadTokens: B * 100, WarmupSteps: 2}
	base, _ := newTestTrainer(t, be, cfg, data, d)
	for j := range base.since {
		if j%2 == 0 {
			base.since[j] = cfg.DeadTokens + B*100
		}
	}
	run := func(bf16 bool, variant string, lowp dtypes.DType, steps int) (*trainer, Progress) {
		c := base.cfg
		c.BF16Matmuls, c.deviceGraph = bf16, variant
		if variant == "compactaux" {
			c.deviceGraph, c.auxCols = "", 48 // AuxK over 48 gathered columns (the 32 dead latents fit)
		}
		tr := cloneTrainer(t, base, c)
		tr.onDevice, tr.lowp, tr.backend = true, lowp, devBackend
		var first Progress
		for s := range steps {
			p, err := tr.trainStep(data[s*B*d:(s+1)*B*d], true)
			if err != nil {
				t.Fatal(err)
			}
			if s == 0 {
				if p.AuxLoss == 0 {
					t.Fatalf("%q: AuxK not active", variant)
				}
				first = p
			}
			tr.step++
		}
		return tr, first
	}
	// the reference: the sparse Go step (an independent implementation), 4 steps
	ref := cloneTrainer(t, base, base.cfg)
	var refP Progress
	for s := range 4 {
		p, err := ref.trainStep(data[s*B*d:(s+1)*B*d], true)
		if err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			refP = p
		}
		ref.step++
	}
	variants := []string{"", "f32scatter", "f32select", "f32select,f32scatter", "chunks=8/4", "gomlxtopk", "bf16rows",
		"selpre", "biascol", "firedscatter", "f32select,biascol", "selpre,biascol,firedscatter,bf16rows", "sparsegrad", "selpre,sparsegrad", "compactaux"}
	for _, v := range variants {
		tr, _ := run(true, v, dtypes.Float32, 4)
		diffs := stateDiffs(t, ref, tr, 0, 3*nParams)
		t.Logf("bf16 graph %q in float32 vs the sparse Go step: params %.2e, m %.2e", v, diffs[:nParams], diffs[nParams:2*nParams])
		for i, x := range diffs {
			if x > 2e-5 {
				t.Fatalf("bf16 graph %q run in float32: state tensor %d differs by %.2e", v, i, x)
			}
		}
		for j := range ref.firedTot {
			if ref.firedTot[j] != tr.firedTot[j] || min(ref.since[j], cfg.DeadTokens) != min(tr.since[j], cfg.DeadTokens) {
				t.Fatalf("bf16 graph %q run in float32: latent %d fired %d/%d", v, j, ref.firedTot[j], tr.firedTot[j])
			}
		}
	}
	for _, v := range variants {
		_, p := run(true, v, dtypes.InvalidDType, 1)
		t.Logf("bf16 graph %q: step 1 mse %.5f aux %.5f (float32: %.5f %.5f)", v, p.MSE, p.AuxLoss, refP.MSE, refP.AuxLoss)
		if math.Abs(p.MSE-refP.MSE) > 0.03*refP.MSE || math.Abs(p.AuxLoss-refP.AuxLoss) > 0.03*refP.AuxLoss || p.L0 != refP.L0 {
			t.Fatalf("bf16 graph %q: step 1 %+v, float32 %+v", v, p, refP)
		}
	}
}
