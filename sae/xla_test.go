//go:build xla

package sae

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/go-xla/compute/xla" // the XLA (PJRT) backend; never its auto-installer
)

// TestXLADeviceStep runs the OnDevice TopK step through GoMLX's XLA (PJRT) backend — CUDA's code path —
// with the plugin named by STEER_XLA_PLUGIN (a CPU PJRT plugin in CI, jax-cuda13-pjrt's on a GPU), and
// requires the same updates as the sparse Go step on the pure-Go backend, then a short Train run
// with the bfloat16 selection that lowers the FVU.
func TestXLADeviceStep(t *testing.T) {
	plugin := os.Getenv("STEER_XLA_PLUGIN")
	if plugin == "" {
		t.Fatal("built with -tags xla: set STEER_XLA_PLUGIN to a PJRT plugin (.so)")
	}
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	be, err := compute.NewWithConfig("xla:" + plugin + ",tf32=false") // float32 as on the Go backend
	if err != nil {
		t.Fatal(err)
	}
	checkDeviceStepMatchesSparse(t, be)
	const d = 16
	data := synthData(128*40, d, 48, 3, 1)
	for _, bf16 := range []bool{false, true} {
		cfg := smallCfg(ArchTopK)
		cfg.OnDevice = On // a CPU plugin would pick the sparse Go step
		cfg.BF16Matmuls = bf16
		var first, last Progress
		res, err := Train(context.Background(), NewSliceSource(data, d), cfg, TrainOptions{Backend: be, ProgressEvery: 1, Progress: func(p Progress) {
			if p.Step == 1 {
				first = p
			}
			last = p
		}})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Evaluate(res.SAE, NewSliceSource(data[:128*16*10], d), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("xla OnDevice (bf16 matmuls %v): train FVU %.3f -> %.3f; eval FVU %.3f L0 %.2f", bf16, first.FVU, last.FVU, ev.FVU, ev.L0)
		if !(ev.FVU < 0.5 && last.FVU < 0.7*first.FVU) || ev.L0 > 4 {
			t.Fatalf("xla OnDevice training did not converge: first %.3f last %.3f eval %.3f L0 %.2f", first.FVU, last.FVU, ev.FVU, ev.L0)
		}
	}
}

// BenchmarkXLATrain measures SAE training throughput through the XLA backend (STEER_XLA_PLUGIN; on a GPU,
// jax-cuda13-pjrt's plugin) for the workloads of ../shared/bench/h100-pytorch.md, with steer's step
// variants: the OnDevice step with float32 or bfloat16 matmuls, with the chunked (default) or the
// full-sort top-k, with AuxK forced on, and the dense ReLU graph step. Each result is printed as a JSON line (and appended to
// $STEER_SAE_BENCH_JSON if set). STEER_SAE_BENCH_STEPS sets the timed steps (default 30);
// STEER_SAE_BENCH_ONLY keeps the variants whose name contains it.
//
//	go test -c -tags xla ./sae && STEER_XLA_PLUGIN=... ./sae.test -test.run '^$' -test.bench XLATrain -test.benchtime 1x
func BenchmarkXLATrain(b *testing.B) {
	plugin := os.Getenv("STEER_XLA_PLUGIN")
	if plugin == "" {
		b.Fatal("set STEER_XLA_PLUGIN to a PJRT plugin (.so)")
	}
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	be, err := compute.NewWithConfig("xla:" + plugin + ",tf32=false") // float32 matmuls are float32 (PyTorch's default too)
	if err != nil {
		b.Fatal(err)
	}
	steps := 30
	if v, err := strconv.Atoi(os.Getenv("STEER_SAE_BENCH_STEPS")); err == nil && v > 0 {
		steps = v
	}
	type variant struct {
		name string
		c    BenchConfig
	}
	var vs []variant
	for _, sh := range []struct{ d, s, k int }{{768, 24576, 32}, {2304, 16384, 64}} {
		base := BenchConfig{Arch: ArchTopK, DIn: sh.d, DSAE: sh.s, K: sh.k, BatchSize: 4096, Steps: steps, Warmup: 3}
		tag := fmt.Sprintf("%dx%d_k%d", sh.d, sh.s, sh.k)
		bf := base
		bf.BF16Matmuls = true
		vs = append(vs, variant{"topk_device_bf16_" + tag, bf}, variant{"topk_device_f32_" + tag, base})
		if sh.d == 768 {
			srt := bf
			srt.TopK = "sort"
			aux := bf
			aux.ForceAux = true
			relu := base
			relu.Arch = ArchReLU
			vs = append(vs, variant{"topk_device_bf16_sort_" + tag, srt}, variant{"topk_device_bf16_auxk_" + tag, aux},
				variant{"relu_graph_" + tag, relu})
		}
	}
	only := os.Getenv("STEER_SAE_BENCH_ONLY")
	for _, v := range vs {
		if only != "" && !strings.Contains(v.name, only) {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				res, err := Bench(context.Background(), be, v.c)
				if err != nil {
					b.Fatal(err)
				}
				line, _ := json.Marshal(map[string]any{"variant": v.name, "result": res})
				fmt.Println(string(line))
				if p := os.Getenv("STEER_SAE_BENCH_JSON"); p != "" {
					if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
						f.Write(append(line, '\n'))
						f.Close()
					}
				}
				b.ReportMetric(res.TrainTokensPerSec, "train_tokens/s")
				b.ReportMetric(res.ResidentTokensPerSec, "resident_tokens/s")
			}
		})
	}
}
