//go:build hftokenizers

package hforacle

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/daulet/tokenizers"
)

// Tokenizer is a Hugging Face tokenizer loaded from a tokenizer.json file by the Rust library.
// Its methods may be called from several goroutines at once, but not concurrently with Close.
type Tokenizer struct {
	tk *tokenizers.Tokenizer
}

// Load reads a Hugging Face tokenizer.json file. Call Close to free the native tokenizer.
func Load(path string) (*Tokenizer, error) {
	tk, err := tokenizers.FromFile(path)
	if err != nil {
		return nil, fmt.Errorf("hforacle: loading %s: %w", path, err)
	}
	return &Tokenizer{tk: tk}, nil
}

// LoadBytes parses the bytes of a tokenizer.json file; name is used in errors.
func LoadBytes(data []byte, name string) (*Tokenizer, error) {
	tk, err := tokenizers.FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("hforacle: loading %s: %w", name, err)
	}
	return &Tokenizer{tk: tk}, nil
}

// Close frees the native tokenizer. The Tokenizer must not be used afterwards.
func (t *Tokenizer) Close() {
	if t.tk != nil {
		t.tk.Close()
		t.tk = nil
	}
}

// CanEncode reports whether Encode sees text exactly as given: text must hold no NUL byte
// (it crosses the C ABI as a NUL-terminated string) and must be valid UTF-8 (the Rust side
// replaces invalid sequences with U+FFFD, which shifts offsets).
func CanEncode(text string) bool {
	return strings.IndexByte(text, 0) < 0 && utf8.ValidString(text)
}

func checkNUL(text string) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		panic(fmt.Sprintf("hforacle: text has a NUL byte at offset %d; the Rust tokenizer's C ABI would truncate it there (see CanEncode)", i))
	}
}

// Encode returns Hugging Face's token ids for text, with the post-processor's special
// tokens (BOS, [CLS]/[SEP], ...) when addSpecialTokens is true. Special tokens written
// literally in text are recognized as in HF (encode_special_tokens = false).
// It panics if text contains a NUL byte (see CanEncode).
func (t *Tokenizer) Encode(text string, addSpecialTokens bool) []int {
	checkNUL(text)
	// EncodeWithOptions without options returns ids only (Encode would also copy the
	// token strings across the ABI).
	enc := t.tk.EncodeWithOptions(text, addSpecialTokens)
	ids := make([]int, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int(id)
	}
	return ids
}

// Encoding is a detailed encoding: ids, token strings and byte offsets into the text.
type Encoding struct {
	IDs     []int
	Tokens  []string
	Offsets [][2]int // byte offsets [start, end) into the encoded text; special tokens have [0, 0]
}

// EncodeDetailed is Encode that also returns the token strings and byte offsets, for
// diagnostics. It panics if text contains a NUL byte (see CanEncode).
func (t *Tokenizer) EncodeDetailed(text string, addSpecialTokens bool) Encoding {
	checkNUL(text)
	enc := t.tk.EncodeWithOptions(text, addSpecialTokens, tokenizers.WithReturnTokens(), tokenizers.WithReturnOffsets())
	out := Encoding{
		IDs:     make([]int, len(enc.IDs)),
		Tokens:  enc.Tokens,
		Offsets: make([][2]int, len(enc.Offsets)),
	}
	for i, id := range enc.IDs {
		out.IDs[i] = int(id)
	}
	for i, o := range enc.Offsets {
		out.Offsets[i] = [2]int{int(o[0]), int(o[1])}
	}
	return out
}

// Decode turns ids back into text as HF's decode(ids, skip_special_tokens) does. Ids that
// do not fit in uint32 are dropped, as HF drops ids missing from the vocabulary.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	u := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id <= int(^uint32(0)) {
			u = append(u, uint32(id))
		}
	}
	return t.tk.Decode(u, skipSpecial)
}

// VocabSize returns the size of the vocabulary, added tokens included.
func (t *Tokenizer) VocabSize() int {
	return int(t.tk.VocabSize())
}
