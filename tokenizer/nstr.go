package tokenizer

import "unicode/utf8"

// span is a [start, end) byte range in the original input.
type span struct{ s, e int }

// nstr is a piece of normalized text with its alignment to the original input,
// mirroring HF's NormalizedString. To stay cheap on the common path the
// alignment is implicit (identity with a shift) until a transformation needs it.
type nstr struct {
	s     string
	align []span // per byte of s; nil means identity: byte i of s is original byte shift+i
	shift int
	// byteLevel marks text that is logically ByteLevel-encoded (each byte mapped to
	// its byte-level alphabet char) but still stored raw; see materializeByteLevel.
	byteLevel bool
}

// origStart is the original offset of the start of this piece (HF offsets_original().0).
func (n *nstr) origStart() int {
	if n.align == nil {
		return n.shift
	}
	if len(n.align) == 0 {
		return n.shift
	}
	return n.align[0].s
}

// slice returns the sub-piece s[a:b] (byte offsets on char boundaries).
func (n *nstr) slice(a, b int) nstr {
	if n.align == nil {
		return nstr{s: n.s[a:b], shift: n.shift + a, byteLevel: n.byteLevel}
	}
	sh := n.shift
	if a < len(n.align) {
		sh = n.align[a].s
	} else if len(n.align) > 0 {
		sh = n.align[len(n.align)-1].e
	}
	return nstr{s: n.s[a:b], align: n.align[a:b:b], shift: sh, byteLevel: n.byteLevel}
}

// materialize makes the alignment explicit (HF style: every byte of a char maps
// to the char's original range).
func (n *nstr) materialize() {
	if n.align != nil {
		return
	}
	al := make([]span, len(n.s))
	for i := 0; i < len(n.s); {
		_, sz := utf8.DecodeRuneInString(n.s[i:])
		sp := span{n.shift + i, n.shift + i + sz}
		for k := 0; k < sz; k++ {
			al[i+k] = sp
		}
		i += sz
	}
	n.align = al
}

// origRange maps the normalized byte range [a,b) to original offsets.
func (n *nstr) origRange(a, b int) (int, int) {
	if b <= a {
		p := n.origStart()
		if n.align == nil {
			p = n.shift + a
		} else if a < len(n.align) {
			p = n.align[a].s
		}
		return p, p
	}
	if n.align == nil {
		return n.shift + a, n.shift + b
	}
	return n.align[a].s, n.align[b-1].e
}

// change describes one output char of a transformation, as in HF transform():
// change 0 replaces one input char, +1 inserts a char, -k replaces one input char
// and removes k following ones.
type change struct {
	r rune
	c int
}

// transform rewrites the whole string following HF NormalizedString::transform
// semantics (initial removes that many chars at the start).
func (n *nstr) transform(dest []change, initial int) {
	n.materialize()
	old := n.s
	oldAl := n.align
	var sb []byte
	al := make([]span, 0, len(old)+8)
	// offset in old bytes
	off := 0
	for k := 0; k < initial && off < len(old); k++ {
		_, sz := utf8.DecodeRuneInString(old[off:])
		off += sz
	}
	for _, d := range dest {
		var a span
		if d.c > 0 {
			if off < 1 {
				a = span{0, 0}
				if len(oldAl) > 0 {
					a = span{oldAl[0].s, oldAl[0].s}
				}
			} else {
				a = oldAl[off-1]
			}
		} else if off < len(oldAl) {
			a = oldAl[off]
		} else if len(oldAl) > 0 {
			a = span{oldAl[len(oldAl)-1].e, oldAl[len(oldAl)-1].e}
		}
		if d.c <= 0 && off < len(old) {
			_, sz := utf8.DecodeRuneInString(old[off:])
			off += sz
		}
		for k := 0; k < -d.c && off < len(old); k++ {
			_, sz := utf8.DecodeRuneInString(old[off:])
			off += sz
		}
		before := len(sb)
		sb = utf8.AppendRune(sb, d.r)
		for k := before; k < len(sb); k++ {
			al = append(al, a)
		}
	}
	if len(sb) == 0 && len(oldAl) > 0 {
		n.shift = oldAl[0].s
	}
	n.s = string(sb)
	n.align = al
}
