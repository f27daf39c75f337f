// Package tokenizer is a pure-Go interpreter for Hugging Face tokenizer.json
// files, matching the Rust huggingface/tokenizers library on ids and tokens.
//
// Supported: models BPE (byte-level and SentencePiece-style with byte_fallback,
// fuse_unk, ignore_merges, continuing_subword_prefix, end_of_word_suffix),
// WordPiece and WordLevel; the usual normalizers, pre-tokenizers,
// post-processors and decoders (see the supported* constants). Unsupported
// component types are reported as errors when loading.
//
// Deviations, documented:
//   - Go strings may hold invalid UTF-8, Python str cannot: Encode first replaces
//     each maximal invalid byte subsequence with U+FFFD (Python's
//     errors="replace" behaviour).
//   - The "Precompiled" normalizer (SentencePiece charsmap) is treated as identity.
//   - Unigram models are not supported (loading reports an error).
//   - Offsets are best effort (characters, as the Python bindings report them).
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer is a loaded tokenizer.json pipeline.
type Tokenizer struct {
	name       string
	added      []*addedToken
	addedByID  map[int]*addedToken
	addedByTok map[string]int
	specialTok map[string]bool // contents of the special added tokens
	rawSet     *addedSet       // added tokens matched on the raw text
	normSet    *addedSet       // added tokens matched on normalized text
	normalizer normalizer
	pretok     preTokenizer
	model      model
	post       processor
	decoder    decoder
	maxID      int

	pool sync.Pool
}

type fileJSON struct {
	AddedTokens   []*addedToken   `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
}

// FromFile loads a tokenizer.json file.
func FromFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return FromBytes(data, path)
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

const supportedModels = "BPE, WordPiece, WordLevel"

// FromBytes parses tokenizer.json content; name is used in error messages.
func FromBytes(data []byte, name string) (t *Tokenizer, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%s: invalid tokenizer: %v", name, r)
		}
	}()
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: invalid tokenizer.json: %v", name, err)
	}
	t = &Tokenizer{name: name, addedByID: map[int]*addedToken{}, addedByTok: map[string]int{}, specialTok: map[string]bool{}}
	if isNull(f.Model) {
		return nil, fmt.Errorf("%s: missing model", name)
	}
	if t.model, err = parseModel(f.Model, name); err != nil {
		return nil, err
	}
	if !isNull(f.Normalizer) {
		if t.normalizer, err = parseNormalizer(f.Normalizer, name); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.pretok, err = parsePreTokenizer(f.PreTokenizer, name); err != nil {
			return nil, err
		}
		t.pretok = flattenPT(t.pretok)
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = parseProcessor(f.PostProcessor, name); err != nil {
			return nil, err
		}
	}
	if !isNull(f.Decoder) {
		if t.decoder, err = parseDecoder(f.Decoder, name); err != nil {
			return nil, err
		}
	}
	t.maxID = t.model.maxID()
	var rawPats, normPats []addedPat
	for _, a := range f.AddedTokens {
		if a == nil {
			continue
		}
		if a.ID < 0 {
			return nil, fmt.Errorf("%s: added token %q has negative id %d", name, a.Content, a.ID)
		}
		t.added = append(t.added, a)
		t.addedByID[a.ID] = a
		t.addedByTok[a.Content] = a.ID
		if a.ID > t.maxID {
			t.maxID = a.ID
		}
		if a.Special {
			t.specialTok[a.Content] = true
		}
		// HF matches normalized tokens (special or not) on the normalized text,
		// by their normalized content, which is also what id_to_token and
		// decode report for them.
		a.display = a.Content
		if a.Normalized && t.normalizer != nil {
			n := nstr{s: a.Content}
			t.normalizer.normalize(&n, &scratch{})
			if n.byteLevel {
				materializeByteLevel(&n)
			}
			a.display = n.s
		}
		if a.Normalized {
			normPats = append(normPats, addedPat{a.display, a})
		} else {
			rawPats = append(rawPats, addedPat{a.Content, a})
		}
	}
	t.rawSet = newAddedSet(rawPats)
	t.normSet = newAddedSet(normPats)
	t.pool.New = func() any { return &scratch{} }
	return t, nil
}

func parseModel(raw json.RawMessage, name string) (model, error) {
	var h struct {
		Type     string          `json:"type"`
		Merges   json.RawMessage `json:"merges"`
		MaxChars json.RawMessage `json:"max_input_chars_per_word"`
		Vocab    json.RawMessage `json:"vocab"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: model: %v", name, err)
	}
	typ := h.Type
	if typ == "" { // untagged (older files): infer like HF's untagged deserializer
		v := bytes.TrimSpace(h.Vocab)
		switch {
		case h.Merges != nil:
			typ = "BPE"
		case h.MaxChars != nil:
			typ = "WordPiece"
		case len(v) > 0 && v[0] == '[':
			typ = "Unigram"
		default:
			typ = "WordLevel"
		}
	}
	switch typ {
	case "BPE":
		return parseBPE(raw, name)
	case "WordPiece":
		return parseWordPiece(raw, name)
	case "WordLevel":
		return parseWordLevel(raw, name)
	}
	return nil, unknownType(name, "model", typ, supportedModels)
}

// VocabSize is max id + 1 over the model vocabulary and the added tokens.
func (t *Tokenizer) VocabSize() int { return t.maxID + 1 }

// TokenToID looks a token up in the added tokens, then the model vocabulary.
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.addedByTok[tok]; ok {
		return id, true
	}
	return t.model.tokenToID(tok)
}

// IDToToken looks an id up in the added tokens, then the model vocabulary.
// Like HF, a normalized added token reports its normalized content.
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.display, true
	}
	return t.model.idToToken(id)
}

// IsSpecial reports whether id is an added token with special=true.
func (t *Tokenizer) IsSpecial(id int) bool {
	a, ok := t.addedByID[id]
	return ok && a.Special
}

// Encode returns the token ids of text, like HF encode(text, add_special_tokens).ids.
func (t *Tokenizer) Encode(text string, addSpecialTokens bool) []int {
	e := t.encode(text, addSpecialTokens, false)
	return e.ids
}

// EncodeTokens returns ids, token strings and offsets ([start,end) in characters
// of text, as the Python bindings report them; best effort).
func (t *Tokenizer) EncodeTokens(text string, addSpecialTokens bool) (ids []int, tokens []string, offsets [][2]int) {
	text = toValidUTF8(text)
	e := t.encode(text, addSpecialTokens, true)
	// byte offsets -> char offsets
	charAt := make([]int, len(text)+1)
	c := 0
	for i := 0; i < len(text); {
		_, sz := utf8.DecodeRuneInString(text[i:])
		for k := 0; k < sz; k++ {
			charAt[i+k] = c
		}
		i += sz
		c++
	}
	charAt[len(text)] = c
	for i := range e.offs {
		for k := 0; k < 2; k++ {
			v := e.offs[i][k]
			v = max(0, min(v, len(text)))
			e.offs[i][k] = charAt[v]
		}
	}
	return e.ids, e.toks, e.offs
}

func (t *Tokenizer) encode(text string, add, track bool) encoding {
	text = toValidUTF8(text)
	sc := t.pool.Get().(*scratch)
	defer t.pool.Put(sc)
	e := encoding{track: track}

	// 1. added tokens on the raw text, 2. normalize the rest, 3. normalized added tokens.
	pieces := t.rawSet.split(nstr{s: text}, sc.p1[:0])
	sc.p1 = pieces
	if t.normalizer != nil || !t.normSet.empty {
		next := sc.p2[:0]
		for _, p := range pieces {
			if p.tok >= 0 {
				next = append(next, p)
				continue
			}
			if t.normalizer != nil {
				t.normalizer.normalize(&p.n, sc)
			}
			next = t.normSet.split(p.n, next)
		}
		sc.p2 = next
		pieces, sc.p1 = next, pieces
	}
	// 4. pre-tokenize.
	if t.pretok != nil {
		next := sc.p3[:0]
		for _, p := range pieces {
			if p.tok >= 0 {
				next = append(next, p)
				continue
			}
			next = t.pretok.split(p.n, sc, next)
		}
		sc.p3 = next
		pieces = next
	}
	// 5. model.
	e.ids = make([]int, 0, len(text)/3+4)
	for i := range pieces {
		p := &pieces[i]
		if p.tok >= 0 {
			if track {
				a, b := p.n.origRange(0, len(p.n.s))
				e.add(p.tok, p.n.s, [2]int{a, b})
			} else {
				e.ids = append(e.ids, p.tok)
			}
			continue
		}
		if p.n.byteLevel && !t.model.wantsByteLevel() {
			materializeByteLevel(&p.n)
		}
		toks := t.model.tokenize(&p.n, sc, sc.toks[:0])
		sc.toks = toks
		for _, tk := range toks {
			if !track {
				e.ids = append(e.ids, tk.id)
				continue
			}
			s, _ := t.model.idToToken(tk.id)
			a, b := max(0, min(tk.a, len(p.n.s))), max(0, min(tk.b, len(p.n.s)))
			// Extend partial chars (byte-level pieces, byte-fallback tokens) to
			// whole chars, as HF's char offsets do.
			for a > 0 && a < len(p.n.s) && !utf8.RuneStart(p.n.s[a]) {
				a--
			}
			for b < len(p.n.s) && !utf8.RuneStart(p.n.s[b]) {
				b++
			}
			oa, ob := p.n.origRange(a, b)
			e.add(tk.id, s, [2]int{oa, ob})
		}
	}
	for i := range pieces {
		pieces[i] = piece{}
	}
	// 6. post-process.
	if t.post != nil {
		t.post.process(&e, add)
	}
	return e
}

// Decode turns ids back into text, like HF decode(ids, skip_special_tokens).
// Unknown ids are skipped. As in HF, skipping tests the token string (what
// IDToToken reports) against the special tokens' contents, so a normalized
// special token whose normalized form differs is kept.
func (t *Tokenizer) Decode(ids []int, skipSpecialTokens bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		s, ok := t.IDToToken(id)
		if !ok {
			continue
		}
		if skipSpecialTokens && t.specialTok[s] {
			continue
		}
		toks = append(toks, s)
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder.decodeChain(toks), "")
}

// AddedTokens returns the ids of all added tokens, ascending.
func (t *Tokenizer) AddedTokens() []int {
	ids := make([]int, 0, len(t.added))
	for id := range t.addedByID {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}
