package chat

import (
	"strings"
	"testing"
)

// engineCases: every want (or the exception type, err) was produced by transformers 5.24's
// render_jinja_template (jinja2 3.1.6) for a one-message conversation.
var engineCases = []struct {
	name, template, want, err string
}{
	{name: "scope", template: "{% set x = 'o' %}{% for i in range(3) %}{{ x }}{% set x = i %}{% endfor %}{{ x }}", want: "oooo"},
	{name: "macro_scope", template: "{% set n = 3 %}{% macro show() %}{{ n }}{% endmacro %}{% set n = 4 %}{{ show() }}", want: "4"},
	{name: "caller", template: "{% macro f(a) %}[{{ caller(a) }}]{% endmacro %}{% call(x) f(7) %}got {{ x }}{% endcall %}", want: "[got 7]"},
	{name: "recursive", template: "{% for item in [{'c': [{'c': []}]}] recursive %}<{{ loop.depth }}{{ loop(item.c) }}>{% endfor %}", want: "<1<2>>"},
	{name: "varargs", template: "{% macro f(a, b=2) %}{{ a }}-{{ b }}-{{ varargs }}-{{ kwargs }}{% endmacro %}{{ f(1) }}{{ f(1, 3, 4) }}{{ f(1, c=5) }}", want: "1-2-()-{}1-3-(4,)-{}1-2-()-{'c': 5}"},
	{name: "repr", template: "{{ [true, none, 'it\\'s', \"q\\\"\", '\\n'] }}{{ (1,) }}{{ {'a': none, 1: 2.0} }}", want: "[True, None, \"it's\", 'q\"', '\\n'](1,){'a': None, 1: 2.0}"},
	{name: "floats", template: "{{ 1e20 }} {{ 1e-5 }} {{ 1/3 }} {{ -0.0 }} {{ 10**20 }} {{ 2**64 * 3 }}", want: "1e+20 1e-05 0.3333333333333333 -0.0 100000000000000000000 55340232221128654848"},
	{name: "floor", template: "{{ 7 // -2 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", want: "-4 2 3.0 0.5"},
	{name: "chained", template: "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' in 'abc' in 'xabcx' }}", want: "TrueFalseTrue"},
	{name: "percent", template: "{{ '%s and %s' % ('a', 'b') }} {{ '%d%%' % 50 }} {{ '%r' % 'x' }} {{ '%05.2f' % 3.14159 }} {{ '%c' % 65 }}", want: "a and b 50% 'x' 03.14 A"},
	{name: "format", template: "{{ '{:5d}|{:<4}|{:^5}|{:.2f}|{:,}|{:+d}|{:x}'.format(42, 'ab', 'c', 3.14159, 1234567, 5, 255) }}", want: "   42|ab  |  c  |3.14|1,234,567|+5|ff"},
	{name: "unsafe_prints_empty", template: "{% set l = [] %}[{{ l.append }}]", want: "[]"},
	{name: "none_attr", template: "{{ none.foo }}|{{ none['x'] is defined }}", want: "|False"},
	{name: "cond_else_missing", template: "{{ 1 if false }}|{{ (1 if false) is defined }}", want: "|False"},
	{name: "whitespace", template: "a\n  {%- if true +%}\n  b\n  {%- endif %}\n  {# c #}\n  {% if true %}\n    x\n  {% endif %}\n", want: "a\n  b    x\n"},
	{name: "raw", template: "  {% raw %}{{ x }}{% endraw %}\n  next", want: "{{ x }}  next"},
	{name: "attr_filter", template: "{{ {'role': 'x'} | attr('role') }}|{{ {'a': 1} | attr('items') is callable }}", want: "|True"},
	{name: "center", template: "{{ 'abc' | center(9) }}|{{ 'abcd' | center(9) }}|{{ 'ab'.center(5) }}", want: "   abc   |   abcd  |  ab "},
	{name: "round", template: "{{ 2.5 | round }} {{ 3.5 | round }} {{ 1.005 | round(2) }} {{ 42 | round }}", want: "2.0 4.0 1.0 42"},
	{name: "int_float", template: "{{ 3.0 | int }}{{ '  12  ' | int }}{{ '1_000' | int }}{{ 'abc' | float }}{{ '1e3' | float }}", want: "31210000.01000.0"},
	{name: "undefined_attr", template: "{{ x.y }}", err: "UndefinedError"},
	{name: "undefined_plus", template: "{{ 'a' + x }}", err: "UndefinedError"},
	{name: "str_plus_list", template: "{{ 'a' + [1] }}", err: "TypeError"},
	{name: "mutate", template: "{{ [1].append(2) }}", err: "SecurityError"},
	{name: "compare", template: "{{ 1 < 'a' }}", err: "TypeError"},
	{name: "range", template: "{{ range(100001) | length }}", err: "OverflowError"},
	{name: "tojson_undefined", template: "{{ x | tojson }}", err: "TypeError"},
}

func TestEngineSemantics(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := New(c.template, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := RenderJSON(tmpl, []byte(`[{"role": "user", "content": "hi"}]`), false)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got (%q, %v), want a %s", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got  %q, %v\nwant %q", got, err, c.want)
			}
		})
	}
}

// TestBreakOutsideLoop: jinja2 compiles {% break %} outside a loop (also inside a macro in
// a loop) to a Python SyntaxError; here it is a *SyntaxError naming the line.
func TestBreakOutsideLoop(t *testing.T) {
	for _, src := range []string{"x\n{% break %}", "{% for a in b %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}"} {
		if _, err := New(src, nil); err == nil {
			t.Errorf("%q compiled", src)
		}
	}
	if _, err := New("{% for a in b %}{% if a %}{% break %}{% endif %}{% endfor %}", nil); err != nil {
		t.Error(err)
	}
}
