package model

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// SelectFunc picks the next token of a row from its logits (length vocab); the sampler plugs in here.
type SelectFunc func(row int, logits []float32) int

// GenerateOptions configures Generate.
type GenerateOptions struct {
	// MaxNewTokens is the most tokens generated per row (required, > 0).
	MaxNewTokens int
	// EOS lists the ids that end a row; nil means the model config's eos_token_id.
	EOS []int
	// IgnoreEOS disables stopping on EOS ids.
	IgnoreEOS bool
	// Select picks each next token; nil is greedy decoding (argmax, first maximum on ties).
	Select SelectFunc
	// OnToken is called with each new token of each row, in generation order (streaming). Returning
	// false stops that row (e.g. the caller decoded the text so far and found a stop string).
	OnToken func(row, id int) bool
	// Interventions apply on the prompt and on every generated token.
	Interventions []Intervention
}

// Stop reasons reported in Generation.StopReasons.
const (
	StopEOS       = "eos"
	StopMaxTokens = "max_tokens"
	StopCallback  = "callback"
	StopContext   = "context"
)

// Generation is the result of Generate.
type Generation struct {
	IDs         [][]int  // per row: prompt followed by the new tokens (including a final EOS)
	NewTokens   [][]int  // per row: the new tokens only
	StopReasons []string // per row: StopEOS, StopMaxTokens, StopCallback or StopContext
}

// bucketLen rounds a prompt length up so that prefill graphs are compiled for few lengths.
func bucketLen(n int) int {
	if n <= 256 {
		b := 16
		for b < n {
			b *= 2
		}
		return b
	}
	return (n + 255) / 256 * 256
}

// Generate continues each prompt (rows may differ in length: they are left-padded, with per-row
// positions and masks, so a batched row gives the same tokens as the row alone). It uses a fixed-capacity
// KV cache: the prompt runs through a prefill graph compiled per bucketed length, then every token runs
// through one compiled decode-step graph whose position and cache are tensor inputs (no recompilation per token).
func (m *Model) Generate(prompts [][]int, o GenerateOptions) (*Generation, error) {
	B := len(prompts)
	if B == 0 {
		return nil, fmt.Errorf("generate: no prompts")
	}
	if o.MaxNewTokens <= 0 {
		return nil, fmt.Errorf("generate: MaxNewTokens must be positive, got %d", o.MaxNewTokens)
	}
	maxLen := 0
	for r, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("generate: prompt %d is empty", r)
		}
		maxLen = max(maxLen, len(p))
	}
	if err := m.checkIDs(prompts); err != nil {
		return nil, err
	}
	ctx := m.maxContext()
	if ctx > 0 && maxLen > ctx {
		return nil, fmt.Errorf("prompt of %d tokens is longer than the model's context (%d positions)", maxLen, ctx)
	}
	if _, err := m.checkInterventions(o.Interventions); err != nil {
		return nil, err
	}
	eos := o.EOS
	if eos == nil {
		eos = m.Config.EOSTokenIDs
	}
	if o.IgnoreEOS {
		eos = nil
	}
	steps := o.MaxNewTokens
	if ctx > 0 {
		steps = min(steps, ctx-1) // no row can generate past the context anyway
	}
	cfg := m.Config
	spec := &graphSpec{cached: true, captures: []string{"logits"}, lastOnly: true, stopLayer: cfg.NumLayers}
	spec.interventions = append(spec.interventions, o.Interventions...)
	e, err := m.exec(spec)
	if err != nil {
		return nil, err
	}
	ivArgs, err := interventionArgs(spec.interventions)
	if err != nil {
		return nil, err
	}
	d := &decoder{m: m, e: e, B: B, fixed: append(ivArgs, m.weightArgs()...)}
	defer d.free()
	logits, err := d.prefill(prompts, steps)
	if err != nil {
		return nil, err
	}
	resetAt := 0 // Phi-3 recomputes the cache when a sequence first passes original_max_position_embeddings
	if r, ok := m.fam.(cacheResetter); ok {
		resetAt = r.cacheResetPosition()
	}
	V := cfg.VocabSize
	res := &Generation{IDs: make([][]int, B), NewTokens: make([][]int, B), StopReasons: make([]string, B)}
	for b, p := range prompts {
		res.IDs[b] = slices.Clone(p)
	}
	done := make([]bool, B)
	for {
		next := make([]int, B)
		alive, reset := 0, false
		for b := range B {
			if done[b] {
				continue
			}
			row := logits[b*V : (b+1)*V]
			var id int
			if o.Select != nil {
				id = o.Select(b, row)
				if id < 0 || id >= V {
					return nil, fmt.Errorf("generate: token selector returned %d, outside the vocabulary (%d)", id, V)
				}
			} else {
				id = argmax(row)
			}
			res.IDs[b] = append(res.IDs[b], id)
			res.NewTokens[b] = append(res.NewTokens[b], id)
			switch {
			case o.OnToken != nil && !o.OnToken(b, id):
				done[b], res.StopReasons[b] = true, StopCallback
			case slices.Contains(eos, id):
				done[b], res.StopReasons[b] = true, StopEOS
			case len(res.NewTokens[b]) >= o.MaxNewTokens:
				done[b], res.StopReasons[b] = true, StopMaxTokens
			case ctx > 0 && len(res.IDs[b]) >= ctx:
				done[b], res.StopReasons[b] = true, StopContext
			}
			next[b] = id
			if !done[b] {
				alive++
				reset = reset || (resetAt > 0 && d.nextPos[b] == resetAt)
			}
		}
		if alive == 0 {
			break
		}
		if reset {
			// Re-run the whole sequences (the new token included) with fresh caches.
			left := 0
			for b := range B {
				if !done[b] {
					left = max(left, o.MaxNewTokens-len(res.NewTokens[b]))
				}
			}
			logits, err = d.prefill(res.IDs, left)
		} else {
			logits, err = d.step(next, done)
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// cacheResetter is implemented by families whose generation recomputes the KV cache once, when a
// sequence reaches a position (Phi-3 with longrope: transformers' prepare_inputs_for_generation).
type cacheResetter interface {
	cacheResetPosition() int // 0 = never
}

// decoder holds the KV-cache state of one Generate call.
type decoder struct {
	m        *Model
	e        *Exec
	B        int
	fixed    []any // intervention params and weights
	caches   []*tensors.Tensor
	capacity int
	slot     int // next cache slot to write
	keyPos   []int32
	keyValid []bool
	nextPos  []int // per row: position of the next token
}

func (d *decoder) free() {
	for _, t := range d.caches {
		if t != nil {
			t.FinalizeAll()
		}
	}
	d.caches = nil
}

// prefill (re)starts the cache with seqs, left-padded to a bucketed length, with room for more tokens;
// it returns the logits [B,V] of each row's last token.
func (d *decoder) prefill(seqs [][]int, more int) ([]float32, error) {
	d.free()
	cfg := d.m.Config
	maxLen := 0
	for _, s := range seqs {
		maxLen = max(maxLen, len(s))
	}
	B, Tb := d.B, bucketLen(maxLen)
	d.capacity = (Tb + more + 63) / 64 * 64
	d.caches = make([]*tensors.Tensor, 2*cfg.NumLayers)
	for i := range d.caches {
		d.caches[i] = tensors.FromShape(shapes.Make(dtypes.Float32, B*cfg.NumKVHeads, d.capacity, cfg.HeadDim))
	}
	d.keyPos = make([]int32, B*d.capacity)
	d.keyValid = make([]bool, B*d.capacity)
	d.nextPos = make([]int, B)
	ids := make([]int32, B*Tb)
	pos := make([]int32, B*Tb)
	maxPos := make([]int, B)
	for b, p := range seqs {
		pad := Tb - len(p)
		for j, id := range p {
			s := pad + j
			ids[b*Tb+s] = int32(id)
			pos[b*Tb+s] = int32(j)
			d.keyPos[b*d.capacity+s] = int32(j)
			d.keyValid[b*d.capacity+s] = true
		}
		d.nextPos[b] = len(p)
		maxPos[b] = len(p) - 1
	}
	d.slot = Tb
	return d.run(ids, pos, Tb, 0, maxPos)
}

// step feeds one token per row (rows marked done are fed but masked out as keys).
func (d *decoder) step(next []int, done []bool) ([]float32, error) {
	if d.slot >= d.capacity {
		return nil, fmt.Errorf("generate: internal error: KV cache full")
	}
	B := d.B
	ids := make([]int32, B)
	pos := make([]int32, B)
	maxPos := make([]int, B)
	for b := range B {
		ids[b], pos[b], maxPos[b] = int32(next[b]), int32(d.nextPos[b]), d.nextPos[b]
		if !done[b] {
			d.keyPos[b*d.capacity+d.slot] = int32(d.nextPos[b])
			d.keyValid[b*d.capacity+d.slot] = true
			d.nextPos[b]++
		}
	}
	offset := d.slot
	d.slot++
	return d.run(ids, pos, 1, offset, maxPos)
}

func (d *decoder) run(ids, pos []int32, T, offset int, maxPos []int) ([]float32, error) {
	B, m := d.B, d.m
	args := []any{
		tensors.FromFlatDataAndDimensions(ids, B, T),
		tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(slices.Clone(d.keyPos), B, d.capacity),
		tensors.FromFlatDataAndDimensions(slices.Clone(d.keyValid), B, d.capacity),
		tensors.FromScalar(int32(offset)),
	}
	args = append(args, m.ropeArgs(maxPos)...)
	for i, t := range d.caches {
		don, err := DonateTensorBuffer(t, m.backend, 0)
		if err != nil {
			return nil, err
		}
		args = append(args, don)
		d.caches[i] = nil
	}
	args = append(args, d.fixed...)
	outs, err := d.e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	copy(d.caches, outs[1:])
	logits, err := tensors.CopyFlatData[float32](outs[0])
	outs[0].FinalizeAll()
	return logits, err
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}
