package sae

import "math/rand/v2"

// SyntheticActivations returns n rows [n,d] of sparse synthetic activations: each row is an offset plus
// small noise plus `active` random directions of an nFeat-direction dictionary with coefficients in
// [0.5, 1.5). Used by the benchmarks (and tests) as a stand-in for a model's activations.
func SyntheticActivations(n, d, nFeat, active int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 99))
	vec := func(m int, scale float64) []float32 {
		v := make([]float32, m)
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		return v
	}
	dict := vec(nFeat*d, 1)
	off := vec(d, 0.5)
	x := make([]float32, n*d)
	for row := range n {
		for i := range d {
			x[row*d+i] = off[i] + float32(0.01*r.NormFloat64())
		}
		for range active {
			j := r.IntN(nFeat)
			a := float32(0.5 + r.Float64())
			for i := range d {
				x[row*d+i] += a * dict[j*d+i]
			}
		}
	}
	return x
}
