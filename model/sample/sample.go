// Package sample picks the next token from a row of logits as transformers' generate
// does with do_sample: the logits warpers run in transformers' order (temperature,
// top-k, top-p, min-p), then one token is drawn from the softmax. Temperature 0 means
// greedy decoding (argmax).
//
// Non-finite logits: NaN is treated as -Inf (the token can never be drawn). If some
// logits are +Inf, the draw is among those tokens only, uniformly (softmax's limit).
// A row whose every logit is -Inf or NaN has nothing to draw: Next returns -1 and Sample
// an error; greedy decoding returns 0 there, as torch.argmax does on an all -Inf row.
package sample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Params are the sampling settings of a generation config.
type Params struct {
	// Temperature divides the logits; 0 means greedy decoding. Must be >= 0.
	Temperature float64
	// TopK keeps the K highest-scoring tokens (and any tied with the K-th); 0 disables it.
	TopK int
	// TopP keeps the smallest set of highest-probability tokens whose probabilities sum
	// to at least TopP (at least one token). Must be in (0, 1]; 1 disables it, and 0
	// (the zero value) is read as 1 (disabled) so that Params{} is valid.
	TopP float64
	// MinP drops tokens whose probability is below MinP times the highest probability.
	// Must be in [0, 1); 0 disables it.
	MinP float64
	// Seed seeds the random stream (PCG from math/rand/v2).
	Seed uint64
}

// Validate checks p, naming the parameter at fault.
func (p Params) Validate() error {
	switch {
	case math.IsNaN(p.Temperature) || math.IsInf(p.Temperature, 0) || p.Temperature < 0:
		return fmt.Errorf("sample: temperature must be a finite value >= 0, got %v", p.Temperature)
	case p.TopK < 0:
		return fmt.Errorf("sample: top_k must be >= 0, got %d", p.TopK)
	case math.IsNaN(p.TopP) || p.TopP < 0 || p.TopP > 1:
		return fmt.Errorf("sample: top_p must be in (0, 1], got %v", p.TopP)
	case math.IsNaN(p.MinP) || p.MinP < 0 || p.MinP >= 1:
		return fmt.Errorf("sample: min_p must be in [0, 1), got %v", p.MinP)
	}
	return nil
}

// streamBase offsets the PCG stream selector so that row r uses stream streamBase+r.
const streamBase = 0x9e3779b97f4a7c15

// Sampler draws tokens for one sequence. It keeps scratch buffers, so one Sampler must
// not be used from several goroutines at once; use one per row (NewBatch).
type Sampler struct {
	p   Params
	rng *rand.Rand

	scores []float64
	order  []int
	probs  []float64
}

// New returns a sampler for p, with the random stream of row 0 for p.Seed.
func New(p Params) (*Sampler, error) {
	return newRow(p, 0)
}

// NewBatch returns n samplers, one per batch row, each with its own random stream:
// row r draws from PCG(p.Seed, streamBase+r), so row 0 is the same stream as New(p), and
// a row's draws do not depend on the batch size or on the other rows.
func NewBatch(p Params, n int) ([]*Sampler, error) {
	if n < 0 {
		return nil, fmt.Errorf("sample: batch size must be >= 0, got %d", n)
	}
	out := make([]*Sampler, n)
	for r := range out {
		s, err := newRow(p, r)
		if err != nil {
			return nil, err
		}
		out[r] = s
	}
	return out, nil
}

func newRow(p Params, row int) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.TopP == 0 {
		p.TopP = 1
	}
	return &Sampler{p: p, rng: rand.New(rand.NewPCG(p.Seed, streamBase+uint64(row)))}, nil
}

// Params returns the sampler's settings (TopP 0 read as 1).
func (s *Sampler) Params() Params { return s.p }

// Next returns the next token id, or -1 when the row has nothing to draw (empty, or
// every logit -Inf/NaN while sampling).
func (s *Sampler) Next(logits []float32) int {
	id, err := s.Sample(logits)
	if err != nil {
		return -1
	}
	return id
}

// ErrNothingToSample is returned when no token has a non-zero probability.
var ErrNothingToSample = errors.New("sample: no token can be drawn (empty row, or every logit -Inf or NaN)")

// Distribution returns the probabilities transformers' generate draws the next token from with p's
// settings: softmax of the logits after its warpers (temperature, top-k, top-p, min-p); one-hot at the
// argmax for temperature 0.
func Distribution(p Params, logits []float32) ([]float64, error) {
	s, err := New(p)
	if err != nil {
		return nil, err
	}
	if len(logits) == 0 {
		return nil, ErrNothingToSample
	}
	if p.Temperature == 0 {
		out := make([]float64, len(logits))
		out[Argmax(logits)] = 1
		return out, nil
	}
	z, err := s.warp(logits)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(logits))
	for i, v := range s.probs {
		out[i] = v / z
	}
	return out, nil
}

// warp leaves in s.probs the unnormalised probabilities after the warpers and returns their sum.
func (s *Sampler) warp(logits []float32) (float64, error) {
	n := len(logits)
	s.scores = slices.Grow(s.scores[:0], n)[:n]
	negInf := math.Inf(-1)
	nPosInf, nLive := 0, 0
	for i, l := range logits {
		v := float64(l)
		switch {
		case math.IsNaN(v):
			v = negInf
		case math.IsInf(v, 1):
			nPosInf++
		}
		if v != negInf {
			nLive++
		}
		s.scores[i] = v
	}
	if nLive == 0 {
		return 0, ErrNothingToSample
	}
	if nPosInf > 0 {
		// softmax's limit: the +Inf tokens share all the probability.
		s.probs = slices.Grow(s.probs[:0], n)[:n]
		for i, v := range s.scores {
			s.probs[i] = 0
			if math.IsInf(v, 1) {
				s.probs[i] = 1
			}
		}
		return float64(nPosInf), nil
	}

	// TemperatureLogitsWarper.
	if s.p.Temperature != 1 {
		for i := range s.scores {
			s.scores[i] /= s.p.Temperature
		}
	}

	needOrder := (s.p.TopK > 0 && s.p.TopK < nLive) || s.p.TopP < 1
	if needOrder {
		// Live tokens by descending score (ties by id).
		s.order = s.order[:0]
		for i, v := range s.scores {
			if v != negInf {
				s.order = append(s.order, i)
			}
		}
		sc := s.scores
		slices.SortStableFunc(s.order, func(a, b int) int {
			switch {
			case sc[a] > sc[b]:
				return -1
			case sc[a] < sc[b]:
				return 1
			}
			return 0
		})
	}

	// TopKLogitsWarper: remove scores below the K-th highest (ties with it stay).
	if s.p.TopK > 0 && s.p.TopK < nLive {
		kth := s.scores[s.order[s.p.TopK-1]]
		keep := s.p.TopK
		for keep < len(s.order) && s.scores[s.order[keep]] >= kth {
			keep++
		}
		for _, i := range s.order[keep:] {
			s.scores[i] = negInf
		}
		s.order = s.order[:keep]
	}

	// TopPLogitsWarper: in ascending order, remove tokens while the cumulative
	// probability is <= 1-top_p, never the highest one (min_tokens_to_keep=1).
	if s.p.TopP < 1 {
		maxScore := s.scores[s.order[0]]
		var z float64
		for _, i := range s.order {
			z += math.Exp(s.scores[i] - maxScore)
		}
		var cum float64
		limit := 1 - s.p.TopP
		for j := len(s.order) - 1; j >= 1; j-- {
			i := s.order[j]
			cum += math.Exp(s.scores[i]-maxScore) / z
			if cum > limit {
				break
			}
			s.scores[i] = negInf
		}
	}

	// Softmax over what is left.
	maxScore := negInf
	for _, v := range s.scores {
		if v > maxScore {
			maxScore = v
		}
	}
	s.probs = slices.Grow(s.probs[:0], n)[:n]
	var z float64
	for i, v := range s.scores {
		p := 0.0
		if v != negInf {
			p = math.Exp(v - maxScore)
		}
		s.probs[i] = p
		z += p
	}

	// MinPLogitsWarper: remove tokens with prob < min_p * max prob (the max has
	// unnormalised probability exp(0) = 1).
	if s.p.MinP > 0 {
		threshold := s.p.MinP // × max prob, which is 1 before normalising
		z = 0
		for i, p := range s.probs {
			if p < threshold {
				s.probs[i] = 0
			}
			z += s.probs[i]
		}
	}

	return z, nil
}

// Sample is Next with an error in place of -1.
func (s *Sampler) Sample(logits []float32) (int, error) {
	if len(logits) == 0 {
		return -1, ErrNothingToSample
	}
	if s.p.Temperature == 0 {
		return Argmax(logits), nil
	}
	z, err := s.warp(logits)
	if err != nil {
		return -1, err
	}
	// torch.multinomial: draw u in [0, z) and walk the cumulative sum.
	u := s.rng.Float64() * z
	last := -1
	for i, p := range s.probs {
		if p == 0 {
			continue
		}
		last = i
		u -= p
		if u < 0 {
			return i, nil
		}
	}
	return last, nil // rounding left u just above the total
}

// Argmax returns the index of the first largest logit, like torch.argmax, with NaN read
// as -Inf; 0 for a row of -Inf/NaN, -1 for an empty row.
func Argmax(logits []float32) int {
	if len(logits) == 0 {
		return -1
	}
	best := 0
	bestV := float32(math.Inf(-1))
	for i, v := range logits {
		if v > bestV { // NaN compares false
			best, bestV = i, v
		}
	}
	return best
}

// ApplyRepetitionPenalty applies transformers' RepetitionPenaltyLogitsProcessor in place:
// for every distinct token id in prev, a negative logit is multiplied by penalty and any
// other divided by it (an id repeated in prev is penalised once). penalty must be
// finite and > 0; 1 changes nothing. Ids outside logits are an error.
func ApplyRepetitionPenalty(logits []float32, prev []int, penalty float32) error {
	if !(penalty > 0) || math.IsInf(float64(penalty), 1) {
		return fmt.Errorf("sample: repetition_penalty must be a finite value > 0, got %v", penalty)
	}
	for _, id := range prev {
		if id < 0 || id >= len(logits) {
			return fmt.Errorf("sample: repetition penalty: token id %d outside the %d logits", id, len(logits))
		}
	}
	if penalty == 1 {
		return nil
	}
	seen := make(map[int]struct{}, len(prev))
	for _, id := range prev {
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		if v := logits[id]; v < 0 {
			logits[id] = v * penalty
		} else {
			logits[id] = v / penalty
		}
	}
	return nil
}
