package tokenizer

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json "added_tokens".
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`

	// display is the token string HF reports for the id (id_to_token, decode):
	// the normalized content for normalized tokens, else the content.
	display string
}

// addedSet matches a set of added tokens leftmost-longest (like HF's
// aho-corasick MatchKind::LeftmostLongest).
type addedSet struct {
	first [256]bool
	byB   [256][]addedPat // patterns by first byte, longest first
	empty bool
}

type addedPat struct {
	s   string
	tok *addedToken
}

func newAddedSet(pats []addedPat) *addedSet {
	a := &addedSet{empty: true}
	for _, p := range pats {
		if p.s == "" {
			continue
		}
		a.empty = false
		b := p.s[0]
		a.first[b] = true
		a.byB[b] = append(a.byB[b], p)
	}
	for b := range a.byB {
		ps := a.byB[b]
		sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].s) > len(ps[j].s) })
	}
	return a
}

// next finds the leftmost-longest match at or after i.
func (a *addedSet) next(s string, i int) (start, end int, t *addedToken) {
	for ; i < len(s); i++ {
		if !a.first[s[i]] {
			continue
		}
		for _, p := range a.byB[s[i]] {
			if strings.HasPrefix(s[i:], p.s) {
				return i, i + len(p.s), p.tok
			}
		}
	}
	return -1, -1, nil
}

// split splits n around added-token matches (HF AddedVocabulary::find_matches +
// split_with_indices), appending pieces to out. Empty pieces are dropped.
func (a *addedSet) split(n nstr, out []piece) []piece {
	s := n.s
	if a == nil || a.empty || len(s) == 0 {
		if len(s) > 0 {
			out = append(out, piece{n: n, tok: -1})
		}
		return out
	}
	startOff := 0
	for pos := 0; pos < len(s); {
		st, en, t := a.next(s, pos)
		if t == nil {
			break
		}
		pos = en
		if t.SingleWord {
			startSpace := st == 0 || !endsWithWord(s[:st])
			stopSpace := en == len(s) || !startsWithWord(s[en:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.LStrip {
			ns := leftmostSpaceAtEnd(s[:st])
			if ns < startOff {
				ns = startOff
			}
			st = ns
		}
		if t.RStrip {
			en += rightmostSpaceAtStart(s[en:])
		}
		if st < startOff {
			// Overlaps the previous (rstrip-extended) match: HF would produce an
			// inconsistent split here; we clamp.
			st = startOff
		}
		if en < st {
			en = st
		}
		if startOff < st {
			out = append(out, piece{n: n.slice(startOff, st), tok: -1})
		}
		out = append(out, piece{n: n.slice(st, en), tok: t.ID})
		startOff = en
		if pos < en {
			pos = en
		}
	}
	if startOff < len(s) {
		out = append(out, piece{n: n.slice(startOff, len(s)), tok: -1})
	}
	return out
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return len(s) > 0 && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return len(s) > 0 && isWordChar(r)
}

func leftmostSpaceAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, sz := utf8.DecodeLastRuneInString(s[:i])
		if !isWS(r) {
			break
		}
		i -= sz
	}
	return i
}

func rightmostSpaceAtStart(s string) int {
	return runWhile(s, 0, isWS)
}
