package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/steer-dev/steer/weights"
)

// Option configures Load / LoadFS.
type Option func(*loadOptions)

type loadOptions struct {
	backend       compute.Backend
	backendConfig string
	progress      io.Writer
	name          string
}

// WithBackend runs the model on an existing backend.
func WithBackend(b compute.Backend) Option { return func(o *loadOptions) { o.backend = b } }

// WithBackendConfig selects the backend by config string ("go", "xla:cuda", ...); see NewBackend.
func WithBackendConfig(config string) Option {
	return func(o *loadOptions) { o.backendConfig = config }
}

// WithProgress sends progress messages (loading, compiling) to w. Library code never prints otherwise.
func WithProgress(w io.Writer) Option { return func(o *loadOptions) { o.progress = w } }

// WithName sets the model's display name (default: the directory).
func WithName(name string) Option { return func(o *loadOptions) { o.name = name } }

// Load reads a Hugging Face model directory (config.json + safetensors weights).
func Load(dir string, opts ...Option) (*Model, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model %q is not a directory", dir)
	}
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ckpt, err := weights.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	o := applyOptions(opts)
	if o.name == "" {
		o.name = filepath.Base(filepath.Clean(dir))
	}
	return build(cfg, ckpt, o)
}

// LoadFS reads a model from dir inside fsys (e.g. LoadFS(assets.TinyLM(), ".")).
func LoadFS(fsys fs.FS, dir string, opts ...Option) (*Model, error) {
	p := path.Join(dir, "config.json")
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("reading model config: %w", err)
	}
	cfg, err := weights.ParseConfig(data, p)
	if err != nil {
		return nil, err
	}
	ckpt, err := weights.OpenCheckpointFS(fsys, dir)
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	o := applyOptions(opts)
	if o.name == "" {
		o.name = dir
	}
	return build(cfg, ckpt, o)
}

func applyOptions(opts []Option) *loadOptions {
	o := &loadOptions{progress: io.Discard}
	for _, f := range opts {
		f(o)
	}
	if o.progress == nil {
		o.progress = io.Discard
	}
	return o
}

// family is one architecture: it names and checks its tensors, and assembles the shared blocks.
// A decoder layer is always resid_post = x + mlp(x + attn(x)), where attn and mlp return what is
// added to the residual stream (after any post-norms).
type family interface {
	// load fetches every tensor the family needs through l (which records errors naming missing tensors).
	load(l *loader)
	// ropes lists the rotary embeddings the layers use (indices for gctx.rope); nil for none.
	ropes() []ropeSpec
	embed(c *gctx, ids *Node) *Node         // [B,T] -> [B,T,D]
	attn(c *gctx, layer int, x *Node) *Node // [B,T,D] -> [B,T,D]
	mlp(c *gctx, layer int, x *Node) *Node  // [B,T,D] -> [B,T,D]
	unembed(c *gctx, x *Node) *Node         // final norm, lm head (and soft-capping): [B,T,D] -> [B,T,V]
}

var families = map[string]func(cfg *weights.Config) family{
	"llama":       newLlama,
	"mistral":     newLlama,
	"qwen2":       newLlama,
	"qwen3":       newLlama,
	"gemma":       newGemma,
	"gemma2":      newGemma,
	"gemma3_text": newGemma,
	"gpt2":        newGPT2,
	"phi3":        newPhi3,
	"phi":         newPhi,
}

// parallelFamily is implemented by families whose attention and MLP both read the layer's input
// (x + attn(x) + mlp(x): Phi-1/1.5/2), instead of the MLP reading x + attn(x).
type parallelFamily interface{ parallelBlocks() bool }

func isParallel(f family) bool {
	p, ok := f.(parallelFamily)
	return ok && p.parallelBlocks()
}

// ParallelBlocks reports whether the model's MLP reads each layer's input alongside the attention
// (x + attn(x) + mlp(x): Phi-1/1.5/2) rather than x + attn(x); From cannot start at attn_out.L then.
func (m *Model) ParallelBlocks() bool { return isParallel(m.fam) }

// loader reads tensors from a checkpoint as float32, checking shapes, and moves each to the backend
// as soon as it is read (so the model holds one copy of its weights, on the backend).
type loader struct {
	cfg     *weights.Config
	ckpt    *weights.Checkpoint
	backend compute.Backend
	names   []string
	data    []*tensors.Tensor
	index   map[string]int
	blocks  map[string][]string // weights stored as column blocks (see columns)
	errs    []error
}

// loaded reports whether a tensor was loaded already (whole or as blocks).
func (l *loader) loaded(name string) bool {
	_, whole := l.index[name]
	_, split := l.blocks[name]
	return whole || split
}

// get loads a required tensor; shape, if given, must match (-1 = any size).
func (l *loader) get(name string, shape ...int) {
	if l.loaded(name) {
		return
	}
	if src, ok := l.source(name, shape); ok {
		l.put(name, src.dims, func(dst []float32) {
			for k := range dst {
				dst[k] = src.at(k)
			}
		})
	}
}

// linear loads an HF nn.Linear weight [out,in] and stores it transposed, [in,out] (see columns).
func (l *loader) linear(name string, out, in int) {
	if l.loaded(name) {
		return
	}
	if src, ok := l.source(name, []int{out, in}); ok {
		l.columns(name, in, out, func(dst []float32, start, w int) {
			for j := range w { // source row start+j is column j of the block
				row := (start + j) * in
				for i := range in {
					dst[i*w+j] = src.at(row + i)
				}
			}
		})
	}
}

// embedding loads an input embedding [V,D] and stores it transposed, [D,V], like a linear weight: when
// the output projection is tied to it, the same tensor is the lm head (the largest matmul of a decode
// step, which is then read as is); gctx.embed gathers its columns.
func (l *loader) embedding(name string, vocab, d int) { l.linear(name, vocab, d) }

// conv1D loads a GPT-2 Conv1D weight, already [in,out] (see columns).
func (l *loader) conv1D(name string, in, out int) {
	if l.loaded(name) {
		return
	}
	if src, ok := l.source(name, []int{in, out}); ok {
		l.columns(name, in, out, func(dst []float32, start, w int) {
			for i := range in {
				for j := range w {
					dst[i*w+j] = src.at(i*out + start + j)
				}
			}
		})
	}
}

// The pure-Go backend multiplies x [M,K] by w [K,N] with a "small" kernel that reads w as is when
// M·N·K < smallMatmulFlops, else with a "large" one that first packs (copies) w, on every call. For
// a decode step (M = batch rows) packing costs more than the product: the weights stream from
// memory once per step anyway, and packing doubles that traffic (GPT-2's 154 MB lm head went through
// it even at M = 1). So linear weights whose decode-step product would be large are stored as column
// blocks of at most blockCols(K) columns, each taking the small kernel for up to decodeRows rows (the
// executor runs the blocks in parallel); gctx.linear concatenates the blocks' outputs, or, for
// prefill's many rows, multiplies by the blocks concatenated back into one weight.
const (
	smallMatmulFlops = 4 << 20 // gobackend/dot/matmul: noSIMDSmallMatMulSizeThreshold
	decodeRows       = 8
)

func blockCols(k int) int {
	return max(16, (smallMatmulFlops-1)/(decodeRows*k)/16*16)
}

// columns stores a weight of shape [in,out] whole, or as column blocks name#0, name#1, ... (see
// blockCols); fill writes columns start..start+w-1 into dst [in,w].
func (l *loader) columns(name string, in, out int, fill func(dst []float32, start, w int)) {
	n := blockCols(in)
	if out <= n {
		l.put(name, []int{in, out}, func(dst []float32) { fill(dst, 0, out) })
		return
	}
	var names []string
	for start := 0; start < out; start += n {
		w := min(n, out-start)
		bn := fmt.Sprintf("%s#%d", name, len(names))
		names = append(names, bn)
		l.put(bn, []int{in, w}, func(dst []float32) { fill(dst, start, w) })
	}
	l.blocks[name] = names
}

// source is a floating-point checkpoint tensor, read in place from the (mapped) file.
type source struct {
	raw  []byte
	dt   weights.DType
	dims []int
}

// at returns element k as float32.
func (s source) at(k int) float32 {
	switch s.dt {
	case weights.BF16:
		return math.Float32frombits(uint32(binary.LittleEndian.Uint16(s.raw[2*k:])) << 16)
	case weights.F16:
		return weights.F16ToFloat32(binary.LittleEndian.Uint16(s.raw[2*k:]))
	case weights.F64:
		return float32(math.Float64frombits(binary.LittleEndian.Uint64(s.raw[8*k:])))
	default: // F32 (checked by loader.source)
		return math.Float32frombits(binary.LittleEndian.Uint32(s.raw[4*k:]))
	}
}

// source returns a tensor's data in place, checking its dtype and shape (-1 = any size); errors are recorded.
func (l *loader) source(name string, shape []int) (source, bool) {
	if !l.ckpt.Has(name) {
		_, _, err := l.ckpt.Float32(name) // the error names the tensor, the checkpoint and near misses
		l.errs = append(l.errs, err)
		return source{}, false
	}
	raw, info, err := l.ckpt.Raw(name)
	if err != nil {
		l.errs = append(l.errs, err)
		return source{}, false
	}
	if !info.DType.IsFloat() {
		l.errs = append(l.errs, fmt.Errorf("%s: tensor %q has dtype %s, want F32, BF16, F16 or F64 (quantised and FP8 checkpoints are not supported)", l.ckpt.Dir, name, info.DType))
		return source{}, false
	}
	dims := info.Shape
	if len(shape) > 0 {
		ok := len(shape) == len(dims)
		for i := 0; ok && i < len(shape); i++ {
			ok = shape[i] < 0 || shape[i] == dims[i]
		}
		if !ok {
			l.errs = append(l.errs, fmt.Errorf("%s: tensor %q has shape %v, expected %v", l.ckpt.Dir, name, dims, shape))
			return source{}, false
		}
	}
	if len(raw) != info.NumElements()*info.DType.Size() {
		l.errs = append(l.errs, fmt.Errorf("%s: tensor %q: %d bytes for shape %v", l.ckpt.Dir, name, len(raw), dims))
		return source{}, false
	}
	return source{raw: raw, dt: info.DType, dims: dims}, true
}

// put creates the backend tensor name of shape dims and fill writes its values in place: the
// checkpoint is converted straight into the backend's buffer (no host copy, no garbage).
func (l *loader) put(name string, dims []int, fill func(dst []float32)) {
	if len(dims) == 0 {
		dims = nil
	}
	t, err := tensors.FromShapeForBackend(l.backend, 0, shapes.Make(dtypes.Float32, dims...))
	if err == nil {
		err = tensors.MutableFlatData(t, fill)
	}
	if err == nil && !t.IsOnDevice(0) {
		err = t.ToDevice(l.backend, 0) // backends without shared buffers: transfer, then free the host copy
	}
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s: tensor %q: creating it on the backend: %w", l.ckpt.Dir, name, err))
		return
	}
	l.index[name] = len(l.names)
	l.names = append(l.names, name)
	l.data = append(l.data, t)
}

// has reports whether the checkpoint has a tensor.
func (l *loader) has(name string) bool { return l.ckpt.Has(name) }

// prefix returns the first of the candidate prefixes under which name exists, or an error naming name.
func (l *loader) prefix(name string, candidates ...string) string {
	for _, p := range candidates {
		if l.ckpt.Has(p + name) {
			return p
		}
	}
	l.errs = append(l.errs, fmt.Errorf("%s: missing tensor %q (looked under prefixes %q)", l.ckpt.Dir,
		candidates[0]+name, candidates))
	return candidates[0]
}

// decoderStem loads what the Llama-style families share around their layers: the token embedding
// (found under the first of prefixes that has it), the output head (the embedding when tied, else the
// first of heads present) and the final norm. It returns the tensor prefix and the head's name.
func (l *loader) decoderStem(prefixes, heads []string) (prefix, head string) {
	prefix = l.prefix("embed_tokens.weight", prefixes...)
	emb := prefix + "embed_tokens.weight"
	l.embedding(emb, l.cfg.VocabSize, l.cfg.HiddenSize)
	head = l.lmHead(emb, heads...)
	l.get(prefix+"norm.weight", l.cfg.HiddenSize)
	return prefix, head
}

// lmHead loads the output projection, [D,V] like every linear weight: the embedding when tied, else
// lm_head.weight (required), and returns its name.
func (l *loader) lmHead(embedName string, headCandidates ...string) string {
	if l.cfg.TieWordEmbeddings {
		return embedName
	}
	for _, n := range headCandidates {
		if l.ckpt.Has(n) {
			l.linear(n, l.cfg.VocabSize, l.cfg.HiddenSize)
			return n
		}
	}
	l.errs = append(l.errs, fmt.Errorf("%s: missing tensor %q (tie_word_embeddings is false, so the checkpoint must have an output projection)",
		l.ckpt.Dir, headCandidates[0]))
	return headCandidates[0]
}

func build(cfg *weights.Config, ckpt *weights.Checkpoint, o *loadOptions) (*Model, error) {
	newFam, ok := families[cfg.ModelType]
	if !ok {
		return nil, fmt.Errorf("%s: unsupported model_type %q", cfg.Source, cfg.ModelType)
	}
	fam := newFam(cfg)
	for _, r := range fam.ropes() {
		if r.cfg.Type == "longrope" && (len(r.cfg.ShortFactor) != r.half() || len(r.cfg.LongFactor) != r.half()) {
			return nil, fmt.Errorf("%s: longrope short_factor/long_factor must have %d entries (rotary dim / 2), got %d/%d",
				cfg.Source, r.half(), len(r.cfg.ShortFactor), len(r.cfg.LongFactor))
		}
	}
	backend := o.backend
	if backend == nil {
		var err error
		if backend, err = NewBackend(o.backendConfig); err != nil {
			return nil, err
		}
	}
	l := &loader{cfg: cfg, ckpt: ckpt, backend: backend, index: map[string]int{}, blocks: map[string][]string{}}
	fmt.Fprintf(o.progress, "loading %s (%s, %d layers, d_model %d)\n", o.name, cfg.ModelType, cfg.NumLayers, cfg.HiddenSize)
	if err := catch(func() { fam.load(l) }); err != nil {
		return nil, err
	}
	if len(l.errs) > 0 {
		for _, t := range l.data {
			t.FinalizeAll()
		}
		return nil, errors.Join(l.errs...)
	}
	m := &Model{
		Config:   cfg,
		Name:     o.name,
		backend:  backend,
		fam:      fam,
		wNames:   l.names,
		wTensors: l.data,
		wBlocks:  l.blocks,
		progress: o.progress,
		execs:    map[string]*execEntry{},
	}
	return m, nil
}

// errorf builds an error that graph-building code panics with; catch turns it back into an error.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	fn()
	return nil
}

// layerName formats a per-layer tensor name.
func layerName(prefix string, i int, suffix string) string {
	return prefix + "layers." + fmt.Sprint(i) + "." + strings.TrimPrefix(suffix, ".")
}

// selfAttn loads the Llama-style attention of one layer (n names its tensors): q/k/v/o projections, with
// biases on q/k/v (qkvBias) and on o (oBias), and q/k RMSNorm weights over a head (qkNorm).
func (l *loader) selfAttn(n func(string) string, c *weights.Config, qkvBias, oBias, qkNorm bool) {
	d, hd, H, K := c.HiddenSize, c.HeadDim, c.NumHeads, c.NumKVHeads
	l.linear(n("self_attn.q_proj.weight"), H*hd, d)
	l.linear(n("self_attn.k_proj.weight"), K*hd, d)
	l.linear(n("self_attn.v_proj.weight"), K*hd, d)
	l.linear(n("self_attn.o_proj.weight"), d, H*hd)
	if qkvBias {
		l.get(n("self_attn.q_proj.bias"), H*hd)
		l.get(n("self_attn.k_proj.bias"), K*hd)
		l.get(n("self_attn.v_proj.bias"), K*hd)
	}
	if oBias {
		l.get(n("self_attn.o_proj.bias"), d)
	}
	if qkNorm {
		l.get(n("self_attn.q_norm.weight"), hd)
		l.get(n("self_attn.k_norm.weight"), hd)
	}
}

// gatedMLP loads the gate/up/down projections of a gated MLP (no biases).
func (l *loader) gatedMLP(n func(string) string, c *weights.Config) {
	d, I := c.HiddenSize, c.IntermediateSize
	l.linear(n("mlp.gate_proj.weight"), I, d)
	l.linear(n("mlp.up_proj.weight"), I, d)
	l.linear(n("mlp.down_proj.weight"), d, I)
}
