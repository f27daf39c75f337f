// Package activations harvests a language model's activations at one hook point from text, for
// training and evaluating sparse autoencoders.
//
// The pipeline (SAELens-like):
//
//  1. Text: documents from a JSONL file (one object per line, the document in a string field, "text" by
//     default) or a plain-text file (documents separated by blank lines), optionally gzip/xz/zstd
//     compressed (see OpenText). The default is the embedded tiny-lm samples (assets.Samples).
//  2. Tokens: every document is encoded without special tokens and followed by the model's EOS token
//     (tiny-lm: <|endoftext|>, id 0) as a document separator, so the documents form one token stream,
//     as the model was trained on. The stream is cut into fixed-length contexts (Config.ContextSize, 128
//     by default); with PrependBOS (the default when the model has a bos_token_id) every context starts
//     with BOS and takes ContextSize-1 stream tokens, as SAELens' prepend_bos does. Contexts may start
//     mid-document and span several documents; a final incomplete context is dropped.
//  3. Activations: contexts run through the model in batches, capturing only the hook point, so the
//     forward pass stops after that layer.
//  4. Special-token positions (BOS, EOS, pad and any token the tokenizer marks special) are dropped.
//  5. Optional normalisation: one scalar s, estimated on the first NormTokens activations so that
//     mean ||s·x||² = 1, multiplies every activation (Gemma Scope / Anthropic style); s is reported
//     by Scale, written to cache manifests and stored by SAEs trained on the activations, so that
//     evaluation and splicing can unscale.
//  6. Shuffling in a seeded buffer (Stream), or per shard and across shards for a cache (Cache, OpenCache).
package activations

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/tokenizer"
)

// Config describes what to harvest.
type Config struct {
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer
	ModelName string // for manifests; default Model.Name
	Site      string // hook point, e.g. "resid_post.3"

	Text      string // text file; "" = the embedded tiny-lm samples
	TextField string // JSONL field holding the document (default "text")
	SkipDocs  int    // skip the first documents of the text (e.g. those used for training, to evaluate on held-out text)

	ContextSize int   // tokens per context, BOS included (default 128)
	BatchSize   int   // contexts per forward pass (default 32)
	PrependBOS  *bool // start every context with BOS (nil = when the model has a bos_token_id)
	Tokens      int64 // stop after this many activations (0 = the whole text)

	Normalize  bool    // scale activations to mean squared norm 1
	NormTokens int     // activations used to estimate the scale (default 32768)
	Scale      float32 // a known scale (a resumed cache, an SAE's stored scale): used as is, no estimation

	Progress io.Writer // progress lines (tokens/s, ETA); nil = none. Never stdout in the CLI.
	Workers  int       // forward passes run concurrently (default 1); results keep text order

	mutate func(a *model.Activation) // tests: alter captured activations (inject NaN)
}

// Position is a place in the token stream of a text: the next token is token Offset of document Doc
// (documents counted from the start of the file, skipped ones included; a document's tokens include
// its separator).
type Position struct {
	Doc    int `json:"doc"`
	Offset int `json:"offset"`
}

// NonFiniteError reports a NaN or infinite activation.
type NonFiniteError struct {
	Site     string
	Value    float32
	Context  int64    // context index in the run (0-based, from the start position)
	Pos      int      // position within the context
	Start    Position // text position of the context's first stream token
	Row      int64    // activation row in the run (0-based)
	Location string   // filled by Cache: "shard-00003.safetensors row 17"
}

func (e *NonFiniteError) Error() string {
	where := fmt.Sprintf("row %d", e.Row)
	if e.Location != "" {
		where = e.Location
	}
	return fmt.Sprintf("%v activation at %s, %s (context %d position %d, text document %d)",
		e.Value, e.Site, where, e.Context, e.Pos, e.Start.Doc)
}

func (c *Config) defaults() error {
	if c.Model == nil {
		return errors.New("activations: no model")
	}
	if c.Tokenizer == nil {
		return errors.New("activations: no tokenizer (the model needs a tokenizer.json)")
	}
	if c.ModelName == "" {
		c.ModelName = c.Model.Name
	}
	if c.Site == "" {
		return errors.New("activations: no hook point")
	}
	if c.Site == "logits" {
		return errors.New("activations: the logits are not a residual-stream hook point; choose resid_post.L, resid_pre.L, attn_out.L or mlp_out.L")
	}
	valid := false
	for _, s := range c.Model.Sites() {
		valid = valid || s == c.Site
	}
	if !valid {
		return fmt.Errorf("activations: model %s has no hook point %q (it has %d layers: resid_pre.L, attn_out.L, mlp_out.L, resid_post.L for L in 0..%d)",
			c.ModelName, c.Site, c.Model.NumLayers(), c.Model.NumLayers()-1)
	}
	if c.ContextSize == 0 {
		c.ContextSize = 128
	}
	if c.BatchSize == 0 {
		c.BatchSize = 32
	}
	if c.NormTokens == 0 {
		c.NormTokens = 32768
	}
	if c.PrependBOS == nil {
		b := len(c.Model.Config.BOSTokenIDs) > 0
		c.PrependBOS = &b
	}
	mc := c.Model.Config.MaxPositions
	switch {
	case c.ContextSize < 2:
		return fmt.Errorf("activations: context size must be at least 2, got %d", c.ContextSize)
	case mc > 0 && c.ContextSize > mc:
		return fmt.Errorf("activations: context size %d exceeds the model's %d positions", c.ContextSize, mc)
	case c.BatchSize < 1:
		return fmt.Errorf("activations: batch size must be positive, got %d", c.BatchSize)
	case c.Tokens < 0:
		return fmt.Errorf("activations: negative token count %d", c.Tokens)
	case *c.PrependBOS && len(c.Model.Config.BOSTokenIDs) == 0:
		return fmt.Errorf("activations: --prepend-bos: model %s has no bos_token_id", c.ModelName)
	}
	return nil
}

// BOS returns the BOS id used for contexts, or -1.
func (c *Config) bos() int {
	if c.PrependBOS != nil && *c.PrependBOS && len(c.Model.Config.BOSTokenIDs) > 0 {
		return c.Model.Config.BOSTokenIDs[0]
	}
	return -1
}

// separator is the token appended to every document: the first EOS, else BOS, else none (-1).
func (c *Config) separator() int {
	if ids := c.Model.Config.EOSTokenIDs; len(ids) > 0 {
		return ids[0]
	}
	if ids := c.Model.Config.BOSTokenIDs; len(ids) > 0 {
		return ids[0]
	}
	return -1
}

// contexter cuts the token stream of a text into contexts.
type contexter struct {
	docs   *DocReader
	tok    *tokenizer.Tokenizer
	T      int
	bos    int
	sep    int
	buf    []int // tokens of document doc (with separator)
	off    int
	doc    int // index of the document in buf; -1 before the first
	tokens int64
}

func newContexter(cfg *Config, start Position) (*contexter, error) {
	docs, err := OpenText(cfg.Text, cfg.TextField)
	if err != nil {
		return nil, err
	}
	c := &contexter{docs: docs, tok: cfg.Tokenizer, T: cfg.ContextSize, bos: cfg.bos(), sep: cfg.separator(), doc: -1}
	skip := max(start.Doc, cfg.SkipDocs)
	for c.doc+1 < skip {
		if _, err := docs.Next(); err != nil {
			docs.Close()
			if err == io.EOF {
				return nil, fmt.Errorf("text %s has only %d documents; cannot start at document %d", docs.Name(), c.doc+1, skip)
			}
			return nil, err
		}
		c.doc++
	}
	if start.Offset > 0 && start.Doc >= cfg.SkipDocs {
		if err := c.load(); err != nil {
			docs.Close()
			if err == io.EOF {
				return nil, fmt.Errorf("text %s ends before the resume position (document %d)", docs.Name(), start.Doc)
			}
			return nil, err
		}
		if start.Offset > len(c.buf) {
			docs.Close()
			return nil, fmt.Errorf("text %s changed: document %d has %d tokens, but the resume position is token %d", docs.Name(), start.Doc, len(c.buf), start.Offset)
		}
		c.off = start.Offset
	}
	return c, nil
}

// load reads and tokenizes the next document.
func (c *contexter) load() error {
	text, err := c.docs.Next()
	if err != nil {
		return err
	}
	c.doc++
	c.buf = c.tok.Encode(text, false)
	if c.sep >= 0 {
		c.buf = append(c.buf, c.sep)
	}
	c.off = 0
	return nil
}

// pos returns the position of the next stream token.
func (c *contexter) pos() Position {
	if c.doc < 0 || c.off >= len(c.buf) {
		return Position{Doc: c.doc + 1}
	}
	return Position{Doc: c.doc, Offset: c.off}
}

// next returns the next context, or io.EOF when the text cannot fill another one.
func (c *contexter) next() ([]int, error) {
	ids := make([]int, 0, c.T)
	if c.bos >= 0 {
		ids = append(ids, c.bos)
	}
	for len(ids) < c.T {
		if c.off >= len(c.buf) {
			if err := c.load(); err != nil {
				return nil, err
			}
			continue
		}
		n := min(c.T-len(ids), len(c.buf)-c.off)
		ids = append(ids, c.buf[c.off:c.off+n]...)
		c.off += n
	}
	c.tokens += int64(c.T)
	return ids, nil
}

func (c *contexter) close() error { return c.docs.Close() }

// batch is one forward pass's kept activations.
type batch struct {
	rows []float32 // [n, d], scaled
	n    int
	end  Position // text position after the batch's contexts
}

// Harvester runs the model over contexts and returns the kept activations batch by batch, in text order.
type Harvester struct {
	cfg      Config
	d        int
	ctxr     *contexter
	special  func(id int) bool
	scale    float32
	queue    []batch
	rows     int64 // rows returned (after the Tokens cap)
	contexts int64
	eof      bool
	prog     *progress
	normRows int // activations the scale was estimated on
	inflight []*job
	cut0     int64 // contexts cut so far
	seen     int64 // rows produced by forward so far (before the Tokens cap)
}

// NewHarvester starts harvesting at text position start (the zero Position = from the beginning).
func NewHarvester(cfg Config, start Position) (*Harvester, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ctxr, err := newContexter(&cfg, start)
	if err != nil {
		return nil, err
	}
	mc := cfg.Model.Config
	h := &Harvester{cfg: cfg, d: cfg.Model.DModel(), ctxr: ctxr, scale: 1}
	h.special = func(id int) bool {
		for _, s := range mc.BOSTokenIDs {
			if id == s {
				return true
			}
		}
		for _, s := range mc.EOSTokenIDs {
			if id == s {
				return true
			}
		}
		return id == mc.PadTokenID || cfg.Tokenizer.IsSpecial(id)
	}
	h.prog = newProgress(cfg.Progress, "activations", cfg.Tokens)
	switch {
	case cfg.Scale != 0:
		h.scale = cfg.Scale
	case cfg.Normalize:
		if err := h.estimateScale(); err != nil {
			ctxr.close()
			return nil, err
		}
	}
	return h, nil
}

// Dim returns d_model.
func (h *Harvester) Dim() int { return h.d }

// Scale returns the factor applied to every activation (1 without normalisation).
func (h *Harvester) Scale() float32 { return h.scale }

// PrependBOS reports whether contexts start with BOS.
func (h *Harvester) PrependBOS() bool { return *h.cfg.PrependBOS }

// Rows returns how many activations NextBatch has returned.
func (h *Harvester) Rows() int64 { return h.rows }

// Close releases the text.
func (h *Harvester) Close() error { return h.ctxr.close() }

// estimateScale runs batches until NormTokens activations are seen and keeps them for NextBatch.
func (h *Harvester) estimateScale() error {
	var sum float64
	var n int64
	for n < int64(h.cfg.NormTokens) {
		b, err := h.forward()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		h.queue = append(h.queue, b)
		for i := 0; i < b.n*h.d; i++ {
			v := float64(b.rows[i])
			sum += v * v
		}
		n += int64(b.n)
	}
	if n == 0 {
		return fmt.Errorf("activations: no activations to estimate the normalisation scale from (text %s is too short for one context of %d tokens)", h.ctxr.docs.Name(), h.cfg.ContextSize)
	}
	ms := sum / float64(n)
	if ms == 0 || math.IsNaN(ms) || math.IsInf(ms, 0) {
		return fmt.Errorf("activations: mean squared norm at %s is %v; cannot normalise", h.cfg.Site, ms)
	}
	h.scale = float32(1 / math.Sqrt(ms))
	h.normRows = int(n)
	return nil
}

// job is one batch of contexts being run by a worker.
type job struct {
	ids    [][]int
	starts []Position
	real   int
	ctx0   int64 // index of the first context
	end    Position
	done   chan struct{}
	b      batch
	err    error
}

// cut takes the next batch of contexts from the text (nil at the end).
func (h *Harvester) cut() (*job, error) {
	if h.eof {
		return nil, nil
	}
	B := h.cfg.BatchSize
	j := &job{done: make(chan struct{}), ctx0: h.cut0}
	for len(j.ids) < B {
		j.starts = append(j.starts, h.ctxr.pos())
		ctx, err := h.ctxr.next()
		if err == io.EOF {
			h.eof = true
			break
		}
		if err != nil {
			return nil, err
		}
		j.ids = append(j.ids, ctx)
	}
	if len(j.ids) == 0 {
		return nil, nil
	}
	j.real = len(j.ids)
	for len(j.ids) < B { // pad the last batch so the graph keeps its shape
		j.ids = append(j.ids, j.ids[0])
	}
	h.cut0 += int64(j.real)
	j.end = h.ctxr.pos()
	return j, nil
}

// run executes a job's forward pass and keeps the non-special rows (unscaled). Row numbers in a
// NonFiniteError are relative to the batch until forward adds the base.
func (h *Harvester) run(j *job) {
	defer close(j.done)
	T, d := h.cfg.ContextSize, h.d
	out, err := h.cfg.Model.Forward(j.ids, model.Capture(h.cfg.Site))
	if err != nil {
		j.err = fmt.Errorf("activations at %s: %w", h.cfg.Site, err)
		return
	}
	act := out.Get(h.cfg.Site)
	if h.cfg.mutate != nil {
		h.cfg.mutate(act)
	}
	rows := make([]float32, 0, j.real*T*d)
	n := 0
	for b := range j.real {
		for t := range T {
			if h.special(j.ids[b][t]) {
				continue
			}
			src := act.Data[(b*T+t)*d : (b*T+t+1)*d]
			for _, v := range src {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					j.err = &NonFiniteError{Site: h.cfg.Site, Value: v, Context: j.ctx0 + int64(b), Pos: t, Start: j.starts[b], Row: int64(n)}
					return
				}
			}
			rows = append(rows, src...)
			n++
		}
	}
	j.b = batch{rows: rows, n: n, end: j.end}
}

// forward returns the next batch in text order (unscaled), keeping up to Workers batches in flight.
func (h *Harvester) forward() (batch, error) {
	workers := max(1, h.cfg.Workers)
	for len(h.inflight) < workers {
		j, err := h.cut()
		if err != nil {
			return batch{}, err
		}
		if j == nil {
			break
		}
		h.inflight = append(h.inflight, j)
		go h.run(j)
	}
	if len(h.inflight) == 0 {
		return batch{}, io.EOF
	}
	j := h.inflight[0]
	h.inflight = h.inflight[1:]
	<-j.done
	if j.err != nil {
		var nf *NonFiniteError
		if errors.As(j.err, &nf) {
			nf.Row += h.seen
		}
		return batch{}, j.err
	}
	h.seen += int64(j.b.n)
	h.contexts += int64(j.real)
	return j.b, nil
}

// NextBatch returns the activations of the next batch of contexts ([n, Dim()] row-major, scaled) and
// the text position after them; io.EOF at the end of the text or after Config.Tokens activations.
func (h *Harvester) NextBatch() (rows []float32, n int, end Position, err error) {
	if h.cfg.Tokens > 0 && h.rows >= h.cfg.Tokens {
		return nil, 0, Position{}, io.EOF
	}
	var b batch
	if len(h.queue) > 0 {
		b, h.queue = h.queue[0], h.queue[1:]
	} else if b, err = h.forward(); err != nil {
		return nil, 0, Position{}, err
	}
	if h.cfg.Tokens > 0 && h.rows+int64(b.n) > h.cfg.Tokens {
		b.n = int(h.cfg.Tokens - h.rows)
		b.rows = b.rows[:b.n*h.d]
	}
	if h.scale != 1 {
		for i := range b.rows {
			b.rows[i] *= h.scale
		}
	}
	h.rows += int64(b.n)
	h.prog.update(h.rows)
	return b.rows, b.n, b.end, nil
}

// progress prints throughput and ETA at most every few seconds.
type progress struct {
	w     io.Writer
	what  string
	total int64
	start time.Time
	last  time.Time
	base  int64
}

func newProgress(w io.Writer, what string, total int64) *progress {
	return &progress{w: w, what: what, total: total, start: time.Now(), last: time.Now()}
}

func (p *progress) update(done int64) {
	if p.w == nil || time.Since(p.last) < 3*time.Second {
		return
	}
	p.last = time.Now()
	p.print(done, false)
}

func (p *progress) print(done int64, final bool) {
	if p.w == nil {
		return
	}
	el := time.Since(p.start).Seconds()
	rate := float64(done-p.base) / max(el, 1e-9)
	line := fmt.Sprintf("%s: %d tokens, %.0f tokens/s", p.what, done, rate)
	if p.total > 0 && !final && rate > 0 {
		eta := time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second)
		line += fmt.Sprintf(", %.1f%%, ETA %s", 100*float64(done)/float64(p.total), eta)
	}
	if final {
		line += fmt.Sprintf(", %.1fs", el)
	}
	fmt.Fprintln(p.w, line)
}
