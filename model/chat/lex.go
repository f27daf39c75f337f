package chat

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer splits a template as jinja2's does with transformers' settings
// (trim_blocks, lstrip_blocks): text, {{ }}, {% %} (with their expression tokens), {# #}
// comments (dropped) and {% raw %} blocks (text), applying the whitespace control
// markers - and +.

type tokKind int

const (
	tText tokKind = iota
	tVarBegin
	tVarEnd
	tBlockBegin
	tBlockEnd
	tName
	tString
	tInt
	tFloat
	tOp
	tEOF
)

type token struct {
	kind tokKind
	val  string // text, name, operator, decoded string, number literal
	pos  int    // byte offset in the source
}

func (t token) String() string {
	switch t.kind {
	case tText:
		return "template data"
	case tVarBegin:
		return "'{{'"
	case tVarEnd:
		return "end of print statement"
	case tBlockBegin:
		return "'{%'"
	case tBlockEnd:
		return "end of statement block"
	case tEOF:
		return "end of template"
	case tString:
		return "string"
	}
	return "'" + t.val + "'"
}

type lexer struct {
	src  string
	toks []token
}

func (l *lexer) errAt(pos int, format string, args ...any) *SyntaxError {
	line, col := lineCol(l.src, pos)
	end := min(len(l.src), pos+20)
	near := l.src[pos:end]
	if i := strings.IndexByte(near, '\n'); i >= 0 {
		near = near[:i]
	}
	return &SyntaxError{Line: line, Column: col, Message: fmt.Sprintf(format, args...), Near: near}
}

// isPyWS reports whether r is whitespace as Python's str.isspace/\s sees it.
func isPyWS(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x1f, 0x85:
		return true
	}
	return r > 0x7f && unicode.IsSpace(r)
}

func pyRstrip(s string) string { return strings.TrimRightFunc(s, isPyWS) }

// lstripText applies lstrip_blocks to the text before a block or comment tag: the spaces
// between the last line start and the tag go.
func lstripText(text string, lineStarting bool) string {
	lpos := strings.LastIndexByte(text, '\n') + 1
	if lpos > 0 || lineStarting {
		rest := text[lpos:]
		if rest != "" && strings.TrimLeftFunc(rest, isPyWS) == "" {
			return text[:lpos]
		}
	}
	return text
}

// skipWS returns the offset after the whitespace at i.
func skipWS(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPyWS(r) {
			break
		}
		i += n
	}
	return i
}

// normalizeSource does what jinja2's lexer does first: every line break ("\r\n", "\r")
// becomes "\n" and one trailing newline is dropped (keep_trailing_newline=False).
func normalizeSource(src string) string {
	if strings.Contains(src, "\r") {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	return strings.TrimSuffix(src, "\n")
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	if err := l.run(); err != nil {
		return nil, err
	}
	return l.toks, nil
}

func (l *lexer) run() error {
	src := l.src
	pos := 0
	for pos < len(src) {
		start := -1
		for i := pos; i+1 < len(src); i++ {
			if src[i] == '{' && (src[i+1] == '{' || src[i+1] == '%' || src[i+1] == '#') {
				start = i
				break
			}
		}
		if start < 0 {
			l.toks = append(l.toks, token{tText, src[pos:], pos})
			return nil
		}
		text := src[pos:start]
		kind := src[start+1]
		sign := byte(0)
		if start+2 < len(src) && (src[start+2] == '-' || src[start+2] == '+') {
			sign = src[start+2]
		}
		lineStarting := pos == 0 || src[pos-1] == '\n'
		if sign == '-' {
			text = pyRstrip(text)
		} else if sign != '+' && kind != '{' {
			text = lstripText(text, lineStarting)
		}
		if text != "" {
			l.toks = append(l.toks, token{tText, text, pos})
		}
		inner := start + 2
		if sign != 0 {
			inner++
		}
		switch kind {
		case '#':
			end := strings.Index(src[inner:], "#}")
			if end < 0 {
				return l.errAt(start, "missing end of comment tag")
			}
			end += inner
			pos = l.tagEnd(end, inner, 2)
		case '%':
			if next, ok, err := l.raw(start, inner); ok || err != nil {
				if err != nil {
					return err
				}
				pos = next
				continue
			}
			l.toks = append(l.toks, token{tBlockBegin, "", start})
			next, err := l.exprTokens(inner, '%')
			if err != nil {
				return err
			}
			pos = next
		default:
			l.toks = append(l.toks, token{tVarBegin, "", start})
			next, err := l.exprTokens(inner, '}')
			if err != nil {
				return err
			}
			pos = next
		}
	}
	return nil
}

// tagEnd handles the closing marker found at end (the two characters "%}", "#}" or "}}"
// start there; a '-' or '+' right before them, after from, is the whitespace control) and
// returns the offset after it, trailing whitespace or trim_blocks' newline consumed.
func (l *lexer) tagEnd(end, from int, width int) int {
	src := l.src
	after := end + width
	if end > from && src[end-1] == '-' {
		return skipWS(src, after)
	}
	if end > from && src[end-1] == '+' {
		return after
	}
	if src[end] != '}' && after < len(src) && src[after] == '\n' { // trim_blocks, not for }}
		return after + 1
	}
	return after
}

// raw handles {% raw %}...{% endraw %}.
func (l *lexer) raw(start, inner int) (int, bool, error) {
	src := l.src
	i := skipWS(src, inner)
	if !strings.HasPrefix(src[i:], "raw") {
		return 0, false, nil
	}
	i = skipWS(src, i+3)
	var bodyStart int
	switch {
	case strings.HasPrefix(src[i:], "-%}"):
		bodyStart = skipWS(src, i+3)
	case strings.HasPrefix(src[i:], "%}"):
		bodyStart = i + 2
	default:
		return 0, false, nil
	}
	for j := bodyStart; j+1 < len(src); j++ {
		if src[j] != '{' || src[j+1] != '%' {
			continue
		}
		k := j + 2
		sign := byte(0)
		if k < len(src) && (src[k] == '-' || src[k] == '+') {
			sign = src[k]
			k++
		}
		k = skipWS(src, k)
		if !strings.HasPrefix(src[k:], "endraw") {
			continue
		}
		k = skipWS(src, k+6)
		var next int
		switch {
		case strings.HasPrefix(src[k:], "-%}"):
			next = skipWS(src, k+3)
		case strings.HasPrefix(src[k:], "+%}"):
			next = k + 3
		case strings.HasPrefix(src[k:], "%}"):
			next = k + 2
			if next < len(src) && src[next] == '\n' {
				next++
			}
		default:
			continue
		}
		text := src[bodyStart:j]
		if sign == '-' {
			text = pyRstrip(text)
		} else if sign != '+' {
			text = lstripText(text, src[bodyStart-1] == '\n')
		}
		if text != "" {
			l.toks = append(l.toks, token{tText, text, bodyStart})
		}
		return next, true, nil
	}
	return 0, false, l.errAt(start, "missing end of raw directive")
}

var operators3 = []string{"//", "**", "==", "!=", "<=", ">="}

// exprTokens tokenises the inside of {{ }} (closer '}') or {% %} (closer '%') from i and
// returns the offset after the closing tag.
func (l *lexer) exprTokens(i int, closer byte) (int, error) {
	src := l.src
	depth := 0
	endKind := tVarEnd
	if closer == '%' {
		endKind = tBlockEnd
	}
	for {
		i = skipWS(src, i)
		if i >= len(src) {
			if closer == '%' {
				return 0, l.errAt(len(src), "unexpected end of template, expected end of statement block")
			}
			return 0, l.errAt(len(src), "unexpected end of template, expected end of print statement")
		}
		if depth == 0 {
			// "-}}", "+%}" and the like, or the plain closer
			for _, p := range []string{"-", "+", ""} {
				if p == "+" && closer == '}' {
					continue
				}
				if strings.HasPrefix(src[i:], p+string(closer)+"}") {
					l.toks = append(l.toks, token{endKind, "", i})
					end := i + len(p)
					return l.tagEnd(end, i, 2), nil
				}
			}
		}
		c := src[i]
		switch {
		case c == '_' || c < utf8.RuneSelf && unicode.IsLetter(rune(c)) || c >= utf8.RuneSelf && isNameStart(src[i:]):
			j := i
			for j < len(src) {
				r, n := utf8.DecodeRuneInString(src[j:])
				if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				j += n
			}
			l.toks = append(l.toks, token{tName, src[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j, kind, err := l.number(i)
			if err != nil {
				return 0, err
			}
			l.toks = append(l.toks, token{kind, strings.ReplaceAll(src[i:j], "_", ""), i})
			i = j
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return 0, l.errAt(i, "unexpected char %q", string(c))
			}
			l.toks = append(l.toks, token{tString, unescapeString(src[i+1 : j]), i})
			i = j + 1
		default:
			op := ""
			for _, o := range operators3 {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("+-/*%~[](){}<>=.:|,;", rune(c)) {
					r, _ := utf8.DecodeRuneInString(src[i:])
					return 0, l.errAt(i, "unexpected char %q", string(r))
				}
				op = string(c)
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return 0, l.errAt(i, "unexpected '%s'", op)
				}
				depth--
			}
			l.toks = append(l.toks, token{tOp, op, i})
			i += len(op)
		}
	}
}

func isNameStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

// number scans an int or float literal at i.
func (l *lexer) number(i int) (int, tokKind, error) {
	src := l.src
	digits := func(j int, ok func(byte) bool) int {
		for j < len(src) && (ok(src[j]) || src[j] == '_' && j+1 < len(src) && ok(src[j+1])) {
			j++
		}
		return j
	}
	dec := func(b byte) bool { return b >= '0' && b <= '9' }
	if src[i] == '0' && i+1 < len(src) {
		var ok func(byte) bool
		switch src[i+1] {
		case 'x', 'X':
			ok = func(b byte) bool { return dec(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }
		case 'o', 'O':
			ok = func(b byte) bool { return b >= '0' && b <= '7' }
		case 'b', 'B':
			ok = func(b byte) bool { return b == '0' || b == '1' }
		}
		if ok != nil {
			j := i + 2
			if j < len(src) && src[j] == '_' {
				j++
			}
			if e := digits(j, ok); e > j {
				return e, tInt, nil
			}
		}
	}
	j := digits(i, dec)
	kind := tInt
	if j+1 < len(src) && src[j] == '.' && dec(src[j+1]) {
		j = digits(j+1, dec)
		kind = tFloat
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && dec(src[k]) {
			j = digits(k, dec)
			kind = tFloat
		}
	}
	return j, kind, nil
}

// unescapeString decodes a string literal's body as Python's unicode-escape codec does.
func unescapeString(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+n < len(s) {
				var r rune
				ok := true
				for _, h := range s[i+1 : i+1+n] {
					d := hexVal(byte(h))
					if d < 0 || h > 0x7f {
						ok = false
						break
					}
					r = r*16 + rune(d)
				}
				if ok && utf8.ValidRune(r) {
					b.WriteRune(r)
					i += n
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		default:
			if e >= '0' && e <= '7' {
				r := rune(e - '0')
				for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
					i++
					r = r*8 + rune(s[i]-'0')
				}
				b.WriteRune(r)
				continue
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String()
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
