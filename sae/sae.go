// Package sae implements sparse autoencoders (SAEs) over activation rows: [N, d_in] → [N, d_sae] → [N, d_in].
//
// It provides the SAE type with exact pure-Go float32 Encode/Decode per architecture, GoMLX graph-level
// encode/decode (EncodeGraph, DecodeGraph) for splicing into a model forward pass, training (Train), evaluation
// (Evaluate) and loading/saving of the SAELens (v6 and pre-6), EleutherAI sparsify and Gemma Scope 1/2 formats
// (Load, SaveSAELens, SaveSparsify, Convert).
//
// Architectures and their inference formulas (x_in = x − b_dec if Meta.ApplyBDecToInput, else x;
// pre = x_in·W_enc + b_enc):
//
//	topk:      f = ReLU of the K largest entries of pre (ties: lower index first), others 0  (SAELens "topk")
//	relu:      f = ReLU(pre)                                                                   (SAELens "standard")
//	jumprelu:  f = ReLU(pre) · [pre > threshold]                                               (SAELens "jumprelu", Gemma Scope)
//	batchtopk: at inference identical to jumprelu with a single global threshold θ broadcast to [d_sae]
//	           (SAELens semantics: BatchTopK SAEs are saved as "jumprelu" with threshold = topk_threshold,
//	           an exponential moving average (rate 0.01) of the smallest positive activation kept by the
//	           batch top-(k·N) selection during training).
//
// Decode is always f·W_dec + b_dec. SAELens gated SAEs load as the JumpReLU SAEs they equal (Load). An SAE
// with a run-time normalize_activations (constant_norm_rescale, layer_norm; see RuntimeNorm) normalises
// each input row before x_in, and Forward maps the reconstruction back with that row's statistics.
//
// The package never imports the model package and never prints.
package sae

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Arch is an SAE architecture.
type Arch string

const (
	ArchTopK      Arch = "topk"
	ArchBatchTopK Arch = "batchtopk"
	ArchReLU      Arch = "relu"
	ArchJumpReLU  Arch = "jumprelu"
)

// Valid reports whether a is a known architecture.
func (a Arch) Valid() bool {
	switch a {
	case ArchTopK, ArchBatchTopK, ArchReLU, ArchJumpReLU:
		return true
	}
	return false
}

// dense: ReLU and JumpReLU, whose latents all have a pre-activation in the forward pass (no selection).
func (a Arch) dense() bool { return a == ArchReLU || a == ArchJumpReLU }

// Meta describes where an SAE's activations come from and how they are preprocessed.
type Meta struct {
	ModelName     string `json:"model_name,omitempty"`
	HookName      string `json:"hook_name,omitempty"`
	HookHeadIndex *int   `json:"hook_head_index,omitempty"`
	Dataset       string `json:"dataset_path,omitempty"`
	ContextSize   int    `json:"context_size,omitempty"`
	PrependBOS    bool   `json:"prepend_bos"`
	// ApplyBDecToInput: subtract b_dec from the input before encoding (SAELens apply_b_dec_to_input).
	ApplyBDecToInput bool `json:"apply_b_dec_to_input"`
	// Normalize is SAELens's normalize_activations. "none", "expected_average_only_in" and
	// "covariance_whitening" are identities at inference (SAELens folds the factor / whitening into the
	// weights at save time; ScaleFactor records a folded factor). "constant_norm_rescale" and
	// "layer_norm" normalise every input row at run time (see NormConstantNormRescale, NormLayerNorm):
	// Encode applies them; Decode then returns the reconstruction in normalised units and Forward maps it
	// back with each row's statistics, as SAELens's forward does.
	Normalize   string  `json:"normalize_activations,omitempty"`
	ScaleFactor float64 `json:"scale_factor,omitempty"`
	// Dtype is the dtype the weights were stored in ("float32", "bfloat16", ...). Weights are always
	// held as float32 in memory.
	Dtype           string `json:"dtype,omitempty"`
	TrainingVersion string `json:"sae_lens_training_version,omitempty"`
	// Extra holds other metadata fields read from a config, preserved on SaveSAELens.
	Extra map[string]any `json:"extra,omitempty"`
}

// Run-time input normalisations of SAELens (normalize_activations), applied per row x of d_in values:
//
//	constant_norm_rescale: c = sqrt(d_in)/‖x‖₂; x_n = x·c; output y = ŷ_n / c
//	layer_norm:            μ = mean(x), σ = std(x − μ) (unbiased, n−1); x_n = (x − μ)/(σ + 1e-5); y = ŷ_n·σ + μ
//
// (layer_norm's output map uses σ, not σ + 1e-5, exactly as SAELens.)
const (
	NormConstantNormRescale = "constant_norm_rescale"
	NormLayerNorm           = "layer_norm"
)

// RuntimeNorm reports whether the SAE normalises each input row at run time (Meta.Normalize is
// NormConstantNormRescale or NormLayerNorm), which no folding into the weights can express.
func (s *SAE) RuntimeNorm() bool {
	return s.Meta.Normalize == NormConstantNormRescale || s.Meta.Normalize == NormLayerNorm
}

// rowNorm is the run-time normalisation of one row: x_n = (x − sub)·mul, y = ŷ_n·outMul + outAdd
// (constant_norm_rescale divides by mul instead: outDiv).
type rowNorm struct {
	sub, mul, outMul, outAdd float32
	div                      bool
}

// normStats computes the run-time normalisation of row x (identity when the SAE has none).
func (s *SAE) normStats(x []float32) rowNorm {
	switch s.Meta.Normalize {
	case NormConstantNormRescale:
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		n := float32(math.Sqrt(ss))
		if n == 0 {
			return rowNorm{mul: 1, outMul: 1}
		}
		c := float32(math.Sqrt(float64(len(x)))) / n
		return rowNorm{mul: c, outMul: c, div: true}
	case NormLayerNorm:
		var sum float64
		for _, v := range x {
			sum += float64(v)
		}
		mu := float32(sum / float64(len(x)))
		var ss float64
		for _, v := range x {
			d := float64(v - mu)
			ss += d * d
		}
		std := float32(math.Sqrt(ss / float64(max(len(x)-1, 1))))
		return rowNorm{sub: mu, mul: 1 / (std + 1e-5), outMul: std, outAdd: mu}
	}
	return rowNorm{mul: 1, outMul: 1}
}

func (r rowNorm) in(x []float32) {
	for i, v := range x {
		x[i] = (v - r.sub) * r.mul
	}
}

func (r rowNorm) out(y []float32) {
	for i, v := range y {
		if r.div {
			y[i] = v / r.outMul
		} else {
			y[i] = v*r.outMul + r.outAdd
		}
	}
}

// SAE is a sparse autoencoder with float32 weights, row-major.
type SAE struct {
	Arch      Arch
	DIn, DSAE int
	K         int       // active latents per row (topk) or mean active latents per row (batchtopk, training)
	WEnc      []float32 // [DIn, DSAE]
	BEnc      []float32 // [DSAE]
	WDec      []float32 // [DSAE, DIn]
	BDec      []float32 // [DIn]
	Threshold []float32 // [DSAE]: jumprelu thresholds; batchtopk's global inference threshold broadcast
	Meta      Meta
}

// Validate checks architecture, sizes and finiteness of the weights.
func (s *SAE) Validate() error {
	if !s.Arch.Valid() {
		return fmt.Errorf("sae: unknown architecture %q", s.Arch)
	}
	if s.DIn <= 0 || s.DSAE <= 0 {
		return fmt.Errorf("sae: bad sizes d_in=%d d_sae=%d", s.DIn, s.DSAE)
	}
	if (s.Arch == ArchTopK || s.Arch == ArchBatchTopK) && (s.K <= 0 || s.K > s.DSAE) {
		return fmt.Errorf("sae: %s needs 0 < k <= d_sae, got k=%d d_sae=%d", s.Arch, s.K, s.DSAE)
	}
	switch s.Meta.Normalize {
	case "", "none", "expected_average_only_in", "covariance_whitening", NormConstantNormRescale, NormLayerNorm:
	default:
		return fmt.Errorf("sae: unknown normalize_activations %q", s.Meta.Normalize)
	}
	check := func(name string, v []float32, n int) error {
		if len(v) != n {
			return fmt.Errorf("sae: %s has %d elements, want %d", name, len(v), n)
		}
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("sae: %s[%d] is %v (weights must be finite)", name, i, x)
			}
		}
		return nil
	}
	if err := check("W_enc", s.WEnc, s.DIn*s.DSAE); err != nil {
		return err
	}
	if err := check("b_enc", s.BEnc, s.DSAE); err != nil {
		return err
	}
	if err := check("W_dec", s.WDec, s.DSAE*s.DIn); err != nil {
		return err
	}
	if err := check("b_dec", s.BDec, s.DIn); err != nil {
		return err
	}
	if s.Arch == ArchJumpReLU || s.Arch == ArchBatchTopK {
		if err := check("threshold", s.Threshold, s.DSAE); err != nil {
			return err
		}
	}
	return nil
}

// PreActivations returns pre = x_in·W_enc + b_enc for n rows of x ([n, DIn]) as [n, DSAE]
// (x_in: the row after any run-time normalisation, minus b_dec if ApplyBDecToInput).
func (s *SAE) PreActivations(x []float32, n int) []float32 {
	pre := make([]float32, n*s.DSAE)
	rt := s.RuntimeNorm()
	parallelRows(n, func(r0, r1 int) {
		xin := make([]float32, s.DIn)
		for r := r0; r < r1; r++ {
			copy(xin, x[r*s.DIn:(r+1)*s.DIn])
			if rt {
				s.normStats(xin).in(xin)
			}
			if s.Meta.ApplyBDecToInput {
				for i := range xin {
					xin[i] -= s.BDec[i]
				}
			}
			out := pre[r*s.DSAE : (r+1)*s.DSAE]
			copy(out, s.BEnc)
			for i, xv := range xin {
				if xv == 0 {
					continue
				}
				axpy(xv, s.WEnc[i*s.DSAE:(i+1)*s.DSAE], out)
			}
		}
	})
	return pre
}

// Encode maps n rows x ([n, DIn]) to feature activations [n, DSAE] with the architecture's reference
// formula (see the package documentation).
func (s *SAE) Encode(x []float32, n int) []float32 {
	if len(x) < n*s.DIn {
		panic(fmt.Sprintf("sae: Encode: len(x)=%d < n*d_in=%d", len(x), n*s.DIn))
	}
	f := s.PreActivations(x, n)
	switch s.Arch {
	case ArchTopK:
		parallelRows(n, func(r0, r1 int) {
			idx := make([]int32, s.K)
			for r := r0; r < r1; r++ {
				row := f[r*s.DSAE : (r+1)*s.DSAE]
				topKIndices(row, s.K, idx)
				vals := make([]float32, s.K)
				for m, j := range idx {
					vals[m] = row[j]
				}
				clear(row)
				for m, j := range idx {
					row[j] = max(vals[m], 0)
				}
			}
		})
	case ArchReLU:
		for i, v := range f {
			f[i] = max(v, 0)
		}
	case ArchJumpReLU, ArchBatchTopK:
		for i, v := range f {
			if !(v > s.Threshold[i%s.DSAE]) || v < 0 {
				f[i] = 0
			}
		}
	default:
		panic(fmt.Sprintf("sae: unknown architecture %q", s.Arch))
	}
	return f
}

// Decode maps feature activations f ([n, DSAE]) to reconstructions [n, DIn] = f·W_dec + b_dec
// (in normalised units for an SAE with a run-time normalisation: use Forward to map them back).
// Zero activations are skipped, so sparse f decodes in O(n·L0·DIn).
func (s *SAE) Decode(f []float32, n int) []float32 {
	if len(f) < n*s.DSAE {
		panic(fmt.Sprintf("sae: Decode: len(f)=%d < n*d_sae=%d", len(f), n*s.DSAE))
	}
	out := make([]float32, n*s.DIn)
	parallelRows(n, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			o := out[r*s.DIn : (r+1)*s.DIn]
			copy(o, s.BDec)
			for j, a := range f[r*s.DSAE : (r+1)*s.DSAE] {
				if a != 0 {
					axpy(a, s.WDec[j*s.DIn:(j+1)*s.DIn], o)
				}
			}
		}
	})
	return out
}

// Forward is the SAE's full forward pass on n rows x ([n, DIn]), as SAELens's sae(x): Decode(Encode(x)),
// with a run-time normalisation (RuntimeNorm) undone using each row's own statistics. It returns the
// activations f [n, DSAE] and the reconstruction [n, DIn].
func (s *SAE) Forward(x []float32, n int) (f, xhat []float32) {
	f = s.Encode(x, n)
	xhat = s.Decode(f, n)
	if s.RuntimeNorm() {
		parallelRows(n, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				s.Unnormalize(x[r*s.DIn:(r+1)*s.DIn], xhat[r*s.DIn:(r+1)*s.DIn])
			}
		})
	}
	return f, xhat
}

// Unnormalize maps a reconstruction y of input row x back from the run-time normalisation's units
// with x's statistics, in place (nothing to do without one; see RuntimeNorm).
func (s *SAE) Unnormalize(x, y []float32) {
	if s.RuntimeNorm() {
		s.normStats(x).out(y)
	}
}

// ParamNames is the order of ParamData and of the weight arguments of EncodeGraph/DecodeGraph:
// EncodeGraph(arch, k, x, W_enc, b_enc, b_dec, threshold) and DecodeGraph(f, W_dec, b_dec).
var ParamNames = []string{"W_enc", "b_enc", "b_dec", "threshold", "W_dec"}

// ParamData returns the weights in ParamNames order with their shapes. threshold is always [DSAE]
// (zeros for topk/relu, where EncodeGraph ignores it), so graphs have one signature for all archs.
// The slices alias the SAE's weights: don't modify them.
func (s *SAE) ParamData() (names []string, shapes [][]int, data [][]float32) {
	th := s.Threshold
	if len(th) != s.DSAE {
		th = make([]float32, s.DSAE)
	}
	names = append([]string(nil), ParamNames...)
	shapes = [][]int{{s.DIn, s.DSAE}, {s.DSAE}, {s.DIn}, {s.DSAE}, {s.DSAE, s.DIn}}
	data = [][]float32{s.WEnc, s.BEnc, s.BDec, th, s.WDec}
	return
}

// Clone returns a deep copy.
func (s *SAE) Clone() *SAE {
	c := *s
	c.WEnc = append([]float32(nil), s.WEnc...)
	c.BEnc = append([]float32(nil), s.BEnc...)
	c.WDec = append([]float32(nil), s.WDec...)
	c.BDec = append([]float32(nil), s.BDec...)
	if s.Threshold != nil {
		c.Threshold = append([]float32(nil), s.Threshold...)
	}
	if s.Meta.Extra != nil {
		c.Meta.Extra = map[string]any{}
		for k, v := range s.Meta.Extra {
			c.Meta.Extra[k] = v
		}
	}
	return &c
}

// FoldScale folds an input scaling x → x·scale into the weights, as SAELens's
// fold_activation_norm_scaling_factor: W_enc·=scale, W_dec/=scale, b_dec/=scale (thresholds are in
// pre-activation units and unchanged). After folding, the SAE takes unscaled inputs.
func (s *SAE) FoldScale(scale float32) {
	for i := range s.WEnc {
		s.WEnc[i] *= scale
	}
	for i := range s.WDec {
		s.WDec[i] /= scale
	}
	for i := range s.BDec {
		s.BDec[i] /= scale
	}
	s.Meta.ScaleFactor = float64(scale)
}

// DecoderNorms returns ‖W_dec,i‖₂ for each latent.
func (s *SAE) DecoderNorms() []float32 {
	out := make([]float32, s.DSAE)
	for j := range out {
		var a float64
		for _, v := range s.WDec[j*s.DIn : (j+1)*s.DIn] {
			a += float64(v) * float64(v)
		}
		out[j] = float32(math.Sqrt(a))
	}
	return out
}

// topKIndices writes into idx (len k) the indices of the k largest values of row, ordered by
// decreasing value; ties broken by lower index first (as a stable descending sort).
func topKIndices(row []float32, k int, idx []int32) {
	// min-heap of size k over (value, index) where "smaller" = lower value, or equal value with higher index.
	less := func(a, b int32) bool {
		va, vb := row[a], row[b]
		if va != vb {
			return va < vb
		}
		return a > b
	}
	h := idx[:0]
	down := func(i int) {
		n := len(h)
		for {
			l := 2*i + 1
			if l >= n {
				return
			}
			m := l
			if r := l + 1; r < n && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for j := range row {
		jj := int32(j)
		if len(h) < k {
			h = append(h, jj)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !less(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if less(h[0], jj) {
			h[0] = jj
			down(0)
		}
	}
	// heap-sort descending
	for end := len(h) - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0]
		hh := h[:end]
		h2 := h
		h = hh
		down(0)
		h = h2
	}
}

func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// parallelRows splits [0,n) into contiguous chunks processed concurrently.
func parallelRows(n int, fn func(r0, r1 int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for r0 := 0; r0 < n; r0 += chunk {
		r1 := min(r0+chunk, n)
		wg.Add(1)
		go func() { defer wg.Done(); fn(r0, r1) }()
	}
	wg.Wait()
}
