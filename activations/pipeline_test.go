package activations

import (
	"bytes"
	"compress/gzip"
	"github.com/klauspost/compress/zstd"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/steer-dev/steer/assets"
	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/tokenizer"
)

var (
	tinyOnce sync.Once
	tinyM    *model.Model
	tinyTok  *tokenizer.Tokenizer
	tinyErr  error
)

func tiny(t testing.TB) (*model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	tinyOnce.Do(func() {
		tinyM, tinyErr = model.LoadFS(assets.TinyLM(), ".", model.WithName(assets.TinyLMName))
		if tinyErr != nil {
			return
		}
		var data []byte
		data, tinyErr = fsRead("tokenizer.json")
		if tinyErr == nil {
			tinyTok, tinyErr = tokenizer.FromBytes(data, "tiny-lm/tokenizer.json")
		}
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyM, tinyTok
}

func writeText(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func boolp(b bool) *bool { return &b }

func TestDocReaderFormats(t *testing.T) {
	plain := writeText(t, "a.txt", "first doc\nline two\n\n\n  \nsecond doc\n\nthird")
	r, err := OpenText(plain, "")
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for {
		d, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	if want := []string{"first doc\nline two", "second doc", "third"}; !slices.Equal(docs, want) {
		t.Errorf("plain docs = %q, want %q", docs, want)
	}
	j := writeText(t, "b.data", "{\"body\": \"x\\n\\ny\", \"text\": \"no\"}\n\n{\"body\": \"z\"}\n")
	r, err = OpenText(j, "body") // detected by content
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := r.Next()
	d2, _ := r.Next()
	if _, err := r.Next(); d1 != "x\n\ny" || d2 != "z" || err != io.EOF {
		t.Errorf("jsonl docs %q %q err %v", d1, d2, err)
	}
	bad := writeText(t, "c.jsonl", "{\"txt\": \"a\"}\n")
	r, _ = OpenText(bad, "")
	if _, err := r.Next(); err == nil || !contains(err.Error(), `no "text" field`) {
		t.Errorf("missing field error = %v", err)
	}
	// the embedded samples: xz-compressed JSONL
	r, err = OpenText("", "")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := r.Next(); err != nil || d == "" {
		t.Fatalf("embedded samples: %q %v", d, err)
	}
	r.Close()
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}
func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestContexts checks context cutting: BOS first, documents joined with <|endoftext|>, the rest of a
// document continues in the next context, a final incomplete context dropped.
func TestContexts(t *testing.T) {
	m, tok := tiny(t)
	p := writeText(t, "t.jsonl", "{\"text\": \"Hello world, this is one document.\"}\n{\"text\": \"And a second one here.\"}\n")
	a := tok.Encode("Hello world, this is one document.", false)
	b := tok.Encode("And a second one here.", false)
	stream := append(append(append(slices.Clone(a), 0), b...), 0)
	for _, bos := range []bool{true, false} {
		cfg := Config{Model: m, Tokenizer: tok, Site: "resid_post.0", Text: p, ContextSize: 5, PrependBOS: boolp(bos)}
		if err := cfg.defaults(); err != nil {
			t.Fatal(err)
		}
		c, err := newContexter(&cfg, Position{})
		if err != nil {
			t.Fatal(err)
		}
		var got [][]int
		for {
			ids, err := c.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids)
		}
		per := 5
		if bos {
			per = 4
		}
		var want [][]int
		for i := 0; i+per <= len(stream); i += per {
			w := slices.Clone(stream[i : i+per])
			if bos {
				w = append([]int{0}, w...)
			}
			want = append(want, w)
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("bos=%v: contexts %v, want %v", bos, got, want)
		}
		// Resuming at a position gives the same following contexts.
		c2, _ := newContexter(&cfg, Position{})
		c2.next()
		pos := c2.pos()
		c3, err := newContexter(&cfg, pos)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := c2.next()
		y, _ := c3.next()
		if !slices.Equal(x, y) {
			t.Errorf("resume at %+v: %v, want %v", pos, y, x)
		}
	}
}

// TestHarvestDropsSpecialAndMatchesForward checks that the rows are the model's activations at the
// non-special positions, in order.
func TestHarvestDropsSpecialAndMatchesForward(t *testing.T) {
	m, tok := tiny(t)
	p := writeText(t, "t.jsonl", "{\"text\": \"It is a truth universally acknowledged.\"}\n{\"text\": \"In the beginning God created the heaven and the earth.\"}\n{\"text\": \"dog: a member of the genus Canis\"}\n")
	cfg := Config{Model: m, Tokenizer: tok, Site: "resid_post.1", Text: p, ContextSize: 8, BatchSize: 2}
	h, err := NewHarvester(cfg, Position{})
	if err != nil {
		t.Fatal(err)
	}
	var all []float32
	for {
		rows, _, _, err := h.NextBatch()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	// reference: cut by hand, run one context at a time, keep non-zero ids
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	c, _ := newContexter(&cfg, Position{})
	var want []float32
	nctx := 0
	for {
		ids, err := c.next()
		if err == io.EOF {
			break
		}
		nctx++
		if ids[0] != 0 {
			t.Fatalf("context %v does not start with BOS", ids)
		}
		out, err := m.Forward([][]int{ids}, model.Capture("resid_post.1"))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if id != 0 {
				want = append(want, out.Get("resid_post.1").Data[i*384:(i+1)*384]...)
			}
		}
	}
	if nctx < 3 || len(all) != len(want) {
		t.Fatalf("%d contexts; got %d rows, want %d", nctx, len(all)/384, len(want)/384)
	}
	for i := range all {
		if math.Abs(float64(all[i]-want[i])) > 1e-3*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("value %d: %g, want %g", i, all[i], want[i])
		}
	}
}

func collect(t *testing.T, s interface {
	Next([]float32) (int, error)
	Dim() int
}) []float32 {
	t.Helper()
	var out []float32
	buf := make([]float32, 7*s.Dim())
	for {
		n, err := s.Next(buf)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf[:n*s.Dim()]...)
	}
}

// TestNormalizeAndShuffle: the scale gives mean squared norm 1 on the estimation tokens; the shuffled
// stream is a permutation of the unshuffled one, and the same seed gives the same order.
func TestNormalizeAndShuffle(t *testing.T) {
	m, tok := tiny(t)
	base := Config{Model: m, Tokenizer: tok, Site: "resid_post.2", ContextSize: 32, BatchSize: 4, Tokens: 600}
	raw, err := NewStream(base, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	plain := collect(t, raw)
	d := 384
	if len(plain) != 600*d {
		t.Fatalf("got %d rows, want 600", len(plain)/d)
	}
	cfg := base
	cfg.Normalize, cfg.NormTokens = true, 200
	ns, err := NewStream(cfg, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	norm := collect(t, ns)
	// the estimate covers whole batches: at least the first 200 rows
	var ss float64
	est := ns.Harvester().normRows
	if est < 200 || est > 300 {
		t.Fatalf("scale estimated on %d rows", est)
	}
	for _, v := range plain[:est*d] {
		ss += float64(v) * float64(v)
	}
	want := 1 / math.Sqrt(ss/float64(est))
	if s := float64(ns.Scale()); math.Abs(s-want) > 1e-5*want {
		t.Errorf("scale %g, want %g", s, want)
	}
	for i := range norm {
		if math.Abs(float64(norm[i])-float64(plain[i])*float64(ns.Scale())) > 1e-5 {
			t.Fatalf("normalised value %d: %g, want %g", i, norm[i], plain[i]*ns.Scale())
		}
	}
	var ms float64
	for _, v := range norm[:est*d] {
		ms += float64(v) * float64(v)
	}
	if ms /= float64(est); math.Abs(ms-1) > 1e-4 {
		t.Errorf("mean squared norm after scaling = %g, want 1", ms)
	}
	shuffled := func(seed uint64) []float32 {
		s, err := NewStream(base, 100, seed)
		if err != nil {
			t.Fatal(err)
		}
		return collect(t, s)
	}
	a, b, c := shuffled(1), shuffled(1), shuffled(2)
	if !slices.Equal(a, b) {
		t.Error("same seed gave different orders")
	}
	if slices.Equal(a, c) || slices.Equal(a, plain) {
		t.Error("shuffling changed nothing")
	}
	key := func(x []float32) []string {
		var k []string
		for i := 0; i < len(x); i += d {
			k = append(k, string(float32Bytes(x[i:i+d])))
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(key(a), key(plain)) {
		t.Error("the shuffled stream is not a permutation of the rows")
	}
}

func float32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		u := math.Float32bits(v)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

func fsRead(name string) ([]byte, error) { return fsReadFile(assets.TinyLM(), name) }

var fsReadFile = fs.ReadFile

// TestCompressedText: gzip and zstd files are detected by their magic bytes, whatever their name.
func TestCompressedText(t *testing.T) {
	content := "{\"text\": \"one\"}\n{\"text\": \"two\"}\n"
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(content))
	zw.Close()
	enc, _ := zstd.NewWriter(&zs)
	enc.Write([]byte(content))
	enc.Close()
	for name, data := range map[string][]byte{"a.jsonl.gz": gz.Bytes(), "b.jsonl.zst": zs.Bytes(), "c.bin": zs.Bytes()} {
		p := writeText(t, name, string(data))
		r, err := OpenText(p, "")
		if err != nil {
			t.Fatal(err)
		}
		a, _ := r.Next()
		b, _ := r.Next()
		if _, err := r.Next(); a != "one" || b != "two" || err != io.EOF {
			t.Errorf("%s: %q %q %v", name, a, b, err)
		}
		r.Close()
	}
}

// TestWorkersKeepOrder: concurrent forward passes give the same rows in the same order.
func TestWorkersKeepOrder(t *testing.T) {
	m, tok := tiny(t)
	cfg := Config{Model: m, Tokenizer: tok, Site: "resid_post.0", ContextSize: 16, BatchSize: 2, Tokens: 400, Normalize: true, NormTokens: 50}
	one, err := NewStream(cfg, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 3
	three, err := NewStream(cfg, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := collect(t, one), collect(t, three)
	if len(a) != 400*384 || !slices.Equal(a, b) || one.Scale() != three.Scale() {
		t.Errorf("workers changed the rows (%d vs %d rows, scale %g vs %g)", len(a)/384, len(b)/384, one.Scale(), three.Scale())
	}
}
