package chat

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// probeConversation is the conversation (with tools) the probes below were rendered with.
const probeConversation = `{"messages": [{"role": "user", "content": "Say \"hi\" <b>&'x'</b>\n\ttab é 日本 😀 \u0001", "zeta": 1, "alpha": 2},
 {"role": "assistant", "content": "ok", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"z": 7, "b": 7.0, "c": 1e-5, "d": 1e16, "e": 0.1, "f": -0.0, "g": 123456789012, "h": null, "i": true}}}]},
 {"role": "tool", "content": "42"}],
 "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get it", "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["location"]}}}]}`

// probeCases: every want was produced by jinja2 3.1.6 with transformers' settings
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson =
// json.dumps(ensure_ascii=False)), with add_generation_prompt=True, bos_token "<s>",
// eos_token "</s>" and the variables of probeConversation, passed as apply_chat_template
// passes them (documents=None: "documents is defined" is True).
var probeCases = []struct {
	name, template, want string
}{
	{name: "replace", template: "{{ 'abc'.replace('b','z') }}|{{ 'aaa'.replace('a','b',2) }}|{{ 'abc'.replace('','-') }}", want: "azc|bba|-a-b-c-"},
	{name: "numbers", template: "{% set a = messages[1].tool_calls[0].function.arguments %}{{ a.z }} {{ a.b }} {{ a.c }} {{ a.d }} {{ a.e }} {{ a.g }}", want: "7 7.0 1e-05 1e+16 0.1 123456789012"},
	{name: "args_tojson", template: "{{ messages[1].tool_calls[0].function.arguments | tojson }}", want: "{\"z\": 7, \"b\": 7.0, \"c\": 1e-05, \"d\": 1e+16, \"e\": 0.1, \"f\": -0.0, \"g\": 123456789012, \"h\": null, \"i\": true}"},
	{name: "tools_tojson", template: "{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}", want: "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get it\", \"parameters\": {\"type\": \"object\", \"properties\": {\"location\": {\"type\": \"string\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"c\", \"f\"]}}, \"required\": [\"location\"]}}}\n"},
	{name: "tools_indent", template: "{{ tools[0] | tojson(indent=4) }}", want: "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get it\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"location\": {\n                    \"type\": \"string\"\n                },\n                \"unit\": {\n                    \"type\": \"string\",\n                    \"enum\": [\n                        \"c\",\n                        \"f\"\n                    ]\n                }\n            },\n            \"required\": [\n                \"location\"\n            ]\n        }\n    }\n}"},
	{name: "tojson_opts", template: "{{ tools[0].function.parameters | tojson(separators=(',', ':'), sort_keys=true) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}", want: "{\"properties\":{\"location\":{\"type\":\"string\"},\"unit\":{\"enum\":[\"c\",\"f\"],\"type\":\"string\"}},\"required\":[\"location\"],\"type\":\"object\"}|[]|{}"},
	{name: "escape", template: "{{ messages[0].content | tojson }}", want: "\"Say \\\"hi\\\" <b>&'x'</b>\\n\\ttab é 日本 😀 \\u0001\""},
	{name: "literal_dict", template: "{{ {'b': 1, 'a': [1, 2.5, none, true, false, 'x']} | tojson }}", want: "{\"b\": 1, \"a\": [1, 2.5, null, true, false, \"x\"]}"},
	{name: "items_order", template: "{% for k, v in messages[0].items() %}{% if k != 'content' %}{{ k }}={{ v }};{% endif %}{% endfor %}", want: "role=user;zeta=1;alpha=2;"},
	{name: "keys_get", template: "{{ messages[0].get('role') }} {{ messages[0].get('missing', 'dflt') }} {{ messages[1].keys() | list | join(',') }}", want: "user dflt role,content,tool_calls"},
	{name: "loopctl", template: "{% set ns = namespace(n=0) %}{% for m in messages %}{% if m.role == 'tool' %}{% break %}{% endif %}{% if loop.first %}{% continue %}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", want: "1"},
	{name: "blocks", template: "<s>\n{% for m in messages %}\n    {% if m.role == 'user' %}\n  [U]{{ m.role }}\n    {% else %}\n  [{{ m.role | upper }}]\n    {% endif %}\n{% endfor %}\n{%- if add_generation_prompt %}GEN{% endif %}\n", want: "<s>\n  [U]user\n  [ASSISTANT]\n  [TOOL]\nGEN"},
	{name: "filters", template: "{{ messages | length }} {{ messages[-1].content }} {{ messages[1:] | map(attribute='role') | join(',') }} {{ messages | selectattr('role', 'equalto', 'tool') | list | length }}", want: "3 42 assistant,tool 1"},
	{name: "format", template: "{{ '%s-%d' | format('a', 3) }} {{ 'x' ~ 1 ~ none }}", want: "a-3 x1None"},
	{name: "strings", template: "{{ 'héllo' | upper }} {{ 'héllo'[1:3] }} {{ '  a b  ' | trim }} {{ 'a,b'.split(',') | join('+') }} {{ 'Hello'.startswith('He') }}", want: "HÉLLO él a b a+b True"},
	{name: "floats", template: "{{ 0.1 + 0.2 }} {{ 1 / 2 }} {{ 7 // 2 }} {{ 10 % 3 }} {{ 3 * 1.5 }}", want: "0.30000000000000004 0.5 3 1 4.5"},
	{name: "tests", template: "{{ tools is defined }} {{ documents is defined }} {{ messages[0].content is string }} {{ messages[0] is mapping }} {{ messages is iterable }}", want: "True True True True True"},
	{name: "none", template: "{{ none }}|{{ messages[1].tool_calls[0].function.arguments.h }}", want: "None|None"},
	{name: "power", template: "{{ 2 ** 3 }}", want: "8"},
}

func TestJinja2Probes(t *testing.T) {
	for _, c := range probeCases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := New(c.template, map[string]string{"bos_token": "<s>", "eos_token": "</s>"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := RenderJSON(tmpl, []byte(probeConversation), true)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestRaiseException(t *testing.T) {
	tmpl, err := New("{% if messages[0].role != 'system' %}{{ raise_exception('Conversation must start with system') }}{% endif %}ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Render([]Message{{"role": "user", "content": "hi"}}, false, nil)
	var re *RaiseError
	if !errors.As(err, &re) || re.Message != "Conversation must start with system" {
		t.Fatalf("got %v, want a RaiseError with the message", err)
	}
	if !strings.Contains(err.Error(), "Conversation must start with system") {
		t.Fatalf("error %q lacks the message", err)
	}
	got, err := tmpl.Render([]Message{{"role": "system", "content": "s"}}, false, nil)
	if err != nil || got != "ok" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	src := "{% for m in messages %}\n{{ m.content }}\n{% if m.role %}\nx\n{% endfor %}\n"
	_, err := New(src, nil)
	if err == nil {
		t.Fatal("no error")
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %q (%T) is not a *SyntaxError", err, err)
	}
	if se.Line < 3 || se.Line > 5 || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("error %q: line %d, want the if/endfor lines 3-5", err, se.Line)
	}
	if strings.Contains(err.Error(), "m.content") {
		t.Fatalf("error embeds the template source: %q", err)
	}

	_, err = New("hello\n{{ messages[0 }}", nil)
	if err == nil || !errors.As(err, &se) || se.Line != 2 {
		t.Fatalf("got %v, want a syntax error on line 2", err)
	}
}

func TestRenderGoValues(t *testing.T) {
	tmpl, err := New("{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{% if m.n is defined %}#{{ m.n }}{% endif %}|{% endfor %}{{ tools | tojson }}{% if add_generation_prompt %}>{% endif %}", map[string]string{"bos_token": "<s>"})
	if err != nil {
		t.Fatal(err)
	}
	tools := []any{Object{{"name", "f"}, {"parameters", Object{{"z", 1}, {"a", 2.5}, {"m", 3.0}}}}}
	got, err := tmpl.Render([]Message{
		{"role": "user", "content": "hi", "n": float64(7)}, // encoding/json's float64 7 prints as 7
		{"role": "assistant", "content": "yo"},
	}, true, map[string]any{"tools": tools})
	if err != nil {
		t.Fatal(err)
	}
	want := `<s>user:hi#7|assistant:yo|[{"name": "f", "parameters": {"z": 1, "a": 2.5, "m": 3}}]>`
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// extra overrides special tokens; reserved names are refused.
	got, err = tmpl.Render(nil, false, map[string]any{"bos_token": "[B]", "tools": nil})
	if err != nil || got != "[B]null" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := tmpl.Render(nil, false, map[string]any{"messages": 1}); err == nil {
		t.Fatal("extra messages accepted")
	}
}

func TestRenderJSONForms(t *testing.T) {
	tmpl, err := New("{% for m in messages %}{{ m.content }}{% endfor %}{% if tools is defined %}T{{ tools | length }}{% endif %}", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{`[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]`, "ab"},
		{`{"messages":[{"role":"user","content":"a"}],"tools":[{"name":"x"}]}`, "aT1"},
	} {
		got, err := RenderJSON(tmpl, []byte(c.in), false)
		if err != nil || got != c.want {
			t.Fatalf("%s: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`{"tools":[]}`, `[`, `"x"`, `[] []`} {
		if _, err := RenderJSON(tmpl, []byte(bad), false); err == nil {
			t.Fatalf("%s: no error", bad)
		}
	}
}

func TestGenerationTagAndStrftime(t *testing.T) {
	tmpl, err := New("{% generation %}{{ messages[0].content }}{% endgeneration %} {{ strftime_now('%d %b %Y %H:%M') }}", nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Now = func() time.Time { return time.Date(2024, 7, 5, 9, 3, 0, 0, time.UTC) }
	got, err := tmpl.Render([]Message{{"role": "assistant", "content": "A"}}, false, nil)
	if err != nil || got != "A 05 Jul 2024 09:03" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestIncludeIsRefused(t *testing.T) {
	tmpl, err := New(`{% include "/etc/passwd" %}`, nil)
	if err == nil {
		_, err = tmpl.Render(nil, false, nil)
	}
	if err == nil {
		t.Fatal("include of a file was allowed")
	}
}

func TestLoadTemplateFS(t *testing.T) {
	cfg := `{"bos_token": {"__type": "AddedToken", "content": "<B>", "lstrip": false}, "eos_token": "<E>", "pad_token": null, "chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}`
	tmpl, err := LoadTemplateFS(fstest.MapFS{"tokenizer_config.json": {Data: []byte(cfg)}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render([]Message{{"role": "user", "content": "x"}}, false, nil)
	if err != nil || got != "<B>x<E>" {
		t.Fatalf("got %q, %v", got, err)
	}
	if sp := tmpl.Specials(); len(sp) != 2 {
		t.Fatalf("specials %v", sp)
	}

	// chat_template.jinja wins over tokenizer_config.json's chat_template.
	tmpl, err = LoadTemplateFS(fstest.MapFS{
		"tokenizer_config.json": {Data: []byte(cfg)},
		"chat_template.jinja":   {Data: []byte("J{{ eos_token }}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tmpl.Render(nil, false, nil); got != "J<E>" {
		t.Fatalf("got %q", got)
	}

	// A list of named templates: "default" is used.
	list := `{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}`
	tmpl, err = LoadTemplateFS(fstest.MapFS{"tokenizer_config.json": {Data: []byte(list)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tmpl.Render(nil, false, nil); got != "D" {
		t.Fatalf("got %q", got)
	}
	noDefault := `{"chat_template": [{"name": "tool_use", "template": "T"}]}`
	if _, err := LoadTemplateFS(fstest.MapFS{"tokenizer_config.json": {Data: []byte(noDefault)}}); err == nil ||
		!strings.Contains(err.Error(), "tokenizer_config.json") || !strings.Contains(err.Error(), "default") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadTemplateErrorsNameFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadTemplate(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "tokenizer_config.json") {
		t.Fatalf("empty dir: %v", err)
	}
	for _, c := range []struct {
		files map[string]string
		want  []string
	}{
		{map[string]string{"tokenizer_config.json": `{"eos_token": "e"}`}, []string{"tokenizer_config.json", `no "chat_template"`, "chat_template.jinja"}},
		{map[string]string{"tokenizer_config.json": `{"chat_template": null}`}, []string{"tokenizer_config.json", "chat_template"}},
		{map[string]string{"tokenizer_config.json": `{not json`}, []string{"tokenizer_config.json"}},
		{map[string]string{"tokenizer_config.json": `{"chat_template": 5}`}, []string{"tokenizer_config.json", "chat_template"}},
		{map[string]string{"tokenizer_config.json": `{"chat_template": "a\n{% if %}"}`}, []string{"tokenizer_config.json", "line 2"}},
		{map[string]string{"chat_template.jinja": "a\nb\n{{ x "}, []string{"chat_template.jinja", "line"}},
	} {
		fs := fstest.MapFS{}
		for name, data := range c.files {
			fs[name] = &fstest.MapFile{Data: []byte(data)}
		}
		_, err := LoadTemplateFS(fs)
		if err == nil {
			t.Fatalf("%v: no error", c.files)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.files, err, w)
			}
		}
	}
}

func TestPythonJSON(t *testing.T) {
	// Expected strings are json.dumps(x, ensure_ascii=False) from CPython 3.
	for _, c := range []struct {
		in   any
		want string
	}{
		{1e-5, "1e-05"},
		{1e16, "1e+16"},
		{123456789.0, "123456789.0"},
		{1e15, "1000000000000000.0"},
		{0.0001, "0.0001"},
		{1.5e300, "1.5e+300"},
		{-2.5e-7, "-2.5e-07"},
		{"\x7f\u2028<&>'", "\"\x7f\u2028<&>'\""},
		{Object{{"b", []any{}}, {"a", map[string]any{}}}, `{"b": [], "a": {}}`},
		{map[string]any{"b": 1, "a": nil}, `{"a": null, "b": 1}`},
	} {
		got, err := PythonJSON(c.in)
		if err != nil || got != c.want {
			t.Errorf("%v: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := PythonJSON(make(chan int)); err == nil {
		t.Error("chan serialised")
	}
}

func TestParseJSON(t *testing.T) {
	v, err := ParseJSON([]byte(`{"b": 1, "a": 2.0, "b": 3, "c": [1e2, -0, 9223372036854775808]}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := PythonJSON(v)
	// json.dumps(json.loads(...)) in Python gives this (a repeated key keeps its first
	// position and its last value), except that Python keeps 9223372036854775808 as an
	// int: integers beyond the int range become float64 here.
	if want := `{"b": 3, "a": 2.0, "c": [100.0, 0, 9.223372036854776e+18]}`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
