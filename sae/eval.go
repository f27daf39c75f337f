package sae

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// EvalResult holds reconstruction and sparsity metrics (JSON-able). CE-loss-recovered and KL need the
// model and are computed elsewhere with EncodeGraph/DecodeGraph.
type EvalResult struct {
	Tokens            int64   `json:"tokens"`
	MSE               float64 `json:"mse"` // mean over tokens of Σ_d (x − x̂)²
	FVU               float64 `json:"fvu"` // Σ‖x − x̂‖² / Σ‖x − mean(x)‖²
	ExplainedVariance float64 `json:"explained_variance"`
	L0                float64 `json:"l0"`
	DeadFrac          float64 `json:"dead_frac"`  // never fired on these tokens
	DenseFrac         float64 `json:"dense_frac"` // fired on more than 10% of tokens
	// DensityHistogram counts live latents by log10 firing density: bin i covers
	// [DensityBinEdges[i], DensityBinEdges[i+1]); dead latents are in DeadFrac only.
	DensityBinEdges  []float64 `json:"density_bin_edges"`
	DensityHistogram []int     `json:"density_histogram"`
	// LogDensity is log10 of each latent's firing density (−10 if it never fired): SAELens's sparsity.
	LogDensity []float32 `json:"-"`
}

// Evaluate runs s over up to n rows of src (n <= 0: until io.EOF) in chunks and returns the metrics.
func Evaluate(s *SAE, src Source, n int64) (*EvalResult, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if src.Dim() != s.DIn {
		return nil, fmt.Errorf("sae: Evaluate: the SAE's d_in is %d but the activation source has Dim() = %d", s.DIn, src.Dim())
	}
	d := s.DIn
	const chunk = 1024
	buf := make([]float32, chunk*d)
	fired := make([]int64, s.DSAE)
	var tokens int64
	var sse, l0 float64
	// Σ‖x−mean‖² = Σ‖x‖² − N‖mean‖², accumulated in float64.
	sum := make([]float64, d)
	var sumSq float64
	for n <= 0 || tokens < n {
		want := chunk
		if n > 0 {
			want = int(min(int64(chunk), n-tokens))
		}
		rows, err := src.Next(buf[:want*d])
		if rows > 0 {
			x := buf[:rows*d]
			for i, v := range x {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("sae: Evaluate: non-finite activation in row %d", tokens+int64(i/d))
				}
			}
			f := s.Encode(x, rows)
			xh := s.Decode(f, rows)
			for i, v := range x {
				dd := float64(v - xh[i])
				sse += dd * dd
				sum[i%d] += float64(v)
				sumSq += float64(v) * float64(v)
			}
			for i, a := range f {
				if a != 0 {
					fired[i%s.DSAE]++
					l0++
				}
			}
			tokens += int64(rows)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("sae: Evaluate: %w", err)
		}
	}
	if tokens == 0 {
		return nil, fmt.Errorf("sae: Evaluate: the source yielded no rows")
	}
	nt := float64(tokens)
	var meanSq float64
	for _, v := range sum {
		meanSq += (v / nt) * (v / nt)
	}
	tv := sumSq - nt*meanSq
	r := &EvalResult{Tokens: tokens, MSE: sse / nt, L0: l0 / nt, LogDensity: make([]float32, s.DSAE)}
	if tv > 0 {
		r.FVU = sse / tv
		r.ExplainedVariance = 1 - r.FVU
	}
	lo, hi := -8.0, 0.0
	for e := lo; e <= hi+1e-9; e += 0.5 {
		r.DensityBinEdges = append(r.DensityBinEdges, e)
	}
	r.DensityHistogram = make([]int, len(r.DensityBinEdges)-1)
	dead, dense := 0, 0
	for j, c := range fired {
		if c == 0 {
			dead++
			r.LogDensity[j] = -10
			continue
		}
		dens := float64(c) / nt
		if dens > 0.1 {
			dense++
		}
		ld := math.Log10(dens)
		r.LogDensity[j] = float32(ld)
		b := int((ld - lo) / 0.5)
		b = max(0, min(b, len(r.DensityHistogram)-1))
		r.DensityHistogram[b]++
	}
	r.DeadFrac = float64(dead) / float64(s.DSAE)
	r.DenseFrac = float64(dense) / float64(s.DSAE)
	return r, nil
}
