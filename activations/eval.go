package activations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/sae"
)

// Splice returns an intervention that replaces the activation at site with the SAE's reconstruction
// decode(encode(x)), built on sae.EncodeGraph/DecodeGraph with the SAE's weights as parameters (graph
// inputs, so SAEs of one shape share a compiled graph). mask, if not nil, is [B,T] (row-major): 1 where
// the activation is replaced, 0 where the clean activation is kept (special-token positions); its shape
// must match the batch the intervention runs on.
func Splice(site string, s *sae.SAE, mask []float32, B, T int) model.Intervention {
	return &splice{site: site, s: s, mask: mask, b: B, t: T}
}

type splice struct {
	site string
	s    *sae.SAE
	mask []float32
	b, t int
}

func (p *splice) Site() string { return p.site }
func (p *splice) Key() string {
	norm := ""
	if p.s.RuntimeNorm() {
		norm = " norm=" + p.s.Meta.Normalize // a different graph
	}
	return fmt.Sprintf("sae_splice[%s k=%d bdec_in=%v mask=%v%s]", p.s.Arch, p.s.K, p.s.Meta.ApplyBDecToInput, p.mask != nil, norm)
}
func (p *splice) Params() []model.Param {
	_, shapes, data := p.s.ParamData()
	var out []model.Param
	for i := range shapes {
		out = append(out, model.Param{Shape: shapes[i], F32: data[i]})
	}
	if p.mask != nil {
		out = append(out, model.Param{Shape: []int{p.b, p.t}, F32: p.mask})
	}
	return out
}
func (p *splice) Apply(x *Node, w []*Node) *Node {
	// ParamNames order: W_enc, b_enc, b_dec, threshold, W_dec
	_, r := saeGraph(p.s, x, w)
	if p.mask == nil {
		return r
	}
	m := BroadcastToDims(InsertAxes(w[5], -1), x.Shape().Dimensions...)
	return Add(x, Mul(m, Sub(r, x)))
}

// saeGraph encodes and decodes x [..., d_in] with the weights w (sae.ParamNames order), broadcasting
// the bias vectors to the operands' shapes explicitly (GoMLX binary ops only broadcast scalars).
func saeGraph(s *sae.SAE, x *Node, w []*Node) (f, r *Node) {
	lead := x.Shape().Dimensions[:x.Rank()-1]
	bcast := func(v *Node) *Node {
		dims := append(append([]int(nil), lead...), v.Shape().Dimensions[0])
		return BroadcastToDims(ExpandLeftToRank(v, len(dims)), dims...)
	}
	var bIn *Node
	if s.Meta.ApplyBDecToInput {
		bIn = bcast(w[2])
	}
	xn, undo := sae.NormalizeGraph(s, x) // run-time normalize_activations (identity for most SAEs)
	f = sae.EncodeGraph(s.Arch, s.K, xn, w[0], bcast(w[1]), bIn, bcast(w[3]))
	r = undo(sae.DecodeGraph(f, w[4], bcast(w[2])))
	return f, r
}

// Replace returns an intervention that sets the activation at site to values ([B,T,D], row-major)
// where mask ([B,T]) is 1 and keeps it elsewhere.
func Replace(site string, values, mask []float32, B, T int) model.Intervention {
	return &replace{site: site, values: values, mask: mask, b: B, t: T}
}

type replace struct {
	site         string
	values, mask []float32
	b, t         int
}

func (p *replace) Site() string { return p.site }
func (p *replace) Key() string  { return "replace_masked" }
func (p *replace) Params() []model.Param {
	return []model.Param{{Shape: []int{p.b, p.t, len(p.values) / (p.b * p.t)}, F32: p.values}, {Shape: []int{p.b, p.t}, F32: p.mask}}
}
func (p *replace) Apply(x *Node, w []*Node) *Node {
	m := BroadcastToDims(InsertAxes(w[1], -1), x.Shape().Dimensions...)
	return Add(x, Mul(m, Sub(w[0], x)))
}

// ZeroAblate returns an intervention that sets the activation at site to zero where mask ([B,T]) is 1
// (everywhere when mask is nil).
func ZeroAblate(site string, mask []float32, B, T int) model.Intervention {
	return &zeroAblate{site: site, mask: mask, b: B, t: T}
}

type zeroAblate struct {
	site string
	mask []float32
	b, t int
}

func (z *zeroAblate) Site() string { return z.site }
func (z *zeroAblate) Key() string  { return fmt.Sprintf("zero_ablate[mask=%v]", z.mask != nil) }
func (z *zeroAblate) Params() []model.Param {
	if z.mask == nil {
		return nil
	}
	return []model.Param{{Shape: []int{z.b, z.t}, F32: z.mask}}
}
func (z *zeroAblate) Apply(x *Node, w []*Node) *Node {
	if z.mask == nil {
		return ZerosLike(x)
	}
	m := BroadcastToDims(InsertAxes(w[0], -1), x.Shape().Dimensions...)
	return Sub(x, Mul(m, x))
}

// ceStats reduces the logits [3C,T,V] of a pass over three copies of C contexts (clean, spliced,
// zero-ablated) inside the graph to [4C,T]: rows 0..3C-1 the log-probability of each position's
// target (the next token; any valid id at the last position), rows 3C..4C-1 KL(clean‖spliced) at each
// position (summed in float64, as the host did). So only per-position figures leave the device, not
// three [C,T,V] log-probability tensors.
type ceStats struct {
	c, t    int
	targets []int32 // [3C,T]
}

func (c *ceStats) Site() string { return "logits" }
func (c *ceStats) Key() string  { return "ce_stats" }
func (c *ceStats) Params() []model.Param {
	return []model.Param{{Shape: []int{3 * c.c, c.t}, I32: c.targets}}
}
func (c *ceStats) Apply(x *Node, w []*Node) *Node {
	dims := x.Shape().Dimensions // [3C,T,V]
	R, T, V := dims[0], dims[1], dims[2]
	C := R / 3
	lp := LogSoftmax(x, -1)
	// the targets' log-probabilities: gather (row·T + t, target) from lp as [R·T, V]
	rows := Iota(x.Graph(), shapes.Make(dtypes.Int32, R*T, 1), 0)
	at := Concatenate([]*Node{rows, Reshape(w[0], R*T, 1)}, -1)
	tgt := Reshape(Gather(Reshape(lp, R*T, V), at), R, T)
	lc := ConvertDType(SliceAxis(lp, 0, AxisRange(0, C)), dtypes.Float64)
	ls := ConvertDType(SliceAxis(lp, 0, AxisRange(C, 2*C)), dtypes.Float64)
	kl := ReduceSum(Mul(Exp(lc), Sub(lc, ls)), -1) // [C,T]
	return Concatenate([]*Node{tgt, ConvertDType(kl, dtypes.Float32)}, 0)
}

// ceRunner computes the CE-loss figures of contexts whose activations at the site were captured: it
// runs the model from the site (model.From) on the clean, spliced and zero-ablated residual streams
// stacked as 3C rows (layers before the site are not run again), in chunks of C contexts (one compiled
// graph; C bounds the [3C,T,V] logits, which the graph reduces to per-position figures, ceStats).
type ceRunner struct {
	m        *model.Model
	site     string
	kind, ls string // site kind and layer
	c, t, d  int
	first    int // positions before first are not counted (a prepended BOS)
	ids      [][]int
	stream   []float32
	targets  []int32
	// parallel-block models at attn_out: the three attn_out versions [3C,T,d] and an all-ones mask
	attnVals, ones []float32

	clean, spliced, zero, kl float64
	tokens                   int64
}

// ceChunk is the number of contexts per ceRunner call for batches of B contexts of T tokens: about
// 2M logits per stream and call. On the pure-Go backend larger calls were slower (C = 2, 4, 8 contexts
// of 128 tokens with tiny-lm's 8192 logits: 16.1, 15.9, 16.9 s for a 20k-token eval) and took more
// memory (peak RSS 0.67, 1.07, 1.56 GB); the XLA CPU plugin ran them in the same time.
func ceChunk(B, T, V int) int { return max(1, min(B, (1<<21)/(T*V))) }

func newCERunner(m *model.Model, site string, C, T, first int) *ceRunner {
	kind, ls, _ := strings.Cut(site, ".")
	d := m.DModel()
	return &ceRunner{m: m, site: site, kind: kind, ls: ls, c: C, t: T, d: d, first: first,
		ids: make([][]int, 3*C), stream: make([]float32, 3*C*T*d), targets: make([]int32, 3*C*T)}
}

// captures lists the sites the clean pass must capture: the site and, for attn_out/mlp_out, what
// the model adds it to.
func (r *ceRunner) captures() []string {
	switch r.kind {
	case "attn_out":
		return []string{r.site, "resid_pre." + r.ls}
	case "mlp_out":
		return []string{r.site, "resid_pre." + r.ls, "attn_out." + r.ls}
	}
	return []string{r.site}
}

// run adds the figures of contexts 0..n-1 of a batch: ids, the clean pass's captures, the
// reconstruction of the site's activations and the splice mask ([B,T]: 1 where the splice and the
// ablation apply). The spliced stream replaces the site by the reconstruction (exact: nothing upstream
// of the site changes), the ablated one by zero, where mask is 1, as Replace and ZeroAblate do in a
// graph (x + m·(v − x), x − m·x); for attn_out/mlp_out the residual stream before the site is added,
// as the model does.
func (r *ceRunner) run(ids [][]int, clean *model.Output, recon, mask []float32, n int) error {
	C, T, d := r.c, r.t, r.d
	x := clean.Get(r.site).Data
	var base []float32
	switch r.kind {
	case "attn_out":
		base = clean.Get("resid_pre." + r.ls).Data
	case "mlp_out":
		pre, att := clean.Get("resid_pre."+r.ls).Data, clean.Get("attn_out."+r.ls).Data
		base = make([]float32, len(pre))
		for i := range base {
			base[i] = pre[i] + att[i]
		}
	}
	// Parallel-block models (Phi-1/2) cannot start from attn_out.L (their MLP reads resid_pre.L): the
	// pass starts at resid_pre.L and the three attn_out versions replace the layer's attention output.
	fromPre := r.kind == "attn_out" && r.m.ParallelBlocks()
	if fromPre && r.attnVals == nil {
		r.attnVals, r.ones = make([]float32, 3*C*T*d), make([]float32, 3*C*T)
		for i := range r.ones {
			r.ones[i] = 1
		}
	}
	attn := r.attnVals // [3C,T,d] the attn_out versions, when fromPre
	for c0 := 0; c0 < n; c0 += C {
		for j := range C {
			b := c0 + j
			if b >= n {
				b = c0 // padding: any context
			}
			for s := range 3 {
				r.ids[s*C+j] = ids[b]
				for t := range T - 1 {
					r.targets[(s*C+j)*T+t] = int32(ids[b][t+1])
				}
			}
			o := b * T * d
			cl := r.stream[j*T*d : (j+1)*T*d]
			sp := r.stream[(C+j)*T*d : (C+j+1)*T*d]
			zr := r.stream[(2*C+j)*T*d : (2*C+j+1)*T*d]
			for i := range T * d {
				v := x[o+i]
				c, sv, zv := v, v, v
				if mask[(o+i)/d] != 0 {
					sv = v + (recon[o+i] - v)
					zv = v - v
				}
				if fromPre {
					attn[j*T*d+i], attn[(C+j)*T*d+i], attn[(2*C+j)*T*d+i] = c, sv, zv
					bv := base[o+i]
					c, sv, zv = bv, bv, bv
				} else if base != nil {
					bv := base[o+i]
					c, sv, zv = bv+c, bv+sv, bv+zv
				}
				cl[i], sp[i], zr[i] = c, sv, zv
			}
		}
		from, ivs := model.From(r.site, r.stream), []model.Intervention{&ceStats{c: C, t: T, targets: r.targets}}
		if fromPre {
			from = model.From("resid_pre."+r.ls, r.stream)
			ivs = append([]model.Intervention{Replace(r.site, attn, r.ones, 3*C, T)}, ivs...)
		}
		out, err := r.m.Forward(r.ids, from, model.Capture("logits"), model.Intervene(ivs...))
		if err != nil {
			return err
		}
		st := out.Logits().Data // [4C,T]
		for j := range min(C, n-c0) {
			for t := r.first; t < T-1; t++ {
				r.clean -= float64(st[j*T+t])
				r.spliced -= float64(st[(C+j)*T+t])
				r.zero -= float64(st[(2*C+j)*T+t])
				r.kl += float64(st[(3*C+j)*T+t])
			}
			r.tokens += int64(T - 1 - r.first)
		}
	}
	return nil
}

// EvalOptions configures EvaluateSAE.
type EvalOptions struct {
	// CEContexts is how many contexts (the first ones) the CE-loss figures use (default 400; each costs
	// three full forward passes). Reconstruction metrics use every harvested activation.
	CEContexts int
	// DenseThreshold: a latent firing on more than this fraction of tokens is dense (default 0.1).
	DenseThreshold float64
}

// EvalResult holds an SAE's held-out metrics.
type EvalResult struct {
	Model       string `json:"model"`
	Site        string `json:"site"`
	Text        string `json:"text"`
	SkipDocs    int    `json:"skip_docs"`
	ContextSize int    `json:"context_size"`
	PrependBOS  bool   `json:"prepend_bos"`
	Tokens      int64  `json:"tokens"`
	Contexts    int64  `json:"contexts"`

	MSE               float64 `json:"mse"` // mean over tokens of ||x − x̂||² / d_in
	FVU               float64 `json:"fvu"` // Σ||x − x̂||² / Σ||x − mean(x)||²
	ExplainedVariance float64 `json:"explained_variance"`
	L0                float64 `json:"l0"`
	DeadFraction      float64 `json:"dead_fraction"`  // latents that never fired on the eval tokens
	DenseFraction     float64 `json:"dense_fraction"` // latents firing on more than DenseThreshold of tokens
	// DensityHistogram counts latents by log10(firing fraction): bins [-inf(never), ≤-6, (-6,-5], ..., (-1,0]].
	DensityHistogram []DensityBin `json:"density_histogram"`

	CETokens     int64   `json:"ce_tokens"`
	CEContexts   int64   `json:"ce_contexts"`
	CEClean      float64 `json:"ce_loss_clean"`
	CESAE        float64 `json:"ce_loss_sae"`
	CEZero       float64 `json:"ce_loss_zero_ablation"`
	CERecovered  float64 `json:"ce_loss_recovered"`
	KL           float64 `json:"kl_clean_sae"` // mean per token, nats
	SpliceMasked bool    `json:"splice_keeps_special_positions"`
}

// DensityBin is one bin of the latent-density histogram.
type DensityBin struct {
	Range   string `json:"log10_density"`
	Latents int    `json:"latents"`
}

// EvaluateSAE measures an SAE on the activations cfg describes (use Text/SkipDocs for held-out text;
// cfg.Tokens caps the activations, default 100,000): reconstruction (MSE, FVU, L0, dead and dense latents,
// density histogram) and, on the first CEContexts contexts, the next-token cross-entropy of the model
// clean, with the SAE spliced in at the site and with the site zero-ablated, the CE loss recovered
// (CE_zero − CE_sae)/(CE_zero − CE_clean) and KL(clean‖spliced) per token. The splice and the ablation
// apply at the positions whose activations the SAE was trained on (special-token positions keep their
// clean activation, like SAELens' ignore_tokens); the loss at a prepended BOS position is not counted.
// The SAE takes raw (unscaled) activations (a normalisation scale is folded into its weights).
func EvaluateSAE(ctx context.Context, cfg Config, s *sae.SAE, opts EvalOptions) (*EvalResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	names, _, data := s.ParamData()
	for i, w := range data {
		for j, v := range w {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("the SAE's %s has a non-finite value (%v at index %d)", names[i], v, j)
			}
		}
	}
	if d := cfg.Model.DModel(); s.DIn != d {
		return nil, fmt.Errorf("the SAE's d_in is %d but %s of %s has d_model %d", s.DIn, cfg.Site, cfg.ModelName, d)
	}
	if cfg.Normalize || cfg.Scale != 0 && cfg.Scale != 1 {
		return nil, errors.New("EvaluateSAE takes raw activations: the SAE holds its normalisation scale")
	}
	if cfg.Tokens == 0 {
		cfg.Tokens = 100_000
	}
	if opts.CEContexts == 0 {
		opts.CEContexts = 400
	}
	if opts.DenseThreshold == 0 {
		opts.DenseThreshold = 0.1
	}
	ctxr, err := newContexter(&cfg, Position{})
	if err != nil {
		return nil, err
	}
	defer ctxr.close()
	h := &Harvester{cfg: cfg, d: cfg.Model.DModel(), ctxr: ctxr, scale: 1}
	mc := cfg.Model.Config
	specialIDs := append(append([]int(nil), mc.BOSTokenIDs...), mc.EOSTokenIDs...)
	h.special = func(id int) bool {
		return slices.Contains(specialIDs, id) || id == mc.PadTokenID || cfg.Tokenizer.IsSpecial(id)
	}
	rec, err := newReconExec(cfg.Model, s, cfg.BatchSize*cfg.ContextSize)
	if err != nil {
		return nil, err
	}
	res := &EvalResult{Model: cfg.ModelName, Site: cfg.Site, Text: ctxr.docs.Name(), SkipDocs: cfg.SkipDocs,
		ContextSize: cfg.ContextSize, PrependBOS: *cfg.PrependBOS, SpliceMasked: true}
	d := s.DIn
	B, T := cfg.BatchSize, cfg.ContextSize
	// Every batch runs one graph, up to the site; batches with CE figures then run the rest of the
	// model from there (ceRunner). Three compiled graphs in all, with the SAE's.
	first := 0
	if *cfg.PrependBOS {
		first = 1 // the BOS position's prediction is not counted
	}
	ce := newCERunner(cfg.Model, cfg.Site, ceChunk(B, T, cfg.Model.VocabSize()), T, first)
	capture := ce.captures()
	sumX := make([]float64, d)
	var sumSq, sse, l0 float64
	counts := make([]float64, s.DSAE)
	prog := newProgress(cfg.Progress, "eval", cfg.Tokens)
	done := false
	for !done {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ids [][]int
		for len(ids) < B {
			c, err := ctxr.next()
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				return nil, err
			}
			ids = append(ids, c)
		}
		if len(ids) == 0 {
			break
		}
		real := len(ids)
		for len(ids) < B {
			ids = append(ids, ids[0])
		}
		mask := make([]float32, B*T)
		kept := 0
		for b := range real {
			for t := range T {
				if !h.special(ids[b][t]) && res.Tokens+int64(kept) < cfg.Tokens {
					mask[b*T+t] = 1
					kept++
				}
			}
		}
		wantCE := res.CEContexts < int64(opts.CEContexts)
		clean, err := cfg.Model.Forward(ids, model.Capture(capture...))
		if err != nil {
			return nil, err
		}
		x := clean.Get(cfg.Site).Data
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%v activation at %s (context %d position %d)", v, cfg.Site, res.Contexts+int64(i/(T*d)), (i/d)%T)
			}
		}
		recon, fired, err := rec.run(x, mask)
		if err != nil {
			return nil, err
		}
		for r := range B * T {
			if mask[r] == 0 {
				continue
			}
			xr, yr := x[r*d:(r+1)*d], recon[r*d:(r+1)*d]
			for j := range d {
				v := float64(xr[j])
				e := v - float64(yr[j])
				sse += e * e
				sumSq += v * v
				sumX[j] += v
			}
			l0 += float64(fired.l0[r])
		}
		for j, c := range fired.counts {
			counts[j] += float64(c)
		}
		res.Tokens += int64(kept)
		res.Contexts += int64(real)
		if wantCE {
			n := min(real, opts.CEContexts-int(res.CEContexts))
			if err := ce.run(ids, clean, recon, mask, n); err != nil {
				return nil, err
			}
			res.CEContexts += int64(n)
		}
		prog.update(res.Tokens)
		if res.Tokens >= cfg.Tokens {
			break
		}
	}
	if res.Tokens == 0 {
		return nil, fmt.Errorf("no activations to evaluate on (text %s after %d skipped documents)", res.Text, cfg.SkipDocs)
	}
	N := float64(res.Tokens)
	res.MSE = sse / N / float64(d)
	var meanSq float64
	for _, v := range sumX {
		meanSq += (v / N) * (v / N)
	}
	res.FVU = sse / (sumSq - N*meanSq)
	res.ExplainedVariance = 1 - res.FVU
	res.L0 = l0 / N
	labels := []string{"never", "<=-6", "(-6,-5]", "(-5,-4]", "(-4,-3]", "(-3,-2]", "(-2,-1]", "(-1,0]"}
	hist := make([]int, len(labels))
	var dead, dense int
	for _, c := range counts {
		frac := c / N
		switch {
		case c == 0:
			dead++
			hist[0]++
		default:
			lg := math.Log10(frac)
			b := int(math.Ceil(lg)) + 7 // (-1,0] → 7, (-2,-1] → 6, ...
			hist[max(1, min(7, b))]++
		}
		if frac > opts.DenseThreshold {
			dense++
		}
	}
	for i, l := range labels {
		res.DensityHistogram = append(res.DensityHistogram, DensityBin{Range: l, Latents: hist[i]})
	}
	res.DeadFraction = float64(dead) / float64(s.DSAE)
	res.DenseFraction = float64(dense) / float64(s.DSAE)
	if res.CETokens = ce.tokens; res.CETokens > 0 {
		n := float64(res.CETokens)
		res.CEClean, res.CESAE, res.CEZero, res.KL = ce.clean/n, ce.spliced/n, ce.zero/n, ce.kl/n
		res.CERecovered = (res.CEZero - res.CESAE) / (res.CEZero - res.CEClean)
	}
	prog.print(res.Tokens, true)
	return res, nil
}

// reconExec runs the SAE on [N, d] rows: the pre-activations in a compiled graph (the dense matmul),
// then the activation function and a sparse decode in Go, with exactly the formulas of sae.SAE.Encode
// and Decode. (sae.EncodeGraph's TopKMask is sort-based and far too slow on the pure-Go backend at
// d_sae = 6144: about 20 s per 64 rows, against 60 ms per 1024 rows here.)
type reconExec struct {
	exec *Exec
	s    *sae.SAE
	args []any
}

type firing struct {
	l0     []float32 // per row
	counts []float32 // per latent, over the masked rows
}

func newReconExec(m *model.Model, s *sae.SAE, n int) (*reconExec, error) {
	e, err := NewExec(m.Backend(), func(g *Graph, in []*Node) []*Node {
		x, wEnc, bEnc, bDec := in[0], in[1], in[2], in[3]
		N := x.Shape().Dimensions[0]
		// Run-time normalisation (constant_norm_rescale, layer_norm): the SAE sees normalised rows; run
		// maps each reconstruction back with sae.SAE.Unnormalize.
		x, _ = sae.NormalizeGraph(s, x)
		if s.Meta.ApplyBDecToInput {
			x = Sub(x, BroadcastToDims(InsertAxes(bDec, 0), N, s.DIn))
		}
		pre := Add(DotGeneral(x, []int{1}, nil, wEnc, []int{0}, nil), BroadcastToDims(InsertAxes(bEnc, 0), N, s.DSAE))
		return []*Node{pre}
	})
	if err != nil {
		return nil, err
	}
	return &reconExec{exec: e, s: s, args: []any{
		tensors.FromFlatDataAndDimensions(s.WEnc, s.DIn, s.DSAE),
		tensors.FromFlatDataAndDimensions(s.BEnc, s.DSAE),
		tensors.FromFlatDataAndDimensions(s.BDec, s.DIn)}}, nil
}

// run returns the reconstruction of x [N, d] and the firing statistics (counts over rows with mask 1).
func (r *reconExec) run(x, mask []float32) ([]float32, firing, error) {
	s := r.s
	d, S := s.DIn, s.DSAE
	N := len(x) / d
	outs, err := r.exec.Exec(append([]any{tensors.FromFlatDataAndDimensions(x, N, d)}, r.args...)...)
	if err != nil {
		return nil, firing{}, fmt.Errorf("sae eval: %w", err)
	}
	pre, err := tensors.CopyFlatData[float32](outs[0])
	outs[0].FinalizeAll()
	if err != nil {
		return nil, firing{}, err
	}
	recon := make([]float32, N*d)
	fr := firing{l0: make([]float32, N), counts: make([]float32, S)}
	workers := max(1, min(runtime.GOMAXPROCS(0), N))
	counts := make([][]float32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cnt := make([]float32, S)
			counts[w] = cnt
			var idx []int
			for row := w; row < N; row += workers {
				p := pre[row*S : (row+1)*S]
				idx = activeLatents(s, p, idx[:0])
				out := recon[row*d : (row+1)*d]
				copy(out, s.BDec)
				for _, j := range idx {
					v := p[j]
					if s.Arch != sae.ArchTopK && s.Arch != sae.ArchReLU && !(v > s.Threshold[j]) {
						continue
					}
					if v <= 0 {
						continue
					}
					fr.l0[row]++
					if mask[row] != 0 {
						cnt[j]++
					}
					wd := s.WDec[j*d : (j+1)*d]
					for i := range out {
						out[i] += v * wd[i]
					}
				}
				s.Unnormalize(x[row*d:(row+1)*d], out)
			}
		}()
	}
	wg.Wait()
	for _, c := range counts {
		for j, v := range c {
			fr.counts[j] += v
		}
	}
	return recon, fr, nil
}

// activeLatents appends the candidate latents of one row of pre-activations: for topk the K largest
// (ties to the lower index, as sae.SAE.Encode), else every positive one. The caller applies ReLU and
// thresholds.
func activeLatents(s *sae.SAE, pre []float32, idx []int) []int {
	if s.Arch != sae.ArchTopK {
		for j, v := range pre {
			if v > 0 {
				idx = append(idx, j)
			}
		}
		return idx
	}
	k := s.K
	// keep the k best in idx, sorted by (value desc, index asc); insertion sort on a small k.
	for j, v := range pre {
		if len(idx) == k && !(v > pre[idx[k-1]]) {
			continue
		}
		pos := len(idx)
		if pos < k {
			idx = append(idx, j)
		} else {
			pos = k - 1
		}
		for pos > 0 && v > pre[idx[pos-1]] {
			idx[pos] = idx[pos-1]
			pos--
		}
		idx[pos] = j
	}
	return idx
}
