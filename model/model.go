// Package model runs Hugging Face causal language models (Llama, Mistral, Qwen2/3, Gemma 1/2/3,
// Phi-1/1.5/2, Phi-3, GPT-2) as GoMLX graphs, with TransformerLens-style hook points for capturing and
// intervening on activations, and KV-cached generation.
//
// Hook points (shapes as [B,T,D] = batch, positions, d_model):
//
//	resid_pre.L   [B,T,D]  residual stream entering layer L
//	attn_out.L    [B,T,D]  what the attention block adds to the residual stream (after any post-norm)
//	mlp_out.L     [B,T,D]  what the MLP block adds to the residual stream (after any post-norm; in Phi-1/2's
//	                       parallel blocks the MLP reads resid_pre.L, not resid_pre.L + attn_out.L)
//	resid_post.L  [B,T,D]  residual stream leaving layer L (= HF decoder layer output)
//	logits        [B,T,V]  output logits (after final soft-capping, if any)
//
// Interventions at a site run first, in the order given; a capture at the same site sees the modified value.
// From(site, stream) starts a pass at a hook point from a residual stream instead of the embeddings
// (only the later layers run).
//
//	m, err := model.Load(dir)                       // or model.LoadFS(assets.TinyLM(), ".")
//	out, err := m.Forward(ids, model.Capture("resid_post.3", "logits"),
//	    model.Intervene(model.AddVector("resid_post.2", vec, 4)))
//	act := out.Get("resid_post.3") // act.Shape = [B,T,D], act.Data float32
package model

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/steer-dev/steer/weights"
)

// Model is a loaded causal LM. It is safe for concurrent use.
type Model struct {
	Config *weights.Config
	Name   string

	backend  compute.Backend
	fam      family
	wNames   []string
	wTensors []*tensors.Tensor
	wBlocks  map[string][]string // weights stored as column blocks: name -> block names
	progress io.Writer

	mu       sync.Mutex
	execs    map[string]*execEntry
	compiles atomic.Int64
}

type execEntry struct {
	exec *Exec
}

// Backend returns the compute backend the model runs on.
func (m *Model) Backend() compute.Backend { return m.backend }

// NumLayers, DModel, VocabSize describe the model.
func (m *Model) NumLayers() int { return m.Config.NumLayers }
func (m *Model) DModel() int    { return m.Config.HiddenSize }
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// Compilations returns how many graphs the model has compiled so far (each new structure or input shape).
func (m *Model) Compilations() int64 { return m.compiles.Load() }

// Sites lists every hook point of the model.
func (m *Model) Sites() []string {
	var out []string
	for l := range m.Config.NumLayers {
		for _, k := range []string{"resid_pre", "attn_out", "mlp_out", "resid_post"} {
			out = append(out, k+"."+strconv.Itoa(l))
		}
	}
	return append(out, "logits")
}

// parseSite returns the layer of a site (-1 for logits), or an error.
func (m *Model) parseSite(site string) (int, error) {
	if site == "logits" {
		return -1, nil
	}
	kind, num, ok := strings.Cut(site, ".")
	l, err := strconv.Atoi(num)
	switch {
	case !ok || err != nil || !slices.Contains([]string{"resid_pre", "attn_out", "mlp_out", "resid_post"}, kind):
		return 0, fmt.Errorf("unknown hook point %q (expected resid_pre.L, attn_out.L, mlp_out.L, resid_post.L or logits)", site)
	case l < 0 || l >= m.Config.NumLayers:
		return 0, fmt.Errorf("hook point %q: layer %d out of range (the model has %d layers)", site, l, m.Config.NumLayers)
	}
	return l, nil
}

// hookIndex orders the hook points along the forward pass: resid_pre.L, attn_out.L, mlp_out.L,
// resid_post.L are 4L..4L+3, logits is 4·NumLayers.
func (m *Model) hookIndex(site string) (int, error) {
	l, err := m.parseSite(site)
	if err != nil {
		return 0, err
	}
	if l < 0 {
		return 4 * m.Config.NumLayers, nil
	}
	kind, _, _ := strings.Cut(site, ".")
	return 4*l + slices.Index([]string{"resid_pre", "attn_out", "mlp_out", "resid_post"}, kind), nil
}

// Param is a parameter tensor of an intervention, fed to the compiled graph at every call (so changing
// its values never recompiles). Exactly one of F32 or I32 holds the data, row-major in Shape.
type Param struct {
	Shape []int
	F32   []float32
	I32   []int32
}

func (p Param) tensor() (*tensors.Tensor, error) {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	switch {
	case p.F32 != nil && len(p.F32) == n:
		return tensors.FromFlatDataAndDimensions(slices.Clone(p.F32), p.Shape...), nil
	case p.I32 != nil && len(p.I32) == n:
		return tensors.FromFlatDataAndDimensions(slices.Clone(p.I32), p.Shape...), nil
	}
	return nil, fmt.Errorf("intervention parameter: shape %v needs %d values (got %d float32, %d int32)", p.Shape, n, len(p.F32), len(p.I32))
}

func (p Param) shapeKey() string {
	t := "f32"
	if p.I32 != nil {
		t = "i32"
	}
	return fmt.Sprint(t, p.Shape)
}

// Intervention modifies the activation at a hook point inside the graph.
//
// Apply receives the activation node (e.g. [B,T,D]) and one node per Param (same order, same shapes)
// and returns the replacement, of the same shape; except at logits, the last hook point, where it may
// return another shape (e.g. per-position statistics of the logits, so that only those leave the
// device): later interventions at logits and the capture then see that shape. Params are graph
// inputs, so their values (a steering strength, an SAE's weights, a clamp value) can change between
// calls without recompiling; Key must identify the graph Apply builds (not the parameter values):
// interventions with equal Key and equal parameter shapes share a compiled graph.
type Intervention interface {
	Site() string
	Key() string
	Params() []Param
	Apply(x *Node, params []*Node) *Node
}

// AddVector returns the steering intervention x + strength·vec at every position of site; vec has d_model entries.
func AddVector(site string, vec []float32, strength float32) Intervention {
	return &addVector{site: site, vec: vec, strength: strength}
}

type addVector struct {
	site     string
	vec      []float32
	strength float32
}

func (a *addVector) Site() string { return a.site }
func (a *addVector) Key() string  { return "add_vector" }
func (a *addVector) Params() []Param {
	return []Param{{Shape: []int{len(a.vec)}, F32: a.vec}, {Shape: nil, F32: []float32{a.strength}}}
}
func (a *addVector) Apply(x *Node, p []*Node) *Node {
	return Add(x, ExpandLeftToRank(Mul(p[0], p[1]), x.Rank()))
}

// ForwardOption configures Forward.
type ForwardOption func(*forwardOptions)

type forwardOptions struct {
	capture       []string
	interventions []Intervention
	from          string
	stream        []float32
}

// Capture requests activations at hook points (see the package doc). Without Capture, Forward returns logits.
func Capture(sites ...string) ForwardOption {
	return func(o *forwardOptions) { o.capture = append(o.capture, sites...) }
}

// Intervene applies interventions during the forward pass.
func Intervene(iv ...Intervention) ForwardOption {
	return func(o *forwardOptions) { o.interventions = append(o.interventions, iv...) }
}

// From starts the forward pass at a hook point instead of at the token embeddings: stream ([B,T,D],
// row-major, B and T those of the ids) is the residual stream right after the hook point site took
// effect: for resid_pre.L the stream entering layer L, for attn_out.L the stream after the attention
// block's output was added, for mlp_out.L after the MLP block's output was added (the resid_post.L
// hook still runs), for resid_post.L the stream leaving layer L. Only the later hook points run, so
// captures and interventions must be at later ones; the ids give only the shape (positions 0..T-1).
// With the stream of a clean pass (its captures), the outputs are those of the whole pass; with an
// edited one, those of the pass with the edit made at site (each layer is computed once, in two calls).
func From(site string, stream []float32) ForwardOption {
	return func(o *forwardOptions) { o.from, o.stream = site, stream }
}

// Activation is a captured tensor: float32 data, row-major in Shape.
type Activation struct {
	Shape []int
	Data  []float32
}

// Output holds the captured activations of a Forward call, by site.
type Output struct {
	Acts map[string]*Activation
}

// Get returns the activation captured at site, or nil.
func (o *Output) Get(site string) *Activation { return o.Acts[site] }

// Logits returns the captured logits [B,T,V], or nil.
func (o *Output) Logits() *Activation { return o.Acts["logits"] }

// gctx is the state of one graph being built.
type gctx struct {
	g            *Graph
	cfg          *weights.Config
	weights      map[string]*Node
	blocks       map[string][]string // column blocks of weights (Model.wBlocks)
	positions    *Node               // [B,T] int32
	keyPositions *Node               // [B,S] int32
	keyValid     *Node               // [B,S] bool
	masks        map[int]*Node
	ropeInvFreq  []*Node
	ropeScale    []*Node
	ropeCache    map[int][2]*Node

	// KV cache (nil without): inputs [B*K,Cap,Dh] per layer, updated outputs, write offset.
	cacheK, cacheV []*Node
	newK, newV     []*Node
	offset         *Node
}

// w returns a weight node by checkpoint name.
func (c *gctx) w(name string) *Node {
	n, ok := c.weights[name]
	if !ok {
		panic(errorf("internal error: weight %q was not loaded", name))
	}
	return n
}

// wOpt returns a weight node, or nil when it was not loaded (optional biases).
func (c *gctx) wOpt(name string) *Node { return c.weights[name] }

// graphSpec is the structure of a compiled graph (the exec cache key, with the input shapes).
type graphSpec struct {
	cached        bool
	start         int      // the hook points with hookIndex ≥ start run; > 0: from a residual-stream input (From)
	captures      []string // sorted, unique; may include "logits"
	lastOnly      bool     // logits only at the last position (generation)
	stopLayer     int      // run layers [0, stopLayer)
	interventions []Intervention
}

func (s *graphSpec) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cached=%v last=%v start=%d stop=%d cap=%v", s.cached, s.lastOnly, s.start, s.stopLayer, s.captures)
	for _, iv := range s.interventions {
		fmt.Fprintf(&b, " iv[%s@%s", iv.Key(), iv.Site())
		for _, p := range iv.Params() {
			b.WriteString(" " + p.shapeKey())
		}
		b.WriteString("]")
	}
	return b.String()
}

// buildGraph is the graph function for spec. Inputs:
//
//	ids [B,T] i32, positions [B,T] i32, keyPositions [B,S] i32, keyValid [B,S] bool,
//	(cached: offset scalar i32), per rope: invFreq [B,rot/2], scale scalar,
//	(cached: K0, V0, K1, V1, ... [B*K,Cap,Dh]), (from: the residual stream [B,T,D]),
//	intervention params..., weights...
//
// Outputs: captures in spec order, then (cached) the updated K/V caches.
func (m *Model) buildGraph(spec *graphSpec, g *Graph, in []*Node) []*Node {
	m.compiles.Add(1)
	cfg := m.Config
	c := &gctx{g: g, cfg: cfg, weights: map[string]*Node{}, blocks: m.wBlocks, masks: map[int]*Node{}, ropeCache: map[int][2]*Node{}}
	i := 0
	next := func() *Node { n := in[i]; i++; return n }
	ids := next()
	c.positions, c.keyPositions, c.keyValid = next(), next(), next()
	if spec.cached {
		c.offset = next()
	}
	for range m.fam.ropes() {
		c.ropeInvFreq = append(c.ropeInvFreq, next())
		c.ropeScale = append(c.ropeScale, next())
	}
	if spec.cached {
		L := cfg.NumLayers
		c.cacheK, c.cacheV = make([]*Node, L), make([]*Node, L)
		c.newK, c.newV = make([]*Node, L), make([]*Node, L)
		for l := range L {
			c.cacheK[l], c.cacheV[l] = next(), next()
		}
	}
	var stream *Node
	if spec.start > 0 {
		stream = next()
	}
	ivParams := make([][]*Node, len(spec.interventions))
	for j, iv := range spec.interventions {
		for range iv.Params() {
			ivParams[j] = append(ivParams[j], next())
		}
	}
	for _, name := range m.wNames {
		c.weights[name] = next()
	}

	captured := map[string]*Node{}
	want := map[string]bool{}
	for _, s := range spec.captures {
		want[s] = true
	}
	hook := func(site string, x *Node) *Node {
		for j, iv := range spec.interventions {
			if iv.Site() == site {
				y := iv.Apply(x, ivParams[j])
				if site != "logits" && !y.Shape().Equal(x.Shape()) {
					panic(errorf("intervention %s at %s returned shape %s, expected %s", iv.Key(), site, y.Shape(), x.Shape()))
				}
				x = y
			}
		}
		if want[site] {
			captured[site] = x
		}
		return x
	}

	// Hook point h (hookIndex) and what it reads run when h ≥ start: all of them from the embeddings
	// (start 0), from a From stream only those after its site.
	start := spec.start
	parallel := isParallel(m.fam)
	x := stream
	if start == 0 {
		x = m.fam.embed(c, ids)
	}
	for l := range spec.stopLayer {
		ls, h := strconv.Itoa(l), 4*l
		if h+3 < start {
			continue
		}
		if h >= start {
			x = hook("resid_pre."+ls, x)
		}
		layerIn := x
		if h+1 >= start {
			a := hook("attn_out."+ls, m.fam.attn(c, l, x))
			x = Add(x, a)
		}
		if h+2 >= start {
			mlpIn := x
			if parallel {
				mlpIn = layerIn // (Forward refuses From attn_out.L for these)
			}
			f := hook("mlp_out."+ls, m.fam.mlp(c, l, mlpIn))
			x = Add(x, f)
		}
		x = hook("resid_post."+ls, x)
	}
	if want["logits"] {
		if spec.lastOnly {
			T := x.Shape().Dimensions[1]
			x = SliceAxis(x, 1, AxisRange(T-1, T))
		}
		hook("logits", m.fam.unembed(c, x))
	}
	var out []*Node
	for _, s := range spec.captures {
		out = append(out, captured[s])
	}
	if spec.cached {
		for l := range cfg.NumLayers {
			k, v := c.newK[l], c.newV[l]
			if k == nil { // layer not run (cannot happen for generation, which runs all layers)
				k, v = c.cacheK[l], c.cacheV[l]
			}
			out = append(out, k, v)
		}
	}
	return out
}

// exec returns the compiled-graph executor for spec (Exec itself caches one compilation per input shapes).
func (m *Model) exec(spec *graphSpec) (*Exec, error) {
	key := spec.key()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.execs[key]; ok {
		return e.exec, nil
	}
	s := *spec
	s.captures = slices.Clone(spec.captures)
	s.interventions = slices.Clone(spec.interventions)
	e, err := NewExec(m.backend, func(g *Graph, in []*Node) []*Node { return m.buildGraph(&s, g, in) })
	if err != nil {
		return nil, err
	}
	e.SetMaxCache(256)
	m.execs[key] = &execEntry{exec: e}
	return e, nil
}

// checkIDs validates token ids against the vocabulary.
func (m *Model) checkIDs(ids [][]int) error {
	for r, row := range ids {
		for j, id := range row {
			if id < 0 || id >= m.Config.VocabSize {
				return fmt.Errorf("token id %d (row %d, position %d) is out of range: the vocabulary has %d tokens", id, r, j, m.Config.VocabSize)
			}
		}
	}
	return nil
}

// maxContext is the longest sequence the model accepts (0 = no limit): max_position_embeddings,
// except with "dynamic" rope scaling, whose point is to run past it (transformers raises the base
// with the length; see ropeSpec.invFreq).
func (m *Model) maxContext() int {
	if m.Config.Rope.Type == "dynamic" {
		return 0
	}
	return m.Config.MaxPositions
}

// ropeArgs returns the rope inputs (invFreq [B,rot/2] and scale, per rope) for a call where row b's
// largest position is maxPos[b]: the "dynamic" and "longrope" variants pick frequencies per row, as
// transformers does for each sequence on its own.
func (m *Model) ropeArgs(maxPos []int) []any {
	var out []any
	for _, r := range m.fam.ropes() {
		var all []float32
		var scale float32
		for _, p := range maxPos {
			inv, s := r.invFreq(p + 1)
			all = append(all, inv...)
			scale = s
		}
		out = append(out, tensors.FromFlatDataAndDimensions(all, len(maxPos), r.half()), tensors.FromScalar(scale))
	}
	return out
}

func interventionArgs(ivs []Intervention) ([]any, error) {
	var out []any
	for _, iv := range ivs {
		for _, p := range iv.Params() {
			t, err := p.tensor()
			if err != nil {
				return nil, fmt.Errorf("intervention %s at %s: %w", iv.Key(), iv.Site(), err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *Model) weightArgs() []any {
	out := make([]any, len(m.wTensors))
	for i, t := range m.wTensors {
		out[i] = t
	}
	return out
}

// checkInterventions validates sites and returns the deepest layer an intervention touches (-1 none).
func (m *Model) checkInterventions(ivs []Intervention) (int, error) {
	deepest := -1
	for _, iv := range ivs {
		if iv == nil {
			return 0, fmt.Errorf("nil intervention")
		}
		l, err := m.parseSite(iv.Site())
		if err != nil {
			return 0, fmt.Errorf("intervention %s: %w", iv.Key(), err)
		}
		if l < 0 {
			l = m.Config.NumLayers
		}
		deepest = max(deepest, l)
	}
	return deepest, nil
}

// Forward runs the model on ids (rows of equal length, positions 0..T-1) and returns the captured
// activations (logits when no Capture is given). When only sites up to layer L are captured, the graph
// stops after layer L.
func (m *Model) Forward(ids [][]int, opts ...ForwardOption) (*Output, error) {
	o := &forwardOptions{}
	for _, f := range opts {
		f(o)
	}
	if len(o.capture) == 0 {
		o.capture = []string{"logits"}
	}
	B := len(ids)
	if B == 0 || len(ids[0]) == 0 {
		return nil, fmt.Errorf("forward: no tokens")
	}
	T := len(ids[0])
	for r, row := range ids {
		if len(row) != T {
			return nil, fmt.Errorf("forward: all rows must have the same length (row 0 has %d tokens, row %d has %d)", T, r, len(row))
		}
	}
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	if mc := m.maxContext(); mc > 0 && T > mc {
		return nil, fmt.Errorf("input of %d tokens is longer than the model's context (%d positions)", T, mc)
	}
	spec := &graphSpec{}
	if o.from != "" {
		h, err := m.hookIndex(o.from)
		if err != nil {
			return nil, fmt.Errorf("forward from: %w", err)
		}
		if o.from == "logits" {
			return nil, fmt.Errorf("forward from: logits is not a residual-stream hook point")
		}
		if strings.HasPrefix(o.from, "attn_out.") && isParallel(m.fam) {
			return nil, fmt.Errorf("forward from %s: %s runs attention and MLP in parallel on the layer's input, "+
				"which a stream after attn_out does not give; start from resid_pre or resid_post", o.from, m.Config.ModelType)
		}
		if n := B * T * m.DModel(); len(o.stream) != n {
			return nil, fmt.Errorf("forward from %s: the stream has %d values, want %d ([%d,%d,%d])", o.from, len(o.stream), n, B, T, m.DModel())
		}
		spec.start = h + 1
		for _, s := range o.capture {
			if hc, err := m.hookIndex(s); err == nil && hc <= h {
				return nil, fmt.Errorf("forward from %s: cannot capture %s, which comes before", o.from, s)
			}
		}
		for _, iv := range o.interventions {
			if iv == nil {
				continue // reported by checkInterventions
			}
			if hi, err := m.hookIndex(iv.Site()); err == nil && hi <= h {
				return nil, fmt.Errorf("forward from %s: intervention %s at %s comes before", o.from, iv.Key(), iv.Site())
			}
		}
	}
	stop := 0
	seen := map[string]bool{}
	for _, s := range o.capture {
		l, err := m.parseSite(s)
		if err != nil {
			return nil, err
		}
		if l < 0 {
			l = m.Config.NumLayers - 1
		}
		stop = max(stop, l+1)
		if !seen[s] {
			seen[s] = true
			spec.captures = append(spec.captures, s)
		}
	}
	sort.Strings(spec.captures)
	deepest, err := m.checkInterventions(o.interventions)
	if err != nil {
		return nil, err
	}
	_ = deepest // interventions beyond the last needed layer have no effect on the captures
	spec.stopLayer = stop
	for _, iv := range o.interventions {
		if l, _ := m.parseSite(iv.Site()); l >= 0 && l < stop || (l < 0 && seen["logits"]) {
			spec.interventions = append(spec.interventions, iv)
		}
	}

	flatIDs := make([]int32, 0, B*T)
	pos := make([]int32, 0, B*T)
	valid := make([]bool, 0, B*T)
	for _, row := range ids {
		for j, id := range row {
			flatIDs = append(flatIDs, int32(id))
			pos = append(pos, int32(j))
			valid = append(valid, true)
		}
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(flatIDs, B, T),
		tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(slices.Clone(pos), B, T),
		tensors.FromFlatDataAndDimensions(valid, B, T),
	}
	maxPos := make([]int, B)
	for b := range maxPos {
		maxPos[b] = T - 1
	}
	args = append(args, m.ropeArgs(maxPos)...)
	if spec.start > 0 {
		args = append(args, tensors.FromFlatDataAndDimensions(slices.Clone(o.stream), B, T, m.DModel()))
	}
	ivArgs, err := interventionArgs(spec.interventions)
	if err != nil {
		return nil, err
	}
	args = append(args, ivArgs...)
	args = append(args, m.weightArgs()...)
	e, err := m.exec(spec)
	if err != nil {
		return nil, err
	}
	outs, err := e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	res := &Output{Acts: map[string]*Activation{}}
	for i, s := range spec.captures {
		a, err := toActivation(outs[i])
		if err != nil {
			return nil, err
		}
		res.Acts[s] = a
	}
	return res, nil
}

func toActivation(t *tensors.Tensor) (*Activation, error) {
	defer t.FinalizeAll()
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	return &Activation{Shape: slices.Clone(t.Shape().Dimensions), Data: data}, nil
}
