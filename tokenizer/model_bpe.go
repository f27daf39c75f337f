package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

type mergeInfo struct {
	rank  int32
	newID int32
}

type bpeModel struct {
	vocabTable
	merges       map[uint64]mergeInfo
	unkTok       string
	unkID        int // -1 when no unk token
	unkMissing   bool
	prefix       string
	suffix       string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	fallbackIDs  [256]int // id of "<0xXX>", -1 if absent
	blIDs        [256]int // id of byte-level char for each byte, -1 if absent
	blFast       bool     // lazy byte-level pieces can be handled byte-wise

	mu    sync.RWMutex
	cache map[string][]cacheTok
}

type cacheTok struct{ id, n int32 }

const (
	bpeCacheMaxWord = 256
	bpeCacheMax     = 1 << 18
)

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpeModel) wantsByteLevel() bool { return m.blFast }

func parseBPE(raw json.RawMessage, name string) (*bpeModel, error) {
	var h struct {
		Vocab        map[string]int    `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		UnkToken     *string           `json:"unk_token"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
		FuseUnk      bool              `json:"fuse_unk"`
		ByteFallback bool              `json:"byte_fallback"`
		IgnoreMerges bool              `json:"ignore_merges"`
		Dropout      *float64          `json:"dropout"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: BPE model: %v", name, err)
	}
	if h.Vocab == nil {
		h.Vocab = map[string]int{}
	}
	m := &bpeModel{vocabTable: newVocabTable(h.Vocab), unkID: -1, fuseUnk: h.FuseUnk,
		byteFallback: h.ByteFallback, ignoreMerges: h.IgnoreMerges, cache: map[string][]cacheTok{}}
	if h.Prefix != nil {
		m.prefix = *h.Prefix
	}
	if h.Suffix != nil {
		m.suffix = *h.Suffix
	}
	if h.UnkToken != nil {
		m.unkTok = *h.UnkToken
		if id, ok := h.Vocab[m.unkTok]; ok {
			m.unkID = id
		} else {
			m.unkMissing = true
		}
	}
	m.merges = make(map[uint64]mergeInfo, len(h.Merges))
	plen := len(m.prefix)
	for rank, r := range h.Merges {
		var a, b string
		if len(r) > 0 && r[0] == '"' {
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return nil, fmt.Errorf("%s: BPE merge %d: %v", name, rank, err)
			}
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return nil, fmt.Errorf("%s: BPE merge %d %q is not two space-separated tokens", name, rank, s)
			}
			a, b = parts[0], parts[1]
		} else {
			var p []string
			if err := json.Unmarshal(r, &p); err != nil || len(p) != 2 {
				return nil, fmt.Errorf("%s: BPE merge %d: want \"a b\" or [a, b]", name, rank)
			}
			a, b = p[0], p[1]
		}
		ia, ok1 := h.Vocab[a]
		ib, ok2 := h.Vocab[b]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: BPE merge %d (%q, %q) uses a token missing from the vocab", name, rank, a, b)
		}
		nb := b
		if plen > 0 && strings.HasPrefix(b, m.prefix) {
			nb = b[plen:]
		}
		nid, ok := h.Vocab[a+nb]
		if !ok {
			return nil, fmt.Errorf("%s: BPE merge %d: merged token %q missing from the vocab", name, rank, a+nb)
		}
		m.merges[pairKey(int32(ia), int32(ib))] = mergeInfo{int32(rank), int32(nid)}
	}
	m.blFast = m.prefix == "" && m.suffix == ""
	for b := 0; b < 256; b++ {
		m.fallbackIDs[b] = -1
		if id, ok := h.Vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackIDs[b] = id
		}
		m.blIDs[b] = -1
		if id, ok := h.Vocab[byteToStr[b]]; ok {
			m.blIDs[b] = id
		} else {
			m.blFast = false
		}
	}
	return m, nil
}

// symbol is one node of the word's linked list during merging.
type symbol struct {
	id         int32
	prev, next int32
	start, n   int32 // byte range in the piece
}

type mergeCand struct {
	rank  int32
	pos   int32
	newID int32
}

type candHeap []mergeCand

func (h candHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h *candHeap) push(c mergeCand) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *candHeap) pop() mergeCand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		c := l
		if r := l + 1; r < len(s) && s.less(r, l) {
			c = r
		}
		if !s.less(c, i) {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

type bpeScratch struct {
	syms []symbol
	heap candHeap
	buf  []byte
}

// mergeAll applies merges by rank (leftmost first on ties), HF Word::merge_all.
func (m *bpeModel) mergeAll(sc *bpeScratch) {
	syms := sc.syms
	if len(syms) < 2 || len(m.merges) == 0 {
		return
	}
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if mi, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h.push(mergeCand{mi.rank, int32(i), mi.newID})
		}
	}
	for len(h) > 0 {
		c := h.pop()
		s := &syms[c.pos]
		if s.n == 0 || s.next < 0 {
			continue
		}
		nx := &syms[s.next]
		mi, ok := m.merges[pairKey(s.id, nx.id)]
		if !ok || mi.newID != c.newID {
			continue
		}
		s.id = c.newID
		s.n += nx.n
		s.next = nx.next
		nx.n = 0
		if s.next >= 0 {
			syms[s.next].prev = c.pos
			if mi2, ok := m.merges[pairKey(s.id, syms[s.next].id)]; ok {
				h.push(mergeCand{mi2.rank, c.pos, mi2.newID})
			}
		}
		if s.prev >= 0 {
			p := &syms[s.prev]
			if mi2, ok := m.merges[pairKey(p.id, s.id)]; ok {
				h.push(mergeCand{mi2.rank, s.prev, mi2.newID})
			}
		}
	}
	sc.heap = h
}

func (sc *bpeScratch) add(id int, start, n int) {
	i := int32(len(sc.syms))
	sc.syms = append(sc.syms, symbol{id: int32(id), prev: i - 1, next: i + 1, start: int32(start), n: int32(n)})
}

func (sc *bpeScratch) finish() {
	if k := len(sc.syms); k > 0 {
		sc.syms[k-1].next = -1
	}
}

func (m *bpeModel) tokenize(n *nstr, sc0 *scratch, out []tok) []tok {
	s := n.s
	if len(s) == 0 {
		return out
	}
	if n.byteLevel && !m.blFast {
		materializeByteLevel(n)
		s = n.s
	}
	lazy := n.byteLevel
	sc := &sc0.bpe
	cacheable := len(s) < bpeCacheMaxWord
	if cacheable {
		m.mu.RLock()
		ct, ok := m.cache[s]
		m.mu.RUnlock()
		if ok {
			p := 0
			for _, c := range ct {
				out = append(out, tok{int(c.id), p, p + int(c.n)})
				p += int(c.n)
			}
			return out
		}
	}
	start := len(out)
	out = m.tokenizeWord(s, lazy, sc, out)
	if cacheable {
		ct := make([]cacheTok, 0, len(out)-start)
		for _, t := range out[start:] {
			ct = append(ct, cacheTok{int32(t.id), int32(t.b - t.a)})
		}
		m.mu.Lock()
		if len(m.cache) < bpeCacheMax {
			m.cache[strings.Clone(s)] = ct
		}
		m.mu.Unlock()
	}
	return out
}

// tokenizeWord runs ignore_merges and the merge loop on one word (uncached).
func (m *bpeModel) tokenizeWord(s string, lazy bool, sc *bpeScratch, out []tok) []tok {
	if m.ignoreMerges {
		key := s
		if lazy {
			sc.buf = sc.buf[:0]
			for i := 0; i < len(s); i++ {
				sc.buf = append(sc.buf, byteToStr[s[i]]...)
			}
			if id, ok := m.toID[string(sc.buf)]; ok {
				return append(out, tok{id, 0, len(s)})
			}
		} else if id, ok := m.toID[key]; ok {
			return append(out, tok{id, 0, len(s)})
		}
	}
	sc.syms = sc.syms[:0]
	if lazy {
		for i := 0; i < len(s); i++ {
			sc.add(m.blIDs[s[i]], i, 1)
		}
	} else {
		m.initSymbols(s, sc)
	}
	sc.finish()
	m.mergeAll(sc)
	for i := 0; i >= 0 && i < len(sc.syms); {
		y := sc.syms[i]
		if y.n > 0 {
			out = append(out, tok{int(y.id), int(y.start), int(y.start + y.n)})
		}
		if y.next < 0 {
			break
		}
		i = int(y.next)
	}
	return out
}

// initSymbols builds the initial symbols of a word (HF BPE::merge_word).
// Symbol positions are the running sum of the lengths of the symbols added so
// far, as HF's Word offsets are: a char that is dropped (unknown, no unk_token)
// does not advance them, and byte-fallback symbols count one per byte of the
// prefixed/suffixed string.
func (m *bpeModel) initSymbols(w string, sc *bpeScratch) {
	unkID, unkLen := -1, 0
	pos := 0
	push := func(id, n int) {
		sc.add(id, pos, n)
		pos += n
	}
	for i := 0; i < len(w); {
		_, sz := utf8.DecodeRuneInString(w[i:])
		end := i + sz
		sc.buf = sc.buf[:0]
		if i > 0 {
			sc.buf = append(sc.buf, m.prefix...)
		}
		sc.buf = append(sc.buf, w[i:end]...)
		if end == len(w) {
			sc.buf = append(sc.buf, m.suffix...)
		}
		if id, ok := m.toID[string(sc.buf)]; ok {
			if unkID >= 0 {
				push(unkID, unkLen)
				unkID = -1
			}
			push(id, sz)
			i = end
			continue
		}
		if m.byteFallback {
			all := true
			for _, b := range sc.buf {
				if m.fallbackIDs[b] < 0 {
					all = false
					break
				}
			}
			if all {
				// HF adds one symbol of length 1 per byte (positions may run past the
				// char when a prefix/suffix is involved; offsets are clamped later),
				// without flushing a pending unk.
				for _, b := range sc.buf {
					push(m.fallbackIDs[b], 1)
				}
				i = end
				continue
			}
		}
		if m.unkID >= 0 {
			switch {
			case unkID >= 0 && m.fuseUnk:
				unkLen += sz
			case unkID >= 0:
				push(unkID, unkLen)
				unkID, unkLen = m.unkID, sz
			default:
				unkID, unkLen = m.unkID, sz
			}
		}
		i = end
	}
	if unkID >= 0 {
		push(unkID, unkLen)
	}
}
