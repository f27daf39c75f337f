package chat

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonOptions are the arguments of Python's json.dumps that transformers' tojson passes.
type jsonOptions struct {
	ensureASCII bool
	indent      *string // nil: single line
	itemSep     string
	keySep      string
	sortKeys    bool
}

// filterToJSON is transformers' tojson:
//
//	json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
func filterToJSON(_ *renderer, in any, params []any, kw []kwarg) (any, error) {
	args, err := bindArgs("tojson", []string{"ensure_ascii", "indent", "separators", "sort_keys"}, params, kw)
	if err != nil {
		return nil, err
	}
	opts := jsonOptions{itemSep: ", ", keySep: ": "}
	if a, ok := args["ensure_ascii"]; ok {
		opts.ensureASCII = truthy(a)
	}
	if a, ok := args["indent"]; ok && a != nil {
		var ind string
		switch {
		case isInt(a):
			n, err := intArg("tojson", a)
			if err != nil {
				return nil, err
			}
			ind = strings.Repeat(" ", max(min(n, 1000), 0))
		case isString(a):
			ind = str(a)
		default:
			return nil, fmt.Errorf("TypeError: tojson: indent must be an int or a string, not %s", typeName(a))
		}
		opts.indent = &ind
		opts.itemSep = ","
	}
	if a, ok := args["separators"]; ok && a != nil {
		items, err := iterate(a)
		if err != nil || len(items) != 2 || !isString(items[0]) || !isString(items[1]) {
			return nil, fmt.Errorf("ValueError: tojson: separators must be a pair of strings")
		}
		opts.itemSep, opts.keySep = str(items[0]), str(items[1])
	}
	if a, ok := args["sort_keys"]; ok {
		opts.sortKeys = truthy(a)
	}
	var b strings.Builder
	if err := writeJSON(&b, in, &opts, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// PythonJSON formats v as Python's json.dumps(v, ensure_ascii=False) does (", " and ": "
// separators, no HTML escaping, floats as Python's repr). v may hold Object, maps (keys
// sorted), slices and scalars.
func PythonJSON(v any) (string, error) {
	var b strings.Builder
	err := writeJSON(&b, v, &jsonOptions{itemSep: ", ", keySep: ": "}, 0)
	return b.String(), err
}

type jsonPair struct {
	key string
	val any
}

func writeJSON(b *strings.Builder, v any, o *jsonOptions, level int) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
		return nil
	case markup:
		writeJSONString(b, string(x), o.ensureASCII)
		return nil
	case *big.Int:
		b.WriteString(x.String())
		return nil
	case *dict:
		pairs := make([]jsonPair, len(x.keys))
		for i, k := range x.keys {
			ks, err := jsonKey(k)
			if err != nil {
				return err
			}
			pairs[i] = jsonPair{ks, x.vals[i]}
		}
		return writeJSONObject(b, pairs, o, level)
	case *undefined, *namespace, *callable, *loopObj:
		return fmt.Errorf("TypeError: Object of type %s is not JSON serializable", typeName(v))
	case string:
		writeJSONString(b, x, o.ensureASCII)
		return nil
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
		return nil
	case Object:
		pairs := make([]jsonPair, len(x))
		for i, f := range x {
			pairs[i] = jsonPair{f.Key, f.Value}
		}
		return writeJSONObject(b, pairs, o, level)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, rv.Elem().Interface(), o, level)
	case reflect.String:
		writeJSONString(b, rv.String(), o.ensureASCII)
		return nil
	case reflect.Bool:
		return writeJSON(b, rv.Bool(), o, level)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(rv.Int(), 10))
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(rv.Uint(), 10))
		return nil
	case reflect.Float32, reflect.Float64:
		b.WriteString(pyFloatJSON(rv.Float()))
		return nil
	case reflect.Slice, reflect.Array:
		n := rv.Len()
		if n == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			newline(b, o, level+1)
			if err := writeJSON(b, rv.Index(i).Interface(), o, level+1); err != nil {
				return err
			}
		}
		newline(b, o, level)
		b.WriteByte(']')
		return nil
	case reflect.Map:
		keys := rv.MapKeys()
		pairs := make([]jsonPair, 0, len(keys))
		for _, k := range keys {
			ks, err := jsonKey(k.Interface())
			if err != nil {
				return err
			}
			pairs = append(pairs, jsonPair{ks, rv.MapIndex(k).Interface()})
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].key < pairs[j].key })
		return writeJSONObject(b, pairs, o, level)
	}
	return fmt.Errorf("Object of type %T is not JSON serializable", v)
}

func writeJSONObject(b *strings.Builder, pairs []jsonPair, o *jsonOptions, level int) error {
	if len(pairs) == 0 {
		b.WriteString("{}")
		return nil
	}
	if o.sortKeys {
		pairs = append([]jsonPair(nil), pairs...)
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].key < pairs[j].key })
	}
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(o.itemSep)
		}
		newline(b, o, level+1)
		writeJSONString(b, p.key, o.ensureASCII)
		b.WriteString(o.keySep)
		if err := writeJSON(b, p.val, o, level+1); err != nil {
			return err
		}
	}
	newline(b, o, level)
	b.WriteByte('}')
	return nil
}

func newline(b *strings.Builder, o *jsonOptions, level int) {
	if o.indent == nil {
		return
	}
	b.WriteByte('\n')
	for i := 0; i < level; i++ {
		b.WriteString(*o.indent)
	}
}

// jsonKey converts a dict key as json.dumps does: str as is, int, float, bool and None
// to their JSON spelling.
func jsonKey(k any) (string, error) {
	switch x := k.(type) {
	case nil:
		return "null", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	}
	rv := reflect.ValueOf(k)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return pyFloatJSON(rv.Float()), nil
	}
	return "", fmt.Errorf("keys must be str, int, float, bool or None, not %T", k)
}

// writeJSONString quotes s as Python's json encoder does.
func writeJSONString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				if c < 0x20 {
					fmt.Fprintf(b, `\u%04x`, c)
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !ensureASCII {
			b.WriteString(s[i : i+size])
		} else if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
		i += size
	}
	b.WriteByte('"')
}

// pyFloatJSON is float.__repr__ as json.dumps writes it (NaN, Infinity, -Infinity).
func pyFloatJSON(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloatRepr(f)
}

// pyFloatRepr is Python's repr(float) for finite values: shortest round-trip digits,
// positional notation when the decimal exponent is in [-4, 16), else scientific with a
// signed exponent of at least two digits ("1e-05", "1e+16").
func pyFloatRepr(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-1.2345e+06"
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}
