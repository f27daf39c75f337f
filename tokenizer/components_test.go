package tokenizer

import (
	"reflect"
	"testing"
)

func preTok(t *testing.T, js, text string) []string {
	t.Helper()
	p, err := parsePreTokenizer([]byte(js), "test")
	if err != nil {
		t.Fatal(err)
	}
	p = flattenPT(p)
	var out []string
	for _, pc := range p.split(nstr{s: text}, &scratch{}, nil) {
		materializeByteLevel(&pc.n)
		out = append(out, pc.n.s)
	}
	return out
}

// Expected values are the examples from the HF tokenizers documentation/tests.
func TestPreTokenizers(t *testing.T) {
	cases := []struct {
		js, text string
		want     []string
	}{
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"Removed","invert":false}`, "the-final--countdown", []string{"the", "final", "countdown"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"Isolated","invert":false}`, "the-final--countdown", []string{"the", "-", "final", "-", "-", "countdown"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"MergedWithPrevious","invert":false}`, "the-final--countdown", []string{"the-", "final-", "-", "countdown"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"MergedWithNext","invert":false}`, "the-final--countdown", []string{"the", "-final", "-", "-countdown"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"Contiguous","invert":false}`, "the-final--countdown", []string{"the", "-", "final", "--", "countdown"}},
		{`{"type":"Split","pattern":{"Regex":"\\w+|[^\\w\\s]+"},"behavior":"Removed","invert":true}`, "Hey, man!", []string{"Hey", ",", "man", "!"}},
		{`{"type":"Whitespace"}`, "Hey man!", []string{"Hey", "man", "!"}},
		{`{"type":"WhitespaceSplit"}`, "Hey  man!\tok", []string{"Hey", "man!", "ok"}},
		{`{"type":"Punctuation"}`, "Hey friend!     How are you?!?", []string{"Hey friend", "!", "     How are you", "?", "!", "?"}},
		{`{"type":"Digits","individual_digits":true}`, "Hey 123 friend!", []string{"Hey ", "1", "2", "3", " friend!"}},
		{`{"type":"Digits","individual_digits":false}`, "Hey 123 friend!", []string{"Hey ", "123", " friend!"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`, "Hey friend!", []string{"▁Hey", "▁friend!"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":false}`, "Hey friend!", []string{"Hey▁friend!"}},
		{`{"type":"BertPreTokenizer"}`, "Hey friend!  How...", []string{"Hey", "friend", "!", "How", ".", ".", "."}},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, "Hello my friend, how is your day going?", []string{"ĠHello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"}},
		{`{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Digits","individual_digits":true}]}`, "a12 b", []string{"a", "1", "2", "b"}},
	}
	for _, c := range cases {
		if got := preTok(t, c.js, c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s on %q:\n got %q\nwant %q", c.js, c.text, got, c.want)
		}
	}
}

func TestNormalizers(t *testing.T) {
	cases := []struct {
		js, text, want string
	}{
		{`{"type":"NFKC"}`, "ﬁ ＦＵＬＬ", "fi FULL"},
		{`{"type":"NFD"}`, "é", "e\u0301"},
		{`{"type":"NFC"}`, "e\u0301", "é"},
		{`{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},{"type":"Lowercase"}]}`, "Héllo İ", "hello i"},
		{`{"type":"Strip","strip_left":true,"strip_right":true}`, "  hi  ", "hi"},
		{`{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "}`, "a \n\t b", "a b"},
		{`{"type":"Prepend","prepend":"▁"}`, "hi", "▁hi"},
		{`{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}`, "Héllo\u200b世界\tX", "hello 世  界  x"},
		{`{"type":"Lowercase"}`, "İ", "i\u0307"},
	}
	for _, c := range cases {
		n, err := parseNormalizer([]byte(c.js), "test")
		if err != nil {
			t.Fatal(err)
		}
		s := nstr{s: c.text}
		n.normalize(&s, &scratch{})
		if s.s != c.want {
			t.Errorf("%s on %q: got %q want %q", c.js, c.text, s.s, c.want)
		}
		if s.align != nil && len(s.align) != len(s.s) {
			t.Errorf("%s: alignment length %d for %d bytes", c.js, len(s.align), len(s.s))
		}
	}
}

func TestDecoders(t *testing.T) {
	cases := []struct {
		js   string
		toks []string
		want string
	}{
		{`{"type":"WordPiece","prefix":"##","cleanup":true}`, []string{"hello", "##ing", ",", "don", "'", "t", "."}, "helloing, don ' t."},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always"}`, []string{"▁Hey", "▁friend", "!"}, "Hey friend!"},
		{`{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`,
			[]string{"▁Hi", "<0xE2>", "<0x82>", "<0xAC>", "x", "<0xE2>", "<0x82>", "<0xAC>", "<0xFF>"}, "Hi€x\uFFFD\uFFFD\uFFFD\uFFFD"}, // HF: an invalid byte run gives one U+FFFD per byte
		{`{"type":"BPEDecoder","suffix":"</w>"}`, []string{"hel", "lo</w>", "you</w>"}, "hello you"},
		{`{"type":"ByteLevel"}`, []string{"ĠHello", "Ġ", "ðŁĺ", "Ģ", "<s>"}, " Hello 😀<s>"},
		{`{"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true}`, []string{"h", "h", "<pad>", "i", "|", "y", "o"}, "hi yo"},
	}
	for _, c := range cases {
		d, err := parseDecoder([]byte(c.js), "test")
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, s := range d.decodeChain(c.toks) {
			got += s
		}
		if got != c.want {
			t.Errorf("%s: got %q want %q", c.js, got, c.want)
		}
	}
}

func TestAddedTokenFlags(t *testing.T) {
	js := `{"added_tokens":[
	 {"id":10,"content":"<mask>","special":true,"lstrip":true,"rstrip":false,"single_word":false,"normalized":false},
	 {"id":11,"content":"cat","special":false,"lstrip":false,"rstrip":false,"single_word":true,"normalized":false},
	 {"id":12,"content":"<x>","special":true,"lstrip":false,"rstrip":true,"single_word":false,"normalized":false}],
	 "pre_tokenizer":{"type":"WhitespaceSplit"},
	 "model":{"type":"WordLevel","vocab":{"[UNK]":0,"a":1,"b":2,"cats":3},"unk_token":"[UNK]"}}`
	tk, err := FromBytes([]byte(js), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	ids, toks, offs := tk.EncodeTokens("a  <mask>b cats cat <x>  a", false)
	if want := []int{1, 10, 2, 3, 11, 12, 1}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v want %v (toks %q offs %v)", ids, want, toks, offs)
	}
	if toks[1] != "  <mask>" || toks[5] != "<x>  " {
		t.Errorf("added token values %q", toks)
	}
	if got := tk.Decode(ids, true); got != "a b cats cat a" {
		t.Errorf("decode skip specials: %q", got)
	}
	if !tk.IsSpecial(10) || tk.IsSpecial(11) || tk.VocabSize() != 13 {
		t.Errorf("IsSpecial/VocabSize wrong")
	}
}

func TestRobertaAndBertProcessing(t *testing.T) {
	for _, c := range []struct {
		js   string
		want []int
	}{
		{`{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0],"trim_offsets":true,"add_prefix_space":true}`, []int{0, 5, 2}},
		{`{"type":"BertProcessing","sep":["[SEP]",102],"cls":["[CLS]",101]}`, []int{101, 5, 102}},
	} {
		js := `{"model":{"type":"WordLevel","vocab":{"x":5},"unk_token":"x"},"post_processor":` + c.js + `}`
		tk, err := FromBytes([]byte(js), "t.json")
		if err != nil {
			t.Fatal(err)
		}
		if got := tk.Encode("x", true); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v want %v", c.js, got, c.want)
		}
		if got := tk.Encode("x", false); !reflect.DeepEqual(got, []int{5}) {
			t.Errorf("%s no specials: %v", c.js, got)
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := loadFixture(t, "llama3")
	g := loadGolden(t, "llama3")
	done := make(chan bool)
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- true }()
			for _, c := range g.Cases {
				if ids := tk.Encode(c.Text, c.AddSpecialTokens); !reflect.DeepEqual(ids, c.IDs) && len(c.IDs) > 0 {
					t.Errorf("concurrent encode mismatch on %q", c.Text)
					return
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}

func BenchmarkLoadLlama3(b *testing.B) {
	for b.Loop() {
		loadFixture(b, "llama3")
	}
}
