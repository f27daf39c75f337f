package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
)

// runCLI runs the command tree in-process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &ioStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func TestInfoEmbedded(t *testing.T) {
	code, out, errOut := runCLI(t, "", "info", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var info modelInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("bad json %q: %v", out, err)
	}
	// Numbers from tiny-lm's MODEL_CARD.md.
	if info.Architecture != "LlamaForCausalLM" || info.Parameters != 12_587_904 || info.DType != "bfloat16" ||
		info.Layers != 6 || info.DModel != 384 || info.VocabSize != 8192 || info.KVHeads != 2 || !info.TiedEmbedding {
		t.Errorf("info = %+v", info)
	}
	code, out, _ = runCLI(t, "", "info")
	for _, want := range []string{"LlamaForCausalLM", "12587904", "bfloat16", "layers", "d_model", "384", "vocab_size", "8192"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("text info lacks %q:\n%s", want, out)
		}
	}
}

func TestInfoFixtures(t *testing.T) {
	for fam, want := range map[string]string{"gpt2": "GPT2LMHeadModel", "gemma2": "Gemma2ForCausalLM", "llama_bf16": "bfloat16"} {
		code, out, errOut := runCLI(t, "", "info", sharedtest.Path(t, "fixtures/transformers/"+fam))
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, out %q, err %q", fam, code, out, errOut)
		}
	}
}

func TestInfoErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "rwkv"}`), 0o644)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type": "llama", "vocab_size": 10}`), 0o644)
	noWeights := t.TempDir()
	os.WriteFile(filepath.Join(noWeights, "config.json"), []byte(`{"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 8}`), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"info", filepath.Join(dir, "missing")}, 1, "not found"},
		{[]string{"info", dir}, 1, "unsupported architecture model_type \"rwkv\" (supported: gemma, gemma2, gemma3_text, gpt2, llama, mistral, phi, phi3, qwen2, qwen3)"},
		{[]string{"info", bad}, 1, `missing field "hidden_size"`},
		{[]string{"info", noWeights}, 1, "no model weights"},
		{[]string{"info", "--format", "yaml"}, 2, "--format must be text or json"},
		{[]string{"info", "a", "b"}, 1, "accepts at most 1 arg"},
		{[]string{"frobnicate"}, 1, "unknown command"},
	} {
		code, _, errOut := runCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "panic") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d containing %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestTokenizeContract(t *testing.T) {
	in := `{"text": "And God said"}` + "\n\n" + `{"text": ""}` + "\n" + `{"text": "It is a truth universally acknowledged"}`
	code, out, errOut := runCLI(t, in, "tokenize")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 output lines, got %q", out)
	}
	var first struct{ IDs []int }
	json.Unmarshal([]byte(lines[0]), &first)
	if len(first.IDs) != 3 || lines[1] != `{"ids":[]}` {
		t.Errorf("output %q", out)
	}
	// --tokenizer takes a file or a model directory; --special adds the BERT template.
	bert := sharedtest.Path(t, "fixtures/tokenizers/bert-base-uncased.tokenizer.json")
	code, out, errOut = runCLI(t, `{"text": "hello world"}`, "tokenize", "--tokenizer", bert, "--special")
	if code != 0 || strings.TrimSpace(out) != `{"ids":[101,7592,2088,102]}` {
		t.Errorf("bert --special: exit %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, `{"text": "hello world"}`, "tokenize", "--tokenizer", bert)
	if code != 0 || strings.TrimSpace(out) != `{"ids":[7592,2088]}` {
		t.Errorf("bert: exit %d, out %q", code, out)
	}
}

func TestTokenizeErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "tokenizer.json")
	os.WriteFile(unknown, []byte(`{"model": {"type": "Quantum"}}`), 0o644)
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{`{"text": "a"}` + "\n" + `{"text": 3}`, []string{"tokenize"}, "stdin line 2"},
		{`{"txt": "a"}`, []string{"tokenize"}, `stdin line 1: missing string field "text"`},
		{`not json`, []string{"tokenize"}, "stdin line 1: invalid JSON"},
		{`{"text": "a"}`, []string{"tokenize", "--tokenizer", filepath.Join(dir, "none.json")}, "none.json"},
		{`{"text": "a"}`, []string{"tokenize", "--tokenizer", unknown}, "Quantum"},
	} {
		code, _, errOut := runCLI(t, c.stdin, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v with %q: exit %d, stderr %q; want an error containing %q", c.args, c.stdin, code, errOut, c.want)
		}
	}
}
