//go:build hftokenizers

package hforacle

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/ulikunitz/xz"
)

// fixtureNames are the tokenizers under ../shared/fixtures/tokenizers/.
var fixtureNames = []string{"llama3", "bert-base-uncased", "sp-style-bpe"}

type goldenCase struct {
	Text             string   `json:"text"`
	AddSpecialTokens bool     `json:"add_special_tokens"`
	IDs              []int    `json:"ids"`
	Tokens           []string `json:"tokens"`
	Offsets          [][2]int `json:"offsets"` // in Unicode code points, as Python reports them
	Decoded          string   `json:"decoded"`
}

func readGolden(tb testing.TB, name string) []goldenCase {
	tb.Helper()
	b, err := os.ReadFile(sharedtest.Path(tb, "fixtures/tokenizers/"+name+".golden.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatalf("%s.golden.json: %v", name, err)
	}
	if len(g.Cases) == 0 {
		tb.Fatalf("%s.golden.json has no cases", name)
	}
	return g.Cases
}

type corpusDoc struct {
	Src  string `json:"src"`
	Text string `json:"text"`
}

// readCorpus decompresses ../shared/corpus/corpus.jsonl.xz (pure Go) and returns its
// documents, stopping once maxBytes of text have been read (maxBytes <= 0: all).
func readCorpus(tb testing.TB, maxBytes int) []corpusDoc {
	tb.Helper()
	f, err := os.Open(sharedtest.Path(tb, "corpus/corpus.jsonl.xz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := xz.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(zr, 1<<20))
	var docs []corpusDoc
	n := 0
	for {
		var d corpusDoc
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatalf("corpus line %d: %v", len(docs)+1, err)
		}
		docs = append(docs, d)
		if n += len(d.Text); maxBytes > 0 && n >= maxBytes {
			break
		}
	}
	if len(docs) == 0 {
		tb.Fatal("empty corpus")
	}
	return docs
}

func tinyLMTokenizerPath() string {
	return filepath.Join(sharedtest.RepoRoot(), "assets", "tinylm", "tokenizer.json")
}

func loadOracle(tb testing.TB, path string) *Tokenizer {
	tb.Helper()
	tk, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tk.Close)
	return tk
}

// charOffsets converts byte offsets into text into Unicode code point offsets, the way the
// Python bindings report them.
func charOffsets(text string, byteOffs [][2]int) [][2]int {
	runeAt := make([]int, len(text)+1) // index of the code point holding byte b
	r := 0
	for b := 0; b < len(text); {
		_, size := utf8.DecodeRuneInString(text[b:])
		for k := 0; k < size; k++ {
			runeAt[b+k] = r
		}
		b += size
		r++
	}
	runeAt[len(text)] = r
	out := make([][2]int, len(byteOffs))
	for i, o := range byteOffs {
		s, e := o[0], o[1]
		if s < 0 || e > len(text) || s > e {
			out[i] = [2]int{-1, -1}
			continue
		}
		cs, ce := runeAt[s], runeAt[s]
		if e > s {
			ce = runeAt[e-1] + 1
		}
		out[i] = [2]int{cs, ce}
	}
	return out
}

// TestOracleMatchesGolden checks the oracle alone against the ids, tokens, offsets and
// decoded text that HF tokenizers produced for the fixtures, which shows that the oracle is
// wired right independently of the Go tokenizer.
func TestOracleMatchesGolden(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			cases := readGolden(t, name)
			tk := loadOracle(t, sharedtest.Path(t, "fixtures/tokenizers/"+name+".tokenizer.json"))
			bad, skipped := 0, 0
			for i, c := range cases {
				if !CanEncode(c.Text) {
					// The C ABI passes NUL-terminated strings: such text cannot reach the
					// Rust tokenizer intact. Check that Encode refuses it instead.
					skipped++
					func() {
						defer func() {
							if recover() == nil {
								t.Errorf("case %d: Encode(%q) did not panic on a NUL byte", i, c.Text)
							}
						}()
						tk.Encode(c.Text, c.AddSpecialTokens)
					}()
					continue
				}
				enc := tk.EncodeDetailed(c.Text, c.AddSpecialTokens)
				ids := tk.Encode(c.Text, c.AddSpecialTokens)
				var problems []string
				if !slices.Equal(enc.IDs, c.IDs) {
					problems = append(problems, fmt.Sprintf("ids\n\t got %v\n\twant %v", enc.IDs, c.IDs))
				}
				if !slices.Equal(ids, enc.IDs) {
					problems = append(problems, fmt.Sprintf("Encode ids %v differ from EncodeDetailed's %v", ids, enc.IDs))
				}
				if !slices.Equal(enc.Tokens, c.Tokens) && !(len(enc.Tokens) == 0 && len(c.Tokens) == 0) {
					problems = append(problems, fmt.Sprintf("tokens\n\t got %q\n\twant %q", enc.Tokens, c.Tokens))
				}
				if got := charOffsets(c.Text, enc.Offsets); !slices.Equal(got, c.Offsets) && !(len(got) == 0 && len(c.Offsets) == 0) {
					problems = append(problems, fmt.Sprintf("offsets\n\t got %v\n\twant %v", got, c.Offsets))
				}
				if got := tk.Decode(c.IDs, false); got != c.Decoded {
					problems = append(problems, fmt.Sprintf("decode(ids, skip_special=false)\n\t got %q\n\twant %q", got, c.Decoded))
				}
				if len(problems) > 0 {
					bad++
					if bad <= 10 {
						t.Errorf("case %d (add_special_tokens=%v) text %q:", i, c.AddSpecialTokens, c.Text)
						for _, p := range problems {
							t.Errorf("  %s", p)
						}
					}
				}
			}
			t.Logf("%d cases, %d skipped (NUL byte in text), %d differ from the golden", len(cases), skipped, bad)
			if bad > 0 {
				t.Errorf("%s: %d of %d golden cases differ", name, bad, len(cases))
			}
		})
	}
}

// BenchmarkOracleEncode measures HF's Rust tokenizer (through cgo) on the first 4 MB of the
// corpus, one goroutine, without special tokens: the same texts and sub-benchmark names as
// the pure-Go tokenizer's BenchmarkEncodeCorpus, so that the two can be set side by side.
func BenchmarkOracleEncode(b *testing.B) {
	docs := readCorpus(b, 4<<20)
	total := 0
	for _, d := range docs {
		total += len(d.Text)
	}
	paths := []struct{ name, path string }{
		{"tinylm", tinyLMTokenizerPath()},
		{"llama3", "llama3"},
		{"bert", "bert-base-uncased"},
		{"sp-style-bpe", "sp-style-bpe"},
	}
	for _, c := range paths {
		b.Run(c.name, func(b *testing.B) {
			path := c.path
			if !filepath.IsAbs(path) {
				path = sharedtest.Path(b, "fixtures/tokenizers/"+path+".tokenizer.json")
			}
			tk := loadOracle(b, path)
			b.SetBytes(int64(total))
			tokens := 0
			for b.Loop() {
				for _, d := range docs {
					tokens += len(tk.Encode(d.Text, false))
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
