package tokenizer

// tok is one model output token: id and byte range [a,b) in the piece text.
type tok struct {
	id   int
	a, b int
}

type model interface {
	// tokenize appends the tokens for one pre-token.
	tokenize(n *nstr, sc *scratch, out []tok) []tok
	tokenToID(s string) (int, bool)
	idToToken(id int) (string, bool)
	maxID() int
	// wantsByteLevel reports whether the model consumes lazily byte-level pieces
	// directly (otherwise they are materialized first).
	wantsByteLevel() bool
}

// vocabTable is a bidirectional token table.
type vocabTable struct {
	toID  map[string]int
	toTok []string
	has   []bool
}

func newVocabTable(v map[string]int) vocabTable {
	mx := -1
	for _, id := range v {
		if id > mx {
			mx = id
		}
	}
	t := vocabTable{toID: v, toTok: make([]string, mx+1), has: make([]bool, mx+1)}
	for s, id := range v {
		if id < 0 {
			continue
		}
		// On duplicate ids keep the lexicographically smallest token for determinism.
		if t.has[id] && t.toTok[id] <= s {
			continue
		}
		t.toTok[id] = s
		t.has[id] = true
	}
	return t
}

func (t *vocabTable) tokenToID(s string) (int, bool) {
	id, ok := t.toID[s]
	return id, ok
}

func (t *vocabTable) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(t.toTok) || !t.has[id] {
		return "", false
	}
	return t.toTok[id], true
}

func (t *vocabTable) maxID() int { return len(t.toTok) - 1 }
