package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder transforms the token strings (HF Decoder::decode_chain).
type decoder interface {
	decodeChain(toks []string) []string
}

type seqDec []decoder

func (s seqDec) decodeChain(t []string) []string {
	for _, d := range s {
		t = d.decodeChain(t)
	}
	return t
}

type byteLevelDec struct{}

func (byteLevelDec) decodeChain(toks []string) []string {
	var b []byte
	for _, t := range toks {
		start := len(b)
		ok := true
		for _, r := range t {
			c, found := runeToByte[r]
			if !found {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:start], t...)
		}
	}
	return []string{string(appendLossy(nil, b))}
}

type metaspaceDec struct {
	repl      rune
	prefixing bool // prepend_scheme != never
}

func (d metaspaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for _, r := range t {
			if r == d.repl {
				if i == 0 && d.prefixing {
					continue
				}
				sb.WriteByte(' ')
			} else {
				sb.WriteRune(r)
			}
		}
		out[i] = sb.String()
	}
	return out
}

type wordPieceDec struct {
	prefix  string
	cleanup bool
}

var cleanupReplacer = []struct{ a, b string }{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
	{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

func cleanupText(s string) string {
	for _, r := range cleanupReplacer {
		s = strings.ReplaceAll(s, r.a, r.b)
	}
	return s
}

func (d wordPieceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = t[len(d.prefix):]
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanupText(t)
		}
		out[i] = t
	}
	return out
}

type replaceDec struct {
	m       matcher
	content string
}

func (d replaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	var buf []int
	for i, t := range toks {
		buf = d.m.find(t, buf[:0])
		if len(buf) == 0 {
			out[i] = t
			continue
		}
		var sb strings.Builder
		last := 0
		for k := 0; k+1 < len(buf); k += 2 {
			if buf[k] < last {
				continue
			}
			sb.WriteString(t[last:buf[k]])
			sb.WriteString(d.content)
			last = buf[k+1]
		}
		sb.WriteString(t[last:])
		out[i] = sb.String()
	}
	return out
}

type byteFallbackDec struct{}

func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

func (byteFallbackDec) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pend []byte
	flush := func() {
		if len(pend) == 0 {
			return
		}
		if utf8.Valid(pend) {
			out = append(out, string(pend))
		} else {
			for range pend {
				out = append(out, "\uFFFD")
			}
		}
		pend = pend[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pend = append(pend, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDec struct{}

func (fuseDec) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		sc := 0
		for sc < len(rs) && sc < d.start && rs[sc] == d.content {
			sc++
		}
		ec := 0
		for ec < len(rs) && ec < d.stop && rs[len(rs)-1-ec] == d.content {
			ec++
		}
		// HF takes (byte length - cuts) chars after the start cut.
		take := len(t) - sc - ec
		if take < 0 {
			take = 0
		}
		rest := rs[sc:]
		if take < len(rest) {
			rest = rest[:take]
		}
		out[i] = string(rest)
	}
	return out
}

type bpeDec struct{ suffix string }

func (d bpeDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		if d.suffix != "" {
			t = strings.ReplaceAll(t, d.suffix, rep)
		}
		out[i] = t
	}
	return out
}

type ctcDec struct {
	pad, delim string
	cleanup    bool
}

func (d ctcDec) decodeChain(toks []string) []string {
	var out []string
	for i, t := range toks {
		if i > 0 && toks[i-1] == t {
			continue
		}
		if d.pad != "" {
			t = strings.ReplaceAll(t, d.pad, "")
		}
		if d.cleanup {
			t = strings.ReplaceAll(cleanupText(t), d.delim, " ")
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

const supportedDecoders = "ByteLevel, Metaspace, WordPiece, Replace, ByteFallback, Fuse, Strip, Sequence, BPEDecoder, CTC"

func parseDecoder(raw json.RawMessage, name string) (decoder, error) {
	var h struct {
		Type           string            `json:"type"`
		Decoders       []json.RawMessage `json:"decoders"`
		Replacement    string            `json:"replacement"`
		PrependScheme  string            `json:"prepend_scheme"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		Prefix         *string           `json:"prefix"`
		Cleanup        *bool             `json:"cleanup"`
		Pattern        json.RawMessage   `json:"pattern"`
		Content        json.RawMessage   `json:"content"`
		Start          int               `json:"start"`
		Stop           int               `json:"stop"`
		Suffix         *string           `json:"suffix"`
		PadToken       *string           `json:"pad_token"`
		WordDelim      *string           `json:"word_delimiter_token"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: decoder: %v", name, err)
	}
	str := func(r json.RawMessage) string {
		var s string
		_ = json.Unmarshal(r, &s)
		return s
	}
	switch h.Type {
	case "Sequence":
		var s seqDec
		for _, r := range h.Decoders {
			d, err := parseDecoder(r, name)
			if err != nil {
				return nil, err
			}
			s = append(s, d)
		}
		return s, nil
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		repl := h.Replacement
		if repl == "" {
			repl = "\u2581"
		}
		r, _ := utf8.DecodeRuneInString(repl)
		scheme := h.PrependScheme
		if scheme == "" {
			scheme = "always"
			if h.AddPrefixSpace != nil && !*h.AddPrefixSpace {
				scheme = "never"
			}
		}
		return metaspaceDec{repl: r, prefixing: scheme != "never"}, nil
	case "WordPiece":
		p := "##"
		if h.Prefix != nil {
			p = *h.Prefix
		}
		return wordPieceDec{prefix: p, cleanup: boolOr(h.Cleanup, true)}, nil
	case "Replace":
		m, err := parsePattern(h.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: Replace decoder: %v", name, err)
		}
		return replaceDec{m: m, content: str(h.Content)}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		r, _ := utf8.DecodeRuneInString(str(h.Content))
		return stripDec{content: r, start: h.Start, stop: h.Stop}, nil
	case "BPEDecoder":
		s := "</w>"
		if h.Suffix != nil {
			s = *h.Suffix
		}
		return bpeDec{suffix: s}, nil
	case "CTC":
		d := ctcDec{pad: "<pad>", delim: "|", cleanup: boolOr(h.Cleanup, true)}
		if h.PadToken != nil {
			d.pad = *h.PadToken
		}
		if h.WordDelim != nil {
			d.delim = *h.WordDelim
		}
		return d, nil
	}
	return nil, unknownType(name, "decoder", h.Type, supportedDecoders)
}
