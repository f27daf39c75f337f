package chat

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// maxDepth bounds macro and recursive-loop nesting (Python's recursion limit, roughly).
const maxDepth = 400

// maxOutput bounds the text a render (or a block of it) may produce.
const maxOutput = 1 << 28

// maxSize bounds the strings and lists a template may build with * (the fuzzer's 'x' * 10**9).
const maxSize = 1 << 26

type scope struct {
	vars   map[string]any
	parent *scope
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type renderer struct {
	now    func() time.Time
	raised *RaiseError
	depth  int
}

var (
	errBreak    = errors.New("break outside a loop")
	errContinue = errors.New("continue outside a loop")
)

// loopObj is the loop variable of a for loop.
type loopObj struct {
	items     []any
	index     int
	depth0    int
	lastSeen  any
	seen      bool
	recurse   func(r *renderer, items any) (string, error)
	iterating bool
}

func (r *renderer) execBody(nodes []node, sc *scope, out *strings.Builder) error {
	for _, n := range nodes {
		if err := r.exec(n, sc, out); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) exec(n node, sc *scope, out *strings.Builder) error {
	if out.Len() > maxOutput {
		return errors.New("MemoryError: the rendered text is too large")
	}
	switch n := n.(type) {
	case *textNode:
		out.WriteString(n.s)
	case *outputNode:
		v, err := r.eval(n.e, sc)
		if err != nil {
			return err
		}
		out.WriteString(str(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c, sc)
			if err != nil {
				return err
			}
			if truthy(v) {
				return r.execBody(n.bodies[i], sc, out)
			}
		}
		return r.execBody(n.els, sc, out)
	case *forNode:
		it, err := r.eval(n.iter, sc)
		if err != nil {
			return err
		}
		return r.forLoop(n, it, sc, out, 0)
	case *setNode:
		v, err := r.eval(n.value, sc)
		if err != nil {
			return err
		}
		return r.assign(n.target, v, sc)
	case *setBlockNode:
		v, err := r.filteredBody(n.body, n.filters, &scope{map[string]any{}, sc}, sc)
		if err != nil {
			return err
		}
		return r.assign(n.target, v, sc)
	case *macroNode:
		sc.vars[n.m.name] = r.macro(n.m, sc, nil)
	case *callBlockNode:
		caller := r.macro(n.caller, sc, nil)
		v, err := r.call(n.call, sc, caller)
		if err != nil {
			return err
		}
		out.WriteString(str(v))
	case *filterBlockNode:
		v, err := r.filteredBody(n.body, n.filters, sc, sc)
		if err != nil {
			return err
		}
		out.WriteString(str(v))
	case *withNode:
		inner := &scope{map[string]any{}, sc}
		for i, t := range n.targets {
			v, err := r.eval(n.values[i], sc)
			if err != nil {
				return err
			}
			if err := r.assign(t, v, inner); err != nil {
				return err
			}
		}
		return r.execBody(n.body, inner, out)
	case *loopCtlNode:
		if n.brk {
			return errBreak
		}
		return errContinue
	case *generationNode:
		return r.execBody(n.body, sc, out)
	case *unsupportedNode:
		return fmt.Errorf("TemplateNotFound: {%% %s %%} is not supported (a chat template has no other templates to load)", n.what)
	default:
		return fmt.Errorf("unknown node %T", n)
	}
	return nil
}

func (r *renderer) forLoop(n *forNode, it any, sc *scope, out *strings.Builder, depth int) error {
	if depth > maxDepth {
		return errors.New("RecursionError: maximum recursion depth exceeded")
	}
	if u, ok := it.(*undefined); ok && false {
		return u.err()
	}
	all, err := iterate(it)
	if err != nil {
		return err
	}
	items := all
	if n.cond != nil {
		items = nil
		for _, x := range all {
			tmp := &scope{map[string]any{}, sc}
			if err := r.assign(n.target, x, tmp); err != nil {
				return err
			}
			c, err := r.eval(n.cond, tmp)
			if err != nil {
				return err
			}
			if truthy(c) {
				items = append(items, x)
			}
		}
	}
	loop := &loopObj{items: items, depth0: depth}
	if n.recursive {
		loop.recurse = func(r *renderer, next any) (string, error) {
			var b strings.Builder
			err := r.forLoop(n, next, sc, &b, depth+1)
			return b.String(), err
		}
	}
	for i, x := range items {
		// each iteration starts from the enclosing scope: what the body sets does not
		// carry over to the next iteration (nor out of the loop)
		inner := &scope{map[string]any{}, sc}
		loop.index = i
		if err := r.assign(n.target, x, inner); err != nil {
			return err
		}
		inner.vars["loop"] = loop
		err := r.execBody(n.body, inner, out)
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	if len(items) == 0 {
		return r.execBody(n.els, sc, out)
	}
	return nil
}

// assign binds a set/for/with target.
func (r *renderer) assign(target expr, v any, sc *scope) error {
	switch t := target.(type) {
	case *nameExpr:
		sc.vars[t.name] = v
		return nil
	case *tupleExpr:
		items, err := iterate(v)
		if err != nil {
			return fmt.Errorf("TypeError: cannot unpack non-iterable %s object", typeName(v))
		}
		if len(items) != len(t.items) {
			if len(items) > len(t.items) {
				return fmt.Errorf("ValueError: too many values to unpack (expected %d)", len(t.items))
			}
			return fmt.Errorf("ValueError: not enough values to unpack (expected %d, got %d)", len(t.items), len(items))
		}
		for i, e := range t.items {
			if err := r.assign(e, items[i], sc); err != nil {
				return err
			}
		}
		return nil
	case *attrExpr:
		name := t.obj.(*nameExpr).name
		obj, _ := sc.lookup(name)
		ns, ok := obj.(*namespace)
		if !ok {
			return fmt.Errorf("TemplateRuntimeError: cannot assign attribute on non-namespace object")
		}
		if strings.HasPrefix(t.attr, "_") {
			return fmt.Errorf("SecurityError: chat templates cannot store underscore-prefixed attributes on a namespace, but got '%s'", t.attr)
		}
		return ns.d.set(t.attr, v)
	}
	return fmt.Errorf("cannot assign to %T", target)
}

// macro makes a callable of a macro definition (closure over sc).
func (r *renderer) macro(m *macroDef, sc *scope, _ any) *callable {
	c := &callable{name: m.name}
	c.fn = func(r *renderer, args []any, kw []kwarg) (any, error) {
		if r.depth >= maxDepth {
			return nil, errors.New("RecursionError: maximum recursion depth exceeded")
		}
		r.depth++
		defer func() { r.depth-- }()
		inner := &scope{map[string]any{}, sc}
		var varargs []any
		for i, a := range args {
			if i < len(m.params) {
				inner.vars[m.params[i]] = a
			} else {
				varargs = append(varargs, a)
			}
		}
		kwargs := newDict()
		for _, k := range kw {
			found := false
			for i, p := range m.params {
				if p == k.name {
					if i < len(args) {
						return nil, fmt.Errorf("TypeError: macro '%s' got multiple values for argument '%s'", m.name, p)
					}
					inner.vars[p] = k.v
					found = true
				}
			}
			if !found {
				if k.name == "caller" {
					inner.vars["caller"] = k.v
					continue
				}
				_ = kwargs.set(k.name, k.v)
			}
		}
		firstDefault := len(m.params) - len(m.defaults)
		for i, p := range m.params {
			if _, ok := inner.vars[p]; ok {
				continue
			}
			if i >= firstDefault {
				v, err := r.eval(m.defaults[i-firstDefault], inner)
				if err != nil {
					return nil, err
				}
				inner.vars[p] = v
			} else {
				inner.vars[p] = undefName(p)
			}
		}
		if _, ok := inner.vars["caller"]; !ok {
			inner.vars["caller"] = undefName("caller")
		}
		inner.vars["varargs"] = tuple(varargs)
		inner.vars["kwargs"] = kwargs
		var b strings.Builder
		if err := r.execBody(m.body, inner, &b); err != nil {
			if err == errBreak || err == errContinue {
				return nil, errors.New("TemplateSyntaxError: break or continue outside a loop")
			}
			return nil, err
		}
		return b.String(), nil
	}
	return c
}

func (r *renderer) eval(e expr, sc *scope) (any, error) {
	switch e := e.(type) {
	case *constExpr:
		return e.v, nil
	case *nameExpr:
		if v, ok := sc.lookup(e.name); ok {
			return v, nil
		}
		return undefName(e.name), nil
	case *attrExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		return getAttr(obj, e.attr)
	case *itemExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		key, err := r.eval(e.key, sc)
		if err != nil {
			return nil, err
		}
		return getItem(obj, key)
	case *sliceExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		var bounds [3]any
		for i, b := range []expr{e.start, e.stop, e.step} {
			if b == nil {
				continue
			}
			if bounds[i], err = r.eval(b, sc); err != nil {
				return nil, err
			}
		}
		return slice(obj, bounds[0], bounds[1], bounds[2])
	case *callExpr:
		return r.call(e, sc, nil)
	case *filterExpr:
		in, err := r.eval(e.in, sc)
		if err != nil {
			return nil, err
		}
		return r.applyFilter(e, in, sc)
	case *testExpr:
		in, err := r.eval(e.in, sc)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(e.args, e.kwargs, sc)
		if err != nil {
			return nil, err
		}
		test, ok := tests[e.name]
		if !ok {
			return nil, fmt.Errorf("TemplateRuntimeError: no test named '%s'", e.name)
		}
		ok, err = test(r, in, args, kw)
		if err != nil {
			return nil, err
		}
		return ok != e.negate, nil
	case *unaryExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		return unary(e.op, x)
	case *binExpr:
		l, err := r.eval(e.l, sc)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "and":
			if !truthy(l) {
				return l, nil
			}
			return r.eval(e.r, sc)
		case "or":
			if truthy(l) {
				return l, nil
			}
			return r.eval(e.r, sc)
		}
		rv, err := r.eval(e.r, sc)
		if err != nil {
			return nil, err
		}
		return binary(e.op, l, rv)
	case *compareExpr:
		l, err := r.eval(e.first, sc)
		if err != nil {
			return nil, err
		}
		for i, op := range e.ops {
			rv, err := r.eval(e.rest[i], sc)
			if err != nil {
				return nil, err
			}
			ok, err := compare(op, l, rv)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			l = rv
		}
		return true, nil
	case *condExpr:
		t, err := r.eval(e.test, sc)
		if err != nil {
			return nil, err
		}
		if truthy(t) {
			return r.eval(e.then, sc)
		}
		if e.els == nil {
			return &undefined{hint: "the inline if-expression evaluated to false and no else section was defined."}, nil
		}
		return r.eval(e.els, sc)
	case *listExpr:
		return r.evalAll(e.items, sc)
	case *tupleExpr:
		out, err := r.evalAll(e.items, sc)
		return tuple(out), err
	case *dictExpr:
		d := newDict()
		for i, k := range e.keys {
			kv, err := r.eval(k, sc)
			if err != nil {
				return nil, err
			}
			vv, err := r.eval(e.vals[i], sc)
			if err != nil {
				return nil, err
			}
			if err := d.set(kv, vv); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("cannot evaluate %T", e)
}

func (r *renderer) evalArgs(args []expr, kwargs []kwExpr, sc *scope) ([]any, []kwarg, error) {
	var av []any
	for _, a := range args {
		v, err := r.eval(a, sc)
		if err != nil {
			return nil, nil, err
		}
		av = append(av, v)
	}
	var kv []kwarg
	for _, k := range kwargs {
		v, err := r.eval(k.v, sc)
		if err != nil {
			return nil, nil, err
		}
		kv = append(kv, kwarg{k.name, v})
	}
	return av, kv, nil
}

func (r *renderer) call(c *callExpr, sc *scope, caller *callable) (any, error) {
	fn, err := r.eval(c.fn, sc)
	if err != nil {
		return nil, err
	}
	args, kw, err := r.evalArgs(c.args, c.kwargs, sc)
	if err != nil {
		return nil, err
	}
	if caller != nil {
		kw = append(kw, kwarg{"caller", caller})
	}
	return r.callValue(fn, args, kw)
}

func (r *renderer) callValue(fn any, args []any, kw []kwarg) (any, error) {
	switch f := fn.(type) {
	case *callable:
		return f.fn(r, args, kw)
	case *undefined:
		return nil, f.err()
	case *loopObj:
		if f.recurse == nil {
			return nil, errors.New("TypeError: Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.")
		}
		if len(args) != 1 {
			return nil, errors.New("TypeError: loop() takes one argument")
		}
		return f.recurse(r, args[0])
	}
	return nil, fmt.Errorf("TypeError: '%s' object is not callable", typeName(fn))
}

func (r *renderer) applyFilter(f *filterExpr, in any, sc *scope) (any, error) {
	args, kw, err := r.evalArgs(f.args, f.kwargs, sc)
	if err != nil {
		return nil, err
	}
	fn, ok := filters[f.name]
	if !ok {
		return nil, fmt.Errorf("TemplateAssertionError: no filter named '%s'", f.name)
	}
	return fn(r, in, args, kw)
}

// getAttr is the sandbox's obj.attr: an attribute (method) first, then an item.
func getAttr(obj any, attr string) (any, error) {
	switch o := obj.(type) {
	case *undefined:
		return nil, o.err()
	case *namespace:
		if v, ok := o.d.get(attr); ok {
			return v, nil
		}
		return undefAttr(obj, attr), nil
	case *loopObj:
		return o.attr(attr), nil
	}
	if strings.HasPrefix(attr, "_") {
		return undefAttr(obj, attr), nil
	}
	if m, ok := method(obj, attr); ok {
		return m, nil
	}
	if g, ok := groupAttr(obj, attr); ok {
		return g, nil
	}
	if d, ok := obj.(*dict); ok {
		if v, ok := d.get(attr); ok {
			return v, nil
		}
	}
	return undefAttr(obj, attr), nil
}

// getItem is the sandbox's obj[key]: an item first, then (for a string key) an attribute.
func getItem(obj, key any) (any, error) {
	switch o := obj.(type) {
	case *undefined:
		return nil, o.err()
	case *dict:
		if v, ok := o.get(key); ok { // an unhashable key finds nothing (jinja2 catches the TypeError)
			return v, nil
		}
	case []any, tuple, string, markup:
		if isInt(key) {
			var items []any
			switch s := o.(type) {
			case []any:
				items = s
			case tuple:
				items = s
			default:
				items = chars(str(s))
			}
			k, _ := toBig(key)
			if k.IsInt64() {
				i := int(k.Int64())
				if i < 0 {
					i += len(items)
				}
				if i >= 0 && i < len(items) {
					return items[i], nil
				}
			}
			return undefItem(obj, key), nil
		}
	}
	if s, ok := key.(string); ok {
		return getAttr(obj, s)
	}
	return undefItem(obj, key), nil
}

// slice is obj[start:stop:step] for strings, lists and tuples.
func slice(obj, start, stop, step any) (any, error) {
	var items []any
	switch o := obj.(type) {
	case *undefined:
		return nil, o.err()
	case []any:
		items = o
	case tuple:
		items = o
	case string, markup:
		items = chars(str(o))
	default:
		return undefItem(obj, "slice"), nil
	}
	idx := func(v any, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		if !isInt(v) {
			return 0, fmt.Errorf("TypeError: slice indices must be integers or None or have an __index__ method")
		}
		b, _ := toBig(v)
		if !b.IsInt64() {
			if b.Sign() < 0 {
				return math.MinInt32, nil
			}
			return math.MaxInt32, nil
		}
		return int(max(min(b.Int64(), math.MaxInt32), math.MinInt32)), nil
	}
	n := len(items)
	st, err := idx(step, 1)
	if err != nil {
		return nil, err
	}
	if st == 0 {
		return nil, errors.New("ValueError: slice step cannot be zero")
	}
	var lo, hi int
	if st > 0 {
		if lo, err = idx(start, 0); err != nil {
			return nil, err
		}
		if hi, err = idx(stop, n); err != nil {
			return nil, err
		}
		lo, hi = clampIdx(lo, n, 0, n), clampIdx(hi, n, 0, n)
	} else {
		if lo, err = idx(start, n-1); err != nil {
			return nil, err
		}
		if hi, err = idx(stop, -n-1); err != nil {
			return nil, err
		}
		lo, hi = clampIdx(lo, n, -1, n-1), clampIdx(hi, n, -1, n-1)
	}
	out := []any{}
	for i := lo; st > 0 && i < hi || st < 0 && i > hi; i += st {
		out = append(out, items[i])
	}
	switch obj.(type) {
	case string, markup:
		var b strings.Builder
		for _, c := range out {
			b.WriteString(c.(string))
		}
		if m, ok := obj.(markup); ok {
			_ = m
			return markup(b.String()), nil
		}
		return b.String(), nil
	case tuple:
		return tuple(out), nil
	}
	return out, nil
}

func clampIdx(i, n, lo, hi int) int {
	if i < 0 {
		i += n
	}
	return max(lo, min(i, hi))
}

func unary(op string, x any) (any, error) {
	switch op {
	case "not":
		return !truthy(x), nil
	case "-", "+":
		if u, ok := x.(*undefined); ok {
			return nil, u.err()
		}
		switch v := x.(type) {
		case bool, int, *big.Int:
			b, _ := toBig(v)
			if op == "-" {
				return normInt(new(big.Int).Neg(b)), nil
			}
			return normInt(b), nil
		case float64:
			if op == "-" {
				return -v, nil
			}
			return v, nil
		}
		return nil, fmt.Errorf("TypeError: bad operand type for unary %s: '%s'", op, typeName(x))
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func compare(op string, a, b any) (bool, error) {
	switch op {
	case "==":
		return pyEq(a, b), nil
	case "!=":
		return !pyEq(a, b), nil
	case "in":
		return contains(b, a)
	case "notin":
		ok, err := contains(b, a)
		return !ok, err
	}
	c, err := pyCmp(a, b, op)
	if err != nil {
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

func binary(op string, a, b any) (any, error) {
	if op == "~" {
		return str(a) + str(b), nil
	}
	if u, ok := a.(*undefined); ok {
		return nil, u.err()
	}
	if u, ok := b.(*undefined); ok {
		return nil, u.err()
	}
	if isNumber(a) && isNumber(b) {
		return arith(op, a, b)
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			switch y := b.(type) {
			case string:
				return x + y, nil
			case markup:
				return markup(escapeHTML(x) + string(y)), nil
			}
			return nil, fmt.Errorf("TypeError: can only concatenate str (not \"%s\") to str", typeName(b))
		case markup:
			if isString(b) {
				y := str(b)
				if _, ok := b.(string); ok {
					y = escapeHTML(y)
				}
				return markup(string(x) + y), nil
			}
		case []any:
			if y, ok := b.([]any); ok {
				return append(append(make([]any, 0, len(x)+len(y)), x...), y...), nil
			}
			return nil, fmt.Errorf("TypeError: can only concatenate list (not \"%s\") to list", typeName(b))
		case tuple:
			if y, ok := b.(tuple); ok {
				return append(append(make(tuple, 0, len(x)+len(y)), x...), y...), nil
			}
			return nil, fmt.Errorf("TypeError: can only concatenate tuple (not \"%s\") to tuple", typeName(b))
		}
	case "*":
		seq, n := a, b
		if isInt(a) {
			seq, n = b, a
		}
		if isInt(n) {
			k, _ := toBig(n)
			count := 0
			if k.Sign() > 0 {
				if !k.IsInt64() || k.Int64() > maxSize {
					return nil, errors.New("MemoryError: repeated sequence too large")
				}
				count = int(k.Int64())
			}
			switch s := seq.(type) {
			case string, markup:
				if len(str(s))*count > maxSize {
					return nil, errors.New("MemoryError: repeated string too large")
				}
				res := strings.Repeat(str(s), count)
				if _, ok := s.(markup); ok {
					return markup(res), nil
				}
				return res, nil
			case []any, tuple:
				items, _ := iterate(s)
				if len(items)*count > maxSize {
					return nil, errors.New("MemoryError: repeated list too large")
				}
				out := make([]any, 0, len(items)*count)
				for i := 0; i < count; i++ {
					out = append(out, items...)
				}
				if _, ok := s.(tuple); ok {
					return tuple(out), nil
				}
				return out, nil
			}
		}
	case "%":
		if isString(a) {
			return pyPercent(str(a), b)
		}
	}
	sym := op
	if op == "**" {
		sym = "** or pow()"
	}
	return nil, fmt.Errorf("TypeError: unsupported operand type(s) for %s: '%s' and '%s'", sym, typeName(a), typeName(b))
}

// arith is + - * / // % ** on numbers, with Python's int/float rules.
func arith(op string, a, b any) (any, error) {
	if isInt(a) && isInt(b) {
		x, _ := toBig(a)
		y, _ := toBig(b)
		switch op {
		case "+":
			return normInt(new(big.Int).Add(x, y)), nil
		case "-":
			return normInt(new(big.Int).Sub(x, y)), nil
		case "*":
			if x.BitLen()+y.BitLen() > 1<<16 {
				return nil, errors.New("OverflowError: integer too large")
			}
			return normInt(new(big.Int).Mul(x, y)), nil
		case "//", "%":
			if y.Sign() == 0 {
				return nil, errors.New("ZeroDivisionError: integer division or modulo by zero")
			}
			q, m := new(big.Int).DivMod(x, y, new(big.Int)) // Euclidean: m >= 0
			if m.Sign() != 0 && y.Sign() < 0 {              // Python's result takes the divisor's sign
				q.Sub(q, big.NewInt(1))
				m.Add(m, y)
			}
			if op == "//" {
				return normInt(q), nil
			}
			return normInt(m), nil
		case "**":
			if y.Sign() >= 0 {
				if !y.IsInt64() || int64(x.BitLen())*y.Int64() > 1<<16 {
					return nil, errors.New("OverflowError: integer too large")
				}
				return normInt(new(big.Int).Exp(x, y, nil)), nil
			}
		}
	}
	x, _ := toFloat(a)
	y, _ := toFloat(b)
	switch op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/":
		if y == 0 {
			return nil, errors.New("ZeroDivisionError: division by zero")
		}
		return x / y, nil
	case "//":
		if y == 0 {
			return nil, errors.New("ZeroDivisionError: float floor division by zero")
		}
		return math.Floor(x / y), nil
	case "%":
		if y == 0 {
			return nil, errors.New("ZeroDivisionError: float modulo")
		}
		m := math.Mod(x, y)
		if m != 0 && (m < 0) != (y < 0) {
			m += y
		}
		return m, nil
	case "**":
		if x == 0 && y < 0 {
			return nil, errors.New("ZeroDivisionError: 0.0 cannot be raised to a negative power")
		}
		return math.Pow(x, y), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func (l *loopObj) attr(name string) any {
	n := len(l.items)
	switch name {
	case "index":
		return l.index + 1
	case "index0":
		return l.index
	case "revindex":
		return n - l.index
	case "revindex0":
		return n - l.index - 1
	case "first":
		return l.index == 0
	case "last":
		return l.index == n-1
	case "length":
		return n
	case "depth":
		return l.depth0 + 1
	case "depth0":
		return l.depth0
	case "previtem":
		if l.index == 0 {
			return &undefined{hint: "there is no previous item"}
		}
		return l.items[l.index-1]
	case "nextitem":
		if l.index+1 >= n {
			return &undefined{hint: "there is no next item"}
		}
		return l.items[l.index+1]
	case "cycle":
		return &callable{"cycle", func(_ *renderer, args []any, _ []kwarg) (any, error) {
			if len(args) == 0 {
				return nil, errors.New("TypeError: no items for cycling given")
			}
			return args[l.index%len(args)], nil
		}}
	case "changed":
		return &callable{"changed", func(_ *renderer, args []any, _ []kwarg) (any, error) {
			v := tuple(args)
			if l.seen && pyEq(l.lastSeen, v) {
				return false, nil
			}
			l.seen, l.lastSeen = true, v
			return true, nil
		}}
	}
	return undefAttr(l, name)
}

// groupAttr gives the grouper and list of a groupby item: jinja2's _GroupTuple is a
// named tuple that prints as a plain tuple; here it is a plain pair.
func groupAttr(obj any, attr string) (any, bool) {
	t, ok := obj.(tuple)
	if !ok || len(t) != 2 {
		return nil, false
	}
	switch attr {
	case "grouper":
		return t[0], true
	case "list":
		return t[1], true
	}
	return nil, false
}

// evalAll evaluates xs in order into a new list.
func (r *renderer) evalAll(xs []expr, sc *scope) ([]any, error) {
	out := make([]any, len(xs))
	for i, x := range xs {
		v, err := r.eval(x, sc)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// filteredBody renders body in bodyScope and passes the text through filters (evaluated in sc): a
// set block's value or a filter block's output.
func (r *renderer) filteredBody(body []node, filters []*filterExpr, bodyScope, sc *scope) (any, error) {
	var b strings.Builder
	if err := r.execBody(body, bodyScope, &b); err != nil {
		return nil, err
	}
	var v any = b.String()
	for _, f := range filters {
		var err error
		if v, err = r.applyFilter(f, v, sc); err != nil {
			return nil, err
		}
	}
	return v, nil
}
