package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// piece is one split of the input: normalized text, or an already-recognised
// added token (tok >= 0).
type piece struct {
	n   nstr
	tok int
}

// splitBehavior is HF SplitDelimiterBehavior.
type splitBehavior int

const (
	bRemoved splitBehavior = iota
	bIsolated
	bMergedWithPrevious
	bMergedWithNext
	bContiguous
)

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return bRemoved, nil
	case "Isolated":
		return bIsolated, nil
	case "MergedWithPrevious":
		return bMergedWithPrevious, nil
	case "MergedWithNext":
		return bMergedWithNext, nil
	case "Contiguous":
		return bContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)", s)
}

type seg struct {
	a, b int
	m    bool
}

// scratch holds reusable buffers for one encode call.
type scratch struct {
	p1, p2, p3 []piece
	seqA, seqB []piece
	toks       []tok
	bpe        bpeScratch
	ints       []int
	segs       []seg
	out        []seg
}

// splitPiece splits n by the matches of m (HF NormalizedString::split) and
// appends the non-empty results to out.
func splitPiece(n nstr, m matcher, beh splitBehavior, invert bool, sc *scratch, out []piece) []piece {
	if len(n.s) == 0 {
		return out
	}
	sc.ints = m.find(n.s, sc.ints[:0])
	segs := sc.segs[:0]
	prev := 0
	for k := 0; k+1 < len(sc.ints); k += 2 {
		a, b := sc.ints[k], sc.ints[k+1]
		if a < prev || b < a || b > len(n.s) {
			continue
		}
		if prev != a {
			segs = append(segs, seg{prev, a, invert})
		}
		segs = append(segs, seg{a, b, !invert})
		prev = b
	}
	if prev != len(n.s) {
		segs = append(segs, seg{prev, len(n.s), invert})
	}
	sc.segs = segs
	res := sc.out[:0]
	switch beh {
	case bRemoved:
		for _, g := range segs {
			if !g.m {
				res = append(res, g)
			}
		}
	case bIsolated:
		res = append(res, segs...)
	case bMergedWithPrevious:
		prevMatch := false
		for _, g := range segs {
			if g.m && !prevMatch && len(res) > 0 {
				res[len(res)-1].b = g.b
			} else {
				res = append(res, seg{g.a, g.b, false})
			}
			prevMatch = g.m
		}
	case bMergedWithNext:
		prevMatch := false
		for k := len(segs) - 1; k >= 0; k-- {
			g := segs[k]
			if g.m && !prevMatch && len(res) > 0 {
				res[len(res)-1].a = g.a
			} else {
				res = append(res, seg{g.a, g.b, false})
			}
			prevMatch = g.m
		}
		for i, j := 0, len(res)-1; i < j; i, j = i+1, j-1 {
			res[i], res[j] = res[j], res[i]
		}
	case bContiguous:
		prevMatch := false
		for _, g := range segs {
			if g.m == prevMatch && len(res) > 0 {
				res[len(res)-1].b = g.b
			} else {
				res = append(res, seg{g.a, g.b, false})
			}
			prevMatch = g.m
		}
	}
	sc.out = res
	for _, g := range res {
		if g.b > g.a {
			out = append(out, piece{n: n.slice(g.a, g.b), tok: -1})
		}
	}
	return out
}

// preTokenizer splits one piece, appending results to out.
type preTokenizer interface {
	split(n nstr, sc *scratch, out []piece) []piece
}

type splitPT struct {
	m      matcher
	beh    splitBehavior
	invert bool
}

func (p *splitPT) split(n nstr, sc *scratch, out []piece) []piece {
	return splitPiece(n, p.m, p.beh, p.invert, sc, out)
}

type byteLevelPT struct {
	addPrefixSpace bool
	useRegex       bool
}

func (p *byteLevelPT) split(n nstr, sc *scratch, out []piece) []piece {
	if p.addPrefixSpace && len(n.s) > 0 && n.s[0] != ' ' {
		prepend(&n, " ")
	}
	start := len(out)
	if p.useRegex {
		out = splitPiece(n, gpt2Scanner{}, bIsolated, false, sc, out)
	} else if len(n.s) > 0 {
		out = append(out, piece{n: n, tok: -1})
	}
	for i := start; i < len(out); i++ {
		out[i].n.byteLevel = true
	}
	return out
}

type metaspacePT struct {
	repl    string
	scheme  string // always, first, never
	doSplit bool
}

func (p *metaspacePT) split(n nstr, sc *scratch, out []piece) []piece {
	replaceAll(&n, literalMatcher{" "}, p.repl, sc)
	switch p.scheme {
	case "always":
		if !strings.HasPrefix(n.s, p.repl) {
			prepend(&n, p.repl)
		}
	case "first":
		if !strings.HasPrefix(n.s, p.repl) && n.origStart() == 0 {
			prepend(&n, p.repl)
		}
	}
	if p.doSplit {
		return splitPiece(n, literalMatcher{p.repl}, bMergedWithNext, false, sc, out)
	}
	if len(n.s) > 0 {
		out = append(out, piece{n: n, tok: -1})
	}
	return out
}

// whitespaceMatcher matches \w+|[^\w\s]+ (Rust regex semantics).
type whitespaceMatcher struct{}

func (whitespaceMatcher) find(s string, buf []int) []int {
	for i := 0; i < len(s); {
		r, sz := decodeAt(s, i)
		switch {
		case isWordChar(r):
			e := runWhile(s, i, isWordChar)
			buf = append(buf, i, e)
			i = e
		case !isWS(r):
			e := runWhile(s, i, func(r rune) bool { return !isWordChar(r) && !isWS(r) })
			buf = append(buf, i, e)
			i = e
		default:
			i += sz
		}
	}
	return buf
}

type bertPT struct{}

func (bertPT) split(n nstr, sc *scratch, out []piece) []piece {
	start := len(out)
	out = splitPiece(n, charMatcher(isWS), bRemoved, false, sc, out)
	// second pass over the new pieces
	tmp := append([]piece(nil), out[start:]...)
	out = out[:start]
	for _, p := range tmp {
		out = splitPiece(p.n, charMatcher(isBertPunc), bIsolated, false, sc, out)
	}
	return out
}

type seqPT []preTokenizer

func (s seqPT) split(n nstr, sc *scratch, out []piece) []piece {
	cur := append(sc.seqA[:0], piece{n: n, tok: -1})
	next := sc.seqB[:0]
	for _, p := range s {
		_, isBL := p.(*byteLevelPT)
		next = next[:0]
		for _, c := range cur {
			if c.n.byteLevel && !isBL {
				materializeByteLevel(&c.n)
			}
			next = p.split(c.n, sc, next)
		}
		cur, next = next, cur
	}
	out = append(out, cur...)
	clear(cur)
	clear(next)
	sc.seqA, sc.seqB = cur[:0], next[:0]
	return out
}

// flattenPT inlines nested sequences (so seqPT never recurses into itself and
// can own the scratch buffers).
func flattenPT(p preTokenizer) preTokenizer {
	s, ok := p.(seqPT)
	if !ok {
		return p
	}
	var flat seqPT
	for _, x := range s {
		if inner, ok := flattenPT(x).(seqPT); ok {
			flat = append(flat, inner...)
		} else {
			flat = append(flat, x)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return flat
}

// prepend inserts str before n (HF NormalizedString::prepend): new chars share the
// alignment of the first char.
func prepend(n *nstr, str string) {
	if len(n.s) == 0 || str == "" {
		return
	}
	n.materialize()
	a := n.align[0]
	al := make([]span, 0, len(str)+len(n.align))
	for i := 0; i < len(str); i++ {
		al = append(al, a)
	}
	n.align = append(al, n.align...)
	n.s = str + n.s
}

// replaceAll replaces every match with content (HF NormalizedString::replace):
// inserted chars take the alignment of the last byte of the match.
func replaceAll(n *nstr, m matcher, content string, sc *scratch) {
	sc.ints = m.find(n.s, sc.ints[:0])
	if len(sc.ints) == 0 {
		return
	}
	n.materialize()
	var sb strings.Builder
	al := make([]span, 0, len(n.align))
	last := 0
	for k := 0; k+1 < len(sc.ints); k += 2 {
		a, b := sc.ints[k], sc.ints[k+1]
		if a < last {
			continue
		}
		sb.WriteString(n.s[last:a])
		al = append(al, n.align[last:a]...)
		var sp span
		if b > 0 {
			sp = n.align[b-1]
		} else if len(n.align) > 0 {
			sp = span{n.align[0].s, n.align[0].s}
		}
		sb.WriteString(content)
		for i := 0; i < len(content); i++ {
			al = append(al, sp)
		}
		last = b
	}
	sb.WriteString(n.s[last:])
	al = append(al, n.align[last:]...)
	n.s = sb.String()
	n.align = al
}

// materializeByteLevel converts a lazily byte-level piece into its actual
// byte-level alphabet text (HF ByteLevel normalize step).
func materializeByteLevel(n *nstr) {
	if !n.byteLevel {
		return
	}
	n.byteLevel = false
	dest := make([]change, 0, len(n.s))
	for i := 0; i < len(n.s); {
		_, sz := utf8.DecodeRuneInString(n.s[i:])
		for k := 0; k < sz; k++ {
			c := 0
			if k > 0 {
				c = 1
			}
			dest = append(dest, change{byteToRune[n.s[i+k]], c})
		}
		i += sz
	}
	n.transform(dest, 0)
}

const supportedPreTokenizers = "Sequence, ByteLevel, Split, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Digits, Metaspace, CharDelimiterSplit, UnicodeScripts"

func parsePreTokenizer(raw json.RawMessage, name string) (preTokenizer, error) {
	var h struct {
		Type           string            `json:"type"`
		Pretokenizers  []json.RawMessage `json:"pretokenizers"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		UseRegex       *bool             `json:"use_regex"`
		Pattern        json.RawMessage   `json:"pattern"`
		Behavior       string            `json:"behavior"`
		Invert         bool              `json:"invert"`
		Individual     bool              `json:"individual_digits"`
		Replacement    string            `json:"replacement"`
		PrependScheme  string            `json:"prepend_scheme"`
		Split          *bool             `json:"split"`
		Delimiter      string            `json:"delimiter"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: pre_tokenizer: %v", name, err)
	}
	switch h.Type {
	case "Sequence":
		var s seqPT
		for _, r := range h.Pretokenizers {
			p, err := parsePreTokenizer(r, name)
			if err != nil {
				return nil, err
			}
			s = append(s, p)
		}
		return s, nil
	case "ByteLevel":
		return &byteLevelPT{addPrefixSpace: boolOr(h.AddPrefixSpace, true), useRegex: boolOr(h.UseRegex, true)}, nil
	case "Split":
		m, err := parsePattern(h.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: Split pre_tokenizer: %v", name, err)
		}
		beh, err := parseBehavior(h.Behavior)
		if err != nil {
			return nil, fmt.Errorf("%s: Split pre_tokenizer: %v", name, err)
		}
		return &splitPT{m: m, beh: beh, invert: h.Invert}, nil
	case "Whitespace":
		return &splitPT{m: whitespaceMatcher{}, beh: bRemoved, invert: true}, nil
	case "WhitespaceSplit":
		return &splitPT{m: charMatcher(isWS), beh: bRemoved}, nil
	case "BertPreTokenizer":
		return bertPT{}, nil
	case "Punctuation":
		beh := bIsolated
		if h.Behavior != "" {
			b, err := parseBehavior(h.Behavior)
			if err != nil {
				return nil, fmt.Errorf("%s: Punctuation pre_tokenizer: %v", name, err)
			}
			beh = b
		}
		return &splitPT{m: charMatcher(isBertPunc), beh: beh}, nil
	case "Digits":
		beh := bContiguous
		if h.Individual {
			beh = bIsolated
		}
		return &splitPT{m: charMatcher(isN), beh: beh}, nil
	case "CharDelimiterSplit":
		r, _ := utf8.DecodeRuneInString(h.Delimiter)
		return &splitPT{m: charMatcher(func(c rune) bool { return c == r }), beh: bRemoved}, nil
	case "UnicodeScripts":
		return unicodeScriptsPT{}, nil
	case "Metaspace":
		repl := h.Replacement
		if repl == "" {
			repl = "\u2581"
		}
		if r, sz := utf8.DecodeRuneInString(repl); sz != len(repl) || r == utf8.RuneError {
			return nil, fmt.Errorf("%s: Metaspace replacement must be one char, got %q", name, repl)
		}
		scheme := h.PrependScheme
		if scheme == "" {
			scheme = "always"
			if h.AddPrefixSpace != nil && !*h.AddPrefixSpace {
				scheme = "never"
			}
		}
		if scheme != "always" && scheme != "first" && scheme != "never" {
			return nil, fmt.Errorf("%s: Metaspace: unknown prepend_scheme %q", name, scheme)
		}
		return &metaspacePT{repl: repl, scheme: scheme, doSplit: boolOr(h.Split, true)}, nil
	}
	return nil, unknownType(name, "pre_tokenizer", h.Type, supportedPreTokenizers)
}

// parsePattern parses {"String": s} or {"Regex": r}.
func parsePattern(raw json.RawMessage) (matcher, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("pattern: %v", err)
	}
	switch {
	case p.String != nil:
		return literalMatcher{*p.String}, nil
	case p.Regex != nil:
		m, err := compileRegex(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", *p.Regex, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("pattern must be {\"String\": ...} or {\"Regex\": ...}")
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func unknownType(name, kind, typ, supported string) error {
	if typ == "" {
		return fmt.Errorf("%s: %s has no \"type\" (supported: %s)", name, kind, supported)
	}
	return fmt.Errorf("%s: unknown %s type %q (supported: %s)", name, kind, typ, supported)
}
