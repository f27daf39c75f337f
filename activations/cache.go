package activations

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/steer-dev/steer/assets"
	"github.com/steer-dev/steer/weights"
)

// ManifestName is the cache directory's index file.
const ManifestName = "manifest.json"

// maxDim bounds a manifest's d (the largest models' d_model is in the tens of thousands): a larger one is
// a corrupt manifest, whose rows a reader must not try to allocate.
const maxDim = 1 << 20

// ManifestVersion is the current manifest format.
const ManifestVersion = 1

// Manifest describes a cache directory: shard-NNNNN.safetensors files, each one F32 tensor
// "activations" [rows, d], in text order within the run but shuffled within each shard.
type Manifest struct {
	Version     int     `json:"version"`
	Model       string  `json:"model"`
	Site        string  `json:"site"`
	D           int     `json:"d"`
	ContextSize int     `json:"context_size"`
	PrependBOS  bool    `json:"prepend_bos"`
	Text        string  `json:"text"`
	TextField   string  `json:"text_field"`
	SkipDocs    int     `json:"skip_docs,omitempty"`
	TokensGoal  int64   `json:"tokens_goal"` // 0 = the whole text
	ShardRows   int     `json:"shard_rows"`
	Seed        uint64  `json:"seed"`
	Normalize   bool    `json:"normalize"`
	Scale       float32 `json:"scale"` // multiply raw activations by Scale to get the stored rows (1 = none)
	// Progress: what the shards hold, and where in the text the next shard starts.
	Tokens   int64    `json:"tokens"`
	Contexts int64    `json:"contexts"`
	Position Position `json:"position"`
	Complete bool     `json:"complete"`
	Shards   []Shard  `json:"shards"`
}

// Shard is one cache file.
type Shard struct {
	File   string `json:"file"`
	Rows   int    `json:"rows"`
	SHA256 string `json:"sha256"`
}

// CacheOptions configures Cache.
type CacheOptions struct {
	ShardRows int    // rows per shard, at least (shards end at batch boundaries); default 65536
	Seed      uint64 // shuffle within shards

	// writeFile writes a shard (tests inject failures); default weights.WriteFile.
	writeFile func(path string, t []weights.WriteTensor, meta map[string]string) error
	// afterShard is called after each shard's manifest is written (tests cancel here).
	afterShard func(k int)
}

// TextID names a text source as manifests and SAE metadata record it: assets.SamplesName for "" (the
// embedded samples), else the file's absolute path.
func TextID(path string) string {
	if path == "" {
		return assets.SamplesName
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func shardName(k int) string { return fmt.Sprintf("shard-%05d.safetensors", k) }

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("activation cache: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("activation cache %s: %w", p, err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("activation cache %s: manifest version %d, this steer reads version %d", p, m.Version, ManifestVersion)
	}
	if m.D <= 0 || m.D > maxDim {
		return nil, fmt.Errorf("activation cache %s: invalid d %d (want 1..%d)", p, m.D, maxDim)
	}
	for i, sh := range m.Shards {
		// shards live in the cache directory itself: a path elsewhere is a corrupt (or hostile) manifest
		if sh.File == "" || sh.File == "." || sh.File == ".." || filepath.Base(sh.File) != sh.File || strings.ContainsAny(sh.File, `/\`) {
			return nil, fmt.Errorf("activation cache %s: shards[%d].file %q is not a file name in the cache directory", p, i, sh.File)
		}
		if sh.Rows < 0 {
			return nil, fmt.Errorf("activation cache %s: shards[%d].rows is %d", p, i, sh.Rows)
		}
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return weights.WriteAtomic(filepath.Join(dir, ManifestName), func(w *bufio.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// Cache harvests activations into dir as sharded safetensors with a manifest. It is resumable: when
// dir already holds a manifest of the same settings, it continues after the last complete shard
// (shards and the manifest are written atomically, the manifest after each shard, so a killed run
// leaves a consistent directory); a complete cache is left as is. The returned manifest describes dir.
func Cache(ctx context.Context, cfg Config, dir string, opts CacheOptions) (*Manifest, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if opts.ShardRows <= 0 {
		opts.ShardRows = 1 << 16
	}
	if opts.writeFile == nil {
		opts.writeFile = weights.WriteFile
	}
	text := TextID(cfg.Text)
	textField := cfg.TextField
	if textField == "" {
		textField = "text"
	}
	want := &Manifest{Version: ManifestVersion, Model: cfg.ModelName, Site: cfg.Site, D: cfg.Model.DModel(),
		ContextSize: cfg.ContextSize, PrependBOS: *cfg.PrependBOS, Text: text, TextField: textField, SkipDocs: cfg.SkipDocs,
		TokensGoal: cfg.Tokens, ShardRows: opts.ShardRows, Seed: opts.Seed, Normalize: cfg.Normalize, Scale: 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("activation cache: %w", err)
	}
	m := want
	old, err := ReadManifest(dir)
	switch {
	case err == nil:
		if diff := settingsDiff(old, want); diff != "" {
			return nil, fmt.Errorf("activation cache %s was made with other settings (%s); use another --out directory or delete it", dir, diff)
		}
		m = old
		if m.Complete {
			return m, nil
		}
		if m.Normalize && len(m.Shards) > 0 {
			cfg.Scale = m.Scale
		}
	case errors.Is(err, fs.ErrNotExist):
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			for _, e := range ents {
				if e.Name() != "." && filepath.Ext(e.Name()) != ".safetensors" && e.Name()[0] != '.' {
					return nil, fmt.Errorf("activation cache: %s is not empty and has no %s; choose an empty or new directory", dir, ManifestName)
				}
			}
		}
	default:
		return nil, err
	}
	if cfg.Tokens > 0 {
		cfg.Tokens -= m.Tokens
		if cfg.Tokens <= 0 {
			m.Complete = true
			return m, writeManifest(dir, m)
		}
	}
	// Normalisation on a resumed run uses the stored scale; a new run estimates it (NewHarvester).
	h, err := NewHarvester(cfg, m.Position)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if m.Normalize && len(m.Shards) == 0 {
		m.Scale = h.Scale()
	}
	h.prog.base = 0
	h.prog.total = cfg.Tokens
	d := m.D
	var rows []float32
	n := 0
	var contexts int64
	var end Position
	flush := func() error {
		k := len(m.Shards)
		name := shardName(k)
		path := filepath.Join(dir, name)
		rng := rand.New(rand.NewPCG(m.Seed, uint64(k)))
		perm := rng.Perm(n)
		shuf := make([]float32, n*d)
		for i, j := range perm {
			copy(shuf[i*d:(i+1)*d], rows[j*d:(j+1)*d])
		}
		t := weights.F32Tensor("activations", []int{n, d}, shuf)
		sum := sha256.Sum256(t.Data)
		if err := opts.writeFile(path, []weights.WriteTensor{t}, map[string]string{"site": m.Site, "model": m.Model}); err != nil {
			return fmt.Errorf("activation cache: writing shard %s: %w (the cache keeps its %d complete shards; rerun to resume)", path, err, k)
		}
		next := *m
		next.Shards = append(append([]Shard(nil), m.Shards...), Shard{File: name, Rows: n, SHA256: hex.EncodeToString(sum[:])})
		next.Tokens += int64(n)
		next.Contexts += contexts
		next.Position = end
		if err := writeManifest(dir, &next); err != nil {
			return fmt.Errorf("activation cache: writing %s: %w (shard %s is written but not listed; rerun to resume)", filepath.Join(dir, ManifestName), err, name)
		}
		*m = next
		rows, n, contexts = rows[:0], 0, 0
		if opts.afterShard != nil {
			opts.afterShard(k)
		}
		return nil
	}
	before := h.contexts
	for {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		b, bn, bend, err := h.NextBatch()
		if err == io.EOF {
			break
		}
		if err != nil {
			var nf *NonFiniteError
			if errors.As(err, &nf) {
				nf.Location = fmt.Sprintf("%s row %d before shuffling", shardName(len(m.Shards)), int64(n)+nf.Row-(h.rows))
			}
			return m, fmt.Errorf("activation cache %s: %w", dir, err)
		}
		rows = append(rows, b...)
		n += bn
		contexts += h.contexts - before
		before = h.contexts
		end = bend
		if n >= opts.ShardRows {
			if err := flush(); err != nil {
				return m, err
			}
		}
	}
	if n > 0 {
		if err := flush(); err != nil {
			return m, err
		}
	}
	m.Complete = true
	if err := writeManifest(dir, m); err != nil {
		return m, fmt.Errorf("activation cache: writing %s: %w", filepath.Join(dir, ManifestName), err)
	}
	h.prog.print(m.Tokens, true)
	return m, nil
}

func settingsDiff(a, b *Manifest) string {
	type kv struct {
		k    string
		x, y any
	}
	for _, f := range []kv{{"model", a.Model, b.Model}, {"site", a.Site, b.Site}, {"d", a.D, b.D},
		{"context size", a.ContextSize, b.ContextSize}, {"prepend_bos", a.PrependBOS, b.PrependBOS},
		{"text", a.Text, b.Text}, {"text field", a.TextField, b.TextField}, {"skip docs", a.SkipDocs, b.SkipDocs},
		{"tokens", a.TokensGoal, b.TokensGoal}, {"shard rows", a.ShardRows, b.ShardRows},
		{"seed", a.Seed, b.Seed}, {"normalize", a.Normalize, b.Normalize}} {
		if f.x != f.y {
			return fmt.Sprintf("%s %v, now %v", f.k, f.x, f.y)
		}
	}
	return ""
}

// CacheSource reads a cache directory as a sae.Source: every row once, in an order shuffled across
// all shards with a seed (memory-mapped shards, so the cache can exceed memory).
type CacheSource struct {
	Manifest *Manifest
	dir      string
	files    []*weights.File
	data     [][]byte
	offsets  []int64 // first global row of each shard
	perm     []int64
	pos      int64
	seed     uint64
	epoch    uint64
	// Loop makes Next start another pass, in a new shuffled order, at the end instead of returning
	// io.EOF (training for several epochs).
	Loop bool
}

// OpenCache opens a complete or partial cache (only its listed shards are read) for reading in an
// order shuffled with seed.
func OpenCache(dir string, seed uint64) (*CacheSource, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	c := &CacheSource{Manifest: m, dir: dir}
	var total int64
	for _, sh := range m.Shards {
		p := filepath.Join(dir, sh.File)
		f, err := weights.OpenFile(p)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("activation cache: %w", err)
		}
		c.files = append(c.files, f)
		raw, info, err := f.Raw("activations")
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("activation cache %s: %w", p, err)
		}
		if info.DType != weights.F32 || len(info.Shape) != 2 || info.Shape[0] != sh.Rows || info.Shape[1] != m.D {
			c.Close()
			return nil, fmt.Errorf("activation cache %s: tensor %s %v, the manifest says F32 [%d %d]", p, info.DType, info.Shape, sh.Rows, m.D)
		}
		c.data = append(c.data, raw)
		c.offsets = append(c.offsets, total)
		total += int64(sh.Rows)
	}
	c.perm = make([]int64, total)
	c.seed = seed
	c.shuffle()
	return c, nil
}

func (c *CacheSource) shuffle() {
	for i := range c.perm {
		c.perm[i] = int64(i)
	}
	rng := rand.New(rand.NewPCG(c.seed, 0xcac4e+c.epoch))
	rng.Shuffle(len(c.perm), func(i, j int) { c.perm[i], c.perm[j] = c.perm[j], c.perm[i] })
}

// Verify checks every shard's SHA-256 against the manifest.
func (c *CacheSource) Verify() error {
	for i, sh := range c.Manifest.Shards {
		sum := sha256.Sum256(c.data[i])
		if got := hex.EncodeToString(sum[:]); got != sh.SHA256 {
			return fmt.Errorf("activation cache: %s is corrupt (sha256 %s, the manifest says %s)", filepath.Join(c.dir, sh.File), got, sh.SHA256)
		}
	}
	return nil
}

// Dim implements sae.Source.
func (c *CacheSource) Dim() int { return c.Manifest.D }

// Rows returns the number of rows in the cache.
func (c *CacheSource) Rows() int64 { return int64(len(c.perm)) }

// Scale returns the normalisation factor the rows were multiplied by.
func (c *CacheSource) Scale() float32 { return c.Manifest.Scale }

// Next implements sae.Source. A NaN or infinite value is an error naming the shard and row.
func (c *CacheSource) Next(dst []float32) (int, error) {
	d := c.Manifest.D
	if len(dst)%d != 0 {
		return 0, fmt.Errorf("activations: Next: len(dst)=%d is not a multiple of Dim()=%d", len(dst), d)
	}
	want := len(dst) / d
	got := 0
	for got < want && (c.pos < int64(len(c.perm)) || c.Loop && len(c.perm) > 0) {
		if c.pos == int64(len(c.perm)) {
			c.epoch++
			c.shuffle()
			c.pos = 0
		}
		g := c.perm[c.pos]
		k := shardOf(c.offsets, g)
		r := g - c.offsets[k]
		src := c.data[k][r*int64(d)*4 : (r+1)*int64(d)*4]
		out := dst[got*d : (got+1)*d]
		for i := range out {
			v := math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return got, fmt.Errorf("activation cache: %v in %s row %d", v, filepath.Join(c.dir, c.Manifest.Shards[k].File), r)
			}
			out[i] = v
		}
		got++
		c.pos++
	}
	if got == 0 {
		return 0, io.EOF
	}
	return got, nil
}

// Skip discards rows (sae.Seeker).
func (c *CacheSource) Skip(rows int64) error {
	for c.Loop && len(c.perm) > 0 && c.pos+rows > int64(len(c.perm)) {
		rows -= int64(len(c.perm)) - c.pos
		c.epoch++
		c.shuffle()
		c.pos = 0
	}
	c.pos = min(c.pos+rows, int64(len(c.perm)))
	return nil
}

// Reset starts another pass in the same order.
func (c *CacheSource) Reset() { c.pos = 0 }

// Close unmaps the shards.
func (c *CacheSource) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	c.files, c.data = nil, nil
	return errors.Join(errs...)
}

func shardOf(offsets []int64, g int64) int {
	lo, hi := 0, len(offsets)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if offsets[mid] <= g {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}
