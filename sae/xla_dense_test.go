//go:build xla

package sae

import (
	"os"
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
