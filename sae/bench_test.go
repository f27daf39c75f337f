package sae

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTrainTokensPerSec measures SAE training throughput (tokens/s, the first step — graph
// compilation — excluded) at d_in 384 and 768, width 16x, batch 4096, for TopK k=32, ReLU and JumpReLU, on
// synthetic activations. Variants: topk (the default sparse Go step, AuxK-free steady state), topkaux
// (the same with DeadTokens = one batch: AuxK runs only if some latent did not fire in a whole batch, which
// on this data does not happen, see BenchmarkSparseStepAux for a forced-AuxK timing), topkgraph (the GoMLX
// graph step, TrainConfig.TopKGraph), relu and jumprelu (the dense Go step). STEER_SAE_BENCH_STEPS sets the timed steps (default 3);
// STEER_SAE_BENCH_DIMS limits the dims (e.g. "768"); STEER_SAE_BENCH_VARIANTS the variants (default
// "topk,relu").
//
//	GOEXPERIMENT=simd go test ./sae -run '^$' -bench TrainTokensPerSec -benchtime 1x
func BenchmarkTrainTokensPerSec(b *testing.B) {
	steps := 3
	if v, err := strconv.Atoi(os.Getenv("STEER_SAE_BENCH_STEPS")); err == nil && v > 0 {
		steps = v
	}
	dims := []int{384, 768}
	if v, err := strconv.Atoi(os.Getenv("STEER_SAE_BENCH_DIMS")); err == nil {
		dims = []int{v}
	}
	variants := []string{"topk", "relu"}
	if v := os.Getenv("STEER_SAE_BENCH_VARIANTS"); v != "" {
		variants = strings.Split(v, ",")
	}
	for _, d := range dims {
		for _, variant := range variants {
			arch := ArchTopK
			deadTokens := int64(1 << 40)
			if variant == "topkaux" {
				deadTokens = 4096
			}
			switch variant {
			case "relu":
				arch = ArchReLU
			case "jumprelu":
				arch = ArchJumpReLU
			}
			b.Run(fmt.Sprintf("%s-d%d", variant, d), func(b *testing.B) {
				const B = 4096
				data := synthData(B*4, d, 4*d, 8, 1)
				for range b.N {
					var t1 time.Time
					var timed int
					var aux float64
					cfg := TrainConfig{Arch: arch, DSAE: 16 * d, K: 32, BatchSize: B, Tokens: int64(B * (steps + 1)), Seed: 1, DeadTokens: deadTokens, TopKGraph: variant == "topkgraph"}
					src := NewSliceSource(data, d)
					src.Loop = true
					_, err := Train(context.Background(), src, cfg, TrainOptions{ProgressEvery: 1, Progress: func(p Progress) {
						if p.Step == 1 {
							t1 = time.Now()
						} else {
							timed = p.Step - 1
						}
						aux = p.AuxLoss
					}})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(timed*B)/time.Since(t1).Seconds(), "tokens/s")
					if variant == "topkaux" {
						b.ReportMetric(aux, "aux_loss") // > 0: AuxK was active
					}
				}
			})
		}
	}
}

// BenchmarkTrainRun times a whole Train run as the project's real one: TopK d_in 384, width 6144, k=32,
// batch 4096, default recipe (AuxK on dead latents, DeadTokens = Tokens/4), STEER_SAE_RUN_TOKENS tokens
// (default 2M) from a looping SliceSource of 131072 synthetic rows. Reports tokens/s over the whole call
// (init and compilation included) and the wall time.
//
//	GOEXPERIMENT=simd go test ./sae -run '^$' -bench TrainRun -benchtime 1x -v
func BenchmarkTrainRun(b *testing.B) {
	tokens := int64(2_000_000)
	if v, err := strconv.ParseInt(os.Getenv("STEER_SAE_RUN_TOKENS"), 10, 64); err == nil && v > 0 {
		tokens = v
	}
	const d, rows = 384, 131072
	data := synthData(rows, d, 4*d, 8, 3)
	for range b.N {
		src := NewSliceSource(data, d)
		src.Loop = true
		cfg := TrainConfig{Arch: ArchTopK, DSAE: 16 * d, K: 32, Tokens: tokens, Seed: 1}
		t0 := time.Now()
		var last Progress
		res, err := Train(context.Background(), src, cfg, TrainOptions{ProgressEvery: 50, Progress: func(p Progress) {
			last = p
			b.Logf("step %d/%d fvu %.4f L0 %.1f dead %.2f%% aux %.3g %.0f tok/s", p.Step, p.Steps, p.FVU, p.L0, 100*p.DeadFrac, p.AuxLoss, p.TokensPerSec)
		}})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		b.ReportMetric(float64(res.Tokens)/el.Seconds(), "tokens/s")
		b.ReportMetric(el.Seconds(), "wall_s")
		b.Logf("%d tokens in %s (%.0f tok/s); final FVU %.4f", res.Tokens, el.Round(time.Millisecond), float64(res.Tokens)/el.Seconds(), last.FVU)
	}
}
