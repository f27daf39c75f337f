package chat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// pyList is a list handed to templates (messages, tools, results of the list filter). It
// indexes as Python does: gonja's own lookup misses the first element through a negative
// index (x[-1] of a one-element list is undefined there), which hides e.g. Mistral's
// message == user_messages[-1] check when there is a single user turn.
type pyList []any

// GetItem implements exec.ItemGetter.
func (l pyList) GetItem(key any) (*exec.Value, bool) {
	if v, ok := key.(*exec.Value); ok {
		if !v.IsInteger() {
			return exec.AsValue(nil), false
		}
		key = v.Integer()
	}
	i, ok := key.(int)
	if !ok {
		return exec.AsValue(nil), false
	}
	if i < 0 {
		i += len(l)
	}
	if i < 0 || i >= len(l) {
		return exec.AsValue(nil), false
	}
	return exec.AsValue(l[i]), true
}

// filterList is jinja2's list: the items of a sequence, the characters of a string, the keys
// of a dict (in order).
func filterList(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(params.Args) != 0 || len(params.KwArgs) != 0 {
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("list takes no arguments")))
	}
	if in.IsString() {
		out := pyList{}
		for _, r := range in.String() {
			out = append(out, string(r))
		}
		return exec.AsValue(out)
	}
	if in.IsDict() {
		out := pyList{}
		for _, p := range dictPairs(in) {
			out = append(out, p[0])
		}
		return exec.AsValue(out)
	}
	out := pyList{}
	in.Iterate(func(_, _ int, key, _ *exec.Value) bool {
		out = append(out, key.Interface())
		return true
	}, func() {})
	return exec.AsValue(out)
}

// filterTrim is jinja2's trim: str(value).strip(chars). A non-string is converted to its
// text first (gonja refuses anything but a string); an undefined value gives "".
func filterTrim(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	var chars *exec.Value
	switch {
	case len(params.Args) == 1 && len(params.KwArgs) == 0:
		chars = params.Args[0]
	case len(params.Args) == 0 && len(params.KwArgs) <= 1:
		for k, v := range params.KwArgs {
			if k != "chars" {
				return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("trim got an unexpected keyword argument '%s'", k)))
			}
			chars = v
		}
	default:
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("trim takes at most one argument")))
	}
	s := in.String()
	if chars == nil || chars.IsNil() {
		return exec.AsValue(strings.TrimFunc(s, isPySpace))
	}
	return exec.AsValue(strings.Trim(s, chars.String()))
}

// isPySpace is str.isspace for one rune (str.strip() with no argument strips these).
func isPySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// filterItems is jinja2's items: the (key, value) pairs of a mapping in its order; an
// undefined value gives an empty list.
func filterItems(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(params.Args) != 0 || len(params.KwArgs) != 0 {
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("items takes no arguments")))
	}
	if in.IsNil() {
		return exec.AsValue(pyList{})
	}
	if !in.IsDict() {
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("can only get item pairs from a mapping")))
	}
	out := pyList{}
	for _, p := range dictPairs(in) {
		out = append(out, pyList{p[0], p[1]})
	}
	return exec.AsValue(out)
}

// filterDictSort is jinja2's dictsort(case_sensitive=False, by='key', reverse=False): the
// (key, value) pairs sorted by key or value, strings compared case-insensitively unless
// case_sensitive.
func filterDictSort(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	names := []string{"case_sensitive", "by", "reverse"}
	args := map[string]*exec.Value{}
	if len(params.Args) > len(names) {
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("dictsort takes at most 3 arguments")))
	}
	for i, a := range params.Args {
		args[names[i]] = a
	}
	for k, v := range params.KwArgs {
		if k != "case_sensitive" && k != "by" && k != "reverse" {
			return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("dictsort got an unexpected keyword argument '%s'", k)))
		}
		args[k] = v
	}
	caseSensitive := args["case_sensitive"] != nil && args["case_sensitive"].IsTrue()
	reverse := args["reverse"] != nil && args["reverse"].IsTrue()
	pos := 0
	if by := args["by"]; by != nil {
		switch by.String() {
		case "key":
		case "value":
			pos = 1
		default:
			return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("You can only sort by either 'key' or 'value'")))
		}
	}
	if !in.IsDict() {
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("dictsort requires a mapping")))
	}
	pairs := dictPairs(in)
	var sortErr error
	sort.SliceStable(pairs, func(i, j int) bool {
		a, b := exec.AsValue(pairs[i][pos]), exec.AsValue(pairs[j][pos])
		if reverse {
			a, b = b, a
		}
		c, err := pyCompare(a, b, caseSensitive)
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return c < 0
	})
	if sortErr != nil {
		return exec.AsValue(sortErr)
	}
	out := pyList{}
	for _, p := range pairs {
		out = append(out, pyList{p[0], p[1]})
	}
	return exec.AsValue(out)
}

// pyCompare orders two scalars as Python's < does (numbers with numbers, strings with
// strings, lowered unless caseSensitive).
func pyCompare(a, b *exec.Value, caseSensitive bool) (int, error) {
	switch {
	case a.IsNumber() && b.IsNumber():
		x, y := a.Float(), b.Float()
		if a.IsInteger() && b.IsInteger() {
			x, y = float64(a.Integer()), float64(b.Integer())
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	case a.IsString() && b.IsString():
		x, y := a.String(), b.String()
		if !caseSensitive {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return strings.Compare(x, y), nil
	}
	return 0, fmt.Errorf("'<' not supported between %s and %s", a.String(), b.String())
}
