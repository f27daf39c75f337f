package model

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // the pure-Go CPU backend, always available
)

// BackendEnv is the environment variable that selects the compute backend when none is given.
const BackendEnv = "STEER_BACKEND"

// DefaultBackend is the backend used when neither an option nor STEER_BACKEND names one: the pure-Go CPU backend.
const DefaultBackend = "go"

// xlaAvailable is set by backend_xla.go (build tag "xla"), which links the XLA/PJRT backend.
var xlaAvailable = false

// NewBackend creates a GoMLX backend from a config string such as "go", "xla:cuda" or
// "xla:/path/to/xla_cuda_plugin.so". An empty config means $STEER_BACKEND, else "go".
// It never downloads anything: for XLA configs GOMLX_NO_AUTO_INSTALL=1 is set first.
//
// float32 means float32: XLA's CUDA backend would otherwise run float32 matmuls as TF32 (10-bit
// mantissa; tiny-lm's residual stream then drifts by 6e-3 from transformers on an H200), so XLA configs
// get ",tf32=false" unless they set tf32 themselves ("xla:cuda,tf32=true" trades accuracy for speed).
func NewBackend(config string) (compute.Backend, error) {
	if config == "" {
		config = os.Getenv(BackendEnv)
	}
	if config == "" {
		config = DefaultBackend
	}
	name, _, _ := strings.Cut(config, ":")
	if name == "xla" || name == "stablehlo" || name == "pjrt" {
		os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
		if !strings.Contains(config, "tf32=") {
			config += ",tf32=false"
		}
		if !xlaAvailable {
			return nil, fmt.Errorf("backend %q: this steer binary was built without XLA support; rebuild with "+
				"`go build -tags xla ./cmd/steer` (needs github.com/gomlx/go-xla in go.mod), then install a PJRT plugin, "+
				"e.g. `pip install jax-cuda13-pjrt` and pass --backend xla:<site-packages>/jax_plugins/xla_cuda13/xla_cuda_plugin.so", config)
		}
	}
	b, err := newBackendSafe(config)
	if err != nil {
		hint := ""
		if name == "xla" || name == "stablehlo" || name == "pjrt" {
			hint = " (steer never downloads plugins: install one, e.g. `pip install jax-cuda13-pjrt`, and pass " +
				"--backend xla:<site-packages>/jax_plugins/xla_cuda13/xla_cuda_plugin.so, or use --backend go)"
		} else {
			hint = " (available: go" + map[bool]string{true: ", xla:<plugin>", false: ""}[xlaAvailable] + ")"
		}
		return nil, fmt.Errorf("backend %q is not available: %v%s", config, err, hint)
	}
	return b, nil
}

func newBackendSafe(config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}
