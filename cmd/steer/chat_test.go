package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/steer-dev/steer/tokenizer"
)

// generate --chat renders the model's chat template (here a small one written beside a copy of tiny-lm)
// and tokenizes the result without adding special tokens, as apply_chat_template does.
func TestGenerateChat(t *testing.T) {
	src := filepath.Join(sharedtest.RepoRoot(), "assets", "tinylm")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
	if err := os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "generate", "--model", dir, "--chat", "--system", "Be brief.",
		"--prompt", "And God said", "-n", "4", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res generateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := tok.Encode("<|endoftext|><system>Be brief.\n<user>And God said\n<assistant>", false)
	if want[0] != 0 || len(res.IDs) != len(want)+4 || !slices.Equal(res.IDs[:len(want)], want) {
		t.Errorf("chat prompt ids %v, want prefix %v followed by 4 new tokens", res.IDs, want)
	}
	code, _, errOut = runCLI(t, "", "generate", "--chat", "--prompt", "hi")
	if code == 0 || !strings.Contains(errOut, "no chat template") {
		t.Errorf("tiny-lm has no template: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "generate", "--system", "x", "--prompt", "hi")
	if code != 2 || !strings.Contains(errOut, "--system needs --chat") {
		t.Errorf("--system without --chat: exit %d, %q", code, errOut)
	}
}
