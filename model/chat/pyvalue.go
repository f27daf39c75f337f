package chat

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Template values are Python values as jinja2 sees them:
//
//	nil        None
//	bool, int, *big.Int (ints beyond int64), float64, string
//	markup     markupsafe.Markup (escape's result)
//	[]any      list
//	tuple      tuple
//	*dict      dict (insertion-ordered)
//	*undefined jinja2's Undefined
//	*namespace, *loopObj, *callable (functions, bound methods, macros), *cycler, *joiner

type (
	markup    string
	tuple     []any
	undefined struct {
		hint     string // what the error says ("'x' is undefined")
		security bool   // the sandbox refused the attribute
	}
	dict struct {
		keys, vals []any
		idx        map[any]int
	}
	namespace struct{ d *dict }
	kwarg     struct {
		name string
		v    any
	}
	callable struct {
		name string
		fn   func(r *renderer, args []any, kw []kwarg) (any, error)
	}
)

func newDict() *dict { return &dict{idx: map[any]int{}} }

type hashNone struct{}
type hashBig string
type hashTuple string

// hashKey is the Go map key of a Python dict key (1, 1.0 and True are one key).
func hashKey(k any) (any, error) {
	switch x := k.(type) {
	case nil:
		return hashNone{}, nil
	case string:
		return x, nil
	case markup:
		return string(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case int:
		return x, nil
	case *big.Int:
		return hashBig(x.String()), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int(x), nil
		}
		return x, nil
	case tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			h, err := hashKey(e)
			if err != nil {
				return nil, err
			}
			parts[i] = fmt.Sprintf("%T:%v", h, h)
		}
		return hashTuple(strings.Join(parts, "\x00")), nil
	}
	return nil, fmt.Errorf("TypeError: unhashable type: '%s'", typeName(k))
}

func (d *dict) get(k any) (any, bool) {
	h, err := hashKey(k)
	if err != nil {
		return nil, false
	}
	i, ok := d.idx[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

func (d *dict) set(k, v any) error {
	h, err := hashKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.idx[h]; ok {
		d.vals[i] = v
		return nil
	}
	d.idx[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *dict) len() int { return len(d.keys) }

func (d *dict) copy() *dict {
	c := newDict()
	for i, k := range d.keys {
		_ = c.set(k, d.vals[i])
	}
	return c
}

func (d *dict) items() []any {
	out := make([]any, len(d.keys))
	for i, k := range d.keys {
		out[i] = tuple{k, d.vals[i]}
	}
	return out
}

func undefName(name string) *undefined {
	return &undefined{hint: fmt.Sprintf("'%s' is undefined", name)}
}

func undefAttr(obj any, attr string) *undefined {
	return &undefined{hint: fmt.Sprintf("'%s' has no attribute '%s'", objDesc(obj), attr)}
}

func undefItem(obj any, key any) *undefined {
	if s, ok := key.(string); ok {
		return undefAttr(obj, s)
	}
	return &undefined{hint: fmt.Sprintf("'%s' has no element %s", objDesc(obj), repr(key))}
}

// objDesc is jinja2's object_type_repr: "dict object", "None", ...
func objDesc(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	}
	return typeName(v) + " object"
}

func (u *undefined) err() error {
	if u.security {
		return fmt.Errorf("SecurityError: %s", u.hint)
	}
	return fmt.Errorf("UndefinedError: %s", u.hint)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case markup:
		return "Markup"
	case []any:
		return "list"
	case tuple:
		return "tuple"
	case *dict:
		return "dict"
	case *undefined:
		return "Undefined"
	case *namespace:
		return "Namespace"
	case *loopObj:
		return "LoopContext"
	case *callable:
		return "function"
	}
	return fmt.Sprintf("%T", v)
}

// truthy is Python's bool(v).
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, *undefined:
		return false
	case bool:
		return x
	case int:
		return x != 0
	case *big.Int:
		return x.Sign() != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case markup:
		return x != ""
	case []any:
		return len(x) > 0
	case tuple:
		return len(x) > 0
	case *dict:
		return x.len() > 0
	}
	return true
}

// str is Python's str(v) (Undefined prints as "").
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case markup:
		return string(x)
	case *undefined:
		return ""
	}
	return repr(v)
}

// repr is Python's repr(v).
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(pyFloatStr(x))
	case string:
		b.WriteString(pyStrRepr(x))
	case markup:
		b.WriteString("Markup(" + pyStrRepr(string(x)) + ")")
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, x.vals[i])
		}
		b.WriteByte('}')
	case *undefined:
		b.WriteString("Undefined")
	case *namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.d)
		b.WriteString(">")
	case *callable:
		fmt.Fprintf(b, "<function %s>", x.name)
	case *loopObj:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index+1, len(x.items))
	default:
		fmt.Fprintf(b, "<%s object>", typeName(v))
	}
}

// pyFloatStr is Python's repr(float), inf and nan included.
func pyFloatStr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return pyFloatRepr(f)
}

// pyStrRepr is Python's repr(str).
func pyStrRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ':
			switch {
			case r <= 0xff:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r <= 0xffff:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// toFloat converts a number (bool, int, big int, float).
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case float64:
		return x, true
	}
	return 0, false
}

// toBig converts an int-like value (bool, int, big int).
func toBig(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), true
		}
		return big.NewInt(0), true
	case int:
		return big.NewInt(int64(x)), true
	case *big.Int:
		return x, true
	}
	return nil, false
}

func isInt(v any) bool {
	switch v.(type) {
	case bool, int, *big.Int:
		return true
	}
	return false
}

func isNumber(v any) bool { return isInt(v) || isFloat(v) }
func isFloat(v any) bool  { _, ok := v.(float64); return ok }

// normInt turns a big.Int that fits back into an int.
func normInt(b *big.Int) any {
	if b.IsInt64() {
		return int(b.Int64())
	}
	return b
}

func isString(v any) bool {
	switch v.(type) {
	case string, markup:
		return true
	}
	return false
}

// pyEq is Python's ==.
func pyEq(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		if isInt(a) && isInt(b) {
			x, _ := toBig(a)
			y, _ := toBig(b)
			return x.Cmp(y) == 0
		}
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		return x == y
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string, markup:
		if !isString(b) {
			return false
		}
		return str(a) == str(b)
	case []any:
		y, ok := b.([]any)
		return ok && seqEq(x, y)
	case tuple:
		y, ok := b.(tuple)
		return ok && seqEq(x, y)
	case *dict:
		y, ok := b.(*dict)
		if !ok || x.len() != y.len() {
			return false
		}
		for i, k := range x.keys {
			v, ok := y.get(k)
			if !ok || !pyEq(x.vals[i], v) {
				return false
			}
		}
		return true
	case *undefined:
		_, ok := b.(*undefined)
		return ok
	}
	return a == b
}

func seqEq(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !pyEq(a[i], b[i]) {
			return false
		}
	}
	return true
}

// pyCmp orders a and b as Python's < does (-1, 0, 1), or fails with a TypeError.
func pyCmp(a, b any, op string) (int, error) {
	if u, ok := a.(*undefined); ok {
		return 0, u.err()
	}
	if u, ok := b.(*undefined); ok {
		return 0, u.err()
	}
	switch {
	case isNumber(a) && isNumber(b):
		if isInt(a) && isInt(b) {
			x, _ := toBig(a)
			y, _ := toBig(b)
			return x.Cmp(y), nil
		}
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	case isString(a) && isString(b):
		return strings.Compare(str(a), str(b)), nil
	}
	var x, y []any
	switch av := a.(type) {
	case []any:
		if bv, ok := b.([]any); ok {
			x, y = av, bv
		}
	case tuple:
		if bv, ok := b.(tuple); ok {
			x, y = av, bv
		}
	}
	if x != nil && y != nil || (x == nil) != (y == nil) && false {
		for i := 0; i < len(x) && i < len(y); i++ {
			if pyEq(x[i], y[i]) {
				continue
			}
			return pyCmp(x[i], y[i], op)
		}
		switch {
		case len(x) < len(y):
			return -1, nil
		case len(x) > len(y):
			return 1, nil
		}
		return 0, nil
	}
	if (isList(a) && isList(b)) || (isTuple(a) && isTuple(b)) { // empty sequences
		return cmpLen(a, b), nil
	}
	return 0, fmt.Errorf("TypeError: '%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))
}

func isList(v any) bool  { _, ok := v.([]any); return ok }
func isTuple(v any) bool { _, ok := v.(tuple); return ok }

func cmpLen(a, b any) int {
	la, _ := pyLen(a)
	lb, _ := pyLen(b)
	switch {
	case la < lb:
		return -1
	case la > lb:
		return 1
	}
	return 0
}

// pyLen is Python's len().
func pyLen(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), true
	case markup:
		return utf8.RuneCountInString(string(x)), true
	case []any:
		return len(x), true
	case tuple:
		return len(x), true
	case *dict:
		return x.len(), true
	case *undefined:
		return 0, true
	}
	return 0, false
}

// iterate lists the items Python's iter(v) gives: a dict's keys, a string's characters.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case tuple:
		return x, nil
	case *dict:
		return append([]any(nil), x.keys...), nil
	case string:
		return chars(x), nil
	case markup:
		return chars(string(x)), nil
	case *undefined:
		return nil, nil
	case *namespace:
		return nil, fmt.Errorf("TypeError: 'Namespace' object is not iterable")
	}
	return nil, fmt.Errorf("TypeError: '%s' object is not iterable", typeName(v))
}

func chars(s string) []any {
	out := make([]any, 0, len(s))
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}

// contains is Python's "a in b".
func contains(b, a any) (bool, error) {
	switch x := b.(type) {
	case string, markup:
		if u, ok := a.(*undefined); ok {
			return false, u.err()
		}
		if !isString(a) {
			return false, fmt.Errorf("TypeError: 'in <string>' requires string as left operand, not %s", typeName(a))
		}
		return strings.Contains(str(x), str(a)), nil
	case *dict:
		if _, err := hashKey(a); err != nil {
			return false, err
		}
		_, ok := x.get(a)
		return ok, nil
	case *undefined:
		return false, nil
	}
	items, err := iterate(b)
	if err != nil {
		return false, fmt.Errorf("TypeError: argument of type '%s' is not iterable", typeName(b))
	}
	for _, e := range items {
		if pyEq(e, a) {
			return true, nil
		}
	}
	return false, nil
}

// sortValues sorts in place as Python's sorted() does (stable), with key and reverse.
func sortValues(items []any, key func(any) any, reverse bool) error {
	var err error
	keys := make([]any, len(items))
	for i, it := range items {
		keys[i] = it
		if key != nil {
			keys[i] = key(it)
		}
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := keys[idx[i]], keys[idx[j]]
		if reverse {
			a, b = b, a
		}
		c, e := pyCmp(a, b, "<")
		if e != nil && err == nil {
			err = e
		}
		return c < 0
	})
	sorted := make([]any, len(items))
	for i, k := range idx {
		sorted[i] = items[k]
	}
	copy(items, sorted)
	return err
}
