package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/compute"
)

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// randSAE makes an SAE with random weights (not trained), thresholds ~ small positives.
func randSAE(arch Arch, din, dsae, k int, seed uint64) *SAE {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &SAE{Arch: arch, DIn: din, DSAE: dsae, K: k,
		WEnc: randVec(r, din*dsae, 0.3), BEnc: randVec(r, dsae, 0.1),
		WDec: randVec(r, dsae*din, 0.3), BDec: randVec(r, din, 0.2),
		Meta: Meta{ApplyBDecToInput: true, HookName: "blocks.1.hook_resid_post", ModelName: "m"}}
	if arch == ArchJumpReLU || arch == ArchBatchTopK {
		s.Threshold = make([]float32, dsae)
		for i := range s.Threshold {
			s.Threshold[i] = float32(r.Float64() * 0.5)
		}
		if arch == ArchBatchTopK {
			for i := range s.Threshold {
				s.Threshold[i] = 0.3
			}
		}
	}
	return s
}

// refEncode is an independent float64 implementation of the reference formulas.
// wEncAt(i,j) gives W_enc[i][j] (d_in x d_sae); subtract: whether b_dec is subtracted.
func refEncode(x []float64, din, dsae int, wEncAt func(i, j int) float64, bEnc, bDec []float64, subtract bool,
	act func(pre []float64) []float64) []float64 {
	pre := make([]float64, dsae)
	for j := range dsae {
		a := bEnc[j]
		for i := range din {
			xi := x[i]
			if subtract {
				xi -= bDec[i]
			}
			a += xi * wEncAt(i, j)
		}
		pre[j] = a
	}
	return act(pre)
}

func refTopK(k int) func([]float64) []float64 {
	return func(pre []float64) []float64 {
		idx := make([]int, len(pre))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return pre[idx[a]] > pre[idx[b]] })
		out := make([]float64, len(pre))
		for _, j := range idx[:k] {
			out[j] = math.Max(pre[j], 0)
		}
		return out
	}
}

func refJump(th []float64) func([]float64) []float64 {
	return func(pre []float64) []float64 {
		out := make([]float64, len(pre))
		for j, p := range pre {
			if p > th[j] && p > 0 {
				out[j] = p
			}
		}
		return out
	}
}

func refReLU(pre []float64) []float64 {
	out := make([]float64, len(pre))
	for j, p := range pre {
		out[j] = math.Max(p, 0)
	}
	return out
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// assertClose compares got to want with an absolute+relative tolerance and reports the worst entry.
func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	worst, wi := 0.0, -1
	for i := range got {
		d := math.Abs(float64(got[i])-want[i]) / (1 + math.Abs(want[i]))
		if d > worst || math.IsNaN(d) {
			worst, wi = d, i
		}
	}
	if worst > tol {
		t.Fatalf("%s: max rel diff %.3g at %d (got %v want %v), tol %g", what, worst, wi, got[wi], want[wi], tol)
	}
}

// checkEncodeDecode compares s.Encode/Decode on random x against an independent reference.
func checkEncodeDecode(t *testing.T, s *SAE, wEncAt func(i, j int) float64, bEnc, bDec, wDec []float64, subtract bool,
	act func([]float64) []float64, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	n := 5
	x := randVec(r, n*s.DIn, 1)
	f := s.Encode(x, n)
	xh := s.Decode(f, n)
	nonzero := 0
	for row := range n {
		want := refEncode(f64(x[row*s.DIn:(row+1)*s.DIn]), s.DIn, s.DSAE, wEncAt, bEnc, bDec, subtract, act)
		assertClose(t, "encode", f[row*s.DSAE:(row+1)*s.DSAE], want, 1e-4)
		rec := make([]float64, s.DIn)
		for i := range rec {
			rec[i] = bDec[i]
		}
		for j, a := range want {
			if a != 0 {
				nonzero++
				for i := range rec {
					rec[i] += a * wDec[j*s.DIn+i]
				}
			}
		}
		assertClose(t, "decode", xh[row*s.DIn:(row+1)*s.DIn], rec, 1e-4)
	}
	if nonzero == 0 {
		t.Fatalf("degenerate test: no active latents")
	}
}

// goBackend is GoMLX's pure-Go backend.
func goBackend(tb testing.TB) compute.Backend {
	tb.Helper()
	be, err := compute.NewWithConfig("go")
	if err != nil {
		tb.Fatal(err)
	}
	return be
}

// trainAndEvaluate trains on data (rows of d) with progress reported every step, on be (nil: the
// default backend), and returns the first and last step's progress and the evaluation on the first
// 128·16·10 values of data.
func trainAndEvaluate(t *testing.T, data []float32, d int, cfg TrainConfig, be compute.Backend) (first, last Progress, ev *EvalResult) {
	t.Helper()
	res, err := Train(context.Background(), NewSliceSource(data, d), cfg, TrainOptions{Backend: be, ProgressEvery: 1,
		Progress: func(p Progress) {
			if p.Step == 1 {
				first = p
			}
			last = p
		}})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err = Evaluate(res.SAE, NewSliceSource(data[:128*16*10], d), 0); err != nil {
		t.Fatal(err)
	}
	return first, last, ev
}
