package sae

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
)

// TestDenseGraphMatchesAutodiff checks the ReLU / JumpReLU graph step with hand-written gradients
// (densegraph.go) against the autodiff graph step over 8 steps on the pure-Go backend (d 16, S 64, batch
// 32, sparsity coefficient warm-up on): same statistics, and parameters and Adam moments within float32
// rounding — including log θ (the JumpReLU straight-through estimators of f and of L0) and W_dec (the
// ReLU decoder-norm-weighted L1 term's gradient). The BF16Matmuls graph is checked the same way with
// float32 standing in for bfloat16, and so is the OnDevice step built on the same graph (its counters too).
func TestDenseGraphMatchesAutodiff(t *testing.T) {
	be := goBackend(t)
	checkDenseGraphMatchesAutodiff(t, be)
}

// checkDenseGraphMatchesAutodiff runs TestDenseGraphMatchesAutodiff's comparison on be.
func checkDenseGraphMatchesAutodiff(t *testing.T, be compute.Backend) {
	const d, B = 16, 32
	data := synthData(B*12, d, 48, 3, 11)
	for _, arch := range []Arch{ArchReLU, ArchJumpReLU} {
		t.Run(string(arch), func(t *testing.T) {
			// coefficients large enough that the penalty terms move the weights well beyond the tolerance
			cfg := TrainConfig{Arch: arch, DSAE: 64, BatchSize: B, Tokens: B * 12, LR: 3e-3, Seed: 5, WarmupSteps: 2,
				L1Coef: 0.2, L0Coef: 0.05, JumpInitThreshold: 0.3, JumpBandwidth: 0.5, SparsityWarmupSteps: 4, DenseGraph: true}
			base, _ := newTestTrainer(t, be, cfg, data, d)
			acfg := base.cfg
			acfg.AutodiffGraph = true
			ad := cloneTrainer(t, base, acfg)
			// the hand-written step, and its BF16Matmuls graph with float32 as the reduced precision (the
			// same maths: checks that graph's wiring exactly)
			hg := cloneTrainer(t, base, base.cfg)
			bcfg := base.cfg
			bcfg.BF16Matmuls = true
			hb := cloneTrainer(t, base, bcfg)
			hb.lowp = dtypes.Float32
			// the OnDevice step (the default on accelerators): the same graph on the raw batch, its scalars
			// in the hyper vector and its dead-latent counters kept on the device
			dv := cloneTrainer(t, base, base.cfg)
			dv.onDevice = true
			hand := []*trainer{hg, hb, dv}
			var thGrad float64
			for s := range 8 {
				batch := data[s*B*d : (s+1)*B*d]
				pa, err := ad.trainStep(batch, true)
				if err != nil {
					t.Fatal(err)
				}
				ad.step++
				for k, h := range hand {
					ph, err := h.trainStep(batch, true)
					if err != nil {
						t.Fatal(err)
					}
					h.step++
					if math.Abs(pa.MSE-ph.MSE) > 1e-5*pa.MSE || math.Abs(pa.Loss-ph.Loss) > 1e-5*pa.Loss || pa.L0 != ph.L0 ||
						math.Abs(pa.FVU-ph.FVU) > 1e-5 || pa.DeadFrac != ph.DeadFrac || ph.AuxLoss != 0 {
						t.Fatalf("step %d stats differ: autodiff %+v hand-written (%d) %+v", s+1, pa, k, ph)
					}
				}
				if s == 0 {
					thGrad = stateDiffs(t, hg, base, nParams+3, nParams+4)[0] // m(log θ) after one step, vs 0
				}
			}
			for k, h := range hand {
				diffs := stateDiffs(t, h, ad, 0, 3*nParams)
				t.Logf("hand-written (%d) after 8 steps: params rel diff %.2e, m %.2e, v %.2e", k, diffs[:nParams], diffs[nParams:2*nParams], diffs[2*nParams:])
				for i, v := range diffs {
					if v > 2e-5 {
						t.Fatalf("hand-written (%d): state tensor %d differs by %.2e", k, i, v)
					}
				}
				for j := range h.since {
					if min(h.since[j], cfg.DeadTokens) != min(ad.since[j], cfg.DeadTokens) || h.firedTot[j] != ad.firedTot[j] {
						t.Fatalf("hand-written (%d): latent %d: counters differ", k, j)
					}
				}
			}
			if arch == ArchJumpReLU && thGrad == 0 {
				t.Fatal("log θ got no gradient: the test does not exercise the straight-through estimator")
			}
		})
	}
}

// TestDenseGraphBF16Trains: with bfloat16 operands for the five products, the hand-written graph step
// still trains ReLU and JumpReLU SAEs on a small synthetic problem (the FVU drops as with float32).
func TestDenseGraphBF16Trains(t *testing.T) { checkDenseGraphBF16Trains(t, nil) }

// checkDenseGraphBF16Trains runs TestDenseGraphBF16Trains on be (nil: Train's default, the Go backend).
func checkDenseGraphBF16Trains(t *testing.T, be compute.Backend) {
	data := synthData(128*40, 16, 48, 3, 1)
	for _, arch := range []Arch{ArchReLU, ArchJumpReLU} {
		t.Run(string(arch)+"-bf16", func(t *testing.T) {
			cfg := smallCfg(arch)
			cfg.DenseGraph = true
			cfg.BF16Matmuls = true
			first, last, ev := trainAndEvaluate(t, data, 16, cfg, be)
			t.Logf("%s bf16: train FVU %.3f -> %.3f, L0 %.2f; eval FVU %.3f L0 %.2f", arch, first.FVU, last.FVU, last.L0, ev.FVU, ev.L0)
			if !(ev.FVU < 0.5 && last.FVU < first.FVU*0.7) {
				t.Fatalf("bf16 training did not reduce FVU enough: first %.3f last %.3f eval %.3f", first.FVU, last.FVU, ev.FVU)
			}
		})
	}
}
