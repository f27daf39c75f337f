// Package chat renders Hugging Face chat templates as transformers' apply_chat_template
// does. It carries its own Jinja2 engine (lex.go, parse.go, eval.go, pyvalue.go,
// methods.go, filters.go, tests.go) with jinja2's semantics under transformers' settings:
// the immutable sandbox (methods that mutate a list or dict are refused, names starting
// with "_" are not reachable), trim_blocks, lstrip_blocks, the loopcontrols extension,
// the {% generation %} tag, raise_exception, strftime_now, transformers' dict, namespace
// and tojson. Values behave as Python's: None is distinct from Undefined, ints have
// arbitrary precision, floats and containers print as Python's repr, and operations
// Python refuses (str + list, undefined + str, 1 < 'a', ...) are errors.
//
// Differences from jinja2 that remain, none of them met in the templates tested:
// range() and dict.items()/keys()/values() return lists (printing one shows a list, not
// range(0, 3) or dict_items([...])); a bound method prints as <function name>; groupby's
// items are plain pairs whose .grouper and .list work on any pair; the sameas test
// compares scalars by value; str.format and % support the common format specs only;
// {% include %}, {% import %}, {% extends %} and *args/**kwargs in calls are errors;
// output beyond 256 MiB, repetition beyond 64 Mi items and nesting beyond 400 macro
// calls are errors. Numbers are handled as Python would see them when they come through
// RenderJSON (or json.Number); see Render for Go floats.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names read from a model directory.
const (
	TokenizerConfigFile  = "tokenizer_config.json"
	ChatTemplateFile     = "chat_template.jinja"
	defaultTemplateEntry = "default"
)

// specialTokenKeys are the single-token entries of transformers' special_tokens_map.
var specialTokenKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// Template is a compiled chat template.
type Template struct {
	source   string
	specials map[string]string
	body     []node

	// Now is the clock behind strftime_now; nil means time.Now.
	Now func() time.Time
}

// RaiseError is returned by Render when the template calls raise_exception(msg).
type RaiseError struct {
	Message string
}

func (e *RaiseError) Error() string { return "chat template raised an exception: " + e.Message }

// SyntaxError is returned by New when the template does not parse.
type SyntaxError struct {
	Line, Column int
	Message      string
	Near         string
}

func (e *SyntaxError) Error() string {
	if e.Line <= 0 {
		return "chat template syntax error: " + e.Message
	}
	s := fmt.Sprintf("chat template syntax error at line %d, column %d: %s", e.Line, e.Column, e.Message)
	if e.Near != "" {
		s += fmt.Sprintf(" (near %q)", e.Near)
	}
	return s
}

// New compiles a chat template. specials are the special-token variables the template
// sees (bos_token, eos_token, ...); it may be nil. A syntax error is a *SyntaxError
// naming the template line.
func New(source string, specials map[string]string) (*Template, error) {
	body, err := parse(source)
	if err != nil {
		return nil, err
	}
	sp := make(map[string]string, len(specials))
	for k, v := range specials {
		sp[k] = v
	}
	return &Template{source: source, specials: sp, body: body}, nil
}

// Source returns the template text.
func (t *Template) Source() string { return t.source }

// Specials returns a copy of the special-token variables.
func (t *Template) Specials() map[string]string {
	sp := make(map[string]string, len(t.specials))
	for k, v := range t.specials {
		sp[k] = v
	}
	return sp
}

// Render renders messages as transformers' apply_chat_template(messages, tokenize=False,
// add_generation_prompt=...) does: message keys whose value is nil are dropped, and a
// message with "reasoning_content", "thinking" or "reasoning" gets the first of them set
// under both "thinking" and "reasoning_content", as transformers does. extra holds further template variables (tools,
// documents, enable_thinking, ...) and overrides the special tokens of the same name; it
// may not set messages or add_generation_prompt. tools and documents are only defined
// when given.
//
// Values are converted for the template: Object keeps its key order, Go maps are
// presented with sorted keys, float64 and float32 values that are whole numbers below 2^53
// become ints (encoding/json decodes every number as float64, and JSON integers must
// print as "7", not "7.0"); json.Number follows Python's json.loads (a literal with '.',
// 'e' or 'E' stays a float). Use RenderJSON to render JSON text exactly as Python would.
func (t *Template) Render(messages []Message, addGenerationPrompt bool, extra map[string]any) (string, error) {
	return t.render(messages, addGenerationPrompt, extra, true)
}

func (t *Template) render(messages any, addGenerationPrompt bool, extra map[string]any, wholeFloatsToInt bool) (string, error) {
	data := make(map[string]any, len(t.specials)+len(extra)+4)
	for k, v := range t.specials {
		data[k] = v
	}
	for k, v := range extra {
		switch k {
		case "messages", "add_generation_prompt", "raise_exception", "strftime_now":
			return "", fmt.Errorf("chat: extra variable %q is reserved", k)
		}
		data[k] = toValue(v, wholeFloatsToInt)
	}
	data["messages"] = toValue(normalizeMessages(messages), wholeFloatsToInt)
	data["add_generation_prompt"] = addGenerationPrompt

	r := &renderer{now: t.Now}
	globals := r.globals()
	for k, v := range data {
		globals[k] = v
	}
	out, err := r.run(t.body, globals)
	if err != nil {
		if r.raised != nil {
			return "", r.raised
		}
		return "", fmt.Errorf("chat: rendering template: %w", err)
	}
	return out, nil
}

// run renders body; a panic in the engine becomes an error.
func (r *renderer) run(body []node, vars map[string]any) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = "", fmt.Errorf("the template engine failed: %v", p)
		}
	}()
	var b strings.Builder
	sc := &scope{vars: vars}
	if err := r.execBody(body, &scope{map[string]any{}, sc}, &b); err != nil {
		if err == errBreak || err == errContinue {
			return "", errors.New("TemplateSyntaxError: break or continue outside a loop")
		}
		return "", err
	}
	return b.String(), nil
}

// RenderJSON renders a conversation given as JSON: either a list of messages, or an
// object with "messages" and further template variables ("tools", "documents", ...).
// Key order, ints and floats are kept as Python's json.loads would give them. The object
// form is apply_chat_template(messages, tools=..., documents=..., **kwargs): tools and
// documents are always defined, None when the object lacks them, as transformers passes
// them; the list form defines only messages (and the special tokens).
func RenderJSON(t *Template, conversationJSON []byte, addGenerationPrompt bool) (string, error) {
	v, err := ParseJSON(conversationJSON)
	if err != nil {
		return "", fmt.Errorf("chat: conversation JSON: %w", err)
	}
	switch x := v.(type) {
	case []any:
		return t.render(x, addGenerationPrompt, nil, false)
	case Object:
		var messages any
		extra := map[string]any{}
		found := false
		for _, f := range x {
			if f.Key == "messages" {
				messages, found = f.Value, true
				continue
			}
			extra[f.Key] = f.Value
		}
		if !found {
			return "", errors.New(`chat: conversation JSON object has no "messages"`)
		}
		// the object form is apply_chat_template's call, whose tools and documents
		// parameters are always passed to the template (None when not given)
		for _, k := range []string{"tools", "documents"} {
			if _, ok := extra[k]; !ok {
				extra[k] = nil
			}
		}
		if _, ok := messages.([]any); !ok {
			return "", errors.New(`chat: conversation JSON "messages" is not a list`)
		}
		return t.render(messages, addGenerationPrompt, extra, false)
	}
	return "", errors.New("chat: conversation JSON must be a list of messages or an object with \"messages\"")
}

// LoadTemplate loads a model directory's chat template as transformers does:
// chat_template.jinja when present, else tokenizer_config.json's "chat_template" (a
// string, or a list of {name, template} from which "default" is used). Special tokens
// (bos_token, eos_token, ...) come from tokenizer_config.json, as strings or
// {"content": ...} objects.
func LoadTemplate(modelDir string) (*Template, error) {
	return load(os.DirFS(modelDir), func(name string) string { return filepath.Join(modelDir, name) })
}

// LoadTemplateFS is LoadTemplate reading from fsys (its root is the model directory).
func LoadTemplateFS(fsys fs.FS) (*Template, error) {
	return load(fsys, func(name string) string { return name })
}

func load(fsys fs.FS, display func(string) string) (*Template, error) {
	cfgPath := display(TokenizerConfigFile)
	var cfg map[string]json.RawMessage
	cfgData, cfgErr := fs.ReadFile(fsys, TokenizerConfigFile)
	if cfgErr == nil {
		if err := json.Unmarshal(cfgData, &cfg); err != nil {
			return nil, fmt.Errorf("chat: %s: %w", cfgPath, err)
		}
	} else if !errors.Is(cfgErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("chat: %w", cfgErr)
	}

	specials := map[string]string{}
	for _, key := range specialTokenKeys {
		raw, ok := cfg[key]
		if !ok {
			continue
		}
		tok, present, err := specialToken(raw)
		if err != nil {
			return nil, fmt.Errorf("chat: %s: %s: %w", cfgPath, key, err)
		}
		if present {
			specials[key] = tok
		}
	}

	var source, origin string
	jinjaPath := display(ChatTemplateFile)
	if data, err := fs.ReadFile(fsys, ChatTemplateFile); err == nil {
		source, origin = string(data), jinjaPath
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chat: %w", err)
	} else {
		raw, ok := cfg["chat_template"]
		if !ok || string(raw) == "null" {
			if cfgErr != nil {
				return nil, fmt.Errorf("chat: no chat template: neither %s nor %s exists", jinjaPath, cfgPath)
			}
			return nil, fmt.Errorf("chat: no chat template: %s has no \"chat_template\" and %s does not exist", cfgPath, jinjaPath)
		}
		s, err := chatTemplateField(raw)
		if err != nil {
			return nil, fmt.Errorf("chat: %s: chat_template: %w", cfgPath, err)
		}
		source, origin = s, cfgPath+" (chat_template)"
	}
	t, err := New(source, specials)
	if err != nil {
		return nil, fmt.Errorf("chat: %s: %w", origin, err)
	}
	return t, nil
}

func specialToken(raw json.RawMessage) (string, bool, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, err
	}
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	case map[string]any:
		if c, ok := x["content"].(string); ok {
			return c, true, nil
		}
		return "", false, errors.New(`object without a string "content"`)
	}
	return "", false, fmt.Errorf("expected a string or {\"content\": ...}, got %T", v)
}

func chatTemplateField(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errors.New("expected a string or a list of {name, template}")
	}
	var names []string
	for _, e := range list {
		if e.Name == defaultTemplateEntry {
			return e.Template, nil
		}
		names = append(names, e.Name)
	}
	return "", fmt.Errorf("multiple chat templates (%s) and none named %q", strings.Join(names, ", "), defaultTemplateEntry)
}

// lineCol is the 1-based line of source[:end]'s end and its column.
func lineCol(source string, end int) (line, col int) {
	line = strings.Count(source[:end], "\n") + 1
	if k := strings.LastIndex(source[:end], "\n"); k >= 0 {
		return line, end - k - 1
	}
	return line, end
}
