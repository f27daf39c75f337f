package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The variant sweep: small tokenizer.json files whose pipelines mirror real
// families' (GPT-2, Phi-2, RoBERTa, Qwen2, Llama 3, Gemma, Llama 2 / Mistral /
// Phi-3 legacy and Metaspace forms, BERT cased/uncased, CLIP-like, ...) and
// single-component variants, with Hugging Face tokenizers' outputs recorded by
// testdata/gen_variants.py. Everything lives in testdata/variants (gzipped).

const variantsDir = "testdata/variants"

// variantExpectedErrors are sweep tokenizers our loader rejects on purpose,
// with a fragment of the expected error.
var variantExpectedErrors = map[string]string{
	"unigram": `unknown model type "Unigram"`,
}

type variantCase struct {
	T           int      `json:"t"`
	Add         bool     `json:"add"`
	IDs         []int    `json:"ids"`
	Tokens      []string `json:"tokens"`
	Offsets     [][2]int `json:"offsets"`
	Decoded     string   `json:"decoded"`
	DecodedSkip string   `json:"decoded_skip"`
}

type variantGolden struct {
	Tokenizer string        `json:"tokenizer"`
	Version   string        `json:"tokenizers_version"`
	Cases     []variantCase `json:"cases"`
}

func readGz(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return data
}

func variantNames(tb testing.TB) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(variantsDir, "*.tokenizer.json.gz"))
	if err != nil || len(m) == 0 {
		tb.Fatalf("no variant fixtures in %s (%v)", variantsDir, err)
	}
	var names []string
	for _, p := range m {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".tokenizer.json.gz"))
	}
	sort.Strings(names)
	return names
}

// firstDiff describes where two slices first differ.
func firstDiff[T any](got, want []T) string {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("first difference at %d: got %v, want %v", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d (equal up to %d)", len(got), len(want), n)
}

func sameSlice[T any](a, b []T) bool {
	return (len(a) == 0 && len(b) == 0) || reflect.DeepEqual(a, b)
}

// TestTokenizerVariants compares ids, tokens, offsets and both decodes with
// the recorded HF outputs for every sweep tokenizer.
func TestTokenizerVariants(t *testing.T) {
	var texts []string
	if err := json.Unmarshal(readGz(t, filepath.Join(variantsDir, "texts.json.gz")), &texts); err != nil {
		t.Fatal(err)
	}
	names := variantNames(t)
	total := 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data := readGz(t, filepath.Join(variantsDir, name+".tokenizer.json.gz"))
			tk, err := FromBytes(data, name)
			if frag, ok := variantExpectedErrors[name]; ok {
				if err == nil || !strings.Contains(err.Error(), frag) {
					t.Fatalf("want a load error containing %q, got %v", frag, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var g variantGolden
			if err := json.Unmarshal(readGz(t, filepath.Join(variantsDir, name+".golden.json.gz")), &g); err != nil {
				t.Fatal(err)
			}
			bad := 0
			report := func(format string, args ...any) {
				bad++
				if bad <= 12 {
					t.Errorf(format, args...)
				}
			}
			for _, c := range g.Cases {
				text := texts[c.T]
				where := fmt.Sprintf("%s text#%d %q add_special=%v", name, c.T, text, c.Add)
				ids, toks, offs := tk.EncodeTokens(text, c.Add)
				switch {
				case !sameSlice(ids, c.IDs):
					report("%s: ids %s\n got %v\nwant %v\n got toks %q\nwant toks %q", where, firstDiff(ids, c.IDs), ids, c.IDs, toks, c.Tokens)
				case !sameSlice(toks, c.Tokens):
					report("%s: tokens %s\n got %q\nwant %q", where, firstDiff(toks, c.Tokens), toks, c.Tokens)
				case !sameSlice(offs, c.Offsets):
					report("%s: offsets %s\n got %v\nwant %v\n toks %q", where, firstDiff(offs, c.Offsets), offs, c.Offsets, toks)
				}
				if ids2 := tk.Encode(text, c.Add); !sameSlice(ids2, ids) {
					report("%s: Encode differs from EncodeTokens: %s", where, firstDiff(ids2, ids))
				}
				if d := tk.Decode(c.IDs, false); d != c.Decoded {
					report("%s: decode(skip_special_tokens=false)\n got %q\nwant %q", where, d, c.Decoded)
				}
				if d := tk.Decode(c.IDs, true); d != c.DecodedSkip {
					report("%s: decode(skip_special_tokens=true)\n got %q\nwant %q", where, d, c.DecodedSkip)
				}
			}
			if bad > 12 {
				t.Errorf("%s: %d mismatches in all (%d cases)", name, bad, len(g.Cases))
			}
			total += len(g.Cases)
		})
	}
	t.Logf("%d tokenizers, %d texts, %d cases", len(names), len(texts), total)
}
