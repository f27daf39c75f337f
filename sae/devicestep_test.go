package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// TestTopKGraphMatchesTopKIndices: the chunked in-graph top-k picks exactly the k largest entries of each
// row (as a set; random data has no ties), for shapes that use each chunk size and the full-sort fallback.
func TestTopKGraphMatchesTopKIndices(t *testing.T) {
	be, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct{ B, S, k int }{{4, 1536, 32}, {3, 256, 16}, {5, 96, 8}, {2, 60, 7}, {6, 64, 4}, {2, 40, 40}} {
		pre := randVec(r, c.B*c.S, 1)
		e, err := NewExec(be, func(x *Node) *Node { return topKGraph(x, c.k, false) })
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
			topKIndices(pre[row*c.S:(row+1)*c.S], c.k, want)
			g := slices.Clone(got[row*c.k : (row+1)*c.k])
			slices.Sort(g)
			w := slices.Clone(want)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Fatalf("B=%d S=%d k=%d row %d: got %v want %v", c.B, c.S, c.k, row, g, w)
			}
		}
	}
}

// TestDeviceStepMatchesSparse checks the OnDevice step (everything in one graph) against the default sparse
// Go step for 8 steps (d 16, S 64, k 4, batch 32), with and without half of the latents dead (AuxK active),
// with the chunked and the full-sort selection: same statistics, parameters and Adam moments to float32
// rounding, same dead-latent counters and firing totals.
func TestDeviceStepMatchesSparse(t *testing.T) {
	be, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	checkDeviceStepMatchesSparse(t, be)
}

// checkDeviceStepMatchesSparse runs the OnDevice step on devBackend against the sparse Go step.
func checkDeviceStepMatchesSparse(t *testing.T, devBackend compute.Backend) {
	const d, B = 16, 32
	data := synthData(B*12, d, 48, 3, 11)
	for _, aux := range []bool{false, true} {
		for _, fullSort := range []bool{false, true} {
			name := map[bool]string{false: "noaux", true: "aux"}[aux] + map[bool]string{false: "-chunked", true: "-sort"}[fullSort]
			t.Run(name, func(t *testing.T) {
				be, err := compute.NewWithConfig("go")
				if err != nil {
					t.Fatal(err)
				}
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
