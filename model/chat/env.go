package chat

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// newEnvironment builds a private gonja environment (the package-level builtin sets are
// copied, never modified) with transformers' additions: our tojson filter, jinja2's list,
// trim, items and dictsort where gonja's differ (pyfilters.go), str.replace
// with an optional count, order-keeping dict methods, the {% generation %} tag.
func newEnvironment() (*exec.Environment, error) {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	for name, f := range map[string]exec.FilterFunction{
		"tojson":   filterToJSON,
		"list":     filterList,
		"trim":     filterTrim,
		"items":    filterItems,
		"dictsort": filterDictSort,
	} {
		if err := filters.Replace(name, f); err != nil {
			return nil, err
		}
	}
	controls := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{}).Update(builtins.ControlStructures)
	if err := controls.Register("generation", generationParser); err != nil {
		return nil, err
	}
	tests := exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests)

	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             tests,
		ControlStructures: controls,
		Methods: exec.Methods{
			Bool:  builtins.Methods.Bool,
			Int:   builtins.Methods.Int,
			Float: builtins.Methods.Float,
			List:  builtins.Methods.List,
			Str:   strMethods(),
			Dict:  dictMethods(),
		},
	}, nil
}

// strMethodNames are gonja's str methods (v2.9.1), copied into our own set.
var strMethodNames = []string{
	"capitalize", "capwords", "casefold", "center", "count", "encode", "endswith", "expandtabs",
	"find", "format", "format_map", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
	"islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust",
	"lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rjust",
	"rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
	"title", "upper", "zfill",
}

func strMethods() *exec.MethodSet[string] {
	m := map[string]exec.Method[string]{}
	for _, name := range strMethodNames {
		if f, ok := builtins.Methods.Str.Get(name); ok {
			m[name] = f
		}
	}
	// gonja requires replace's count; Python's defaults to -1 (all occurrences).
	m["replace"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		var old, repl string
		count := -1
		if err := args.Take(
			exec.PositionalArgument("old", nil, exec.StringArgument(&old)),
			exec.PositionalArgument("new", nil, exec.StringArgument(&repl)),
			exec.PositionalArgument("count", exec.AsValue(-1), exec.IntArgument(&count)),
		); err != nil {
			return nil, exec.ErrInvalidCall(err)
		}
		return strings.Replace(self, old, repl, count), nil
	}
	// gonja's strip family needs its argument; Python's strips whitespace without one (or
	// with None).
	for name, trim := range map[string]func(string, func(rune) bool) string{
		"strip": strings.TrimFunc, "lstrip": strings.TrimLeftFunc, "rstrip": strings.TrimRightFunc,
	} {
		m[name] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.KwArgs) != 0 || len(args.Args) > 1 {
				return nil, exec.ErrInvalidCall(fmt.Errorf("%s() takes at most 1 argument", name))
			}
			if len(args.Args) == 0 || args.Args[0].IsNil() {
				return trim(self, isPySpace), nil
			}
			if !args.Args[0].IsString() {
				return nil, exec.ErrInvalidCall(fmt.Errorf("%s arg must be None or str", name))
			}
			chars := args.Args[0].String()
			return trim(self, func(r rune) bool { return strings.ContainsRune(chars, r) }), nil
		}
	}
	m["split"] = pySplit
	return exec.NewMethodSet(m)
}

// pySplit is str.split(sep=None, maxsplit=-1): without sep, runs of whitespace separate and
// leading/trailing whitespace gives no empty strings.
func pySplit(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	var sep, maxsplit *exec.Value
	if len(args.Args) > 2 {
		return nil, exec.ErrInvalidCall(errors.New("split() takes at most 2 arguments"))
	}
	if len(args.Args) > 0 {
		sep = args.Args[0]
	}
	if len(args.Args) > 1 {
		maxsplit = args.Args[1]
	}
	for k, v := range args.KwArgs {
		switch k {
		case "sep":
			sep = v
		case "maxsplit":
			maxsplit = v
		default:
			return nil, exec.ErrInvalidCall(fmt.Errorf("split() got an unexpected keyword argument '%s'", k))
		}
	}
	n := -1
	if maxsplit != nil && !maxsplit.IsNil() {
		if !maxsplit.IsInteger() {
			return nil, exec.ErrInvalidCall(errors.New("split(): maxsplit must be an integer"))
		}
		n = maxsplit.Integer()
	}
	var parts []string
	if sep == nil || sep.IsNil() {
		rest := strings.TrimLeftFunc(self, isPySpace)
		for rest != "" {
			if n >= 0 && len(parts) == n {
				parts = append(parts, rest)
				break
			}
			i := strings.IndexFunc(rest, isPySpace)
			if i < 0 {
				parts = append(parts, rest)
				break
			}
			parts = append(parts, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], isPySpace)
		}
	} else {
		if !sep.IsString() || sep.String() == "" {
			return nil, exec.ErrInvalidCall(errors.New("split(): sep must be a non-empty string or None"))
		}
		if n < 0 {
			parts = strings.Split(self, sep.String())
		} else {
			parts = strings.SplitN(self, sep.String(), n+1)
		}
	}
	out := make(pyList, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// dictPairs returns a dict's items in order: insertion order for *exec.Dict (our Object
// and template literals), gonja's key order for Go maps.
func dictPairs(v *exec.Value) [][2]any {
	var out [][2]any
	switch d := v.Interface().(type) {
	case *exec.Dict:
		for _, p := range d.Pairs {
			out = append(out, [2]any{p.Key.Interface(), p.Value.Interface()})
		}
		return out
	case exec.Dict:
		for _, p := range d.Pairs {
			out = append(out, [2]any{p.Key.Interface(), p.Value.Interface()})
		}
		return out
	}
	v.Iterate(func(_, _ int, key, value *exec.Value) bool {
		var val any
		if value != nil {
			val = value.Interface()
		}
		out = append(out, [2]any{key.Interface(), val})
		return true
	}, func() {})
	return out
}

func dictMethods() *exec.MethodSet[map[string]any] {
	noArgs := func(name string, args *exec.VarArgs) error {
		if len(args.Args) != 0 || len(args.KwArgs) != 0 {
			return exec.ErrInvalidCall(fmt.Errorf("%s() takes no arguments", name))
		}
		return nil
	}
	return exec.NewMethodSet(map[string]exec.Method[map[string]any]{
		"keys": func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
			if err := noArgs("keys", args); err != nil {
				return nil, err
			}
			var out []any
			for _, p := range dictPairs(self) {
				out = append(out, p[0])
			}
			return out, nil
		},
		"values": func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
			if err := noArgs("values", args); err != nil {
				return nil, err
			}
			var out []any
			for _, p := range dictPairs(self) {
				out = append(out, p[1])
			}
			return out, nil
		},
		"items": func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
			if err := noArgs("items", args); err != nil {
				return nil, err
			}
			var out []any
			for _, p := range dictPairs(self) {
				out = append(out, []any{p[0], p[1]})
			}
			return out, nil
		},
		"get": func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) < 1 || len(args.Args) > 2 || len(args.KwArgs) != 0 {
				return nil, exec.ErrInvalidCall(errors.New("get() takes 1 or 2 positional arguments"))
			}
			key := args.Args[0]
			for _, p := range dictPairs(self) {
				if exec.AsValue(p[0]).EqualValueTo(key) {
					return p[1], nil
				}
			}
			if len(args.Args) == 2 {
				return args.Args[1].Interface(), nil
			}
			return nil, nil
		},
		"copy": func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
			if err := noArgs("copy", args); err != nil {
				return nil, err
			}
			d := &exec.Dict{}
			for _, p := range dictPairs(self) {
				d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(p[0]), Value: exec.AsValue(p[1])})
			}
			return d, nil
		},
	})
}

// generation is transformers' {% generation %}...{% endgeneration %} tag (it marks
// assistant tokens for return_assistant_tokens_mask); rendering just outputs the body.
type generation struct {
	location *tokens.Token
	wrapper  *nodes.Wrapper
}

func (g *generation) Position() *tokens.Token { return g.location }
func (g *generation) String() string {
	return fmt.Sprintf("GenerationControlStructure(Line=%d Col=%d)", g.location.Line, g.location.Col)
}

func (g *generation) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	return r.Inherit().ExecuteWrapper(g.wrapper)
}

func generationParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	g := &generation{location: p.Current()}
	wrapper, endargs, err := p.WrapUntil("endgeneration")
	if err != nil {
		return nil, err
	}
	if !endargs.End() {
		return nil, endargs.Error("Arguments not allowed here.", nil)
	}
	if !args.End() {
		return nil, args.Error("generation takes no arguments.", args.Current())
	}
	g.wrapper = wrapper
	return g, nil
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
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(strconv.Itoa(wd))
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
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
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
