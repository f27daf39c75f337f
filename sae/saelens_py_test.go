package sae

import (
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/steer-dev/steer/weights"
)

// TestSAELensPythonRoundTrip writes SAEs in SAELens v6 layout with inputs and steer's outputs, and runs
// scripts/saelens_roundtrip.py with the Python in STEER_SAELENS_PYTHON (a venv from scripts/venv.sh),
// which loads them with the sae-lens package and compares. `make test` sets it; by hand:
//
//	STEER_SAELENS_PYTHON="$(scripts/venv.sh)/bin/python" GOEXPERIMENT=simd go test ./sae -run TestSAELensPythonRoundTrip -count=1 -v
func TestSAELensPythonRoundTrip(t *testing.T) {
	py := sharedtest.Env(t, "STEER_SAELENS_PYTHON", "a python with sae-lens, e.g. \"$(scripts/venv.sh)/bin/python\"")
	root := t.TempDir()
	var cases []string
	add := func(name string, s *SAE, x []float32, n int) {
		dir := filepath.Join(root, name)
		sp := make([]float32, s.DSAE)
		for i := range sp {
			sp[i] = -1 - float32(i%7)/3
		}
		if err := s.SaveSAELens(dir, sp); err != nil {
			t.Fatal(err)
		}
		f := s.Encode(x, n)
		xh := s.Decode(f, n)
		if err := weights.WriteFile(filepath.Join(dir, "io.safetensors"), []weights.WriteTensor{
			weights.F32Tensor("x", []int{n, s.DIn}, x), weights.F32Tensor("f", []int{n, s.DSAE}, f),
			weights.F32Tensor("xhat", []int{n, s.DIn}, xh)}, nil); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, dir)
	}
	r := rand.New(rand.NewPCG(42, 1))
	for _, arch := range []Arch{ArchTopK, ArchReLU, ArchJumpReLU, ArchBatchTopK} {
		s := randSAE(arch, 24, 96, 6, 100+uint64(len(cases)))
		add(string(arch), s, randVec(r, 16*24, 1), 16)
	}
	gs := randSAE(ArchJumpReLU, 24, 96, 0, 9)
	gs.Meta.ApplyBDecToInput = false
	add("jumprelu-no-bdec", gs, randVec(r, 16*24, 1), 16)
	// A trained SAE (scale folded in) and the shared PyTorch-trained tiny-lm SAE converted by us.
	data := synthData(128*20, 16, 48, 3, 6)
	res, err := TrainForTest(data, 16)
	if err != nil {
		t.Fatal(err)
	}
	// with the metadata steer sae train adds (its text and held-out start): sae-lens must still load it
	res.SAE.Meta.Extra = map[string]any{"steer_text": "/data/corpus.jsonl.xz", "steer_text_field": "text", "steer_heldout_skip_docs": 7589}
	add("trained-topk", res.SAE, data[:32*16], 32)
	if p := sharedtest.Path(t, "models/tiny-lm-saes/tiny-lm-resid_post.3-topk32-6144"); p != "" {
		s, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 8*384)
		for i := range x {
			x[i] = s.BDec[i%384] + float32(r.NormFloat64())
		}
		add("tiny-lm-topk32", s, x, 8)
	}
	cmd := exec.Command(py, filepath.Join(sharedtest.RepoRoot(), "scripts", "saelens_roundtrip.py"))
	cmd.Args = append(cmd.Args, cases...)
	out, err := cmd.CombinedOutput()
	t.Logf("saelens_roundtrip.py:\n%s", out)
	if err != nil {
		t.Fatalf("saelens_roundtrip.py failed: %v", err)
	}
	if !strings.Contains(string(out), "7 passed, 0 failed") {
		t.Fatalf("unexpected summary")
	}
}
