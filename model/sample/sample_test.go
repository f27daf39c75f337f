package sample

import (
	"math"
	"strings"
	"testing"
)

func logitsOf(probs ...float64) []float32 {
	out := make([]float32, len(probs))
	for i, p := range probs {
		out[i] = float32(math.Log(p))
	}
	return out
}

func mustNew(t *testing.T, p Params) *Sampler {
	t.Helper()
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkFrequencies draws n tokens and checks each empirical frequency against want
// within 5 binomial standard deviations; tokens with want 0 must never appear.
func checkFrequencies(t *testing.T, s *Sampler, logits []float32, want []float64, n int) {
	t.Helper()
	counts := make([]int, len(logits))
	for range n {
		id := s.Next(logits)
		if id < 0 || id >= len(logits) {
			t.Fatalf("Next returned %d", id)
		}
		counts[id]++
	}
	for i, p := range want {
		mean := float64(n) * p
		sd := math.Sqrt(float64(n) * p * (1 - p))
		if p == 0 {
			if counts[i] != 0 {
				t.Errorf("token %d: drawn %d times, want never", i, counts[i])
			}
			continue
		}
		if d := math.Abs(float64(counts[i]) - mean); d > 5*sd {
			t.Errorf("token %d: count %d, expected %.1f ± %.1f (5σ = %.1f)", i, counts[i], mean, sd, 5*sd)
		}
	}
}

func TestGreedyIsArgmax(t *testing.T) {
	s := mustNew(t, Params{Temperature: 0})
	for _, c := range []struct {
		logits []float32
		want   int
	}{
		{[]float32{1, 3, 2}, 1},
		{[]float32{5, 1, 5}, 0}, // first max on ties, like torch.argmax
		{[]float32{-1, -0.5, -3}, 1},
		{[]float32{float32(math.NaN()), 2, 1}, 1},
		{[]float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
		{[]float32{1, float32(math.Inf(1)), float32(math.Inf(1))}, 1},
	} {
		if got := s.Next(c.logits); got != c.want {
			t.Errorf("%v: got %d, want %d", c.logits, got, c.want)
		}
		if got := Argmax(c.logits); got != c.want {
			t.Errorf("Argmax %v: got %d, want %d", c.logits, got, c.want)
		}
	}
	if got := s.Next(nil); got != -1 {
		t.Errorf("empty: got %d", got)
	}
}

func TestTopK1IsGreedy(t *testing.T) {
	logits := []float32{0.3, 2.5, -1, 2.4, 0}
	for _, temp := range []float64{0.1, 0.7, 1, 3, 100} {
		s := mustNew(t, Params{Temperature: temp, TopK: 1, Seed: 7})
		for range 200 {
			if got := s.Next(logits); got != 1 {
				t.Fatalf("temperature %v: got %d, want 1", temp, got)
			}
		}
	}
}

func TestTinyTopPKeepsMax(t *testing.T) {
	logits := logitsOf(0.3, 0.35, 0.2, 0.15)
	s := mustNew(t, Params{Temperature: 1, TopP: 1e-9, Seed: 3})
	for range 500 {
		if got := s.Next(logits); got != 1 {
			t.Fatalf("got %d, want 1", got)
		}
	}
}

func TestTopPDistribution(t *testing.T) {
	// Ascending cumulative probabilities 0.1, 0.3, 0.6, 1: with top_p 0.75 only the 0.1
	// token has cumulative <= 0.25 and is removed; the rest renormalise over 0.9.
	logits := logitsOf(0.4, 0.3, 0.2, 0.1)
	s := mustNew(t, Params{Temperature: 1, TopP: 0.75, Seed: 11})
	checkFrequencies(t, s, logits, []float64{0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0}, 20000)
}

func TestTopKDistribution(t *testing.T) {
	logits := logitsOf(0.1, 0.2, 0.3, 0.4)
	s := mustNew(t, Params{Temperature: 1, TopK: 2, Seed: 5})
	checkFrequencies(t, s, logits, []float64{0, 0, 3.0 / 7, 4.0 / 7}, 20000)
	// Ties with the K-th score stay, as torch.topk's threshold keeps them.
	tied := []float32{1, 2, 2, 0}
	s = mustNew(t, Params{Temperature: 1, TopK: 1, Seed: 5})
	checkFrequencies(t, s, tied, []float64{0, 0.5, 0.5, 0}, 20000)
}

func TestMinP(t *testing.T) {
	// Threshold 0.2 × 0.5 = 0.1: the 0.05 token goes, the others renormalise over 0.95.
	logits := logitsOf(0.5, 0.3, 0.15, 0.05)
	s := mustNew(t, Params{Temperature: 1, MinP: 0.2, Seed: 9})
	checkFrequencies(t, s, logits, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}, 20000)
	// A large min_p keeps only the max.
	s = mustNew(t, Params{Temperature: 1, MinP: 0.99, Seed: 9})
	for range 300 {
		if got := s.Next(logits); got != 0 {
			t.Fatalf("got %d, want 0", got)
		}
	}
}

func TestDistribution(t *testing.T) {
	probs := []float64{0.05, 0.15, 0.3, 0.5}
	s := mustNew(t, Params{Temperature: 1, Seed: 42})
	checkFrequencies(t, s, logitsOf(probs...), probs, 20000)

	// Temperature 2 flattens: p_i ∝ p_i^(1/2).
	var z float64
	want := make([]float64, len(probs))
	for i, p := range probs {
		want[i] = math.Sqrt(p)
		z += want[i]
	}
	for i := range want {
		want[i] /= z
	}
	s = mustNew(t, Params{Temperature: 2, Seed: 43})
	checkFrequencies(t, s, logitsOf(probs...), want, 20000)
}

func TestSeeds(t *testing.T) {
	logits := logitsOf(0.2, 0.2, 0.2, 0.2, 0.2)
	draw := func(seed uint64) []int {
		s := mustNew(t, Params{Temperature: 1, Seed: seed})
		out := make([]int, 64)
		for i := range out {
			out[i] = s.Next(logits)
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	same := func(x, y []int) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	if same(a, c) {
		t.Fatal("different seeds gave the same sequence")
	}

	// Batch rows: row 0 is New's stream, rows differ, and a row does not depend on n.
	rows, err := NewBatch(Params{Temperature: 1, Seed: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	rows5, _ := NewBatch(Params{Temperature: 1, Seed: 1}, 5)
	seqs := make([][]int, 3)
	for r := range rows {
		for range 64 {
			seqs[r] = append(seqs[r], rows[r].Next(logits))
		}
	}
	var row2 []int
	for range 64 {
		row2 = append(row2, rows5[2].Next(logits))
	}
	if !same(seqs[0], a) {
		t.Error("row 0 differs from New's stream")
	}
	if same(seqs[0], seqs[1]) || same(seqs[1], seqs[2]) {
		t.Error("batch rows share a stream")
	}
	if !same(seqs[2], row2) {
		t.Error("row 2 depends on the batch size")
	}
}

func TestInvalidParams(t *testing.T) {
	for _, c := range []struct {
		p    Params
		name string
	}{
		{Params{Temperature: -0.1}, "temperature"},
		{Params{Temperature: math.NaN()}, "temperature"},
		{Params{Temperature: math.Inf(1)}, "temperature"},
		{Params{Temperature: 1, TopK: -1}, "top_k"},
		{Params{Temperature: 1, TopP: 1.5}, "top_p"},
		{Params{Temperature: 1, TopP: -0.5}, "top_p"},
		{Params{Temperature: 1, TopP: math.NaN()}, "top_p"},
		{Params{Temperature: 1, MinP: 1}, "min_p"},
		{Params{Temperature: 1, MinP: -0.1}, "min_p"},
		{Params{Temperature: 1, MinP: math.NaN()}, "min_p"},
	} {
		_, err := New(c.p)
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%+v: got %v, want an error naming %s", c.p, err, c.name)
		}
		if _, err := NewBatch(c.p, 2); err == nil {
			t.Errorf("%+v: NewBatch accepted", c.p)
		}
	}
	if _, err := NewBatch(Params{}, -1); err == nil {
		t.Error("negative batch accepted")
	}
	// The zero value is valid (greedy; TopP 0 read as 1), and so are the bounds.
	for _, p := range []Params{{}, {Temperature: 1, TopP: 1, MinP: 0, TopK: 0}, {Temperature: 0.5, TopP: 1e-12, MinP: 0.999}} {
		if _, err := New(p); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func TestNonFiniteLogits(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	s := mustNew(t, Params{Temperature: 1, TopK: 3, TopP: 0.9, MinP: 0.05, Seed: 1})
	// NaN reads as -Inf: only token 1 can be drawn.
	for range 200 {
		if got := s.Next([]float32{nan, 0, nan, float32(math.Inf(-1))}); got != 1 {
			t.Fatalf("got %d, want 1", got)
		}
	}
	// +Inf tokens share the draw.
	checkFrequencies(t, mustNew(t, Params{Temperature: 0.7, Seed: 2}), []float32{inf, 100, inf, nan}, []float64{0.5, 0, 0.5, 0}, 4000)
	// Nothing drawable.
	if got := s.Next([]float32{nan, float32(math.Inf(-1))}); got != -1 {
		t.Fatalf("got %d, want -1", got)
	}
	if _, err := s.Sample([]float32{nan}); err != ErrNothingToSample {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Sample(nil); err == nil {
		t.Fatal("empty row accepted")
	}
	// Huge finite logits do not overflow.
	if got := mustNew(t, Params{Temperature: 1e-3}).Next([]float32{3e38, -3e38, 1e38}); got != 0 {
		t.Fatalf("got %d, want 0", got)
	}
}

func TestRepetitionPenalty(t *testing.T) {
	logits := []float32{2, -2, 0, 4, -1}
	if err := ApplyRepetitionPenalty(logits, []int{0, 1, 2, 0, 1}, 2); err != nil {
		t.Fatal(err)
	}
	// Each distinct id once: positive / 2, negative × 2, zero stays; 3 and 4 untouched.
	want := []float32{1, -4, 0, 4, -1}
	for i := range want {
		if logits[i] != want[i] {
			t.Fatalf("got %v, want %v", logits, want)
		}
	}
	for _, bad := range []float32{0, -1, float32(math.NaN()), float32(math.Inf(1))} {
		if err := ApplyRepetitionPenalty(logits, []int{0}, bad); err == nil || !strings.Contains(err.Error(), "repetition_penalty") {
			t.Errorf("penalty %v: got %v", bad, err)
		}
	}
	if err := ApplyRepetitionPenalty(logits, []int{5}, 1.1); err == nil {
		t.Error("out-of-range id accepted")
	}
	before := append([]float32(nil), logits...)
	if err := ApplyRepetitionPenalty(logits, []int{0, 1}, 1); err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if logits[i] != before[i] {
			t.Fatal("penalty 1 changed logits")
		}
	}
}
