package model

import (
	"math"

	"github.com/steer-dev/steer/weights"
)

// ropeSpec is one rotary embedding of a model: its config and rotated dimension.
type ropeSpec struct {
	cfg          weights.RopeConfig
	dim          int // rotated features per head (head_dim * partial_rotary_factor)
	maxPositions int // max_position_embeddings of the model
}

// half is the number of frequencies: torch.arange(0, dim, 2) has ceil(dim/2) entries, so an odd
// rotary dim (head_dim * partial_rotary_factor, e.g. 12 * 0.75) rotates dim+1 features, as
// transformers' apply_rotary_pos_emb does (it slices by cos's width).
func (r ropeSpec) half() int { return (r.dim + 1) / 2 }

// invFreq returns the inverse frequencies [half()] and the attention scaling applied to cos/sin, following
// transformers' ROPE_INIT_FUNCTIONS. seqLen is the largest position in the call plus one: the "dynamic"
// and "longrope" variants depend on it, as transformers' dynamic_rope_update does.
func (r ropeSpec) invFreq(seqLen int) ([]float32, float32) {
	c := r.cfg
	dim := r.dim
	half := r.half()
	base := c.Theta
	freqs := func(base float64) []float64 {
		out := make([]float64, half)
		for i := range out {
			// torch: 1 / base ** (arange(0, dim, 2).float() / dim), the exponent in float32.
			e := float64(float32(float64(2*i)) / float32(dim))
			out[i] = 1 / math.Pow(base, e)
		}
		return out
	}
	var inv []float64
	scale := 1.0
	switch c.Type {
	case "", "default":
		inv = freqs(base)
	case "linear":
		inv = freqs(base)
		for i := range inv {
			inv[i] /= c.Factor
		}
	case "dynamic":
		maxPos := r.maxPositions // transformers ignores an original_max_position_embeddings here
		if seqLen > maxPos && maxPos > 0 {
			base = base * math.Pow(c.Factor*float64(seqLen)/float64(maxPos)-(c.Factor-1), float64(dim)/float64(dim-2))
		}
		inv = freqs(base)
	case "llama3":
		inv = freqs(base)
		old := float64(c.OriginalMaxPositions)
		lowWave := old / c.LowFreqFactor
		highWave := old / c.HighFreqFactor
		for i, f := range inv {
			// mirror transformers' float32 arithmetic closely enough (well below 1e-6 relative).
			wave := 2 * math.Pi / f
			v := f
			if wave > lowWave {
				v = f / c.Factor
			}
			if !(wave < highWave) && !(wave > lowWave) {
				smooth := (old/wave - c.LowFreqFactor) / (c.HighFreqFactor - c.LowFreqFactor)
				v = (1-smooth)*v/c.Factor + smooth*v
			}
			inv[i] = v
		}
	case "yarn":
		orig := float64(c.OriginalMaxPositions)
		if orig <= 0 {
			orig = float64(r.maxPositions)
		}
		factor := c.Factor
		if factor == 0 { // left out: the ratio of the extended to the pre-training length
			factor = float64(r.maxPositions) / orig
		}
		mscale := func(m float64) float64 {
			if factor <= 1 {
				return 1
			}
			return 0.1*m*math.Log(factor) + 1
		}
		scale = c.AttentionFactor
		if scale == 0 {
			scale = mscale(1)
			if c.MScale != 0 && c.MScaleAllDim != 0 {
				scale = mscale(c.MScale) / mscale(c.MScaleAllDim)
			}
		}
		corr := func(rot float64) float64 {
			return float64(dim) * math.Log(orig/(rot*2*math.Pi)) / (2 * math.Log(base))
		}
		low, high := corr(c.BetaFast), corr(c.BetaSlow)
		if !c.NoTruncate {
			low, high = math.Floor(low), math.Ceil(high)
		}
		low, high = math.Max(low, 0), math.Min(high, float64(dim-1))
		if low == high {
			high += 0.001
		}
		pos := freqs(base)
		inv = make([]float64, half)
		for i := range inv {
			ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
			extra := 1 - ramp
			inv[i] = pos[i]/factor*(1-extra) + pos[i]*extra
		}
	case "longrope":
		orig := c.OriginalMaxPositions
		if orig <= 0 {
			orig = r.maxPositions
		}
		factor := c.Factor
		if factor == 0 { // left out (Phi-3): the ratio of the extended to the pre-training length
			factor = float64(r.maxPositions) / float64(orig)
		}
		scale = c.AttentionFactor
		if scale == 0 {
			scale = 1
			if factor > 1 {
				scale = math.Sqrt(1 + math.Log(factor)/math.Log(float64(orig)))
			}
		}
		ext := c.ShortFactor
		if seqLen > orig {
			ext = c.LongFactor
		}
		inv = freqs(base)
		for i := range inv {
			if i < len(ext) {
				inv[i] /= ext[i]
			}
		}
	default:
		panic(errorf("unsupported rope type %q", c.Type))
	}
	out := make([]float32, half)
	for i, v := range inv {
		out[i] = float32(v)
	}
	return out, float32(scale)
}
