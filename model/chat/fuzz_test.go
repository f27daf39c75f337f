package chat

import (
	"errors"
	"testing"
)

// FuzzTemplate compiles an arbitrary chat template and renders an arbitrary JSON conversation with it:
// a syntax error, a render error or text, never a panic.
func FuzzTemplate(f *testing.F) {
	f.Add("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] | trim }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
		[]byte(`[{"role": "user", "content": " hi "}]`))
	f.Add("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}{{ messages | tojson }}",
		[]byte(`{"messages": [{"role": "system", "content": "x"}], "tools": [{"name": "f"}]}`))
	f.Add("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}{{ strftime_now('%Y') }}",
		[]byte(`[{"role": "user", "content": [{"type": "text", "text": "a"}]}, 3, null]`))
	f.Add("{{ messages[0].content.split(' ')[1:] | join(',') }}{{ (messages|length) // 0 }}", []byte(`[{"content": "a b c"}]`))
	f.Add("{% macro m(x) %}{{ x ~ 1 }}{% endmacro %}{{ m(messages) }}{{ messages.items() }}{{ 'a' * 3 }}", []byte(`{}`))
	f.Fuzz(func(t *testing.T, src string, conv []byte) {
		if len(src) > 2000 || len(conv) > 2000 {
			return
		}
		tmpl, err := New(src, map[string]string{"bos_token": "<s>", "eos_token": "</s>"})
		if err != nil {
			return
		}
		_, _ = RenderJSON(tmpl, conv, true)
	})
}

// TestParserPanicIsAnError: templates that end inside an expression (found by FuzzTemplate
// when gonja was the engine) are syntax errors naming the line.
func TestParserPanicIsAnError(t *testing.T) {
	for _, src := range []string{"{{0 is ", "line one\n{{ messages is "} {
		_, err := New(src, nil)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line < 1 {
			t.Errorf("New(%q): %v (want a *SyntaxError with a line)", src, err)
		}
	}
}
