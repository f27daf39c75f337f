package chat

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

type filterFunc func(r *renderer, v any, args []any, kw []kwarg) (any, error)

var filters map[string]filterFunc

func init() {
	filters = map[string]filterFunc{
		"abs":            fAbs,
		"attr":           fAttr,
		"batch":          fBatch,
		"capitalize":     strFilter(pyCapitalize),
		"center":         fCenter,
		"count":          fLength,
		"d":              fDefault,
		"default":        fDefault,
		"dictsort":       fDictsort,
		"e":              fEscape,
		"escape":         fEscape,
		"filesizeformat": fFilesize,
		"first":          fFirst,
		"float":          fFloat,
		"forceescape":    func(r *renderer, v any, a []any, k []kwarg) (any, error) { return markup(escapeHTML(str(v))), nil },
		"format":         fFormat,
		"groupby":        fGroupby,
		"indent":         fIndent,
		"int":            fInt,
		"items":          fItems,
		"join":           fJoin,
		"last":           fLast,
		"length":         fLength,
		"list":           fList,
		"lower":          strFilter(strings.ToLower),
		"map":            fMap,
		"max":            func(r *renderer, v any, a []any, k []kwarg) (any, error) { return fMinMax(r, v, a, k, 1) },
		"min":            func(r *renderer, v any, a []any, k []kwarg) (any, error) { return fMinMax(r, v, a, k, -1) },
		"pprint":         func(r *renderer, v any, a []any, k []kwarg) (any, error) { return repr(v), nil },
		"reject":         selectFilter(false, false),
		"rejectattr":     selectFilter(false, true),
		"replace":        fReplace,
		"reverse":        fReverse,
		"round":          fRound,
		"safe":           func(r *renderer, v any, a []any, k []kwarg) (any, error) { return markup(str(v)), nil },
		"select":         selectFilter(true, false),
		"selectattr":     selectFilter(true, true),
		"slice":          fSlice,
		"sort":           fSort,
		"string":         fString,
		"striptags":      fStriptags,
		"sum":            fSum,
		"title":          strFilter(jinjaTitle),
		"tojson":         filterToJSON,
		"trim":           fTrim,
		"truncate":       fTruncate,
		"unique":         fUnique,
		"upper":          strFilter(pyUpper),
		"urlencode":      fURLEncode,
		"wordcount":      fWordcount,
	}
}

func strFilter(f func(string) string) filterFunc {
	return func(r *renderer, v any, args []any, kw []kwarg) (any, error) {
		if len(args)+len(kw) > 0 {
			return nil, errors.New("TypeError: filter takes no arguments")
		}
		return f(str(v)), nil
	}
}

func fAbs(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	switch x := v.(type) {
	case bool, int, *big.Int:
		b, _ := toBig(x)
		return normInt(new(big.Int).Abs(b)), nil
	case float64:
		return math.Abs(x), nil
	}
	return nil, fmt.Errorf("TypeError: bad operand type for abs(): '%s'", typeName(v))
}

func fAttr(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	if len(args) != 1 {
		return nil, errors.New("TypeError: attr() takes one argument")
	}
	// jinja2's attr filter looks up attributes only, never items
	name := str(args[0])
	switch v.(type) {
	case *namespace, *loopObj, *undefined:
		return getAttr(v, name)
	}
	if m, ok := method(v, name); ok && !strings.HasPrefix(name, "_") {
		return m, nil
	}
	if g, ok := groupAttr(v, name); ok {
		return g, nil
	}
	return undefAttr(v, name), nil
}

func fBatch(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("batch", []string{"linecount", "fill_with"}, args, kw)
	if err != nil {
		return nil, err
	}
	n, err := intArg("batch", a["linecount"])
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, errors.New("ValueError: batch size must be positive")
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for i := 0; i < len(items); i += n {
		chunk := append([]any{}, items[i:min(i+n, len(items))]...)
		if fill, ok := a["fill_with"]; ok && fill != nil {
			for len(chunk) < n {
				chunk = append(chunk, fill)
			}
		}
		out = append(out, chunk)
	}
	return out, nil
}

func fCenter(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("center", []string{"width"}, args, kw)
	if err != nil {
		return nil, err
	}
	w := 80
	if x, ok := a["width"]; ok {
		if w, err = intArg("center", x); err != nil {
			return nil, err
		}
	}
	return pad(str(v), w, " ", "center"), nil
}

func fDefault(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("default", []string{"default_value", "boolean"}, args, kw)
	if err != nil {
		return nil, err
	}
	_, undef := v.(*undefined)
	if undef || truthy(a["boolean"]) && !truthy(v) {
		if d, ok := a["default_value"]; ok {
			return d, nil
		}
		return "", nil
	}
	return v, nil
}

// sortKey builds the key function of sort, dictsort, unique, min and max.
func sortKey(attribute any, caseSensitive bool) (func(any) any, error) {
	var attrs []string
	if attribute != nil {
		if isInt(attribute) {
			attrs = []string{str(attribute)}
		} else {
			attrs = strings.Split(str(attribute), ",")
		}
	}
	lower := func(x any) any {
		if s, ok := x.(string); ok && !caseSensitive {
			return strings.ToLower(s)
		}
		return x
	}
	return func(x any) any {
		if len(attrs) == 0 {
			return lower(x)
		}
		var keys tuple
		for _, at := range attrs {
			y := x
			for _, part := range strings.Split(at, ".") {
				var k any = part
				if n, err := strconv.Atoi(part); err == nil {
					k = n
				}
				y, _ = getItem(y, k)
			}
			keys = append(keys, lower(y))
		}
		if len(keys) == 1 {
			return keys[0]
		}
		return keys
	}, nil
}

// attrGetter is jinja2's make_attrgetter (dotted paths, integer parts index).
func attrGetter(attribute any, def any, hasDef bool) func(any) (any, error) {
	var parts []any
	if isInt(attribute) {
		parts = []any{attribute}
	} else {
		for _, p := range strings.Split(str(attribute), ".") {
			if n, err := strconv.Atoi(p); err == nil {
				parts = append(parts, n)
			} else {
				parts = append(parts, p)
			}
		}
	}
	return func(x any) (any, error) {
		var err error
		for _, p := range parts {
			if x, err = getItem(x, p); err != nil {
				return nil, err
			}
		}
		if _, ok := x.(*undefined); ok && hasDef {
			return def, nil
		}
		return x, nil
	}
}

func fDictsort(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("dictsort", []string{"case_sensitive", "by", "reverse"}, args, kw)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*dict)
	if !ok {
		if u, isU := v.(*undefined); isU {
			return nil, u.err()
		}
		return nil, fmt.Errorf("AttributeError: '%s' object has no attribute 'items'", typeName(v))
	}
	pos := 0
	if by, ok := a["by"]; ok {
		switch str(by) {
		case "key":
		case "value":
			pos = 1
		default:
			return nil, errors.New("FilterArgumentError: You can only sort by either \"key\" or \"value\"")
		}
	}
	cs := truthy(a["case_sensitive"])
	items := d.items()
	err = sortValues(items, func(x any) any {
		k := x.(tuple)[pos]
		if s, ok := k.(string); ok && !cs {
			return strings.ToLower(s)
		}
		return k
	}, truthy(a["reverse"]))
	return items, err
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

func fEscape(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	if m, ok := v.(markup); ok {
		return m, nil
	}
	return markup(escapeHTML(str(v))), nil
}

func fFilesize(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("filesizeformat", []string{"binary"}, args, kw)
	if err != nil {
		return nil, err
	}
	f, err := pyFloat(v)
	if err != nil {
		return nil, err
	}
	base := 1000.0
	prefixes := []string{"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	if truthy(a["binary"]) {
		base = 1024
		prefixes = []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	}
	switch {
	case f == 1:
		return "1 Byte", nil
	case f < base:
		return fmt.Sprintf("%d Bytes", int(f)), nil
	}
	unit := base
	for i, p := range prefixes {
		unit = math.Pow(base, float64(i+2))
		if f < unit || i == len(prefixes)-1 {
			return fmt.Sprintf("%.1f %s", base*f/unit, p), nil
		}
	}
	return nil, nil
}

func fFirst(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No first item, sequence was empty."}, nil
	}
	return items[0], nil
}

func fLast(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No last item, sequence was empty."}, nil
	}
	return items[len(items)-1], nil
}

// pyFloat is Python's float(v).
func pyFloat(v any) (float64, error) {
	if f, ok := toFloat(v); ok {
		return f, nil
	}
	if u, ok := v.(*undefined); ok {
		return 0, u.err()
	}
	if isString(v) {
		s := strings.TrimFunc(str(v), isPyWS)
		switch strings.ToLower(strings.TrimLeft(s, "+-")) {
		case "inf", "infinity", "nan":
			f, _ := strconv.ParseFloat(s, 64)
			return f, nil
		}
		if s != "" && !strings.Contains(s, "__") && !strings.HasPrefix(s, "_") && !strings.HasSuffix(s, "_") &&
			!strings.ContainsAny(s, "xXpP") {
			if f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil || errors.Is(err, strconv.ErrRange) {
				return f, nil
			}
		}
		return 0, fmt.Errorf("ValueError: could not convert string to float: %s", pyStrRepr(str(v)))
	}
	return 0, fmt.Errorf("TypeError: float() argument must be a string or a real number, not '%s'", typeName(v))
}

func fFloat(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("float", []string{"default"}, args, kw)
	if err != nil {
		return nil, err
	}
	f, err := pyFloat(v)
	if err != nil {
		if _, ok := v.(*undefined); ok {
			return nil, err
		}
		if d, ok := a["default"]; ok {
			return d, nil
		}
		return 0.0, nil
	}
	return f, nil
}

func fFormat(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	if len(args) > 0 && len(kw) > 0 {
		return nil, errors.New("FilterArgumentError: can't handle positional and keyword arguments at the same time")
	}
	if len(kw) > 0 {
		d := newDict()
		for _, k := range kw {
			_ = d.set(k.name, k.v)
		}
		return pyPercentDict(str(v), d)
	}
	return pyPercent(str(v), tuple(args))
}

// pyPercentDict is "%(name)s" % mapping.
func pyPercentDict(format string, d *dict) (any, error) {
	re := regexp.MustCompile(`%\(([^)]*)\)`)
	var args tuple
	var ferr error
	f := re.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := d.get(name)
		if !ok {
			ferr = fmt.Errorf("KeyError: '%s'", name)
		}
		args = append(args, v)
		return "%"
	})
	if ferr != nil {
		return nil, ferr
	}
	return pyPercent(f, args)
}

func fGroupby(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("groupby", []string{"attribute", "default", "case_sensitive"}, args, kw)
	if err != nil {
		return nil, err
	}
	def, hasDef := a["default"]
	get := attrGetter(a["attribute"], def, hasDef)
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	items = append([]any{}, items...)
	keyOf := func(x any) any {
		k, _ := get(x)
		if s, ok := k.(string); ok && !truthy(a["case_sensitive"]) {
			return strings.ToLower(s)
		}
		return k
	}
	if err := sortValues(items, keyOf, false); err != nil {
		return nil, err
	}
	out := []any{}
	for i := 0; i < len(items); {
		k := keyOf(items[i])
		j := i
		for j < len(items) && pyEq(keyOf(items[j]), k) {
			j++
		}
		grouper, _ := get(items[i])
		if !truthy(a["case_sensitive"]) {
			grouper = k
		}
		out = append(out, tuple{grouper, append([]any{}, items[i:j]...)})
		i = j
	}
	return out, nil
}

func fIndent(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("indent", []string{"width", "first", "blank"}, args, kw)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(*undefined); ok {
		return nil, u.err()
	}
	ind := "    "
	if w, ok := a["width"]; ok {
		if isString(w) {
			ind = str(w)
		} else {
			n, err := intArg("indent", w)
			if err != nil {
				return nil, err
			}
			ind = strings.Repeat(" ", max(n, 0))
		}
	}
	s := str(v) + "\n"
	lines, _ := strMethod(s, "splitlines")(nil, nil)
	ls := lines.([]any)
	var rv string
	if truthy(a["blank"]) {
		parts := make([]string, len(ls))
		for i, l := range ls {
			parts[i] = l.(string)
		}
		rv = strings.Join(parts, "\n"+ind)
	} else {
		rv = ls[0].(string)
		if len(ls) > 1 {
			parts := make([]string, 0, len(ls)-1)
			for _, l := range ls[1:] {
				if l.(string) != "" {
					parts = append(parts, ind+l.(string))
				} else {
					parts = append(parts, "")
				}
			}
			rv += "\n" + strings.Join(parts, "\n")
		}
	}
	if truthy(a["first"]) {
		rv = ind + rv
	}
	return rv, nil
}

// pyInt is Python's int(v, base) for the int filter.
func pyIntStr(s string, base int) (any, bool) {
	s = strings.TrimFunc(s, isPyWS)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	low := strings.ToLower(s)
	if len(low) > 2 && low[0] == '0' {
		p := map[byte]int{'x': 16, 'o': 8, 'b': 2}[low[1]]
		if p != 0 && (base == p || base == 0) {
			s, base = s[2:], p
			s = strings.TrimPrefix(s, "_")
		}
	}
	if base == 0 {
		base = 10
	}
	if s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return nil, false
	}
	b, ok := new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), base)
	if !ok {
		return nil, false
	}
	if neg {
		b.Neg(b)
	}
	return normInt(b), true
}

func fInt(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("int", []string{"default", "base"}, args, kw)
	if err != nil {
		return nil, err
	}
	def, ok := a["default"]
	if !ok {
		def = 0
	}
	base := 10
	if b, ok := a["base"]; ok {
		if base, err = intArg("int", b); err != nil {
			return nil, err
		}
	}
	switch x := v.(type) {
	case *undefined:
		return nil, x.err()
	case bool, int, *big.Int:
		b, _ := toBig(x)
		return normInt(b), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return def, nil
		}
		b, _ := new(big.Float).SetFloat64(math.Trunc(x)).Int(nil)
		return normInt(b), nil
	case string, markup:
		if n, ok := pyIntStr(str(x), base); ok {
			return n, nil
		}
		if f, err := pyFloat(x); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			b, _ := new(big.Float).SetFloat64(math.Trunc(f)).Int(nil)
			return normInt(b), nil
		}
	}
	return def, nil
}

func fItems(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	switch x := v.(type) {
	case *undefined:
		return []any{}, nil
	case *dict:
		return x.items(), nil
	}
	return nil, errors.New("TypeError: Can only get item pairs from a mapping.")
}

func fJoin(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("join", []string{"d", "attribute"}, args, kw)
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if at, ok := a["attribute"]; ok && at != nil {
		get := attrGetter(at, nil, false)
		mapped := make([]any, len(items))
		for i, it := range items {
			if mapped[i], err = get(it); err != nil {
				return nil, err
			}
		}
		items = mapped
	}
	sep := ""
	if d, ok := a["d"]; ok {
		sep = str(d)
	}
	parts := make([]string, len(items))
	anyMarkup := false
	for i, it := range items {
		parts[i] = str(it)
		_, m := it.(markup)
		anyMarkup = anyMarkup || m
	}
	_ = anyMarkup
	return strings.Join(parts, sep), nil
}

func fLength(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	n, ok := pyLen(v)
	if !ok {
		return nil, fmt.Errorf("TypeError: object of type '%s' has no len()", typeName(v))
	}
	return n, nil
}

func fList(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return append([]any{}, items...), nil
}

func fMap(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var f func(any) (any, error)
	if len(args) == 0 {
		a, err := bindArgs("map", []string{"attribute", "default"}, nil, kw)
		if err != nil {
			return nil, err
		}
		at, ok := a["attribute"]
		if !ok {
			return nil, errors.New("FilterArgumentError: map requires a filter argument")
		}
		def, hasDef := a["default"]
		f = attrGetter(at, def, hasDef)
	} else {
		name := str(args[0])
		fl, ok := filters[name]
		if !ok {
			return nil, fmt.Errorf("TemplateRuntimeError: No filter named '%s' found.", name)
		}
		rest := args[1:]
		f = func(x any) (any, error) { return fl(r, x, rest, kw) }
	}
	out := make([]any, len(items))
	for i, it := range items {
		if out[i], err = f(it); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func fMinMax(r *renderer, v any, args []any, kw []kwarg, sign int) (any, error) {
	a, err := bindArgs("min", []string{"case_sensitive", "attribute"}, args, kw)
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No aggregated item, sequence was empty."}, nil
	}
	key, _ := sortKey(a["attribute"], truthy(a["case_sensitive"]))
	best := items[0]
	for _, it := range items[1:] {
		c, err := pyCmp(key(it), key(best), "<")
		if err != nil {
			return nil, err
		}
		if c*sign > 0 {
			best = it
		}
	}
	return best, nil
}

func selectFilter(want, byAttr bool) filterFunc {
	return func(r *renderer, v any, args []any, kw []kwarg) (any, error) {
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		get := func(x any) (any, error) { return x, nil }
		if byAttr {
			if len(args) == 0 {
				return nil, errors.New("TypeError: missing attribute argument")
			}
			get = attrGetter(args[0], nil, false)
			args = args[1:]
		}
		test := func(x any) (bool, error) { return truthy(x), nil }
		if len(args) > 0 {
			name := str(args[0])
			t, ok := tests[name]
			if !ok {
				return nil, fmt.Errorf("TemplateRuntimeError: No test named '%s' found.", name)
			}
			rest := args[1:]
			test = func(x any) (bool, error) { return t(r, x, rest, kw) }
		}
		out := []any{}
		for _, it := range items {
			x, err := get(it)
			if err != nil {
				return nil, err
			}
			ok, err := test(x)
			if err != nil {
				return nil, err
			}
			if ok == want {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func fReplace(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("replace", []string{"old", "new", "count"}, args, kw)
	if err != nil {
		return nil, err
	}
	return pyReplace(str(v), str(a["old"]), str(a["new"]), a["count"])
}

func fReverse(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	if isString(v) {
		rs := []rune(str(v))
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, fmt.Errorf("FilterArgumentError: argument must be iterable")
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

func fRound(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("round", []string{"precision", "method"}, args, kw)
	if err != nil {
		return nil, err
	}
	prec := 0
	if p, ok := a["precision"]; ok {
		if prec, err = intArg("round", p); err != nil {
			return nil, err
		}
	}
	method := "common"
	if m, ok := a["method"]; ok {
		method = str(m)
	}
	if method != "common" && method != "ceil" && method != "floor" {
		return nil, errors.New("FilterArgumentError: method must be common, ceil or floor")
	}
	if !isNumber(v) {
		return nil, fmt.Errorf("TypeError: type %s doesn't define __round__ method", typeName(v))
	}
	if method == "common" {
		if isInt(v) {
			b, _ := toBig(v)
			return normInt(b), nil
		}
		f, _ := toFloat(v)
		if math.IsInf(f, 0) || math.IsNaN(f) || prec > 300 {
			return f, nil
		}
		if prec >= 0 {
			out, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', prec, 64), 64)
			return out, nil
		}
		p := math.Pow(10, float64(-prec))
		return math.RoundToEven(f/p) * p, nil
	}
	f, _ := toFloat(v)
	p := math.Pow(10, float64(prec))
	if method == "ceil" {
		return math.Ceil(f*p) / p, nil
	}
	return math.Floor(f*p) / p, nil
}

func fSlice(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("slice", []string{"slices", "fill_with"}, args, kw)
	if err != nil {
		return nil, err
	}
	n, err := intArg("slice", a["slices"])
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > maxSize {
		return nil, errors.New("ValueError: slices must be positive")
	}
	seq, err := iterate(v)
	if err != nil {
		return nil, err
	}
	per, extra := len(seq)/n, len(seq)%n
	offset := 0
	out := []any{}
	for i := 0; i < n; i++ {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		tmp := append([]any{}, seq[start:end]...)
		if fill, ok := a["fill_with"]; ok && fill != nil && i >= extra {
			tmp = append(tmp, fill)
		}
		out = append(out, tmp)
	}
	return out, nil
}

func fSort(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("sort", []string{"reverse", "case_sensitive", "attribute"}, args, kw)
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	items = append([]any{}, items...)
	key, _ := sortKey(a["attribute"], truthy(a["case_sensitive"]))
	if err := sortValues(items, key, truthy(a["reverse"])); err != nil {
		return nil, err
	}
	return items, nil
}

func fString(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	if m, ok := v.(markup); ok {
		return m, nil
	}
	return str(v), nil
}

var tagRE = regexp.MustCompile(`(?s)<!--.*?-->|<[^>]*>`)

func fStriptags(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	s := tagRE.ReplaceAllString(str(v), "")
	s = strings.Join(strings.FieldsFunc(s, isPyWS), " ")
	s = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`).Replace(s)
	return s, nil
}

func fSum(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("sum", []string{"attribute", "start"}, args, kw)
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var total any = 0
	if s, ok := a["start"]; ok {
		total = s
	}
	get := func(x any) (any, error) { return x, nil }
	if at, ok := a["attribute"]; ok && at != nil {
		get = attrGetter(at, nil, false)
	}
	for _, it := range items {
		x, err := get(it)
		if err != nil {
			return nil, err
		}
		if isString(x) {
			return nil, fmt.Errorf("TypeError: unsupported operand type(s) for +: '%s' and 'str'", typeName(total))
		}
		if total, err = binary("+", total, x); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func fTrim(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("trim", []string{"chars"}, args, kw)
	if err != nil {
		return nil, err
	}
	var cargs []any
	if c, ok := a["chars"]; ok {
		cargs = []any{c}
	}
	return strMethod(str(v), "strip")(cargs, nil)
}

func fTruncate(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("truncate", []string{"length", "killwords", "end", "leeway"}, args, kw)
	if err != nil {
		return nil, err
	}
	length, leeway := 255, 5
	if l, ok := a["length"]; ok {
		if length, err = intArg("truncate", l); err != nil {
			return nil, err
		}
	}
	if l, ok := a["leeway"]; ok && l != nil {
		if leeway, err = intArg("truncate", l); err != nil {
			return nil, err
		}
	}
	end := "..."
	if e, ok := a["end"]; ok {
		end = str(e)
	}
	s := str(v)
	rs := []rune(s)
	if length < utf8.RuneCountInString(end) {
		return nil, errors.New("AssertionError: expected length >= len(end)")
	}
	if leeway < 0 {
		return nil, errors.New("AssertionError: expected leeway >= 0")
	}
	if len(rs) <= length+leeway {
		return s, nil
	}
	cut := string(rs[:length-utf8.RuneCountInString(end)])
	if truthy(a["killwords"]) {
		return cut + end, nil
	}
	if i := strings.LastIndex(cut, " "); i >= 0 {
		cut = cut[:i]
	}
	return cut + end, nil
}

func fUnique(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	a, err := bindArgs("unique", []string{"case_sensitive", "attribute"}, args, kw)
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	key, _ := sortKey(a["attribute"], truthy(a["case_sensitive"]))
	seen := newDict()
	out := []any{}
	for _, it := range items {
		k := key(it)
		if _, err := hashKey(k); err != nil {
			return nil, err
		}
		if _, ok := seen.get(k); ok {
			continue
		}
		_ = seen.set(k, true)
		out = append(out, it)
	}
	return out, nil
}

func fURLEncode(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	quote := func(s string, safe string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~"+safe, c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		return b.String()
	}
	if d, ok := v.(*dict); ok {
		parts := make([]string, len(d.keys))
		for i, k := range d.keys {
			parts[i] = strings.ReplaceAll(quote(str(k), " "), " ", "+") + "=" + strings.ReplaceAll(quote(str(d.vals[i]), " "), " ", "+")
		}
		return strings.Join(parts, "&"), nil
	}
	return quote(str(v), "/"), nil
}

var wordRE = regexp.MustCompile(`[\p{L}\p{N}_]+`)

func fWordcount(r *renderer, v any, args []any, kw []kwarg) (any, error) {
	return len(wordRE.FindAllString(str(v), -1)), nil
}

// jinjaTitle is jinja2's title filter: each word (split at spaces, '-', and opening
// brackets) gets an upper-case first letter and lower-case rest.
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if isPyWS(r) || strings.ContainsRune("-({[<", r) {
			b.WriteRune(r)
			start = true
			continue
		}
		if start {
			b.WriteString(pyUpper(string(r)))
		} else {
			b.WriteString(strings.ToLower(string(r)))
		}
		start = false
	}
	return b.String()
}
