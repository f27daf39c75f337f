package sample

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestWarpersMatchTransformers compares Distribution with transformers' own logits warpers
// (testdata/gen_warpers.py): 504 rows × settings of temperature, top_k, top_p and min_p, including
// rows with tied logits for top-k and min-p; and ApplyRepetitionPenalty with transformers' processor.
func TestWarpersMatchTransformers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "warpers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Temperature float64   `json:"temperature"`
			TopK        int       `json:"top_k"`
			TopP        float64   `json:"top_p"`
			MinP        float64   `json:"min_p"`
			Logits      []float32 `json:"logits"`
			Probs       []float64 `json:"probs"`
		} `json:"cases"`
		Penalty []struct {
			Penalty float32   `json:"penalty"`
			Prev    []int     `json:"prev"`
			Logits  []float32 `json:"logits"`
			Scores  []float32 `json:"scores"`
		} `json:"repetition_penalty"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 500 {
		t.Fatalf("%d reference cases, want 504", len(ref.Cases))
	}
	for ci, c := range ref.Cases {
		p := Params{Temperature: c.Temperature, TopK: c.TopK, TopP: c.TopP, MinP: c.MinP}
		got, err := Distribution(p, c.Logits)
		if err != nil {
			t.Fatalf("case %d %+v: %v", ci, p, err)
		}
		for i, want := range c.Probs {
			// transformers works in float32: 1e-6 absolute, and the same support.
			if (want == 0) != (got[i] == 0) || math.Abs(got[i]-want) > 1e-6 {
				t.Fatalf("case %d %+v: token %d has probability %.9g, transformers %.9g", ci, p, i, got[i], want)
			}
		}
	}
	if len(ref.Penalty) < 15 {
		t.Fatalf("%d repetition-penalty cases, want 15", len(ref.Penalty))
	}
	for ci, c := range ref.Penalty {
		got := append([]float32(nil), c.Logits...)
		if err := ApplyRepetitionPenalty(got, c.Prev, c.Penalty); err != nil {
			t.Fatal(err)
		}
		for i, want := range c.Scores {
			if got[i] != want {
				t.Fatalf("repetition penalty case %d (%v, prev %v): token %d scores %.9g, transformers %.9g", ci, c.Penalty, c.Prev, i, got[i], want)
			}
		}
	}
}
