package model

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/steer-dev/steer/weights"
)

// TestRopeMatchesTransformers checks every rope_scaling variant against transformers' own
// ROPE_INIT_FUNCTIONS on config.json files as checkpoints ship them (testdata/rope/gen_rope_refs.py):
// yarn with mscale/mscale_all_dim, truncate false, an explicit attention_factor and a top-level
// original_max_position_embeddings; llama3 without an original length; dynamic below and above the
// trained length; longrope with and without an explicit factor, on both sides of the switch.
func TestRopeMatchesTransformers(t *testing.T) {
	data, err := os.ReadFile("testdata/rope/refs.json")
	if err != nil {
		t.Fatal(err)
	}
	var refs struct {
		Cases []struct {
			Name            string          `json:"name"`
			Config          json.RawMessage `json:"config"`
			SeqLen          int             `json:"seq_len"`
			InvFreq         []float64       `json:"inv_freq"`
			AttentionFactor float64         `json:"attention_factor"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &refs); err != nil {
		t.Fatal(err)
	}
	if len(refs.Cases) < 15 {
		t.Fatalf("only %d reference cases", len(refs.Cases))
	}
	for _, c := range refs.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg, err := weights.ParseConfig(c.Config, c.Name)
			if err != nil {
				t.Fatal(err)
			}
			spec := ropeSpec{cfg: cfg.Rope, dim: rotaryDim(cfg), maxPositions: cfg.MaxPositions}
			inv, scale := spec.invFreq(c.SeqLen)
			if len(inv) != len(c.InvFreq) {
				t.Fatalf("%d frequencies, transformers has %d", len(inv), len(c.InvFreq))
			}
			for i, want := range c.InvFreq {
				if d := math.Abs(float64(inv[i])-want) / want; d > 2e-6 {
					t.Errorf("inv_freq[%d] = %g, transformers %g (rel %.2g)", i, inv[i], want, d)
				}
			}
			if d := math.Abs(float64(scale) - c.AttentionFactor); d > 1e-6 {
				t.Errorf("attention factor %g, transformers %g", scale, c.AttentionFactor)
			}
		})
	}
}
