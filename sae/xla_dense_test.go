//go:build xla

package sae

import (
	"os"
	"strconv"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/go-xla/compute/xla" // the XLA (PJRT) backend; never its auto-installer
)

// TestXLADenseGraph runs the hand-written ReLU / JumpReLU graph step (densegraph.go) through the XLA
// backend (STEER_XLA_PLUGIN, as TestXLADeviceStep): the same updates as the autodiff graph step there, and
// a bfloat16-product run that lowers the FVU.
func TestXLADenseGraph(t *testing.T) {
	plugin := os.Getenv("STEER_XLA_PLUGIN")
	if plugin == "" {
		t.Fatal("built with -tags xla: set STEER_XLA_PLUGIN to a PJRT plugin (.so)")
	}
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	be, err := compute.NewWithConfig("xla:" + plugin + ",tf32=false") // float32 as on the Go backend
	if err != nil {
		t.Fatal(err)
	}
	checkDenseGraphMatchesAutodiff(t, be)
	checkDenseGraphBF16Trains(t, be)
}

// BenchmarkXLADense measures the ReLU / JumpReLU graph step through the XLA backend (STEER_XLA_PLUGIN;
// on a GPU, jax-cuda13-pjrt's plugin) at 768→24576, batch 4096: the autodiff step (ReLU, float32) against
// the hand-written gradients (densegraph.go) with float32 or bfloat16 products, for ReLU and JumpReLU.
// Each result is printed as a JSON line (and appended to $STEER_SAE_BENCH_JSON if set).
// STEER_SAE_BENCH_STEPS sets the timed steps (default 30); STEER_SAE_BENCH_ONLY keeps the variants whose
// name contains it; STEER_SAE_BENCH_SMALL=1 shrinks the shapes to 64→512, batch 256 (a check that the
// graphs compile and run, e.g. with a CPU PJRT plugin).
//
//	go test -c -tags xla ./sae && STEER_XLA_PLUGIN=... ./sae.test -test.run '^$' -test.bench XLADense -test.benchtime 1x
func BenchmarkXLADense(b *testing.B) {
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
	d, S, B := 768, 24576, 4096
	if os.Getenv("STEER_SAE_BENCH_SMALL") == "1" {
		d, S, B = 64, 512, 256
	}
	runDenseGraphBench(b, be, d, S, B, steps, os.Getenv("STEER_SAE_BENCH_ONLY"))
}
