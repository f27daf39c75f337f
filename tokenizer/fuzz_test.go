package tokenizer

import (
	"os"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/steer-dev/steer/internal/sharedtest"
)

var (
	fuzzOnce sync.Once
	fuzzToks map[string]*Tokenizer
)

func fuzzTokenizers(tb testing.TB) map[string]*Tokenizer {
	fuzzOnce.Do(func() {
		fuzzToks = map[string]*Tokenizer{"tinylm": loadTinyLM(tb)}
		for _, n := range fixtureNames {
			p := sharedtest.Root() + "/fixtures/tokenizers/" + n + ".tokenizer.json"
			if _, err := os.Stat(p); err != nil {
				continue
			}
			tk, err := FromFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			fuzzToks[n] = tk
		}
	})
	return fuzzToks
}

var byteLevelTokenizers = map[string]bool{"tinylm": true, "llama3": true}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "hello world", " 's 'RE\n\n x", "<|endoftext|>a<|begin_of_text|>", "emoji 😀🎉👍🏽",
		"\xff\xfe", "こんにちは世界", "[CLS] [SEP] <s></s><unk>", "\u00a0 \u2009\u200b", "1234567890", "İstanbul ǅ ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, tk := range fuzzTokenizers(t) {
			ids, toks, offs := tk.EncodeTokens(s, true)
			if len(ids) != len(toks) || len(ids) != len(offs) {
				t.Fatalf("%s: lengths differ", name)
			}
			ids2 := tk.Encode(s, false)
			d := tk.Decode(ids2, false)
			_ = tk.Decode(ids, true)
			if byteLevelTokenizers[name] && utf8.ValidString(s) && d != s {
				t.Fatalf("%s: round trip %q -> %v -> %q", name, s, ids2, d)
			}
		}
	})
}

func FuzzFromBytes(f *testing.F) {
	seeds := []string{
		`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`,
		`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2}},"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"}}`,
		`{"model":{"vocab":{"a":0}},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"Isolated","invert":false}}`,
		`{"added_tokens":[{"id":3,"content":"<x>","special":true,"lstrip":true,"rstrip":true,"single_word":true}],"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"},"decoder":{"type":"Sequence","decoders":[{"type":"Strip","content":" ","start":1,"stop":1}]}}`,
		`{"model":{"type":"BPE","vocab":{"<0x61>":0,"<unk>":1},"merges":[],"byte_fallback":true,"unk_token":"<unk>","fuse_unk":true},"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},{"type":"Strip"},{"type":"Replace","pattern":{"Regex":"(?i)a+"},"content":"b"}]},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<unk>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<unk>":{"id":"<unk>","ids":[1],"tokens":["<unk>"]}}}}`,
		`{`, `null`, `[]`, `{"model":null}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "aAé \n<x> 12")
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tk, err := FromBytes(data, "fuzz.json")
		if err != nil {
			return
		}
		ids, _, _ := tk.EncodeTokens(text, true)
		_ = tk.Encode(text, false)
		_ = tk.Decode(ids, false)
		_ = tk.Decode([]int{-1, 0, 1, 1 << 40}, true)
		_ = tk.VocabSize()
	})
}
