//go:build xla

package model

import (
	"os"
	"slices"
	"testing"

	"github.com/steer-dev/steer/assets"
)

// TestXLABackend runs tiny-lm through GoMLX's XLA (PJRT) backend — the code path CUDA uses — with the
// plugin named by STEER_XLA_PLUGIN (CI uses a CPU PJRT plugin from PyPI; on a GPU machine, the
// jax-cuda13-pjrt plugin), and requires the same references as the pure-Go backend: logits and every
// resid_post within 1e-4 of HF transformers, identical greedy continuations, and a steering strength
// passed as a tensor (no recompilation when it changes).
func TestXLABackend(t *testing.T) {
	plugin := os.Getenv("STEER_XLA_PLUGIN")
	if plugin == "" {
		t.Fatal("built with -tags xla: set STEER_XLA_PLUGIN to a PJRT plugin (.so) to test the XLA backend")
	}
	m, err := LoadFS(assets.TinyLM(), ".", WithBackendConfig("xla:"+plugin), WithName(assets.TinyLMName))
	if err != nil {
		t.Fatal(err)
	}
	g := loadTinyGolden(t)
	worst := checkTinyLMForward(t, m, g)
	t.Logf("xla backend: max abs diff over logits and resid_post: %.3g", worst)
	gen, err := m.Generate(g.prompt, GenerateOptions{MaxNewTokens: 48})
	if err != nil {
		t.Fatal(err)
	}
	for p := range g.prompt {
		if !slices.Equal(gen.IDs[p], g.greedy[p]) {
			t.Errorf("xla: prompt %d: greedy continuation differs\n got %v\nwant %v", p, gen.IDs[p], g.greedy[p])
		}
	}
	vec := make([]float32, m.DModel())
	for i := range vec {
		vec[i] = float32(i%7) - 3
	}
	var last []float32
	for i, strength := range []float32{0, 4, 8} {
		before := m.Compilations()
		out, err := m.Forward([][]int{g.prompt[1]}, Capture("logits"), Intervene(AddVector("resid_post.2", vec, strength)))
		if err != nil {
			t.Fatal(err)
		}
		logits := out.Get("logits").Data
		if i > 0 && slices.Equal(logits, last) {
			t.Errorf("xla: strength %v left the logits unchanged", strength)
		}
		last = slices.Clone(logits)
		if i > 0 && m.Compilations() != before {
			t.Errorf("xla: changing the strength recompiled")
		}
	}
}

// TestXLAConfigVariants runs the config-variant sweep (see TestConfigVariants) through the XLA backend.
func TestXLAConfigVariants(t *testing.T) {
	plugin := os.Getenv("STEER_XLA_PLUGIN")
	if plugin == "" {
		t.Fatal("built with -tags xla: set STEER_XLA_PLUGIN to a PJRT plugin (.so) to test the XLA backend")
	}
	checkConfigVariants(t, WithBackendConfig("xla:"+plugin))
}
