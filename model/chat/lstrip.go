package chat

import (
	"regexp"
	"strings"
)

// endRawRe finds the tag that closes a {% raw %} block.
var endRawRe = regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-+]?%\}`)

// rawRe matches a {% raw %} opening tag at the start of a string.
var rawRe = regexp.MustCompile(`^\{%[-+]?\s*raw\s*[-+]?%\}`)

// lstripBlocks applies jinja2's lstrip_blocks to the template source, so that gonja can
// run with its own lstrip_blocks off: the spaces and tabs before a {% or {# tag are
// removed when only whitespace separates the tag from the start of its line, that is, when
// the text before it holds a newline with only whitespace after it, or when the text
// before it is all whitespace and follows the template start or a block/comment tag whose
// trailing newline trim_blocks removes. {%+ keeps them. (gonja's lexer strips them after
// a {{ }} on the same line too: "{{ x }} {% endif %}" lost its space.)
//
// Only horizontal whitespace is removed, so line numbers of syntax errors are unchanged.
func lstripBlocks(src string) string {
	var out strings.Builder
	out.Grow(len(src))
	dataStart := 0       // start in out of the text since the last tag
	lineStarting := true // the last tag ended a line (or this is the template start)
	i := 0
	for i < len(src) {
		c := src[i]
		if c != '{' || i+1 == len(src) || (src[i+1] != '{' && src[i+1] != '%' && src[i+1] != '#') {
			out.WriteByte(c)
			i++
			continue
		}
		kind := src[i+1]
		if kind != '{' && (i+2 >= len(src) || src[i+2] != '+') {
			s := out.String()
			data := s[dataStart:]
			l := strings.LastIndexByte(data, '\n') + 1
			if (l > 0 || lineStarting) && strings.Trim(data[l:], " \t\v\f\r") == "" && len(data) > l {
				s = s[:dataStart+l]
				out.Reset()
				out.WriteString(s)
			}
		}
		var end int
		switch kind {
		case '#':
			end = strings.Index(src[i+2:], "#}")
			if end < 0 {
				end = len(src)
			} else {
				end += i + 4
			}
		case '%':
			if m := rawRe.FindStringIndex(src[i:]); m != nil {
				if e := endRawRe.FindStringIndex(src[i+m[1]:]); e != nil {
					end = i + m[1] + e[1]
					break
				}
			}
			end = tagEnd(src, i+2, "%}")
		default:
			end = tagEnd(src, i+2, "}}")
		}
		out.WriteString(src[i:end])
		i = end
		dataStart = out.Len()
		lineStarting = kind != '{' && i < len(src) && src[i] == '\n' && src[i-3] != '+'
	}
	return out.String()
}

// tagEnd returns the index after the closing delimiter of the tag whose body starts at
// from, skipping string literals; len(src) if it never closes.
func tagEnd(src string, from int, closing string) int {
	for j := from; j < len(src); j++ {
		switch src[j] {
		case '\'', '"':
			q := src[j]
			for j++; j < len(src) && src[j] != q; j++ {
				if src[j] == '\\' {
					j++
				}
			}
		default:
			if strings.HasPrefix(src[j:], closing) {
				return j + len(closing)
			}
		}
	}
	return len(src)
}
