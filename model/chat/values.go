package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Message is one chat turn: at least "role" and "content", plus whatever else the
// template reads ("tool_calls", "name", "reasoning_content", ...).
//
// A Go map has no key order, so the keys of a Message (and of any map[string]any in it)
// are presented to the template in sorted order. That only matters to templates that
// iterate over a message's keys; where key order matters (tool schemas, tool-call
// arguments rendered with tojson), pass an Object, or use RenderJSON, which keeps the
// order of the JSON text as Python's json.loads does.
type Message = map[string]any

// Field is one key/value pair of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object (Python dict) whose key order is kept.
type Object []Field

// Get returns the value stored under key.
func (o Object) Get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// ParseJSON decodes JSON text the way Python's json.loads does for a template: objects
// become Object (key order kept; a repeated key keeps its first position and its last
// value, as in a Python dict), arrays become []any, numbers written without a fraction or
// exponent become int (float64 beyond the int range), other numbers float64, and null nil.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the JSON value")
		}
		return nil, err
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %T, not a string", kt)
				}
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				replaced := false
				for i := range obj {
					if obj[i].Key == key {
						obj[i].Value = val
						replaced = true
						break
					}
				}
				if !replaced {
					obj = append(obj, Field{key, val})
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			list := []any{}
			for dec.More() {
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, val)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %q", t)
	case json.Number:
		return numberValue(t), nil
	default: // string, bool, nil
		return t, nil
	}
}

// numberValue follows Python: a literal with '.', 'e' or 'E' is a float, else an int.
func numberValue(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return f
}

// toValue converts caller data into template values: Object and Go maps become dicts
// (insertion order kept for Object, sorted keys for maps), slices become lists,
// json.Number follows Python's literal rules, and with wholeFloatsToInt, whole floats
// become int (see Render; RenderJSON keeps ParseJSON's floats).
func toValue(v any, wholeFloatsToInt bool) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string, bool, int:
		return x
	case Object:
		d := newDict()
		for _, f := range x {
			_ = d.set(f.Key, toValue(f.Value, wholeFloatsToInt))
		}
		return d
	case json.Number:
		return numberValue(x)
	case float64:
		if wholeFloatsToInt {
			return integralFloat(x)
		}
		return x
	case float32:
		if wholeFloatsToInt {
			return integralFloat(float64(x))
		}
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toValue(e, wholeFloatsToInt)
		}
		return out
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := newDict()
		for _, k := range keys {
			_ = d.set(k, toValue(x[k], wholeFloatsToInt))
		}
		return d
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return string(rv.Bytes())
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = toValue(rv.Index(i).Interface(), wholeFloatsToInt)
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return fmt.Sprint(v)
		}
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().String()] = it.Value().Interface()
		}
		return toValue(m, wholeFloatsToInt)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return new(big.Int).SetUint64(rv.Uint())
		}
		return int(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return toValue(rv.Float(), wholeFloatsToInt)
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return toValue(rv.Elem().Interface(), wholeFloatsToInt)
	}
	return fmt.Sprint(v)
}

func integralFloat(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int(f)
	}
	return f
}

// reasoningFields are the names a message's reasoning comes under; transformers copies the
// first one that is set to "thinking" and "reasoning_content".
var reasoningFields = []string{"reasoning_content", "thinking", "reasoning"}

// normalizeMessages does to each message what apply_chat_template does before rendering:
// keys whose value is None are dropped (_normalize_chat_messages), and a message with
// reasoning becomes {"thinking": r, **message, "reasoning_content": r}
// (_alias_reasoning_fields). Messages that are not objects are left as they are.
func normalizeMessages(messages any) any {
	var list []any
	switch x := messages.(type) {
	case []any:
		list = x
	case []Message:
		list = make([]any, len(x))
		for i, m := range x {
			list[i] = m
		}
	default:
		return messages
	}
	out := make([]any, len(list))
	for i, m := range list {
		var obj Object
		switch x := m.(type) {
		case Object:
			obj = x
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				obj = append(obj, Field{k, x[k]})
			}
		default:
			out[i] = m
			continue
		}
		kept := make(Object, 0, len(obj)+2)
		for _, f := range obj {
			if f.Value != nil {
				kept = append(kept, f)
			}
		}
		var reasoning any
		for _, name := range reasoningFields {
			if v, ok := kept.Get(name); ok {
				reasoning = v
				break
			}
		}
		if reasoning != nil {
			aliased := Object{{"thinking", reasoning}}
			for _, f := range kept {
				if f.Key == "thinking" {
					aliased[0].Value = f.Value
					continue
				}
				aliased = append(aliased, f)
			}
			set := false
			for j := range aliased {
				if aliased[j].Key == "reasoning_content" {
					aliased[j].Value, set = reasoning, true
				}
			}
			if !set {
				aliased = append(aliased, Field{"reasoning_content", reasoning})
			}
			kept = aliased
		}
		out[i] = kept
	}
	return out
}
