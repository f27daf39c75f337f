package tokenizer

import (
	"encoding/json"
	"fmt"
)

// encoding is the in-progress output of Encode.
type encoding struct {
	ids   []int
	toks  []string
	offs  [][2]int // byte offsets in the original text
	track bool     // toks/offs are maintained
}

func (e *encoding) add(id int, tok string, off [2]int) {
	e.ids = append(e.ids, id)
	if e.track {
		e.toks = append(e.toks, tok)
		e.offs = append(e.offs, off)
	}
}

type processor interface {
	process(e *encoding, addSpecial bool)
}

type seqProc []processor

func (s seqProc) process(e *encoding, add bool) {
	for _, p := range s {
		p.process(e, add)
	}
}

// byteLevelProc only trims offsets (ids are unchanged).
type byteLevelProc struct{ trim, addPrefixSpace bool }

func (p byteLevelProc) process(e *encoding, _ bool) {
	if p.trim && e.track {
		trimByteLevelOffsets(e, p.addPrefixSpace)
	}
}

// trimByteLevelOffsets mirrors HF byte_level::process_offsets.
func trimByteLevelOffsets(e *encoding, addPrefixSpace bool) {
	isSp := func(r rune) bool { return r == byteLevelSp || isWS(r) }
	for i, t := range e.toks {
		rs := []rune(t)
		lead := 0
		for lead < len(rs) && isSp(rs[lead]) {
			lead++
		}
		trail := 0
		for trail < len(rs) && isSp(rs[len(rs)-1-trail]) {
			trail++
		}
		o := &e.offs[i]
		if lead > 0 {
			if (i == 0 || o[0] == 0) && addPrefixSpace && lead == 1 {
				lead = 0
			}
			o[0] = min(o[0]+lead, o[1])
		}
		if trail > 0 && o[1] >= trail {
			o[1] = max(o[1]-trail, o[0])
		}
	}
}

// templateProc implements TemplateProcessing (single sequence only is used by
// Encode; the pair template is parsed for validation).
type templateProc struct {
	single []tmplItem
	tokIDs map[string][]int
	tokStr map[string][]string
}

type tmplItem struct {
	special string // special token key; "" for a sequence
	seq     string
}

func (p *templateProc) process(e *encoding, add bool) {
	if !add {
		return
	}
	ids, toks, offs := e.ids, e.toks, e.offs
	n := &encoding{track: e.track, ids: make([]int, 0, len(ids)+4)}
	for _, it := range p.single {
		if it.special == "" {
			if it.seq != "A" {
				continue
			}
			n.ids = append(n.ids, ids...)
			if e.track {
				n.toks = append(n.toks, toks...)
				n.offs = append(n.offs, offs...)
			}
			continue
		}
		for k, id := range p.tokIDs[it.special] {
			s := ""
			if k < len(p.tokStr[it.special]) {
				s = p.tokStr[it.special][k]
			}
			n.add(id, s, [2]int{0, 0})
		}
	}
	*e = *n
}

// clsSepProc implements BertProcessing and RobertaProcessing for one sequence.
type clsSepProc struct {
	cls, sep       string
	clsID, sepID   int
	trim, prefixSp bool
	roberta        bool
}

func (p *clsSepProc) process(e *encoding, add bool) {
	if p.roberta && p.trim && e.track {
		trimByteLevelOffsets(e, p.prefixSp)
	}
	if !add {
		return
	}
	n := &encoding{track: e.track, ids: make([]int, 0, len(e.ids)+2)}
	n.add(p.clsID, p.cls, [2]int{0, 0})
	n.ids = append(n.ids, e.ids...)
	if e.track {
		n.toks = append(n.toks, e.toks...)
		n.offs = append(n.offs, e.offs...)
	}
	n.add(p.sepID, p.sep, [2]int{0, 0})
	*e = *n
}

const supportedProcessors = "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence"

func parseProcessor(raw json.RawMessage, name string) (processor, error) {
	var h struct {
		Type           string            `json:"type"`
		Processors     []json.RawMessage `json:"processors"`
		TrimOffsets    *bool             `json:"trim_offsets"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		Single         []json.RawMessage `json:"single"`
		Pair           []json.RawMessage `json:"pair"`
		SpecialTokens  map[string]struct {
			ID     string   `json:"id"`
			IDs    []int    `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
		Sep []json.RawMessage `json:"sep"`
		Cls []json.RawMessage `json:"cls"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: post_processor: %v", name, err)
	}
	switch h.Type {
	case "Sequence":
		var s seqProc
		for _, r := range h.Processors {
			p, err := parseProcessor(r, name)
			if err != nil {
				return nil, err
			}
			s = append(s, p)
		}
		return s, nil
	case "ByteLevel":
		return byteLevelProc{trim: boolOr(h.TrimOffsets, true), addPrefixSpace: boolOr(h.AddPrefixSpace, true)}, nil
	case "TemplateProcessing":
		p := &templateProc{tokIDs: map[string][]int{}, tokStr: map[string][]string{}}
		for k, v := range h.SpecialTokens {
			p.tokIDs[k] = v.IDs
			p.tokStr[k] = v.Tokens
		}
		parse := func(items []json.RawMessage) ([]tmplItem, error) {
			var out []tmplItem
			for _, it := range items {
				var x struct {
					SpecialToken *struct {
						ID string `json:"id"`
					} `json:"SpecialToken"`
					Sequence *struct {
						ID string `json:"id"`
					} `json:"Sequence"`
				}
				if err := json.Unmarshal(it, &x); err != nil {
					return nil, err
				}
				switch {
				case x.SpecialToken != nil:
					if _, ok := p.tokIDs[x.SpecialToken.ID]; !ok {
						return nil, fmt.Errorf("template uses special token %q missing from special_tokens", x.SpecialToken.ID)
					}
					out = append(out, tmplItem{special: x.SpecialToken.ID})
				case x.Sequence != nil:
					out = append(out, tmplItem{seq: x.Sequence.ID})
				default:
					return nil, fmt.Errorf("template item must be SpecialToken or Sequence")
				}
			}
			return out, nil
		}
		var err error
		if p.single, err = parse(h.Single); err != nil {
			return nil, fmt.Errorf("%s: TemplateProcessing single: %v", name, err)
		}
		if _, err = parse(h.Pair); err != nil {
			return nil, fmt.Errorf("%s: TemplateProcessing pair: %v", name, err)
		}
		return p, nil
	case "BertProcessing", "RobertaProcessing":
		p := &clsSepProc{roberta: h.Type == "RobertaProcessing", trim: boolOr(h.TrimOffsets, true), prefixSp: boolOr(h.AddPrefixSpace, true)}
		var err1, err2 error
		p.sep, p.sepID, err1 = parseTokPair(h.Sep)
		p.cls, p.clsID, err2 = parseTokPair(h.Cls)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: %s: sep and cls must be [token, id]", name, h.Type)
		}
		return p, nil
	}
	return nil, unknownType(name, "post_processor", h.Type, supportedProcessors)
}

func parseTokPair(r []json.RawMessage) (string, int, error) {
	if len(r) != 2 {
		return "", 0, fmt.Errorf("want [token, id]")
	}
	var s string
	var id int
	if err := json.Unmarshal(r[0], &s); err != nil {
		return "", 0, err
	}
	if err := json.Unmarshal(r[1], &id); err != nil {
		return "", 0, err
	}
	return s, id, nil
}
