package model

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
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
	"gemma2":      newGemma,
	"gemma3_text": newGemma,
	"gpt2":        newGPT2,
	"phi3":        newPhi3,
}

// loader reads tensors from a checkpoint as float32, checking shapes.
type loader struct {
	cfg   *weights.Config
	ckpt  *weights.Checkpoint
	names []string
	data  []*tensors.Tensor
	index map[string]int
	errs  []error
}

// get loads a required tensor; shape, if given, must match (-1 = any size).
func (l *loader) get(name string, shape ...int) {
	if _, ok := l.index[name]; ok {
		return
	}
	data, dims, err := l.ckpt.Float32(name)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	if len(shape) > 0 {
		ok := len(shape) == len(dims)
		for i := 0; ok && i < len(shape); i++ {
			ok = shape[i] < 0 || shape[i] == dims[i]
		}
		if !ok {
			l.errs = append(l.errs, fmt.Errorf("%s: tensor %q has shape %v, expected %v", l.ckpt.Dir, name, dims, shape))
			return
		}
	}
	if len(dims) == 0 {
		dims = nil
	}
	l.index[name] = len(l.names)
	l.names = append(l.names, name)
	l.data = append(l.data, tensors.FromFlatDataAndDimensions(data, dims...))
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

// lmHead loads the output projection: the embedding when tied, else lm_head.weight (required), and returns its name.
func (l *loader) lmHead(embedName string, headCandidates ...string) string {
	if l.cfg.TieWordEmbeddings {
		return embedName
	}
	for _, n := range headCandidates {
		if l.ckpt.Has(n) {
			l.get(n, l.cfg.VocabSize, l.cfg.HiddenSize)
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
	l := &loader{cfg: cfg, ckpt: ckpt, index: map[string]int{}}
	fmt.Fprintf(o.progress, "loading %s (%s, %d layers, d_model %d)\n", o.name, cfg.ModelType, cfg.NumLayers, cfg.HiddenSize)
	if err := catch(func() { fam.load(l) }); err != nil {
		return nil, err
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	for _, r := range fam.ropes() {
		if r.cfg.Type == "longrope" && (len(r.cfg.ShortFactor) != r.dim/2 || len(r.cfg.LongFactor) != r.dim/2) {
			return nil, fmt.Errorf("%s: longrope short_factor/long_factor must have %d entries (rotary dim / 2), got %d/%d",
				cfg.Source, r.dim/2, len(r.cfg.ShortFactor), len(r.cfg.LongFactor))
		}
	}
	backend := o.backend
	if backend == nil {
		var err error
		if backend, err = NewBackend(o.backendConfig); err != nil {
			return nil, err
		}
	}
	m := &Model{
		Config:   cfg,
		Name:     o.name,
		backend:  backend,
		fam:      fam,
		wNames:   l.names,
		wTensors: l.data,
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
