package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/steer-dev/steer/weights"
)

func maxAbsDiff(t *testing.T, name string, got *Activation, want []float32, wantShape []int) float64 {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: not captured", name)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(wantShape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, wantShape)
	}
	m := 0.0
	for i := range want {
		d := math.Abs(float64(got.Data[i]) - float64(want[i]))
		if d > m || math.IsNaN(d) {
			m = d
			if math.IsNaN(d) {
				m = math.Inf(1)
			}
		}
	}
	return m
}

func toRows(ids []int64, shape []int) [][]int {
	B, T := shape[0], shape[1]
	out := make([][]int, B)
	for b := range B {
		out[b] = make([]int, T)
		for j := range T {
			out[b][j] = int(ids[b*T+j])
		}
	}
	return out
}

func TestFixtureFamilies(t *testing.T) {
	for _, fam := range []string{"llama", "llama_bf16", "llama32_rope_llama3", "qwen2", "gemma2", "gpt2"} {
		t.Run(fam, func(t *testing.T) {
			checkFixture(t, fam, sharedtest.Path(t, filepath.Join("fixtures/transformers", fam)))
		})
	}
}

// TestTestdataFamilies checks the families whose tiny references live in testdata/ (made by
// testdata/gen_refs.py with transformers): Mistral (sliding window), Qwen3 (q/k norm, qkv bias),
// Gemma 3 text (local/global rope, linear scaling, q/k norm), Phi-3 (fused projections, partial rotary, longrope).
func TestTestdataFamilies(t *testing.T) {
	for _, fam := range []string{"mistral", "qwen3", "gemma3_text", "phi3", "gemma", "phi"} {
		t.Run(fam, func(t *testing.T) { checkFixture(t, fam, filepath.Join("testdata", fam)) })
	}
}

// TestConfigVariants checks one small model per config option worth checking (testdata/variants, made
// by testdata/gen_variants.py with transformers 5.24): attention/MLP biases, explicit head_dim, rope
// scalings, sliding windows (Mistral, Qwen2/3's use_sliding_window + max_window_layers, Gemma 2/3),
// softcaps (Gemma 2 applies both; Gemma 3 only the final one), GPT-2's scale_attn_weights,
// scale_attn_by_inverse_layer_idx, activations and n_inner, Phi's partial rotary (an odd rotary dim
// included), tied embeddings, configs with fields left out (read with the config classes' defaults), and
// checkpoints in float16 shards with an index, in float32 or in float64.
func TestConfigVariants(t *testing.T) { checkConfigVariants(t) }

// checkConfigVariants runs checkFixture on every testdata/variants model, loaded with opts.
func checkConfigVariants(t *testing.T, opts ...Option) {
	ents, err := os.ReadDir(filepath.Join("testdata", "variants"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 41 {
		t.Fatalf("testdata/variants has %d models, want 41", len(ents))
	}
	for _, e := range ents {
		t.Run(e.Name(), func(t *testing.T) {
			checkFixture(t, e.Name(), filepath.Join("testdata", "variants", e.Name()), opts...)
		})
	}
}

func checkFixture(t *testing.T, fam, dir string, opts ...Option) {
	{
		{
			m, err := Load(dir, opts...)
			if err != nil {
				t.Fatal(err)
			}
			gold, err := weights.OpenFile(filepath.Join(dir, "golden.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer gold.Close()
			ids64, idShape, err := gold.Int64("input_ids")
			if err != nil {
				t.Fatal(err)
			}
			ids := toRows(ids64, idShape)
			sites := []string{"logits"}
			for l := range m.NumLayers() {
				sites = append(sites, fmt.Sprintf("resid_post.%d", l))
			}
			out, err := m.Forward(ids, Capture(sites...))
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for _, s := range sites {
				want, shape, err := gold.Float32(s)
				if err != nil {
					t.Fatal(err)
				}
				d := maxAbsDiff(t, s, out.Get(s), want, shape)
				worst = math.Max(worst, d)
				if d > 1e-4 {
					t.Errorf("%s: max abs diff %.3g > 1e-4", s, d)
				}
			}
			t.Logf("%s: max abs diff over logits and resid_post: %.3g", fam, worst)

			greedy, gshape, err := gold.Int64("greedy_ids")
			if err != nil {
				t.Fatal(err)
			}
			prompt := ids[0]
			gen, err := m.Generate([][]int{prompt}, GenerateOptions{MaxNewTokens: gshape[len(gshape)-1] - len(prompt), IgnoreEOS: true})
			if err != nil {
				t.Fatal(err)
			}
			got := gen.IDs[0]
			if len(got) != len(greedy) {
				t.Fatalf("greedy: got %d ids %v, want %d %v", len(got), got, len(greedy), greedy)
			}
			for i := range greedy {
				if int64(got[i]) != greedy[i] {
					t.Fatalf("greedy ids differ at %d:\n got %v\nwant %v", i, got, greedy)
				}
			}
			if short, sshape, err := gold.Int64("greedy_short_ids"); err == nil {
				gen, err := m.Generate([][]int{prompt[:10]}, GenerateOptions{MaxNewTokens: sshape[0] - 10, IgnoreEOS: true})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(gen.IDs[0]) != fmt.Sprint(toInts(short)) {
					t.Fatalf("greedy from a 10-token prompt:\n got %v\nwant %v", gen.IDs[0], short)
				}
			}
		}
	}
}

// TestParallelBlocksHooks checks Phi's parallel blocks at the hook points: resid_post.L =
// resid_pre.L + attn_out.L + mlp_out.L, a pass From resid_pre.L reproduces the later sites, and a pass
// from attn_out.L (whose stream lacks the layer input the MLP reads) is refused.
func TestParallelBlocksHooks(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "phi"))
	if err != nil {
		t.Fatal(err)
	}
	ids := [][]int{{5, 9, 17, 33, 65, 3, 8, 21}}
	sites := []string{"resid_pre.1", "attn_out.1", "mlp_out.1", "resid_post.1", "resid_post.2", "logits"}
	full, err := m.Forward(ids, Capture(sites...))
	if err != nil {
		t.Fatal(err)
	}
	pre, a, f, post := full.Get("resid_pre.1").Data, full.Get("attn_out.1").Data, full.Get("mlp_out.1").Data, full.Get("resid_post.1").Data
	for i := range post {
		if d := math.Abs(float64(pre[i] + a[i] + f[i] - post[i])); d > 1e-5 {
			t.Fatalf("resid_post.1[%d] = %g, resid_pre + attn_out + mlp_out = %g", i, post[i], pre[i]+a[i]+f[i])
		}
	}
	from, err := m.Forward(ids, From("resid_pre.1", pre), Capture("resid_post.2", "logits"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"resid_post.2", "logits"} {
		want := full.Get(s)
		if d := maxAbsDiff(t, s, from.Get(s), want.Data, want.Shape); d > 1e-5 {
			t.Errorf("from resid_pre.1: %s differs by %.3g", s, d)
		}
	}
	if _, err := m.Forward(ids, From("attn_out.1", post), Capture("logits")); err == nil || !strings.Contains(err.Error(), "parallel") {
		t.Errorf("from attn_out.1 on a parallel-block model: %v", err)
	}
}
