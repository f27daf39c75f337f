package chat

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// args binds positional and keyword arguments to parameter names (Python's call rules);
// a missing parameter is absent from the result.
func bindArgs(fname string, params []string, args []any, kw []kwarg) (map[string]any, error) {
	if len(args) > len(params) {
		return nil, fmt.Errorf("TypeError: %s() takes at most %d arguments (%d given)", fname, len(params), len(args))
	}
	out := make(map[string]any, len(params))
	for i, a := range args {
		out[params[i]] = a
	}
	for _, k := range kw {
		known := false
		for _, p := range params {
			known = known || p == k.name
		}
		if !known {
			return nil, fmt.Errorf("TypeError: %s() got an unexpected keyword argument '%s'", fname, k.name)
		}
		if _, dup := out[k.name]; dup {
			return nil, fmt.Errorf("TypeError: %s() got multiple values for argument '%s'", fname, k.name)
		}
		out[k.name] = k.v
	}
	return out, nil
}

func strArg(fname string, v any) (string, error) {
	if !isString(v) {
		return "", fmt.Errorf("TypeError: %s() argument must be str, not %s", fname, typeName(v))
	}
	return str(v), nil
}

func intArg(fname string, v any) (int, error) {
	if !isInt(v) {
		return 0, fmt.Errorf("TypeError: '%s' object cannot be interpreted as an integer (%s)", typeName(v), fname)
	}
	b, _ := toBig(v)
	if !b.IsInt64() {
		return 0, fmt.Errorf("OverflowError: Python int too large to convert to C ssize_t")
	}
	return int(b.Int64()), nil
}

// mutators are the methods the immutable sandbox refuses.
var mutators = map[string]bool{"append": true, "extend": true, "insert": true, "pop": true, "remove": true, "clear": true,
	"sort": true, "reverse": true, "update": true, "setdefault": true, "popitem": true, "add": true, "discard": true}

// method returns obj.name as a bound method, if there is one.
func method(obj any, name string) (any, bool) {
	bound := func(fn func(args []any, kw []kwarg) (any, error)) *callable {
		return &callable{name, func(_ *renderer, args []any, kw []kwarg) (any, error) { return fn(args, kw) }}
	}
	switch o := obj.(type) {
	case string:
		if m := strMethod(o, name); m != nil {
			return bound(m), true
		}
	case markup:
		if m := strMethod(string(o), name); m != nil {
			return bound(m), true
		}
	case *dict:
		if mutators[name] {
			return unsafe(obj, name), true
		}
		switch name {
		case "items":
			return bound(func(args []any, kw []kwarg) (any, error) { return o.items(), noArgs(name, args, kw) }), true
		case "keys":
			return bound(func(args []any, kw []kwarg) (any, error) {
				return append([]any(nil), o.keys...), noArgs(name, args, kw)
			}), true
		case "values":
			return bound(func(args []any, kw []kwarg) (any, error) {
				return append([]any(nil), o.vals...), noArgs(name, args, kw)
			}), true
		case "get":
			return bound(func(args []any, kw []kwarg) (any, error) {
				if len(args) < 1 || len(args) > 2 || len(kw) > 0 {
					return nil, errors.New("TypeError: get expected 1 or 2 arguments")
				}
				if _, err := hashKey(args[0]); err != nil {
					return nil, err
				}
				if v, ok := o.get(args[0]); ok {
					return v, nil
				}
				if len(args) == 2 {
					return args[1], nil
				}
				return nil, nil
			}), true
		case "copy":
			return bound(func(args []any, kw []kwarg) (any, error) { return o.copy(), noArgs(name, args, kw) }), true
		}
	case []any, tuple:
		if _, isList := o.([]any); isList && mutators[name] {
			return unsafe(obj, name), true
		}
		items, _ := iterate(o)
		switch name {
		case "index":
			return bound(func(args []any, kw []kwarg) (any, error) {
				if len(args) != 1 {
					return nil, errors.New("TypeError: index expected 1 argument")
				}
				for i, e := range items {
					if pyEq(e, args[0]) {
						return i, nil
					}
				}
				return nil, fmt.Errorf("ValueError: %s is not in list", repr(args[0]))
			}), true
		case "count":
			return bound(func(args []any, kw []kwarg) (any, error) {
				if len(args) != 1 {
					return nil, errors.New("TypeError: count expected 1 argument")
				}
				n := 0
				for _, e := range items {
					if pyEq(e, args[0]) {
						n++
					}
				}
				return n, nil
			}), true
		case "copy":
			if _, isList := o.([]any); isList {
				return bound(func(args []any, kw []kwarg) (any, error) { return append([]any{}, items...), nil }), true
			}
		}
	}
	return nil, false
}

// unsafe is the sandbox's unsafe_undefined: it prints as "" and fails when used.
func unsafe(obj any, name string) *undefined {
	return &undefined{hint: fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(obj)), security: true}
}

func noArgs(name string, args []any, kw []kwarg) error {
	if len(args) > 0 || len(kw) > 0 {
		return fmt.Errorf("TypeError: %s() takes no arguments", name)
	}
	return nil
}

func stripChars(fname string, args []any, kw []kwarg) (func(rune) bool, error) {
	a, err := bindArgs(fname, []string{"chars"}, args, kw)
	if err != nil {
		return nil, err
	}
	c, ok := a["chars"]
	if !ok || c == nil {
		return isPyWS, nil
	}
	set, err := strArg(fname, c)
	if err != nil {
		return nil, err
	}
	return func(r rune) bool { return strings.ContainsRune(set, r) }, nil
}

// strMethod returns the str method name bound to s.
func strMethod(s, name string) func(args []any, kw []kwarg) (any, error) {
	switch name {
	case "strip", "lstrip", "rstrip":
		return func(args []any, kw []kwarg) (any, error) {
			f, err := stripChars(name, args, kw)
			if err != nil {
				return nil, err
			}
			switch name {
			case "lstrip":
				return strings.TrimLeftFunc(s, f), nil
			case "rstrip":
				return strings.TrimRightFunc(s, f), nil
			}
			return strings.TrimFunc(s, f), nil
		}
	case "split", "rsplit":
		return func(args []any, kw []kwarg) (any, error) {
			a, err := bindArgs(name, []string{"sep", "maxsplit"}, args, kw)
			if err != nil {
				return nil, err
			}
			n := -1
			if m, ok := a["maxsplit"]; ok {
				if n, err = intArg(name, m); err != nil {
					return nil, err
				}
			}
			sep, ok := a["sep"]
			if !ok || sep == nil {
				return pySplitWS(s, n, name == "rsplit"), nil
			}
			sp, err := strArg(name, sep)
			if err != nil {
				return nil, err
			}
			if sp == "" {
				return nil, errors.New("ValueError: empty separator")
			}
			var parts []string
			switch {
			case n < 0:
				parts = strings.Split(s, sp)
			case name == "split":
				parts = strings.SplitN(s, sp, n+1)
			default:
				parts = rsplitN(s, sp, n)
			}
			return strList(parts), nil
		}
	case "splitlines":
		return func(args []any, kw []kwarg) (any, error) {
			a, err := bindArgs(name, []string{"keepends"}, args, kw)
			if err != nil {
				return nil, err
			}
			keep := truthy(a["keepends"])
			var out []any
			start := 0
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				end := i + n
				lineBreak := false
				switch r {
				case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
					lineBreak = true
				case '\r':
					lineBreak = true
					if end < len(s) && s[end] == '\n' {
						end++
					}
				}
				if lineBreak {
					if keep {
						out = append(out, s[start:end])
					} else {
						out = append(out, s[start:i])
					}
					start = end
				}
				i = end
			}
			if start < len(s) {
				out = append(out, s[start:])
			}
			if out == nil {
				out = []any{}
			}
			return out, nil
		}
	case "startswith", "endswith":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) < 1 || len(kw) > 0 {
				return nil, fmt.Errorf("TypeError: %s() takes at least 1 argument", name)
			}
			sub := s
			if len(args) > 1 {
				var err error
				if sub, err = substr(s, args[1:]); err != nil {
					return nil, err
				}
			}
			var cands []any
			switch x := args[0].(type) {
			case tuple:
				cands = x
			default:
				if !isString(x) {
					return nil, fmt.Errorf("TypeError: %s first arg must be str or a tuple of str, not %s", name, typeName(x))
				}
				cands = []any{x}
			}
			for _, c := range cands {
				if !isString(c) {
					return nil, fmt.Errorf("TypeError: tuple for %s must only contain str, not %s", name, typeName(c))
				}
				if name == "startswith" && strings.HasPrefix(sub, str(c)) || name == "endswith" && strings.HasSuffix(sub, str(c)) {
					return true, nil
				}
			}
			return false, nil
		}
	case "upper", "lower", "title", "capitalize", "swapcase", "casefold":
		return func(args []any, kw []kwarg) (any, error) {
			if err := noArgs(name, args, kw); err != nil {
				return nil, err
			}
			switch name {
			case "upper":
				return pyUpper(s), nil
			case "lower", "casefold":
				return strings.ToLower(s), nil
			case "title":
				return pyTitle(s), nil
			case "capitalize":
				return pyCapitalize(s), nil
			}
			var b strings.Builder
			for _, r := range s {
				if unicode.IsUpper(r) {
					b.WriteRune(unicode.ToLower(r))
				} else {
					b.WriteString(pyUpper(string(r)))
				}
			}
			return b.String(), nil
		}
	case "replace":
		return func(args []any, kw []kwarg) (any, error) {
			a, err := bindArgs(name, []string{"old", "new", "count"}, args, kw)
			if err != nil {
				return nil, err
			}
			return pyReplace(s, a["old"], a["new"], a["count"])
		}
	case "find", "rfind", "index", "rindex", "count":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) < 1 || len(kw) > 0 {
				return nil, fmt.Errorf("TypeError: %s() takes at least 1 argument", name)
			}
			sub, err := strArg(name, args[0])
			if err != nil {
				return nil, err
			}
			rs := []rune(s)
			lo, hi := 0, len(rs)
			if len(args) > 1 {
				if lo, hi, err = bounds(len(rs), args[1:]); err != nil {
					return nil, err
				}
			}
			if lo > hi || lo > len(rs) {
				if name == "count" {
					return 0, nil
				}
				return notFound(name)
			}
			hay := string(rs[lo:hi])
			switch name {
			case "count":
				if sub == "" {
					return utf8.RuneCountInString(hay) + 1, nil
				}
				return strings.Count(hay, sub), nil
			case "find", "index":
				i := strings.Index(hay, sub)
				if i < 0 {
					return notFound(name)
				}
				return lo + utf8.RuneCountInString(hay[:i]), nil
			}
			i := strings.LastIndex(hay, sub)
			if i < 0 {
				return notFound(name)
			}
			return lo + utf8.RuneCountInString(hay[:i]), nil
		}
	case "join":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) != 1 || len(kw) > 0 {
				return nil, errors.New("TypeError: join() takes exactly one argument")
			}
			items, err := iterate(args[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				if !isString(it) {
					return nil, fmt.Errorf("TypeError: sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				parts[i] = str(it)
			}
			return strings.Join(parts, s), nil
		}
	case "format":
		return func(args []any, kw []kwarg) (any, error) { return pyFormat(s, args, kw) }
	case "zfill":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) != 1 {
				return nil, errors.New("TypeError: zfill() takes exactly one argument")
			}
			w, err := intArg(name, args[0])
			if err != nil {
				return nil, err
			}
			n := utf8.RuneCountInString(s)
			if w <= n {
				return s, nil
			}
			sign := ""
			rest := s
			if s != "" && (s[0] == '+' || s[0] == '-') {
				sign, rest = s[:1], s[1:]
			}
			return sign + strings.Repeat("0", w-n) + rest, nil
		}
	case "ljust", "rjust", "center":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) < 1 || len(args) > 2 {
				return nil, fmt.Errorf("TypeError: %s() takes 1 or 2 arguments", name)
			}
			w, err := intArg(name, args[0])
			if err != nil {
				return nil, err
			}
			fill := " "
			if len(args) == 2 {
				if fill, err = strArg(name, args[1]); err != nil {
					return nil, err
				}
				if utf8.RuneCountInString(fill) != 1 {
					return nil, errors.New("TypeError: The fill character must be exactly one character long")
				}
			}
			return pad(s, w, fill, name), nil
		}
	case "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "isupper", "islower", "istitle":
		return func(args []any, kw []kwarg) (any, error) {
			if err := noArgs(name, args, kw); err != nil {
				return nil, err
			}
			return strPredicate(name, s), nil
		}
	case "removeprefix", "removesuffix":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("TypeError: %s() takes exactly one argument", name)
			}
			a, err := strArg(name, args[0])
			if err != nil {
				return nil, err
			}
			if name == "removeprefix" {
				return strings.TrimPrefix(s, a), nil
			}
			return strings.TrimSuffix(s, a), nil
		}
	case "partition", "rpartition":
		return func(args []any, kw []kwarg) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("TypeError: %s() takes exactly one argument", name)
			}
			sep, err := strArg(name, args[0])
			if err != nil {
				return nil, err
			}
			if sep == "" {
				return nil, errors.New("ValueError: empty separator")
			}
			i := strings.Index(s, sep)
			if name == "rpartition" {
				i = strings.LastIndex(s, sep)
			}
			if i < 0 {
				if name == "rpartition" {
					return tuple{"", "", s}, nil
				}
				return tuple{s, "", ""}, nil
			}
			return tuple{s[:i], sep, s[i+len(sep):]}, nil
		}
	case "expandtabs":
		return func(args []any, kw []kwarg) (any, error) { return strings.ReplaceAll(s, "\t", "        "), nil }
	}
	return nil
}

func notFound(name string) (any, error) {
	if name == "index" || name == "rindex" {
		return nil, errors.New("ValueError: substring not found")
	}
	return -1, nil
}

// bounds resolves the optional start/end of find and friends (rune offsets).
func bounds(n int, args []any) (int, int, error) {
	lo, hi := 0, n
	for i, a := range args[:min(len(args), 2)] {
		if a == nil {
			continue
		}
		v, err := intArg("index", a)
		if err != nil {
			return 0, 0, err
		}
		v = clampIdx(v, n, 0, n)
		if i == 0 {
			lo = v
		} else {
			hi = v
		}
	}
	return lo, hi, nil
}

func substr(s string, args []any) (string, error) {
	rs := []rune(s)
	lo, hi, err := bounds(len(rs), args)
	if err != nil {
		return "", err
	}
	if lo > hi {
		return "\x00impossible", nil
	}
	return string(rs[lo:hi]), nil
}

func strList(parts []string) []any {
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out
}

// pySplitWS is str.split() / rsplit() without a separator.
func pySplitWS(s string, n int, right bool) []any {
	if !right {
		var out []any
		rest := strings.TrimLeftFunc(s, isPyWS)
		for rest != "" {
			if n >= 0 && len(out) == n {
				out = append(out, rest)
				break
			}
			i := strings.IndexFunc(rest, isPyWS)
			if i < 0 {
				out = append(out, rest)
				break
			}
			out = append(out, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], isPyWS)
		}
		if out == nil {
			return []any{}
		}
		return out
	}
	var rev []any
	rest := strings.TrimRightFunc(s, isPyWS)
	for rest != "" {
		if n >= 0 && len(rev) == n {
			rev = append(rev, rest)
			break
		}
		i := strings.LastIndexFunc(rest, isPyWS)
		if i < 0 {
			rev = append(rev, rest)
			break
		}
		_, size := utf8.DecodeRuneInString(rest[i:])
		rev = append(rev, rest[i+size:])
		rest = strings.TrimRightFunc(rest[:i], isPyWS)
	}
	out := make([]any, len(rev))
	for i, p := range rev {
		out[len(rev)-1-i] = p
	}
	return out
}

func rsplitN(s, sep string, n int) []string {
	var rev []string
	for len(rev) < n {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		rev = append(rev, s[i+len(sep):])
		s = s[:i]
	}
	rev = append(rev, s)
	out := make([]string, len(rev))
	for i, p := range rev {
		out[len(rev)-1-i] = p
	}
	return out
}

func pyReplace(s string, oldV, newV, countV any) (any, error) {
	old, err := strArg("replace", oldV)
	if err != nil {
		return nil, err
	}
	nw, err := strArg("replace", newV)
	if err != nil {
		return nil, err
	}
	n := -1
	if countV != nil {
		if n, err = intArg("replace", countV); err != nil {
			return nil, err
		}
	}
	if old == "" && n != 0 {
		// Python inserts new before each character and at the end.
		rs := []rune(s)
		var b strings.Builder
		done := 0
		for i := 0; i <= len(rs); i++ {
			if n < 0 || done < n {
				b.WriteString(nw)
				done++
			}
			if i < len(rs) {
				b.WriteRune(rs[i])
			}
		}
		return b.String(), nil
	}
	return strings.Replace(s, old, nw, n), nil
}

func pad(s string, w int, fill, how string) string {
	n := utf8.RuneCountInString(s)
	if w <= n {
		return s
	}
	total := w - n
	switch how {
	case "ljust":
		return s + strings.Repeat(fill, total)
	case "rjust":
		return strings.Repeat(fill, total) + s
	}
	left := total / 2
	if total%2 == 1 && w%2 == 1 { // CPython's center puts the odd pad on the left when width is odd
		left++
	}
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, total-left)
}

func strPredicate(name, s string) bool {
	if s == "" {
		return false
	}
	cased := false
	for _, r := range s {
		switch name {
		case "isdigit", "isdecimal", "isnumeric":
			if !unicode.IsDigit(r) && !(name == "isnumeric" && unicode.IsNumber(r)) {
				return false
			}
		case "isalpha":
			if !unicode.IsLetter(r) {
				return false
			}
		case "isalnum":
			if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
				return false
			}
		case "isspace":
			if !isPyWS(r) {
				return false
			}
		case "isupper":
			if unicode.IsLower(r) {
				return false
			}
			cased = cased || unicode.IsUpper(r)
		case "islower":
			if unicode.IsUpper(r) {
				return false
			}
			cased = cased || unicode.IsLower(r)
		case "istitle":
			return pyTitle(s) == s && strings.IndexFunc(s, unicode.IsLetter) >= 0
		}
	}
	if name == "isupper" || name == "islower" {
		return cased
	}
	return true
}

// pyUpper is str.upper (ß becomes SS).
func pyUpper(s string) string {
	if strings.ContainsRune(s, 'ß') {
		s = strings.ReplaceAll(s, "ß", "SS")
	}
	return strings.ToUpper(s)
}

// pyTitle is str.title: a letter after a non-letter is upper-cased, others lower-cased.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteString(pyUpper(string(unicode.ToTitle(r))))
		}
		prevCased = unicode.IsLetter(r)
	}
	return b.String()
}

func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return pyUpper(string(unicode.ToTitle(r))) + strings.ToLower(s[n:])
}

// pyFormat is str.format with {} / {0} / {name} fields (and a !r/!s conversion; format
// specs are not supported).
func pyFormat(s string, args []any, kw []kwarg) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '}' {
			if i+1 < len(s) && s[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, errors.New("ValueError: Single '{' encountered in format string")
		}
		field := s[i+1 : i+j]
		i += j
		conv := ""
		if k := strings.IndexByte(field, '!'); k >= 0 {
			field, conv = field[:k], field[k+1:]
		}
		spec := ""
		if k := strings.IndexByte(field, ':'); k >= 0 {
			field, spec = field[:k], field[k+1:]
		}
		var v any
		switch {
		case field == "":
			if auto >= len(args) {
				return nil, fmt.Errorf("IndexError: Replacement index %d out of range for positional args tuple", auto)
			}
			v = args[auto]
			auto++
		case field[0] >= '0' && field[0] <= '9':
			n := 0
			for _, d := range field {
				if d < '0' || d > '9' {
					return nil, fmt.Errorf("ValueError: bad field %q", field)
				}
				n = n*10 + int(d-'0')
				if n > len(args) {
					break
				}
			}
			if n >= len(args) {
				return nil, fmt.Errorf("IndexError: Replacement index %d out of range for positional args tuple", n)
			}
			v = args[n]
		default:
			found := false
			for _, k := range kw {
				if k.name == field {
					v, found = k.v, true
				}
			}
			if !found {
				return nil, fmt.Errorf("KeyError: '%s'", field)
			}
		}
		if conv == "r" {
			v = repr(v)
		} else if conv == "s" {
			v = str(v)
		}
		out, err := formatSpec(v, spec)
		if err != nil {
			return nil, err
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

var specRE = regexp.MustCompile(`^(?:(.)?([<>^=]))?([+\- ])?(0)?(\d+)?(,)?(?:\.(\d+))?([sdfFeEgGxXob%])?$`)

// formatSpec is format(v, spec) for the common specs: [[fill]align][sign][0][width][,][.precision][type].
func formatSpec(v any, spec string) (string, error) {
	if spec == "" {
		return str(v), nil
	}
	m := specRE.FindStringSubmatch(spec)
	if m == nil {
		return "", fmt.Errorf("ValueError: Invalid format specifier '%s' for object of type '%s'", spec, typeName(v))
	}
	fill, align, sign, zero, width, comma, prec, typ := m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
	var body string
	numeric := isNumber(v)
	switch {
	case typ == "s" || typ == "" && !numeric:
		if !isString(v) && typ == "s" {
			return "", fmt.Errorf("ValueError: Unknown format code 's' for object of type '%s'", typeName(v))
		}
		body = str(v)
		if prec != "" {
			n, _ := strconv.Atoi(prec)
			if rs := []rune(body); len(rs) > n {
				body = string(rs[:n])
			}
		}
		if align == "" {
			align = "<"
		}
	case numeric:
		if typ == "" && isInt(v) || strings.Contains("dxXob", typ) && typ != "" {
			if !isInt(v) {
				return "", fmt.Errorf("ValueError: Unknown format code '%s' for object of type 'float'", typ)
			}
			bi, _ := toBig(v)
			verb := map[string]string{"": "d", "d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[typ]
			body = fmt.Sprintf("%"+verb, new(big.Int).Abs(bi))
			if comma != "" {
				body = groupThousands(body)
			}
			if bi.Sign() < 0 {
				body = "-" + body
			} else if sign == "+" || sign == " " {
				body = sign + body
			}
		} else {
			f, _ := toFloat(v)
			p := 6
			if prec != "" {
				p, _ = strconv.Atoi(prec)
			}
			switch typ {
			case "":
				if prec == "" {
					body = pyFloatStr(f)
				} else {
					body = strconv.FormatFloat(f, 'g', max(p, 1), 64)
				}
			case "%":
				body = strconv.FormatFloat(f*100, 'f', p, 64) + "%"
			default:
				body = strconv.FormatFloat(f, typ[0]|0x20, p, 64)
				if typ[0] < 'a' {
					body = strings.ToUpper(body)
				}
			}
			if f >= 0 && (sign == "+" || sign == " ") {
				body = sign + body
			}
		}
		if align == "" {
			align = ">"
		}
	default:
		return "", fmt.Errorf("ValueError: Unknown format code '%s' for object of type '%s'", typ, typeName(v))
	}
	w, _ := strconv.Atoi(width)
	n := utf8.RuneCountInString(body)
	if w <= n {
		return body, nil
	}
	if zero != "" && fill == "" && m[2] == "" {
		fill, align = "0", "="
	}
	if fill == "" {
		fill = " "
	}
	padding := w - n
	switch align {
	case "<":
		return body + strings.Repeat(fill, padding), nil
	case "^":
		return strings.Repeat(fill, padding/2) + body + strings.Repeat(fill, padding-padding/2), nil
	case "=":
		if body != "" && strings.ContainsRune("+- ", rune(body[0])) {
			return body[:1] + strings.Repeat(fill, padding) + body[1:], nil
		}
	}
	return strings.Repeat(fill, padding) + body, nil
}

func groupThousands(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// pyPercent is "fmt" % args with %s %r %d %i %f %x %% (and - 0 width . precision).
func pyPercent(format string, arg any) (any, error) {
	var args []any
	switch a := arg.(type) {
	case tuple:
		args = a
	default:
		args = []any{a}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ 0#.0123456789", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			return nil, errors.New("ValueError: incomplete format")
		}
		flags, verb := format[i+1:j], format[j]
		i = j
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if next >= len(args) {
			return nil, errors.New("TypeError: not enough arguments for format string")
		}
		v := args[next]
		next++
		var s string
		switch verb {
		case 's':
			s = fmt.Sprintf("%"+flags+"s", str(v))
		case 'r', 'a':
			s = fmt.Sprintf("%"+flags+"s", repr(v))
		case 'd', 'i', 'u':
			if !isNumber(v) {
				return nil, fmt.Errorf("TypeError: %%%c format: a real number is required, not %s", verb, typeName(v))
			}
			if f, ok := v.(float64); ok {
				v = int(f)
			}
			bi, _ := toBig(v)
			s = fmt.Sprintf("%"+flags+"d", bi)
		case 'f', 'F', 'e', 'E', 'g', 'G':
			f, ok := toFloat(v)
			if !ok {
				return nil, fmt.Errorf("TypeError: must be real number, not %s", typeName(v))
			}
			if !strings.Contains(flags, ".") {
				flags += ".6"
			}
			s = fmt.Sprintf("%"+flags+string(verb), f)
		case 'x', 'X', 'o':
			bi, ok := toBig(v)
			if !ok {
				return nil, fmt.Errorf("TypeError: %%%c format: an integer is required, not %s", verb, typeName(v))
			}
			s = fmt.Sprintf("%"+flags+string(verb), bi)
		case 'c':
			if n, ok := v.(int); ok && n >= 0 && n <= unicode.MaxRune {
				s = string(rune(n))
			} else {
				s = str(v)
			}
		default:
			return nil, fmt.Errorf("ValueError: unsupported format character '%c'", verb)
		}
		b.WriteString(s)
	}
	if next < len(args) {
		if _, ok := arg.(tuple); ok {
			return nil, errors.New("TypeError: not all arguments converted during string formatting")
		}
		if _, ok := arg.(*dict); !ok {
			return nil, errors.New("TypeError: not all arguments converted during string formatting")
		}
	}
	return b.String(), nil
}

// strftime formats t with Python's strftime directives (C locale).
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%02d", h)
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			fmt.Fprintf(&b, "%d", wd)
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		case '-':
			// glibc's %-d and friends: no padding
			if i+1 < len(format) {
				i++
				switch format[i] {
				case 'd':
					fmt.Fprintf(&b, "%d", t.Day())
				case 'm':
					fmt.Fprintf(&b, "%d", int(t.Month()))
				case 'H':
					fmt.Fprintf(&b, "%d", t.Hour())
				case 'M':
					fmt.Fprintf(&b, "%d", t.Minute())
				case 'I':
					h := t.Hour() % 12
					if h == 0 {
						h = 12
					}
					fmt.Fprintf(&b, "%d", h)
				default:
					b.WriteString("%-")
					b.WriteByte(format[i])
				}
			} else {
				b.WriteString("%-")
			}
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
