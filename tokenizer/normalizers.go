package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece in place, keeping alignments.
type normalizer interface {
	normalize(n *nstr, sc *scratch)
}

type seqNorm []normalizer

func (s seqNorm) normalize(n *nstr, sc *scratch) {
	for _, x := range s {
		x.normalize(n, sc)
	}
}

// unicodeNorm applies NFC/NFD/NFKC/NFKD. Alignment changes are derived per
// normalization segment (equal counts map 1:1; extra output chars are
// insertions; fewer output chars remove the following input chars).
type unicodeNorm struct{ f norm.Form }

func (u unicodeNorm) normalize(n *nstr, _ *scratch) {
	if u.f.IsNormalString(n.s) {
		return
	}
	var dest []change
	s := n.s
	var buf []byte
	for i := 0; i < len(s); {
		j := i + u.f.NextBoundaryInString(s[i:], true)
		if j <= i {
			j = len(s)
		}
		in := s[i:j]
		buf = u.f.AppendString(buf[:0], in)
		k := utf8.RuneCountInString(in)
		m := utf8.RuneCount(buf)
		idx := 0
		for o := 0; o < len(buf); {
			r, sz := utf8.DecodeRune(buf[o:])
			c := 0
			switch {
			case m >= k && idx >= k:
				c = 1
			case m < k && idx == 0:
				c = -(k - m)
			}
			dest = append(dest, change{r, c})
			idx++
			o += sz
		}
		i = j
	}
	n.transform(dest, 0)
}

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(n *nstr, _ *scratch) { lowercase(n) }

func lowercase(n *nstr) {
	need := false
	for _, r := range n.s {
		if r == 0x130 || unicode.ToLower(r) != r {
			need = true
			break
		}
	}
	if !need {
		return
	}
	if sameLenMap(n, func(r rune) rune {
		if r == 0x130 {
			return -1
		}
		return unicode.ToLower(r)
	}) {
		return
	}
	dest := make([]change, 0, len(n.s))
	for _, r := range n.s {
		if r == 0x130 { // Rust to_lowercase: U+0130 -> "i\u0307"
			dest = append(dest, change{'i', 0}, change{0x307, 1})
			continue
		}
		dest = append(dest, change{unicode.ToLower(r), 0})
	}
	n.transform(dest, 0)
}

// filter keeps chars for which keep is true (HF NormalizedString::filter).
func filter(n *nstr, keep func(rune) bool) {
	need := false
	for _, r := range n.s {
		if !keep(r) {
			need = true
			break
		}
	}
	if !need {
		return
	}
	dest := make([]change, 0, len(n.s))
	removed, removedStart := 0, 0
	var last rune
	have := false
	for _, r := range n.s {
		if keep(r) {
			if have {
				dest = append(dest, change{last, -removed})
			} else {
				removedStart = removed
			}
			last, have = r, true
			removed = 0
		} else {
			removed++
		}
	}
	if have {
		dest = append(dest, change{last, -removed})
	} else {
		removedStart = removed
	}
	n.transform(dest, removedStart)
}

// mapChars applies f to every char (HF NormalizedString::map).
func mapChars(n *nstr, f func(rune) rune) {
	need := false
	for _, r := range n.s {
		if f(r) != r {
			need = true
			break
		}
	}
	if !need {
		return
	}
	if sameLenMap(n, f) {
		return
	}
	dest := make([]change, 0, len(n.s))
	for _, r := range n.s {
		dest = append(dest, change{f(r), 0})
	}
	n.transform(dest, 0)
}

// sameLenMap applies a 1:1 char mapping when every output char has the same
// UTF-8 length as its input (then alignments are unchanged). It returns false,
// doing nothing, when that does not hold (f returning -1 forces false).
func sameLenMap(n *nstr, f func(rune) rune) bool {
	for _, r := range n.s {
		o := f(r)
		if o < 0 || utf8.RuneLen(o) != utf8.RuneLen(r) {
			return false
		}
	}
	b := make([]byte, 0, len(n.s))
	for _, r := range n.s {
		b = utf8.AppendRune(b, f(r))
	}
	n.s = string(b)
	return true
}

type stripAccentsNorm struct{}

func (stripAccentsNorm) normalize(n *nstr, _ *scratch) {
	// HF's is_combining_mark: General_Category Mark (Mn, Mc and Me).
	filter(n, func(r rune) bool { return !unicode.IsMark(r) })
}

type stripNorm struct{ left, right bool }

func (s stripNorm) normalize(n *nstr, _ *scratch) {
	rs := []rune(n.s)
	lead, trail := 0, 0
	if s.left {
		for lead < len(rs) && isWS(rs[lead]) {
			lead++
		}
	}
	if s.right {
		for trail < len(rs)-lead && isWS(rs[len(rs)-1-trail]) {
			trail++
		}
	}
	if lead == 0 && trail == 0 {
		return
	}
	dest := make([]change, 0, len(rs))
	for i := lead; i < len(rs)-trail; i++ {
		c := 0
		if i == len(rs)-trail-1 {
			c = -trail
		}
		dest = append(dest, change{rs[i], c})
	}
	n.transform(dest, lead)
}

type replaceNorm struct {
	m       matcher
	content string
}

func (r replaceNorm) normalize(n *nstr, sc *scratch) { replaceAll(n, r.m, r.content, sc) }

type prependNorm struct{ s string }

func (p prependNorm) normalize(n *nstr, _ *scratch) { prepend(n, p.s) }

type byteLevelNorm struct{}

func (byteLevelNorm) normalize(n *nstr, _ *scratch) {
	n.byteLevel = true
	materializeByteLevel(n)
}

type identityNorm struct{}

func (identityNorm) normalize(*nstr, *scratch) {}

type bertNorm struct {
	cleanText, chinese, stripAccents, lowercase bool
}

func (b bertNorm) normalize(n *nstr, _ *scratch) {
	if b.cleanText {
		filter(n, func(r rune) bool {
			return !(r == 0 || r == 0xFFFD || (r != '\t' && r != '\n' && r != '\r' && isOther(r)))
		})
		mapChars(n, func(r rune) rune {
			if isWS(r) {
				return ' '
			}
			return r
		})
	}
	if b.chinese {
		need := false
		for _, r := range n.s {
			if isChineseChar(r) {
				need = true
				break
			}
		}
		if need {
			dest := make([]change, 0, len(n.s)+8)
			for _, r := range n.s {
				if isChineseChar(r) {
					dest = append(dest, change{' ', 0}, change{r, 1}, change{' ', 1})
				} else {
					dest = append(dest, change{r, 0})
				}
			}
			n.transform(dest, 0)
		}
	}
	if b.stripAccents {
		// BertNormalizer drops only nonspacing marks (Mn), unlike StripAccents.
		unicodeNorm{norm.NFD}.normalize(n, nil)
		filter(n, func(r rune) bool { return !unicode.Is(unicode.Mn, r) })
	}
	if b.lowercase {
		lowercase(n)
	}
}

const supportedNormalizers = "Sequence, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend, BertNormalizer, ByteLevel, Precompiled (identity)"

func parseNormalizer(raw json.RawMessage, name string) (normalizer, error) {
	var h struct {
		Type         string            `json:"type"`
		Normalizers  []json.RawMessage `json:"normalizers"`
		StripLeft    *bool             `json:"strip_left"`
		StripRight   *bool             `json:"strip_right"`
		Pattern      json.RawMessage   `json:"pattern"`
		Content      string            `json:"content"`
		Prepend      string            `json:"prepend"`
		CleanText    *bool             `json:"clean_text"`
		Chinese      *bool             `json:"handle_chinese_chars"`
		StripAccents *bool             `json:"strip_accents"`
		Lowercase    *bool             `json:"lowercase"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: normalizer: %v", name, err)
	}
	switch h.Type {
	case "Sequence":
		var s seqNorm
		for _, r := range h.Normalizers {
			x, err := parseNormalizer(r, name)
			if err != nil {
				return nil, err
			}
			s = append(s, x)
		}
		return s, nil
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "StripAccents":
		return stripAccentsNorm{}, nil
	case "Strip":
		return stripNorm{left: boolOr(h.StripLeft, true), right: boolOr(h.StripRight, true)}, nil
	case "Replace":
		m, err := parsePattern(h.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: Replace normalizer: %v", name, err)
		}
		return replaceNorm{m: m, content: h.Content}, nil
	case "Prepend":
		return prependNorm{h.Prepend}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "Precompiled":
		// The SentencePiece precompiled charsmap is not interpreted: identity.
		return identityNorm{}, nil
	case "BertNormalizer":
		lc := boolOr(h.Lowercase, true)
		return bertNorm{
			cleanText:    boolOr(h.CleanText, true),
			chinese:      boolOr(h.Chinese, true),
			stripAccents: boolOr(h.StripAccents, lc),
			lowercase:    lc,
		}, nil
	}
	return nil, unknownType(name, "normalizer", h.Type, supportedNormalizers)
}

var _ = strings.HasPrefix
