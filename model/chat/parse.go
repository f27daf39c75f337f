package chat

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Expression nodes.
type (
	expr interface{}

	constExpr struct{ v any }
	nameExpr  struct{ name string }
	attrExpr  struct {
		obj  expr
		attr string
	}
	itemExpr  struct{ obj, key expr }
	sliceExpr struct{ obj, start, stop, step expr }
	callExpr  struct {
		fn     expr
		args   []expr
		kwargs []kwExpr
	}
	filterExpr struct {
		in     expr // nil in a {% filter %} or {% set x | f %} chain: the block's text
		name   string
		args   []expr
		kwargs []kwExpr
	}
	testExpr struct {
		in     expr
		name   string
		args   []expr
		kwargs []kwExpr
		negate bool
	}
	unaryExpr struct {
		op string // "not", "-", "+"
		x  expr
	}
	binExpr struct {
		op   string // + - * / // % ** ~ and or
		l, r expr
	}
	compareExpr struct {
		first expr
		ops   []string // == != < <= > >= in notin
		rest  []expr
	}
	condExpr  struct{ test, then, els expr } // els may be nil
	listExpr  struct{ items []expr }
	tupleExpr struct{ items []expr }
	dictExpr  struct{ keys, vals []expr }
	kwExpr    struct {
		name string
		v    expr
	}
)

// Statement nodes.
type (
	node interface{}

	textNode   struct{ s string }
	outputNode struct{ e expr }
	ifNode     struct {
		conds  []expr
		bodies [][]node
		els    []node
	}
	forNode struct {
		target    expr // nameExpr or tupleExpr of names
		iter      expr
		cond      expr
		body, els []node
		recursive bool
	}
	setNode struct {
		target expr // nameExpr, tupleExpr of names, or attrExpr on a name (namespace)
		value  expr
	}
	setBlockNode struct {
		target  expr
		filters []*filterExpr
		body    []node
	}
	macroNode struct{ m *macroDef }
	macroDef  struct {
		name     string
		params   []string
		defaults []expr // aligned to the end of params
		body     []node
	}
	callBlockNode struct {
		call   *callExpr
		caller *macroDef
	}
	filterBlockNode struct {
		filters []*filterExpr
		body    []node
	}
	withNode struct {
		targets []expr
		values  []expr
		body    []node
	}
	loopCtlNode     struct{ brk bool }
	generationNode  struct{ body []node }
	unsupportedNode struct {
		what string
		pos  int
	}
)

type parser struct {
	src   string
	toks  []token
	i     int
	loops int // for loops around the current position (break/continue need one)
}

type parseError struct{ err *SyntaxError }

func parse(src string) (body []node, err error) {
	src = normalizeSource(src)
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	toks = append(toks, token{tEOF, "", len(src)})
	p := &parser{src: src, toks: toks}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok { // a bug in the parser: report it, do not crash the caller
				line, col := lineCol(src, p.cur().pos)
				pe.err = &SyntaxError{Line: line, Column: col, Message: fmt.Sprintf("the parser failed: %v", r)}
			}
			body, err = nil, pe.err
		}
	}()
	body, end := p.body(nil)
	if end != "" {
		p.fail(p.cur().pos, "unexpected '%s'", end)
	}
	return body, nil
}

func (p *parser) fail(pos int, format string, args ...any) {
	l := &lexer{src: p.src}
	panic(parseError{l.errAt(min(pos, len(p.src)), format, args...)})
}

func (p *parser) cur() token  { return p.toks[p.i] }
func (p *parser) peek() token { return p.toks[min(p.i+1, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) isOp(op string) bool   { t := p.cur(); return t.kind == tOp && t.val == op }
func (p *parser) isName(n string) bool  { t := p.cur(); return t.kind == tName && t.val == n }
func (p *parser) skipOp(op string) bool { ok := p.isOp(op); p.skipIf(ok); return ok }
func (p *parser) skipName(n string) bool {
	ok := p.isName(n)
	p.skipIf(ok)
	return ok
}
func (p *parser) skipIf(ok bool) {
	if ok {
		p.next()
	}
}

func (p *parser) expectOp(op string) {
	if !p.skipOp(op) {
		p.fail(p.cur().pos, "expected '%s', got %s", op, p.cur())
	}
}

func (p *parser) expectName() string {
	t := p.cur()
	if t.kind != tName {
		p.fail(t.pos, "expected a name, got %s", t)
	}
	p.next()
	return t.val
}

func (p *parser) expectBlockEnd() {
	if p.cur().kind != tBlockEnd {
		p.fail(p.cur().pos, "expected end of statement block, got %s", p.cur())
	}
	p.next()
}

// body parses nodes up to a {% tag %} named in ends (returned, with the parser after the
// tag name) or the end of the template ("").
func (p *parser) body(ends []string) ([]node, string) {
	var out []node
	for {
		t := p.cur()
		switch t.kind {
		case tEOF:
			if len(ends) > 0 {
				p.fail(t.pos, "unexpected end of template, expected '%s'", strings.Join(ends, "' or '"))
			}
			return out, ""
		case tText:
			p.next()
			out = append(out, &textNode{t.val})
		case tVarBegin:
			p.next()
			e := p.tuple(true, false, nil)
			if p.cur().kind != tVarEnd {
				p.fail(p.cur().pos, "expected end of print statement, got %s", p.cur())
			}
			p.next()
			out = append(out, &outputNode{e})
		case tBlockBegin:
			p.next()
			nt := p.cur()
			if nt.kind != tName {
				p.fail(nt.pos, "tag name expected")
			}
			for _, e := range ends {
				if nt.val == e {
					p.next()
					return out, e
				}
			}
			out = append(out, p.statement())
		default:
			p.fail(t.pos, "unexpected %s", t)
		}
	}
}

var endTags = map[string]bool{"endif": true, "endfor": true, "else": true, "elif": true, "endset": true, "endmacro": true,
	"endcall": true, "endfilter": true, "endwith": true, "endgeneration": true, "endblock": true, "endraw": true}

func (p *parser) statement() node {
	t := p.next()
	switch t.val {
	case "if":
		n := &ifNode{}
		for {
			n.conds = append(n.conds, p.tuple(false, false, nil))
			p.expectBlockEnd()
			b, end := p.body([]string{"elif", "else", "endif"})
			n.bodies = append(n.bodies, b)
			if end == "elif" {
				continue
			}
			if end == "else" {
				p.expectBlockEnd()
				n.els, _ = p.body([]string{"endif"})
			}
			p.expectBlockEnd()
			return n
		}
	case "for":
		n := &forNode{target: p.assignTarget(false)}
		if !p.skipName("in") {
			p.fail(p.cur().pos, "expected 'in', got %s", p.cur())
		}
		n.iter = p.tuple(false, false, []string{"recursive"})
		if p.skipName("if") {
			n.cond = p.expression(true)
		}
		n.recursive = p.skipName("recursive")
		p.expectBlockEnd()
		p.loops++
		b, end := p.body([]string{"endfor", "else"})
		p.loops--
		n.body = b
		if end == "else" {
			p.expectBlockEnd()
			n.els, _ = p.body([]string{"endfor"})
		}
		p.expectBlockEnd()
		return n
	case "set":
		target := p.assignTarget(true)
		if p.skipOp("=") {
			v := p.tuple(true, false, nil)
			p.expectBlockEnd()
			return &setNode{target, v}
		}
		n := &setBlockNode{target: target, filters: p.filterChain()}
		p.expectBlockEnd()
		n.body, _ = p.body([]string{"endset"})
		p.expectBlockEnd()
		return n
	case "macro":
		m := &macroDef{name: p.expectName()}
		p.signature(m)
		p.expectBlockEnd()
		loops := p.loops
		p.loops = 0
		m.body, _ = p.body([]string{"endmacro"})
		p.loops = loops
		p.skipName(m.name)
		p.expectBlockEnd()
		return &macroNode{m}
	case "call":
		caller := &macroDef{name: "caller"}
		if p.isOp("(") {
			p.signature(caller)
		}
		e := p.expression(true)
		c, ok := e.(*callExpr)
		if !ok {
			p.fail(t.pos, "expected call")
		}
		p.expectBlockEnd()
		loops := p.loops
		p.loops = 0
		caller.body, _ = p.body([]string{"endcall"})
		p.loops = loops
		p.expectBlockEnd()
		return &callBlockNode{c, caller}
	case "filter":
		n := &filterBlockNode{filters: p.filterChain()}
		if len(n.filters) == 0 {
			p.fail(p.cur().pos, "expected a filter name")
		}
		p.expectBlockEnd()
		n.body, _ = p.body([]string{"endfilter"})
		p.expectBlockEnd()
		return n
	case "with":
		n := &withNode{}
		for p.cur().kind != tBlockEnd {
			if len(n.targets) > 0 {
				p.expectOp(",")
			}
			n.targets = append(n.targets, p.assignTarget(false))
			p.expectOp("=")
			n.values = append(n.values, p.expression(true))
		}
		p.expectBlockEnd()
		n.body, _ = p.body([]string{"endwith"})
		p.expectBlockEnd()
		return n
	case "break", "continue":
		if p.loops == 0 {
			p.fail(t.pos, "'%s' outside loop", t.val)
		}
		p.expectBlockEnd()
		return &loopCtlNode{brk: t.val == "break"}
	case "generation":
		p.expectBlockEnd()
		b, _ := p.body([]string{"endgeneration"})
		p.expectBlockEnd()
		return &generationNode{b}
	case "block":
		name := p.expectName()
		p.skipName("scoped")
		p.skipName("required")
		p.expectBlockEnd()
		b, _ := p.body([]string{"endblock"})
		p.skipName(name)
		p.expectBlockEnd()
		return &generationNode{b}
	case "include", "import", "from", "extends":
		for p.cur().kind != tBlockEnd && p.cur().kind != tEOF {
			p.next()
		}
		p.expectBlockEnd()
		return &unsupportedNode{t.val, t.pos}
	}
	if endTags[t.val] {
		p.fail(t.pos, "encountered unknown tag '%s'; jinja was looking for a matching block end", t.val)
	}
	p.fail(t.pos, "encountered unknown tag '%s'", t.val)
	return nil
}

// signature parses a macro's "(a, b=1)".
func (p *parser) signature(m *macroDef) {
	p.expectOp("(")
	for !p.skipOp(")") {
		if len(m.params) > 0 {
			p.expectOp(",")
			if p.skipOp(")") {
				break
			}
		}
		m.params = append(m.params, p.expectName())
		if p.skipOp("=") {
			m.defaults = append(m.defaults, p.expression(true))
		} else if len(m.defaults) > 0 {
			p.fail(p.cur().pos, "non-default argument follows default argument")
		}
	}
}

// filterChain parses "| f(args) | g" (for set blocks and filter blocks; the first '|' is
// optional in a filter block).
func (p *parser) filterChain() []*filterExpr {
	var out []*filterExpr
	for len(out) == 0 && p.cur().kind == tName || p.skipOp("|") {
		out = append(out, p.filter(nil))
	}
	return out
}

// assignTarget parses a name, "a, b" (unless nameOnly... ) or ns.attr (withNS).
func (p *parser) assignTarget(withNS bool) expr {
	t := p.cur()
	if withNS && t.kind == tName && p.peek().kind == tOp && p.peek().val == "." {
		p.next()
		p.next()
		return &attrExpr{&nameExpr{t.val}, p.expectName()}
	}
	var items []expr
	paren := p.skipOp("(")
	for {
		t := p.cur()
		var e expr
		if p.isOp("(") {
			e = p.assignTarget(false)
		} else {
			name := p.expectName()
			if name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None" {
				p.fail(t.pos, "can't assign to %s", name)
			}
			e = &nameExpr{name}
		}
		items = append(items, e)
		if !p.skipOp(",") {
			break
		}
		if c := p.cur(); c.kind != tName && !p.isOp("(") {
			break
		}
	}
	if paren {
		p.expectOp(")")
	}
	if len(items) == 1 && !paren {
		return items[0]
	}
	return &tupleExpr{items}
}

// tuple parses an expression or a comma-separated tuple of them (without parentheses).
func (p *parser) tuple(withCond, explicit bool, extraEnds []string) expr {
	var items []expr
	comma := false
	for {
		if len(items) > 0 {
			if !p.skipOp(",") {
				break
			}
			comma = true
		}
		if p.tupleEnd(extraEnds) {
			break
		}
		items = append(items, p.expression(withCond))
		if !p.isOp(",") {
			break
		}
	}
	if !comma {
		if len(items) == 0 {
			if explicit {
				return &tupleExpr{}
			}
			p.fail(p.cur().pos, "expected an expression, got %s", p.cur())
		}
		return items[0]
	}
	return &tupleExpr{items}
}

func (p *parser) tupleEnd(extra []string) bool {
	t := p.cur()
	switch t.kind {
	case tVarEnd, tBlockEnd, tEOF:
		return true
	case tOp:
		return t.val == ")"
	case tName:
		for _, e := range extra {
			if t.val == e {
				return true
			}
		}
		return t.val == "in" && false
	}
	return false
}

func (p *parser) expression(withCond bool) expr {
	if withCond {
		return p.condExpr()
	}
	return p.or()
}

func (p *parser) condExpr() expr {
	e := p.or()
	for p.skipName("if") {
		test := p.or()
		var els expr
		if p.skipName("else") {
			els = p.condExpr()
		}
		e = &condExpr{test, e, els}
	}
	return e
}

func (p *parser) or() expr {
	e := p.and()
	for p.skipName("or") {
		e = &binExpr{"or", e, p.and()}
	}
	return e
}

func (p *parser) and() expr {
	e := p.not()
	for p.skipName("and") {
		e = &binExpr{"and", e, p.not()}
	}
	return e
}

func (p *parser) not() expr {
	if p.skipName("not") {
		return &unaryExpr{"not", p.not()}
	}
	return p.compare()
}

func (p *parser) compare() expr {
	first := p.math1()
	c := &compareExpr{first: first}
	for {
		t := p.cur()
		switch {
		case t.kind == tOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == ">" || t.val == "<=" || t.val == ">="):
			p.next()
			c.ops = append(c.ops, t.val)
		case p.isName("in"):
			p.next()
			c.ops = append(c.ops, "in")
		case p.isName("not") && p.peek().kind == tName && p.peek().val == "in":
			p.next()
			p.next()
			c.ops = append(c.ops, "notin")
		default:
			if len(c.ops) == 0 {
				return first
			}
			return c
		}
		c.rest = append(c.rest, p.math1())
	}
}

func (p *parser) math1() expr {
	e := p.concat()
	for p.isOp("+") || p.isOp("-") {
		op := p.next().val
		e = &binExpr{op, e, p.concat()}
	}
	return e
}

func (p *parser) concat() expr {
	e := p.math2()
	for p.skipOp("~") {
		e = &binExpr{"~", e, p.math2()}
	}
	return e
}

func (p *parser) math2() expr {
	e := p.pow()
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		op := p.next().val
		e = &binExpr{op, e, p.pow()}
	}
	return e
}

func (p *parser) pow() expr {
	e := p.unary(true)
	for p.skipOp("**") {
		e = &binExpr{"**", e, p.unary(true)}
	}
	return e
}

func (p *parser) unary(withFilter bool) expr {
	var e expr
	switch {
	case p.skipOp("-"):
		e = &unaryExpr{"-", p.unary(false)}
	case p.skipOp("+"):
		e = &unaryExpr{"+", p.unary(false)}
	default:
		e = p.primary()
	}
	e = p.postfix(e)
	if withFilter {
		e = p.filterTail(e)
	}
	return e
}

func (p *parser) primary() expr {
	t := p.cur()
	switch t.kind {
	case tName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{true}
		case "false", "False":
			return &constExpr{false}
		case "none", "None":
			return &constExpr{nil}
		}
		return &nameExpr{t.val}
	case tString:
		p.next()
		s := t.val
		for p.cur().kind == tString {
			s += p.next().val
		}
		return &constExpr{s}
	case tInt:
		p.next()
		return &constExpr{parseIntLiteral(t.val)}
	case tFloat:
		p.next()
		f, err := strconv.ParseFloat(t.val, 64)
		if err != nil && f == 0 {
			p.fail(t.pos, "bad float %q", t.val)
		}
		return &constExpr{f}
	case tOp:
		switch t.val {
		case "(":
			p.next()
			e := p.tuple(true, true, nil)
			p.expectOp(")")
			return e
		case "[":
			p.next()
			l := &listExpr{}
			for !p.skipOp("]") {
				if len(l.items) > 0 {
					p.expectOp(",")
					if p.skipOp("]") {
						break
					}
				}
				l.items = append(l.items, p.expression(true))
			}
			return l
		case "{":
			p.next()
			d := &dictExpr{}
			for !p.skipOp("}") {
				if len(d.keys) > 0 {
					p.expectOp(",")
					if p.skipOp("}") {
						break
					}
				}
				d.keys = append(d.keys, p.expression(true))
				p.expectOp(":")
				d.vals = append(d.vals, p.expression(true))
			}
			return d
		}
	}
	p.fail(t.pos, "unexpected %s", t)
	return nil
}

func parseIntLiteral(s string) any {
	base := 10
	if len(s) > 1 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, s = 16, s[2:]
		case 'o', 'O':
			base, s = 8, s[2:]
		case 'b', 'B':
			base, s = 2, s[2:]
		}
	}
	if i, err := strconv.ParseInt(s, base, 64); err == nil {
		return int(i)
	}
	b, _ := new(big.Int).SetString(s, base)
	if b == nil {
		return 0
	}
	return b
}

func (p *parser) postfix(e expr) expr {
	for {
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			switch t.kind {
			case tName:
				e = &attrExpr{e, t.val}
			case tInt:
				e = &itemExpr{e, &constExpr{parseIntLiteral(t.val)}}
			default:
				p.fail(t.pos, "expected name or number")
			}
		case p.isOp("["):
			p.next()
			var keys []expr
			for !p.skipOp("]") {
				if len(keys) > 0 {
					p.expectOp(",")
					if p.skipOp("]") {
						break
					}
				}
				keys = append(keys, p.subscript())
			}
			if len(keys) == 0 {
				p.fail(p.cur().pos, "expected subscript expression")
			}
			if len(keys) == 1 {
				if s, ok := keys[0].(*sliceExpr); ok {
					s.obj = e
					e = s
				} else {
					e = &itemExpr{e, keys[0]}
				}
			} else {
				e = &itemExpr{e, &tupleExpr{keys}}
			}
		case p.isOp("("):
			e = p.call(e)
		default:
			return e
		}
	}
}

func (p *parser) subscript() expr {
	var parts [3]expr
	if !p.isOp(":") {
		parts[0] = p.expression(true)
		if !p.isOp(":") {
			return parts[0]
		}
	}
	p.next()
	if !p.isOp("]") && !p.isOp(",") && !p.isOp(":") {
		parts[1] = p.expression(true)
	}
	if p.skipOp(":") && !p.isOp("]") && !p.isOp(",") {
		parts[2] = p.expression(true)
	}
	return &sliceExpr{nil, parts[0], parts[1], parts[2]}
}

func (p *parser) call(fn expr) *callExpr {
	c := &callExpr{fn: fn}
	c.args, c.kwargs = p.callArgs()
	return c
}

func (p *parser) callArgs() ([]expr, []kwExpr) {
	p.expectOp("(")
	var args []expr
	var kwargs []kwExpr
	first := true
	for !p.skipOp(")") {
		if !first {
			p.expectOp(",")
			if p.skipOp(")") {
				break
			}
		}
		first = false
		if p.isOp("*") || p.isOp("**") {
			p.fail(p.cur().pos, "*args and **kwargs in calls are not supported")
		}
		if t := p.cur(); t.kind == tName && p.peek().kind == tOp && p.peek().val == "=" {
			p.next()
			p.next()
			kwargs = append(kwargs, kwExpr{t.val, p.expression(true)})
			continue
		}
		if len(kwargs) > 0 {
			p.fail(p.cur().pos, "positional argument follows keyword argument")
		}
		args = append(args, p.expression(true))
	}
	return args, kwargs
}

func (p *parser) dottedName() string {
	name := p.expectName()
	for p.isOp(".") && p.peek().kind == tName {
		p.next()
		name += "." + p.next().val
	}
	return name
}

func (p *parser) filter(in expr) *filterExpr {
	f := &filterExpr{in: in, name: p.dottedName()}
	if p.isOp("(") {
		f.args, f.kwargs = p.callArgs()
	}
	return f
}

func (p *parser) filterTail(e expr) expr {
	for {
		switch {
		case p.skipOp("|"):
			e = p.filter(e)
		case p.isName("is"):
			p.next()
			t := &testExpr{in: e, negate: p.skipName("not")}
			t.name = p.dottedName()
			c := p.cur()
			switch {
			case p.isOp("("):
				t.args, t.kwargs = p.callArgs()
			case (c.kind == tName || c.kind == tString || c.kind == tInt || c.kind == tFloat || p.isOp("[") || p.isOp("{")) &&
				!(c.kind == tName && (c.val == "else" || c.val == "or" || c.val == "and")):
				if c.kind == tName && c.val == "is" {
					p.fail(c.pos, "you cannot chain multiple tests with is")
				}
				t.args = []expr{p.postfix(p.primary())}
			}
			e = t
		case p.isOp("("):
			e = p.call(e)
		default:
			return e
		}
	}
}
