package tokenizer

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// matcher finds non-overlapping matches in s, appending [start,end) byte pairs
// to buf in ascending order.
type matcher interface {
	find(s string, buf []int) []int
}

// The two pre-tokenization regexes that matter most, recognised verbatim and
// served by hand-written scanners (equivalent to Oniguruma on them; tested
// against regexp2).
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

func decodeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// isP is the class [^\s\p{L}\p{N}].
func isP(r rune) bool { return r >= 0 && !isWS(r) && !isL(r) && !isN(r) }

func runWhile(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, sz := decodeAt(s, i)
		if !f(r) {
			break
		}
		i += sz
	}
	return i
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at s[i] (s[i]=='\”) and returns the end or -1.
func contraction(s string, i int, fold bool) int {
	low := func(r rune) rune {
		if !fold {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		if r == 0x17F { // ſ folds to s under Unicode case folding (Oniguruma)
			return 's'
		}
		return r
	}
	r1, n1 := decodeAt(s, i+1)
	switch low(r1) {
	case 's', 't', 'm', 'd':
		return i + 1 + n1
	case 'r', 'v', 'l':
		r2, n2 := decodeAt(s, i+1+n1)
		want := 'e'
		if low(r1) == 'l' {
			want = 'l'
		}
		if low(r2) == want {
			return i + 1 + n1 + n2
		}
	}
	return -1
}

// wsTail handles \s+(?!\S)|\s+ at a whitespace run [i,j).
func wsTail(s string, i, j int) int {
	if j >= len(s) {
		return j
	}
	_, lsz := utf8.DecodeLastRuneInString(s[i:j])
	if j-lsz > i {
		return j - lsz
	}
	return j
}

type gpt2Scanner struct{}

func (gpt2Scanner) find(s string, buf []int) []int {
	for i := 0; i < len(s); {
		e := gpt2Next(s, i)
		buf = append(buf, i, e)
		i = e
	}
	return buf
}

func gpt2Next(s string, i int) int {
	r, sz := decodeAt(s, i)
	if r == '\'' {
		if e := contraction(s, i, false); e > 0 {
			return e
		}
	}
	j, rr := i, r
	if r == ' ' {
		r2, _ := decodeAt(s, i+1)
		if r2 >= 0 && !isWS(r2) {
			j, rr = i+1, r2
		}
	}
	switch {
	case isL(rr):
		return runWhile(s, j, isL)
	case isN(rr):
		return runWhile(s, j, isN)
	case isP(rr):
		return runWhile(s, j, isP)
	}
	// whitespace (r is \s here)
	_ = sz
	end := runWhile(s, i, isWS)
	return wsTail(s, i, end)
}

type llama3Scanner struct{}

func (llama3Scanner) find(s string, buf []int) []int {
	for i := 0; i < len(s); {
		e := llama3Next(s, i)
		buf = append(buf, i, e)
		i = e
	}
	return buf
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

func llama3Next(s string, i int) int {
	r, sz := decodeAt(s, i)
	if r == '\'' {
		if e := contraction(s, i, true); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isL(r) {
		return runWhile(s, i+sz, isL)
	}
	if !isCRLF(r) && !isN(r) {
		if r2, _ := decodeAt(s, i+sz); r2 >= 0 && isL(r2) {
			return runWhile(s, i+sz, isL)
		}
	}
	// \p{N}{1,3}
	if isN(r) {
		j := i + sz
		for k := 0; k < 2; k++ {
			r2, sz2 := decodeAt(s, j)
			if r2 < 0 || !isN(r2) {
				break
			}
			j += sz2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	j := -1
	if r == ' ' {
		if r2, _ := decodeAt(s, i+1); isP(r2) {
			j = i + 1
		}
	} else if isP(r) {
		j = i
	}
	if j >= 0 {
		j = runWhile(s, j, isP)
		return runWhile(s, j, isCRLF)
	}
	// whitespace run
	end := runWhile(s, i, isWS)
	// \s*[\r\n]+ : up to the last CR/LF in the run
	if k := strings.LastIndexAny(s[i:end], "\r\n"); k >= 0 {
		return i + k + 1
	}
	return wsTail(s, i, end)
}

// regexMatcher is the general fallback (Oniguruma-like semantics via regexp2).
type regexMatcher struct{ re *regexp2.Regexp }

func (m regexMatcher) find(s string, buf []int) []int {
	idx, err := m.re.FindAllStringIndex(s, -1)
	if err != nil {
		return buf
	}
	for _, p := range idx {
		buf = append(buf, p[0], p[1])
	}
	return buf
}

// literalMatcher matches a fixed string.
type literalMatcher struct{ lit string }

func (m literalMatcher) find(s string, buf []int) []int {
	if m.lit == "" {
		return buf
	}
	for i := 0; i <= len(s); {
		k := strings.Index(s[i:], m.lit)
		if k < 0 {
			break
		}
		buf = append(buf, i+k, i+k+len(m.lit))
		i += k + len(m.lit)
	}
	return buf
}

// charMatcher matches every single char satisfying f (HF Fn(char)->bool pattern).
type charMatcher func(rune) bool

func (f charMatcher) find(s string, buf []int) []int {
	for i := 0; i < len(s); {
		r, sz := decodeAt(s, i)
		if f(r) {
			buf = append(buf, i, i+sz)
		}
		i += sz
	}
	return buf
}

// compileRegex returns a matcher for an Oniguruma pattern as found in tokenizer.json.
func compileRegex(p string) (matcher, error) {
	switch p {
	case gpt2Pattern:
		return gpt2Scanner{}, nil
	case llama3Pattern:
		return llama3Scanner{}, nil
	}
	re, err := compileRegexp2(p)
	if err != nil {
		return nil, err
	}
	return regexMatcher{re}, nil
}

func compileRegexp2(p string) (*regexp2.Regexp, error) {
	return regexp2.Compile(translateOnig(p), regexp2.None)
}

// onigWordClass is the body of a character class for Oniguruma's \w (see
// isOnigWord): categories regexp2 knows plus the Other_Alphabetic chars outside
// them and the Latin-1 No chars.
var onigWordClass = sync.OnceValue(func() string {
	var b strings.Builder
	b.WriteString(`\p{L}\p{M}\p{Nd}\p{Pc}\p{Nl}`)
	for r := rune(0x80); r < 0x100; r++ {
		if unicode.Is(unicode.No, r) {
			b.WriteRune(r)
		}
	}
	in := func(r rune) bool {
		return unicode.Is(unicode.Other_Alphabetic, r) && !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.Is(unicode.Nl, r)
	}
	for _, rg := range unicode.Other_Alphabetic.R16 {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
			if in(r) {
				b.WriteRune(r)
			}
		}
	}
	for _, rg := range unicode.Other_Alphabetic.R32 {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
			if in(r) {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
})

// translateOnig rewrites Oniguruma-isms whose .NET meaning differs: \w and \W use
// Oniguruma's Unicode definition (isOnigWord), and \h (hex digit).
func translateOnig(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	inClass := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			switch {
			case n == 'w' && inClass > 0:
				b.WriteString(onigWordClass())
			case n == 'w':
				b.WriteString("[" + onigWordClass() + "]")
			case n == 'W' && inClass == 0:
				b.WriteString("[^" + onigWordClass() + "]")
			case n == 'h' && inClass > 0:
				b.WriteString(`0-9a-fA-F`)
			case n == 'h':
				b.WriteString(`[0-9a-fA-F]`)
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
			continue
		}
		if c == '[' {
			inClass++
		} else if c == ']' && inClass > 0 {
			inClass--
		}
		b.WriteByte(c)
	}
	return b.String()
}
