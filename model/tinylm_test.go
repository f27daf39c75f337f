package model

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/steer-dev/steer/assets"
	"github.com/steer-dev/steer/weights"
)

var (
	tinyOnce sync.Once
	tinyM    *Model
	tinyErr  error
)

func tinyLM(t testing.TB) *Model {
	t.Helper()
	tinyOnce.Do(func() { tinyM, tinyErr = LoadFS(assets.TinyLM(), ".", WithName(assets.TinyLMName)) })
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyM
}

type tinyGolden struct {
	prompt, greedy [][]int
	f              *weights.File
}

func loadTinyGolden(t *testing.T) *tinyGolden {
	f, err := weights.OpenFile("../assets/tinylm/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	g := &tinyGolden{f: f}
	for p := range 5 {
		ids, _, err := f.Int64(fmt.Sprintf("p%d.input_ids", p))
		if err != nil {
			t.Fatal(err)
		}
		gr, _, err := f.Int64(fmt.Sprintf("p%d.greedy_ids", p))
		if err != nil {
			t.Fatal(err)
		}
		g.prompt = append(g.prompt, toInts(ids))
		g.greedy = append(g.greedy, toInts(gr))
	}
	return g
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func TestTinyLMForward(t *testing.T) {
	worst := checkTinyLMForward(t, tinyLM(t), loadTinyGolden(t))
	t.Logf("tiny-lm: max abs diff over logits and resid_post: %.3g", worst)
}

// checkTinyLMForward compares m's logits and every resid_post with the HF golden for the 5 prompts
// (1e-4 absolute) and returns the largest difference.
func checkTinyLMForward(t *testing.T, m *Model, g *tinyGolden) float64 {
	t.Helper()
	sites := []string{"logits"}
	for l := range m.NumLayers() {
		sites = append(sites, fmt.Sprintf("resid_post.%d", l))
	}
	worst := 0.0
	for p, prompt := range g.prompt {
		out, err := m.Forward([][]int{prompt}, Capture(sites...))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			want, shape, err := g.f.Float32(fmt.Sprintf("p%d.%s", p, s))
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(t, s, out.Get(s), want, append([]int{1}, shape...))
			worst = math.Max(worst, d)
			if d > 1e-4 {
				t.Errorf("%s: prompt %d %s: max abs diff %.3g > 1e-4", m.Name, p, s, d)
			}
		}
	}
	return worst
}

func TestTinyLMGreedy(t *testing.T) {
	m := tinyLM(t)
	g := loadTinyGolden(t)
	// All five prompts in one batch (different lengths, left-padded), 48 new tokens each.
	gen, err := m.Generate(g.prompt, GenerateOptions{MaxNewTokens: 48})
	if err != nil {
		t.Fatal(err)
	}
	for p := range g.prompt {
		if !slices.Equal(gen.IDs[p], g.greedy[p]) {
			t.Errorf("prompt %d (batched): greedy continuation differs\n got %v\nwant %v", p, gen.IDs[p], g.greedy[p])
		}
	}
	// Unbatched rows equal the batched ones (and the golden).
	for _, p := range []int{1, 3} {
		one, err := m.Generate([][]int{g.prompt[p]}, GenerateOptions{MaxNewTokens: 48})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one.IDs[0], g.greedy[p]) {
			t.Errorf("prompt %d (alone): greedy continuation differs\n got %v\nwant %v", p, one.IDs[0], g.greedy[p])
		}
	}
}
