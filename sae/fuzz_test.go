package sae

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-dev/steer/weights"
)

// FuzzReadNPY feeds arbitrary bytes to the .npy reader: it returns an array or an error, never panics,
// and never allocates for a shape its data does not back.
func FuzzReadNPY(f *testing.F) {
	f.Add(writeNPY("<f4", false, []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}, 1))
	f.Add(writeNPY("<f8", false, []int{4}, []float64{1, 2, 3, 4}, 2))
	f.Add(writeNPY("<f4", false, []int{}, []float64{7}, 3))
	f.Add(writeNPY("<f4", false, []int{1 << 40, 1 << 40}, nil, 1))
	f.Add(writeNPY("<f4", false, []int{3037000500, 3037000500}, nil, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadNPY(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) {
			t.Fatalf("shape %v but %d values", a.Shape, len(a.Data))
		}
	})
}

// FuzzLoadConfig loads a valid set of weights under an arbitrary cfg.json (SAELens, sparsify) or
// config.json (Gemma Scope 2): the loader returns an SAE that passes its own checks, or an error.
func FuzzLoadConfig(f *testing.F) {
	s := randSAE(ArchJumpReLU, 4, 8, 0, 1)
	f.Add(uint8(0), []byte(`{"architecture": "jumprelu", "d_in": 4, "d_sae": 8, "metadata": {"hook_name": "h"}}`))
	f.Add(uint8(0), []byte(`{"d_in": 4, "d_sae": 8, "activation_fn_str": "topk", "activation_fn_kwargs": {"k": 3}}`))
	f.Add(uint8(0), []byte(`{"architecture": "topk", "d_in": 4, "d_sae": 8, "k": 900}`))
	f.Add(uint8(1), []byte(`{"k": 2, "num_latents": 8, "d_in": 4, "activation": "topk"}`))
	f.Add(uint8(2), []byte(`{"architecture": "jump_relu", "model_name": "m"}`))
	f.Fuzz(func(t *testing.T, layout uint8, cfg []byte) {
		dir := t.TempDir()
		var wfile, cfile string
		var ts []weights.WriteTensor
		switch layout % 3 {
		case 0:
			wfile, cfile = "sae_weights.safetensors", "cfg.json"
			ts = []weights.WriteTensor{weights.F32Tensor("W_enc", []int{4, 8}, s.WEnc), weights.F32Tensor("b_enc", []int{8}, s.BEnc),
				weights.F32Tensor("W_dec", []int{8, 4}, s.WDec), weights.F32Tensor("b_dec", []int{4}, s.BDec),
				weights.F32Tensor("threshold", []int{8}, s.Threshold)}
		case 1:
			wfile, cfile = "sae.safetensors", "cfg.json"
			ts = []weights.WriteTensor{weights.F32Tensor("encoder.weight", []int{8, 4}, transpose(s.WEnc, 4, 8)),
				weights.F32Tensor("encoder.bias", []int{8}, s.BEnc), weights.F32Tensor("W_dec", []int{8, 4}, s.WDec),
				weights.F32Tensor("b_dec", []int{4}, s.BDec)}
		default:
			wfile, cfile = "params.safetensors", "config.json"
			ts = []weights.WriteTensor{weights.F32Tensor("w_enc", []int{4, 8}, s.WEnc), weights.F32Tensor("w_dec", []int{8, 4}, s.WDec),
				weights.F32Tensor("b_enc", []int{8}, s.BEnc), weights.F32Tensor("b_dec", []int{4}, s.BDec),
				weights.F32Tensor("threshold", []int{8}, s.Threshold)}
		}
		if err := weights.WriteFile(filepath.Join(dir, wfile), ts, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, cfile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Load(dir)
		if err != nil {
			return
		}
		if l.DIn != 4 || l.DSAE != 8 || len(l.WEnc) != 32 || len(l.WDec) != 32 {
			t.Fatalf("loaded %d→%d with %d/%d weights", l.DIn, l.DSAE, len(l.WEnc), len(l.WDec))
		}
		if l.Arch == ArchTopK && (l.K < 1 || l.K > l.DSAE) {
			t.Fatalf("loaded a TopK SAE with k=%d of %d latents", l.K, l.DSAE)
		}
		l.Encode(make([]float32, 8), 2) // must not panic
	})
}

// FuzzReadNPZ feeds arbitrary bytes as a params.npz (Gemma Scope 1).
func FuzzReadNPZ(f *testing.F) {
	seed := func(arrays map[string][]byte, deflate bool) []byte {
		p := filepath.Join(f.TempDir(), "params.npz")
		writeNPZ(&testing.T{}, p, arrays, deflate)
		b, _ := os.ReadFile(p)
		return b
	}
	f.Add(seed(map[string][]byte{"W_enc": writeNPY("<f4", false, []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}, 1)}, false))
	f.Add(seed(map[string][]byte{"b_dec": writeNPY("<f8", false, []int{2}, []float64{1, 2}, 1)}, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "params.npz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = ReadNPZ(p)
		_, _ = Load(p)
	})
}
