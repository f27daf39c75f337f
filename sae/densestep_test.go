package sae

import (
	"math"
	"testing"
)

// TestDenseStepMatchesGraph checks the Go dense ReLU / JumpReLU step (hand-written gradients, fused passes)
// against the autodiff GoMLX graph step over 8 steps (d 16, S 64, batch 32, sparsity coefficient warm-up
// on): same statistics, and parameters and Adam moments within float32 rounding, including log θ (the
// JumpReLU straight-through estimator) and the decoder-norm-weighted L1's gradient of W_dec.
func TestDenseStepMatchesGraph(t *testing.T) {
	const d, B = 16, 32
	data := synthData(B*12, d, 48, 3, 11)
	for _, arch := range []Arch{ArchReLU, ArchJumpReLU} {
		t.Run(string(arch), func(t *testing.T) {
			be := goBackend(t)
			cfg := TrainConfig{Arch: arch, DSAE: 64, BatchSize: B, Tokens: B * 12, LR: 3e-3, Seed: 5, WarmupSteps: 2,
				L1Coef: 0.05, L0Coef: 0.02, JumpInitThreshold: 0.3, JumpBandwidth: 0.5, SparsityWarmupSteps: 4}
			base, _ := newTestTrainer(t, be, cfg, data, d)
			gcfg := base.cfg
			gcfg.DenseGraph = true
			gcfg.AutodiffGraph = true
			gr := cloneTrainer(t, base, gcfg)
			dn := cloneTrainer(t, base, base.cfg)
			var thGrad float64
			for s := range 8 {
				batch := data[s*B*d : (s+1)*B*d]
				pg, err := gr.trainStep(batch, true)
				if err != nil {
					t.Fatal(err)
				}
				pd, err := dn.trainStep(batch, true)
				if err != nil {
					t.Fatal(err)
				}
				gr.step++
				dn.step++
				if math.Abs(pg.MSE-pd.MSE) > 1e-5*pg.MSE || math.Abs(pg.Loss-pd.Loss) > 1e-5*pg.Loss || pg.L0 != pd.L0 ||
					math.Abs(pg.FVU-pd.FVU) > 1e-5 || pg.DeadFrac != pd.DeadFrac {
					t.Fatalf("step %d stats differ: graph %+v dense %+v", s+1, pg, pd)
				}
				if s == 0 {
					thGrad = stateDiffs(t, dn, base, nParams+3, nParams+4)[0] // m(log θ) after one step, vs 0
				}
			}
			diffs := stateDiffs(t, dn, gr, 0, 3*nParams)
			t.Logf("after 8 steps: params rel diff %.2e, m %.2e, v %.2e", diffs[:nParams], diffs[nParams:2*nParams], diffs[2*nParams:])
			for i, v := range diffs {
				if v > 2e-5 {
					t.Fatalf("state tensor %d differs by %.2e", i, v)
				}
			}
			if arch == ArchJumpReLU && thGrad == 0 {
				t.Fatal("log θ got no gradient: the test does not exercise the straight-through estimator")
			}
			for j := range dn.since {
				if dn.since[j] != gr.since[j] || dn.firedTot[j] != gr.firedTot[j] {
					t.Fatalf("latent %d: counters differ", j)
				}
			}
		})
	}
}
