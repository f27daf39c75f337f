package sae

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkTrainTokensPerSec measures SAE training throughput (tokens/s, the first step — graph
// compilation — excluded) at d_in 384 and 768, width 16x, batch 4096, for TopK k=32 and ReLU, on
// synthetic activations. STEER_SAE_BENCH_STEPS sets the timed steps (default 3); STEER_SAE_BENCH_DIMS
// limits the dims (e.g. "768").
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
	for _, d := range dims {
		for _, variant := range []string{"topk", "topksparse", "relu"} {
			arch := ArchTopK
			if variant == "relu" {
				arch = ArchReLU
			}
			b.Run(fmt.Sprintf("%s-d%d", variant, d), func(b *testing.B) {
				const B = 4096
				data := synthData(B*4, d, 4*d, 8, 1)
				for range b.N {
					var t1 time.Time
					var timed int
					cfg := TrainConfig{Arch: arch, DSAE: 16 * d, K: 32, BatchSize: B, Tokens: int64(B * (steps + 1)), Seed: 1, DeadTokens: 1 << 40, TopKSparse: variant == "topksparse"}
					src := NewSliceSource(data, d)
					src.Loop = true
					_, err := Train(context.Background(), src, cfg, TrainOptions{ProgressEvery: 1, Progress: func(p Progress) {
						if p.Step == 1 {
							t1 = time.Now()
						} else {
							timed = p.Step - 1
						}
					}})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(timed*B)/time.Since(t1).Seconds(), "tokens/s")
				}
			})
		}
	}
}
