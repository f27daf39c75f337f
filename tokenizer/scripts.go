package tokenizer

import (
	"sort"
	"sync"
	"unicode"
)

// scriptRange maps a range of code points to a script index (1-based; 0 is
// Unknown: unassigned or a script Go's tables lack).
type scriptRange struct {
	lo, hi rune
	script int
}

var scriptTable = sync.OnceValue(func() []scriptRange {
	names := make([]string, 0, len(unicode.Scripts))
	for name := range unicode.Scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	var rs []scriptRange
	// add appends lo..hi (every stride-th rune) as script id.
	add := func(lo, hi, stride rune, id int) {
		if stride == 1 {
			rs = append(rs, scriptRange{lo, hi, id})
			return
		}
		for c := lo; c <= hi; c += stride {
			rs = append(rs, scriptRange{c, c, id})
		}
	}
	for i, name := range names {
		t := unicode.Scripts[name]
		for _, r := range t.R16 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride), i+1)
		}
		for _, r := range t.R32 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride), i+1)
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].lo < rs[j].lo })
	return rs
})

var scriptIDs = sync.OnceValue(func() (ids [3]int) {
	for i, n := range []string{"Han", "Hiragana", "Katakana"} {
		ids[i] = scriptOfRaw(rune(unicode.Scripts[n].R16[0].Lo))
	}
	return ids
})

func scriptOfRaw(r rune) int {
	rs := scriptTable()
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	if i < len(rs) && rs[i].lo <= r {
		return rs[i].script
	}
	return 0
}

const scriptAny = -1

// fixedScript is HF's UnicodeScripts script of a char: ' ' is Any (joins its
// neighbours), Hiragana, Katakana and U+30FC count as Han.
func fixedScript(r rune) int {
	if r == ' ' {
		return scriptAny
	}
	ids := scriptIDs()
	if r == 0x30FC {
		return ids[0]
	}
	s := scriptOfRaw(r)
	if s == ids[1] || s == ids[2] {
		return ids[0]
	}
	return s
}

// unicodeScriptsPT is HF's UnicodeScripts pre-tokenizer: a split wherever the
// script changes (Any never starts or ends a run). As in HF, the pieces run
// from split point to split point, so text before the first non-space char
// (leading spaces) is dropped.
type unicodeScriptsPT struct{}

func (unicodeScriptsPT) split(n nstr, _ *scratch, out []piece) []piece {
	last, started, from := 0, false, 0
	for i, r := range n.s {
		s := fixedScript(r)
		if s == scriptAny {
			continue
		}
		if !started || s != last {
			if started {
				out = append(out, piece{n: n.slice(from, i), tok: -1})
			}
			from, started = i, true
		}
		last = s
	}
	if started && from < len(n.s) {
		out = append(out, piece{n: n.slice(from, len(n.s)), tok: -1})
	}
	return out
}
