package tokenizer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/ulikunitz/xz"
)

// corpusTexts returns corpus texts from the start of corpus.jsonl.xz until at
// least maxBytes of text were read.
func corpusTexts(tb testing.TB, maxBytes int) []string {
	tb.Helper()
	p := sharedtest.Path(tb, "corpus/corpus.jsonl.xz")
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := xz.NewReader(bufio.NewReader(f))
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out []string
	total := 0
	for total < maxBytes && sc.Scan() {
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec.Text)
		total += len(rec.Text)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func tinyLMPath() string { return filepath.Join(sharedtest.RepoRoot(), "assets", "tinylm") }

func loadTinyLM(tb testing.TB) *Tokenizer {
	tb.Helper()
	tk, err := FromFile(filepath.Join(tinyLMPath(), "tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return tk
}

// readSafetensorsI64 is a minimal safetensors reader for I64 tensors.
func readSafetensorsI64(tb testing.TB, path string) map[string][]int64 {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(data) < 8 {
		tb.Fatalf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > uint64(len(data)-8) {
		tb.Fatalf("%s: bad header length", path)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &hdr); err != nil {
		tb.Fatal(err)
	}
	body := data[8+n:]
	out := map[string][]int64{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var ti struct {
			Dtype   string   `json:"dtype"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &ti); err != nil {
			tb.Fatal(err)
		}
		if ti.Dtype != "I64" {
			continue
		}
		b := body[ti.Offsets[0]:ti.Offsets[1]]
		v := make([]int64, len(b)/8)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		out[name] = v
	}
	return out
}

// TestTinyLMGoldenPrompts: the reference prompt ids (from HF) carry no BOS:
// tiny-lm's post-processor is ByteLevel only, so add_special_tokens adds nothing.
func TestTinyLMGoldenPrompts(t *testing.T) {
	tk := loadTinyLM(t)
	if tk.VocabSize() != 8192 {
		t.Errorf("VocabSize = %d, want 8192", tk.VocabSize())
	}
	if id, ok := tk.TokenToID("<|endoftext|>"); !ok || id != 0 || !tk.IsSpecial(0) {
		t.Errorf("<|endoftext|> = %d %v special=%v", id, ok, tk.IsSpecial(0))
	}
	var g struct {
		Prompts []string `json:"prompts"`
	}
	data, err := os.ReadFile(filepath.Join(tinyLMPath(), "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	tensors := readSafetensorsI64(t, filepath.Join(tinyLMPath(), "golden.safetensors"))
	if len(g.Prompts) != 5 {
		t.Fatalf("want 5 prompts, got %d", len(g.Prompts))
	}
	for i, p := range g.Prompts {
		want64, ok := tensors["p"+string(rune('0'+i))+".input_ids"]
		if !ok {
			t.Fatalf("p%d.input_ids missing", i)
		}
		want := make([]int, len(want64))
		for k, v := range want64 {
			want[k] = int(v)
		}
		if len(want) > 0 && want[0] == 0 {
			t.Errorf("prompt %d: reference ids start with <|endoftext|> (BOS)", i)
		}
		for _, add := range []bool{true, false} {
			if got := tk.Encode(p, add); !reflect.DeepEqual(got, want) {
				t.Errorf("prompt %d %q add=%v:\n got %v\nwant %v", i, p, add, got, want)
			}
		}
		if d := tk.Decode(want, false); d != p {
			t.Errorf("prompt %d: decode %q", i, d)
		}
	}
}

// TestRoundTripCorpus: byte-level tokenizers reproduce the text exactly.
func TestRoundTripCorpus(t *testing.T) {
	texts := corpusTexts(t, 1<<20)
	toks := map[string]*Tokenizer{"tinylm": loadTinyLM(t), "llama3": loadFixture(t, "llama3")}
	for name, tk := range toks {
		bad := 0
		for _, s := range texts {
			for _, add := range []bool{false, true} {
				ids := tk.Encode(s, add)
				d := tk.Decode(ids, true)
				if d != s {
					bad++
					if bad < 3 {
						t.Errorf("%s add=%v: round trip of %q gives %q", name, add, trunc(s), trunc(d))
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d round-trip failures", name, bad)
		}
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// TestScannersMatchRegexp2 checks the hand-written GPT-2 and Llama-3 split
// scanners against regexp2 on corpus text and tricky strings.
func TestScannersMatchRegexp2(t *testing.T) {
	texts := []string{
		"", " ", "  ", "a  b", "a \n\n b", "I'm you'RE 'S 'Ll 'x", "don't  stop\t\tnow\r\n\r\n x",
		"12345 1234567 ١٢٣٤", "  hello   world  ", "\u00a0nbsp\u2009thin\u200bzw", "emoji 😀🎉👍🏽 👨\u200d👩",
		"é vs e\u0301", "¿Qué? ¡Sí!", "a\u3000b", "tab\tx\n\ny \n", "...!!!???", " ...x", "x\r\ny",
		"'", "''", " '", "'s's", "\n \n", "a \u0301b", "Ⅻ ½ ² x²",
	}
	texts = append(texts, corpusTexts(t, 256<<10)...)
	for _, c := range []struct {
		pat string
		sc  matcher
	}{{gpt2Pattern, gpt2Scanner{}}, {llama3Pattern, llama3Scanner{}}} {
		re, err := compileRegexp2(c.pat)
		if err != nil {
			t.Fatal(err)
		}
		rm := regexMatcher{re}
		for _, s := range texts {
			got := c.sc.find(s, nil)
			want := rm.find(s, nil)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("pattern %.20q on %q:\n got %v\nwant %v", c.pat, trunc(s), got, want)
			}
		}
	}
}

// TestInvalidUTF8 documents the replacement of invalid bytes with U+FFFD.
func TestInvalidUTF8(t *testing.T) {
	cases := map[string]string{
		"a\xffb":            "a\uFFFDb",
		"\xf0\x9f\x98":      "\uFFFD",
		"\xf0\x9f\x98\xff":  "\uFFFD\uFFFD",
		"\xed\xa0\x80":      "\uFFFD\uFFFD\uFFFD",
		"ok":                "ok",
		"\xc3":              "\uFFFD",
		"\xe2\x82\xac\x80x": "€\uFFFDx",
	}
	for in, want := range cases {
		if got := toValidUTF8(in); got != want {
			t.Errorf("toValidUTF8(%q) = %q, want %q", in, got, want)
		}
	}
	tk := loadTinyLM(t)
	ids := tk.Encode("a\xffb", false)
	if d := tk.Decode(ids, false); d != "a\uFFFDb" || !utf8.ValidString(d) {
		t.Errorf("decode = %q", d)
	}
}

func TestErrors(t *testing.T) {
	base := `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}`
	cases := []struct{ json, want string }{
		{`{`, "x.json: invalid tokenizer.json"},
		{base + `,"pre_tokenizer":{"type":"Foo"}}`, `x.json: unknown pre_tokenizer type "Foo" (supported: `},
		{base + `,"normalizer":{"type":"Foo"}}`, `x.json: unknown normalizer type "Foo"`},
		{base + `,"decoder":{"type":"Foo"}}`, `x.json: unknown decoder type "Foo"`},
		{base + `,"post_processor":{"type":"Foo"}}`, `x.json: unknown post_processor type "Foo"`},
		{`{"model":{"type":"Unigram","vocab":[["a",0.0]]}}`, `x.json: unknown model type "Unigram"`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`, `x.json: BPE merge 0`},
	}
	for _, c := range cases {
		_, err := FromBytes([]byte(c.json), "x.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.json, err, c.want)
		}
	}
	if _, err := FromFile("/nonexistent/tok.json"); err == nil || !strings.Contains(err.Error(), "/nonexistent/tok.json") {
		t.Errorf("FromFile error should name the file: %v", err)
	}
}
