package sae

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestDenseGraphMatchesAutodiff checks the ReLU / JumpReLU graph step with hand-written gradients
// (densegraph.go) against the autodiff graph step over 8 steps on the pure-Go backend (d 16, S 64, batch
// 32, sparsity coefficient warm-up on): same statistics, and parameters and Adam moments within float32
// rounding — including log θ (the JumpReLU straight-through estimators of f and of L0) and W_dec (the
// ReLU decoder-norm-weighted L1 term's gradient). The BF16Matmuls graph is checked the same way with
// float32 standing in for bfloat16, and so is the OnDevice step built on the same graph (its counters too).
func TestDenseGraphMatchesAutodiff(t *testing.T) {
	be, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
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
			var first, last Progress
			res, err := Train(context.Background(), NewSliceSource(data, 16), cfg, TrainOptions{Backend: be, ProgressEvery: 1,
				Progress: func(p Progress) {
					if p.Step == 1 {
						first = p
					}
					last = p
				}})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Evaluate(res.SAE, NewSliceSource(data[:128*16*10], 16), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s bf16: train FVU %.3f -> %.3f, L0 %.2f; eval FVU %.3f L0 %.2f", arch, first.FVU, last.FVU, last.L0, ev.FVU, ev.L0)
			if !(ev.FVU < 0.5 && last.FVU < first.FVU*0.7) {
				t.Fatalf("bf16 training did not reduce FVU enough: first %.3f last %.3f eval %.3f", first.FVU, last.FVU, ev.FVU)
			}
		})
	}
}

// benchDenseGraph measures the ReLU / JumpReLU graph step as Bench does (Train on the same synthetic
// activations, timed between the warm-up's last report and the last step), with the hand-written
// gradients or, with autodiff, GoMLX's. It exists because BenchConfig has no way to ask for
// TrainConfig.AutodiffGraph; the other fields are Bench's.
func benchDenseGraph(ctx context.Context, be compute.Backend, c BenchConfig, autodiff bool) (*BenchResult, error) {
	if c.Steps <= 0 {
		c.Steps = 20
	}
	if c.Warmup <= 0 {
		c.Warmup = 3
	}
	B, d := c.BatchSize, c.DIn
	data := SyntheticActivations(8*B, d, 4*d, 8, c.Seed+1)
	cfg := TrainConfig{Arch: c.Arch, DSAE: c.DSAE, BatchSize: B, Tokens: int64(B * (c.Warmup + c.Steps)), Seed: c.Seed,
		DeadTokens: 1 << 40, BF16Matmuls: c.BF16Matmuls, DenseGraph: true, AutodiffGraph: autodiff}
	src := NewSliceSource(data, d)
	src.Loop = true
	start := time.Now()
	var tWarm, tEnd time.Time
	var first time.Duration
	var last Progress
	execs := map[string]*graph.Exec{}
	r, err := Train(ctx, src, cfg, TrainOptions{Backend: be, ProgressEvery: 1, execCache: execs, Progress: func(p Progress) {
		if p.Step == 1 {
			first = time.Since(start)
		}
		if p.Step == c.Warmup {
			tWarm = time.Now()
		}
		tEnd = time.Now()
		last = p
	}, progressAt: func(step int) bool { return step == 1 || step == c.Warmup || step%10 == 0 }})
	if err != nil {
		return nil, err
	}
	el := tEnd.Sub(tWarm).Seconds()
	res := &BenchResult{Backend: be.String(), Arch: string(r.SAE.Arch), Step: "graph-handgrad", BF16Matmuls: c.BF16Matmuls,
		DIn: d, DSAE: r.SAE.DSAE, BatchSize: B, Steps: c.Steps, FirstStepSeconds: first.Seconds(), FinalFVU: last.FVU,
		TrainTokensPerSec: float64(c.Steps*B) / el, TrainMsPerStep: 1000 * el / float64(c.Steps)}
	if autodiff {
		res.Step = "graph-autodiff"
	}
	// The step alone (the compiled graph Train used), on batches already on the device and without the
	// per-step read-back of the statistics that Train does: what the graph costs apart from the loop.
	if err := cfg.defaults(d); err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, d: d, S: cfg.DSAE, steps: c.Warmup + c.Steps, stepExec: execs, backend: be}
	t.init(data[:B*d])
	e, err := t.exec(stepVariant{})
	if err != nil {
		return nil, err
	}
	xs := make([]*tensors.Tensor, 4)
	for i := range xs {
		sc := make([]float32, B*d)
		for j, v := range data[i*B*d : (i+1)*B*d] {
			sc[j] = v * t.scale
		}
		xs[i] = tensors.FromFlatDataAndDimensions(sc, B, d)
		if err := xs[i].MaterializeOnDevice(be, false, 0); err != nil {
			return nil, err
		}
		defer xs[i].FinalizeAll()
	}
	f32 := func(x float64) *tensors.Tensor { return tensors.FromScalar(float32(x)) }
	var t0 time.Time
	coef := cfg.L1Coef
	if cfg.Arch == ArchJumpReLU {
		coef = cfg.L0Coef
	}
	for s := range c.Warmup + c.Steps {
		args := []any{xs[s%len(xs)]}
		for _, st := range t.state {
			args = append(args, st)
		}
		n := float64(s + 1)
		args = append(args, f32(cfg.lrAt(s, t.steps)), f32(1-math.Pow(adamB1, n)), f32(1-math.Pow(adamB2, n)), f32(coef), f32(0))
		outs, err := e.Exec(args...)
		if err != nil {
			return nil, err
		}
		for i := range 3 * nParams {
			t.state[i].FinalizeAll()
			t.state[i] = outs[i]
		}
		if s == c.Warmup-1 || s == c.Warmup+c.Steps-1 { // wait for the step (reading its loss)
			if loss := tensors.ToScalar[float32](outs[3*nParams]); math.IsNaN(float64(loss)) {
				return nil, fmt.Errorf("step alone: loss %v", loss)
			}
		}
		for _, o := range outs[3*nParams:] {
			o.FinalizeAll()
		}
		if s == c.Warmup-1 {
			t0 = time.Now()
		}
	}
	el = time.Since(t0).Seconds()
	res.ResidentTokensPerSec = float64(c.Steps*B) / el
	res.ResidentMsPerStep = 1000 * el / float64(c.Steps)
	for _, st := range t.state {
		st.FinalizeAll()
	}
	return res, nil
}

// denseGraphVariants are the ReLU / JumpReLU graph-step variants BenchmarkDenseGraph and BenchmarkXLADense
// time at d×S, batch B: the autodiff step, and the hand-written one with float32 or bfloat16 products.
func denseGraphVariants(d, S, B, steps int) (names []string, cs []BenchConfig, autodiff []bool) {
	tag := fmt.Sprintf("%dx%d_b%d", d, S, B)
	add := func(name string, arch Arch, bf16, ad bool) {
		names = append(names, name+"_"+tag)
		cs = append(cs, BenchConfig{Arch: arch, DIn: d, DSAE: S, BatchSize: B, Steps: steps, Warmup: 3, BF16Matmuls: bf16})
		autodiff = append(autodiff, ad)
	}
	add("relu_autodiff_f32", ArchReLU, false, true)
	add("relu_handgrad_f32", ArchReLU, false, false)
	add("relu_handgrad_bf16", ArchReLU, true, false)
	add("jumprelu_handgrad_f32", ArchJumpReLU, false, false)
	add("jumprelu_handgrad_bf16", ArchJumpReLU, true, false)
	return names, cs, autodiff
}

// runDenseGraphBench runs the variants whose name contains only (all if empty) on be, printing each
// result as a JSON line (appended to $STEER_SAE_BENCH_JSON if set).
func runDenseGraphBench(b *testing.B, be compute.Backend, d, S, B, steps int, only string) {
	names, cs, autodiff := denseGraphVariants(d, S, B, steps)
	for i, name := range names {
		if only != "" && !strings.Contains(name, only) {
			continue
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				res, err := benchDenseGraph(context.Background(), be, cs[i], autodiff[i])
				if err != nil {
					b.Fatal(err)
				}
				line, _ := json.Marshal(map[string]any{"variant": name, "result": res})
				fmt.Println(string(line))
				if p := os.Getenv("STEER_SAE_BENCH_JSON"); p != "" {
					if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
						f.Write(append(line, '\n'))
						f.Close()
					}
				}
				b.ReportMetric(res.TrainMsPerStep, "ms/step")
				b.ReportMetric(res.TrainTokensPerSec, "train_tokens/s")
				b.ReportMetric(res.ResidentMsPerStep, "resident_ms/step")
			}
		})
	}
}

// BenchmarkDenseGraph times the ReLU / JumpReLU graph-step variants on the pure-Go backend at a moderate
// shape (STEER_SAE_BENCH_STEPS timed steps, default 10; STEER_SAE_BENCH_ONLY filters by name):
//
//	go test ./sae -run '^$' -bench DenseGraph -benchtime 1x
func BenchmarkDenseGraph(b *testing.B) {
	be, err := compute.NewWithConfig("go")
	if err != nil {
		b.Fatal(err)
	}
	steps := 10
	if v, err := strconv.Atoi(os.Getenv("STEER_SAE_BENCH_STEPS")); err == nil && v > 0 {
		steps = v
	}
	runDenseGraphBench(b, be, 256, 4096, 1024, steps, os.Getenv("STEER_SAE_BENCH_ONLY"))
}
