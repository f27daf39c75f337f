package sae

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// EncodeGraph/DecodeGraph fed with ParamData must reproduce Encode/Decode.
func TestGraphEncodeDecodeMatchesGo(t *testing.T) {
	backend := goBackend(t)
	for _, arch := range []Arch{ArchTopK, ArchReLU, ArchJumpReLU, ArchBatchTopK} {
		for _, apply := range []bool{true, false} {
			s := randSAE(arch, 10, 30, 4, 21)
			s.Meta.ApplyBDecToInput = apply
			n := 6
			x := randVec(rand.New(rand.NewPCG(2, 2)), n*s.DIn, 1)
			f, xh := graphForward(t, backend, s, x, n)
			assertClose(t, string(arch)+" graph encode", f, f64(s.Encode(x, n)), 1e-5)
			assertClose(t, string(arch)+" graph decode", xh, f64(s.Decode(s.Encode(x, n), n)), 1e-5)
		}
	}
}

// NormalizeGraph + EncodeGraph/DecodeGraph must reproduce Forward for the real sae-lens fixtures with
// run-time normalisations (constant_norm_rescale, layer_norm).
func TestNormalizeGraphMatchesForward(t *testing.T) {
	backend := goBackend(t)
	for _, dir := range []string{"standard_cnr", "topk_cnr", "standard_ln", "jumprelu_ln", "topk_ln_rescale"} {
		s, err := Load("testdata/saelens/" + dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 5
		x := randVec(rand.New(rand.NewPCG(3, 3)), n*s.DIn, 2)
		f, xh := graphForward(t, backend, s, x, n)
		fg, xg := s.Forward(x, n)
		assertClose(t, dir+" graph encode", f, f64(fg), 1e-5)
		assertClose(t, dir+" graph forward", xh, f64(xg), 1e-5)
	}
}

// graphForward runs NormalizeGraph, EncodeGraph and DecodeGraph (then the normalisation's undo) on x
// [n, d_in] with s's ParamData, and returns the latents and the reconstruction.
func graphForward(t *testing.T, backend compute.Backend, s *SAE, x []float32, n int) (f, xh []float32) {
	t.Helper()
	e, err := NewExec(backend, func(g *Graph, in []*Node) []*Node {
		xn, undo := NormalizeGraph(s, in[0])
		var bDec *Node
		if s.Meta.ApplyBDecToInput {
			bDec = in[3]
		}
		f := EncodeGraph(s.Arch, s.K, xn, in[1], in[2], bDec, in[4])
		return []*Node{f, undo(DecodeGraph(f, in[5], in[3]))}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, shapes, data := s.ParamData()
	args := []any{tensors.FromFlatDataAndDimensions(x, n, s.DIn)}
	for i := range data {
		args = append(args, tensors.FromFlatDataAndDimensions(data[i], shapes[i]...))
	}
	outs, err := e.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	f, _ = tensors.CopyFlatData[float32](outs[0])
	xh, _ = tensors.CopyFlatData[float32](outs[1])
	return f, xh
}
