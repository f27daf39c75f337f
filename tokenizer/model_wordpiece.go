package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

type wordPieceModel struct {
	vocabTable
	unkTok   string
	unkID    int
	prefix   string
	maxChars int
}

func (m *wordPieceModel) wantsByteLevel() bool { return false }

func parseWordPiece(raw json.RawMessage, name string) (*wordPieceModel, error) {
	var h struct {
		Vocab    map[string]int `json:"vocab"`
		Unk      *string        `json:"unk_token"`
		Prefix   *string        `json:"continuing_subword_prefix"`
		MaxChars *int           `json:"max_input_chars_per_word"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: WordPiece model: %v", name, err)
	}
	if h.Vocab == nil {
		h.Vocab = map[string]int{}
	}
	m := &wordPieceModel{vocabTable: newVocabTable(h.Vocab), unkTok: "[UNK]", prefix: "##", maxChars: 100, unkID: -1}
	if h.Unk != nil {
		m.unkTok = *h.Unk
	}
	if h.Prefix != nil {
		m.prefix = *h.Prefix
	}
	if h.MaxChars != nil {
		m.maxChars = *h.MaxChars
	}
	if id, ok := h.Vocab[m.unkTok]; ok {
		m.unkID = id
	}
	return m, nil
}

func (m *wordPieceModel) unk(s string, out []tok) []tok {
	if m.unkID < 0 {
		return out // HF errors (MissingUnkToken); we emit nothing
	}
	return append(out, tok{m.unkID, 0, len(s)})
}

func (m *wordPieceModel) tokenize(n *nstr, sc *scratch, out []tok) []tok {
	s := n.s
	if len(s) == 0 {
		return out
	}
	if utf8.RuneCountInString(s) > m.maxChars {
		return m.unk(s, out)
	}
	start0 := len(out)
	buf := sc.bpe.buf[:0]
	for start := 0; start < len(s); {
		end := len(s)
		found := -1
		for start < end {
			buf = buf[:0]
			if start > 0 {
				buf = append(buf, m.prefix...)
			}
			buf = append(buf, s[start:end]...)
			if id, ok := m.toID[string(buf)]; ok {
				found = id
				break
			}
			_, sz := utf8.DecodeLastRuneInString(s[start:end])
			end -= sz
		}
		if found < 0 {
			sc.bpe.buf = buf
			return m.unk(s, out[:start0])
		}
		out = append(out, tok{found, start, end})
		start = end
	}
	sc.bpe.buf = buf
	return out
}

type wordLevelModel struct {
	vocabTable
	unkID int
}

func (m *wordLevelModel) wantsByteLevel() bool { return false }

func parseWordLevel(raw json.RawMessage, name string) (*wordLevelModel, error) {
	var h struct {
		Vocab map[string]int `json:"vocab"`
		Unk   *string        `json:"unk_token"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: WordLevel model: %v", name, err)
	}
	if h.Vocab == nil {
		h.Vocab = map[string]int{}
	}
	m := &wordLevelModel{vocabTable: newVocabTable(h.Vocab), unkID: -1}
	if h.Unk != nil {
		if id, ok := h.Vocab[*h.Unk]; ok {
			m.unkID = id
		}
	}
	return m, nil
}

func (m *wordLevelModel) tokenize(n *nstr, _ *scratch, out []tok) []tok {
	if len(n.s) == 0 {
		return out
	}
	if id, ok := m.toID[n.s]; ok {
		return append(out, tok{id, 0, len(n.s)})
	}
	if m.unkID >= 0 {
		return append(out, tok{m.unkID, 0, len(n.s)})
	}
	return out
}
