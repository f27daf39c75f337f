package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

type testFunc func(r *renderer, v any, args []any, kw []kwarg) (bool, error)

var tests map[string]testFunc

func init() {
	is := func(f func(v any) bool) testFunc {
		return func(_ *renderer, v any, args []any, kw []kwarg) (bool, error) {
			if len(args)+len(kw) > 0 {
				return false, errors.New("TypeError: test takes no arguments")
			}
			return f(v), nil
		}
	}
	cmp := func(op string) testFunc {
		return func(_ *renderer, v any, args []any, kw []kwarg) (bool, error) {
			if len(args) != 1 {
				return false, errors.New("TypeError: comparison test takes one argument")
			}
			return compare(op, v, args[0])
		}
	}
	tests = map[string]testFunc{
		"defined":   is(func(v any) bool { _, u := v.(*undefined); return !u }),
		"undefined": is(func(v any) bool { _, u := v.(*undefined); return u }),
		"none":      is(func(v any) bool { return v == nil }),
		"boolean":   is(func(v any) bool { _, ok := v.(bool); return ok }),
		"false":     is(func(v any) bool { b, ok := v.(bool); return ok && !b }),
		"true":      is(func(v any) bool { b, ok := v.(bool); return ok && b }),
		"integer": is(func(v any) bool {
			_, b := v.(bool)
			return isInt(v) && !b
		}),
		"float":    is(isFloat),
		"number":   is(isNumber),
		"string":   is(isString),
		"mapping":  is(func(v any) bool { _, ok := v.(*dict); return ok }),
		"iterable": is(func(v any) bool { _, err := iterate(v); return err == nil }),
		"sequence": is(func(v any) bool {
			switch v.(type) {
			case string, markup, []any, tuple, *dict, *undefined:
				return true
			}
			return false
		}),
		"callable": is(func(v any) bool {
			switch v.(type) {
			case *callable, *undefined:
				return true
			case *loopObj:
				return true
			}
			return false
		}),
		"escaped": is(func(v any) bool { _, ok := v.(markup); return ok }),
		"lower":   is(func(v any) bool { return strPredicate("islower", str(v)) }),
		"upper":   is(func(v any) bool { return strPredicate("isupper", str(v)) }),
		"odd": func(r *renderer, v any, args []any, kw []kwarg) (bool, error) {
			m, err := binary("%", v, 2)
			return err == nil && pyEq(m, 1), err
		},
		"even": func(r *renderer, v any, args []any, kw []kwarg) (bool, error) {
			m, err := binary("%", v, 2)
			return err == nil && pyEq(m, 0), err
		},
		"divisibleby": func(r *renderer, v any, args []any, kw []kwarg) (bool, error) {
			if len(args) != 1 {
				return false, errors.New("TypeError: divisibleby takes one argument")
			}
			m, err := binary("%", v, args[0])
			return err == nil && pyEq(m, 0), err
		},
		"sameas": func(r *renderer, v any, args []any, kw []kwarg) (bool, error) {
			if len(args) != 1 {
				return false, errors.New("TypeError: sameas takes one argument")
			}
			return sameAs(v, args[0]), nil
		},
		"in": func(r *renderer, v any, args []any, kw []kwarg) (bool, error) {
			if len(args) != 1 {
				return false, errors.New("TypeError: in takes one argument")
			}
			return contains(args[0], v)
		},
		"filter": is(func(v any) bool { _, ok := filters[str(v)]; return ok }),
		"test":   is(func(v any) bool { _, ok := tests[str(v)]; return ok }),
		"eq":     cmp("=="), "equalto": cmp("=="), "==": cmp("=="),
		"ne": cmp("!="), "!=": cmp("!="),
		"lt": cmp("<"), "lessthan": cmp("<"), "<": cmp("<"),
		"le": cmp("<="), "<=": cmp("<="),
		"gt": cmp(">"), "greaterthan": cmp(">"), ">": cmp(">"),
		"ge": cmp(">="), ">=": cmp(">="),
	}
}

// sameAs approximates Python's "is": scalars of one type and value, containers by identity.
func sameAs(a, b any) bool {
	switch x := a.(type) {
	case nil, bool, int, string:
		return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) && a == b
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && len(x) > 0 && &x[0] == &y[0]
	case *dict, *namespace, *callable, *undefined:
		return a == b
	}
	return false
}

// globals are the names every template sees (jinja2's and transformers').
func (r *renderer) globals() map[string]any {
	return map[string]any{
		"range": &callable{"range", func(_ *renderer, args []any, kw []kwarg) (any, error) {
			if len(kw) > 0 || len(args) == 0 || len(args) > 3 {
				return nil, errors.New("TypeError: range expected 1 to 3 integer arguments")
			}
			var n [3]int
			for i, a := range args {
				v, err := intArg("range", a)
				if err != nil {
					return nil, err
				}
				n[i] = v
			}
			start, stop, step := 0, n[0], 1
			if len(args) > 1 {
				start, stop = n[0], n[1]
			}
			if len(args) == 3 {
				step = n[2]
			}
			if step == 0 {
				return nil, errors.New("ValueError: range() arg 3 must not be zero")
			}
			count := 0
			if step > 0 && stop > start {
				count = (stop - start + step - 1) / step
			} else if step < 0 && stop < start {
				count = (start - stop - step - 1) / -step
			}
			if count > 100000 || count < 0 {
				return nil, errors.New("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
			}
			out := make([]any, count)
			for i := range out {
				out[i] = start + i*step
			}
			return out, nil
		}},
		"dict": &callable{"dict", func(_ *renderer, args []any, kw []kwarg) (any, error) {
			d := newDict()
			if len(args) > 1 {
				return nil, errors.New("TypeError: dict expected at most 1 argument")
			}
			if len(args) == 1 {
				if err := dictUpdate(d, args[0]); err != nil {
					return nil, err
				}
			}
			for _, k := range kw {
				_ = d.set(k.name, k.v)
			}
			return d, nil
		}},
		"namespace": &callable{"namespace", func(_ *renderer, args []any, kw []kwarg) (any, error) {
			d := newDict()
			if len(args) > 1 {
				return nil, errors.New("TypeError: namespace expected at most 1 argument")
			}
			if len(args) == 1 {
				if err := dictUpdate(d, args[0]); err != nil {
					return nil, err
				}
			}
			for _, k := range kw {
				_ = d.set(k.name, k.v)
			}
			for _, k := range d.keys {
				if s, ok := k.(string); ok && strings.HasPrefix(s, "_") {
					return nil, fmt.Errorf("SecurityError: chat templates cannot store underscore-prefixed attributes on a namespace, but got %s", pyStrRepr(s))
				}
			}
			return &namespace{d}, nil
		}},
		"raise_exception": &callable{"raise_exception", func(r *renderer, args []any, kw []kwarg) (any, error) {
			parts := make([]string, len(args))
			for i, a := range args {
				parts[i] = str(a)
			}
			r.raised = &RaiseError{Message: strings.Join(parts, " ")}
			return nil, r.raised
		}},
		"strftime_now": &callable{"strftime_now", func(r *renderer, args []any, kw []kwarg) (any, error) {
			if len(args) != 1 || !isString(args[0]) || len(kw) != 0 {
				return nil, errors.New("TypeError: strftime_now takes one format string")
			}
			now := r.now
			if now == nil {
				now = time.Now
			}
			return strftime(now(), str(args[0])), nil
		}},
		"joiner": &callable{"joiner", func(_ *renderer, args []any, kw []kwarg) (any, error) {
			sep := ", "
			if len(args) > 0 {
				sep = str(args[0])
			}
			used := false
			return &callable{"joiner", func(*renderer, []any, []kwarg) (any, error) {
				if !used {
					used = true
					return "", nil
				}
				return sep, nil
			}}, nil
		}},
	}
}

func dictUpdate(d *dict, src any) error {
	if s, ok := src.(*dict); ok {
		for i, k := range s.keys {
			_ = d.set(k, s.vals[i])
		}
		return nil
	}
	items, err := iterate(src)
	if err != nil {
		return err
	}
	for _, it := range items {
		pair, err := iterate(it)
		if err != nil || len(pair) != 2 {
			return errors.New("ValueError: dictionary update sequence element has wrong length")
		}
		if err := d.set(pair[0], pair[1]); err != nil {
			return err
		}
	}
	return nil
}
