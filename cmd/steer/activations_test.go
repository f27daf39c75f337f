package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-dev/steer/activations"
)

func TestActivationsCacheCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cache")
	args := []string{"activations", "cache", "--site", "resid_post.1", "--tokens", "300", "--context", "16", "--shard-rows", "100", "--batch-contexts", "4", "--out", out, "--format", "json"}
	code, stdout, stderr := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res cacheResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("bad json %q: %v", stdout, err)
	}
	if res.Tokens != 300 || res.D != 384 || res.Shards < 2 || !res.Complete || res.Site != "resid_post.1" {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Error(err)
	}
	// rerunning a complete cache is a no-op; other settings are refused
	if code, _, stderr := runCLI(t, "", args...); code != 0 {
		t.Errorf("rerun: exit %d: %s", code, stderr)
	}
	// an SAE trained from the cache evaluates, by default, the embedded text after what the cache read
	sdir := filepath.Join(t.TempDir(), "sae")
	if code, _, stderr := runCLI(t, "", "sae", "train", "--activations", out, "--width", "64", "--k", "4", "--batch", "100",
		"--tokens", "300", "--out", sdir); code != 0 {
		t.Fatalf("train from the cache: exit %d: %s", code, stderr)
	}
	m, err := activations.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "", "sae", "eval", "--sae", sdir, "--tokens", "50", "--ce-contexts", "1", "--format", "json")
	var ev struct {
		SkipDocs int `json:"skip_docs"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &ev) != nil || ev.SkipDocs != m.Position.Doc+1 || !strings.Contains(stderr, "held-out") {
		t.Errorf("eval of the cache-trained SAE: exit %d, skip_docs %d (cache ends in document %d): %s", code, ev.SkipDocs, m.Position.Doc, stderr)
	}
	bad := append(append([]string(nil), args...), "--context", "32")
	if code, _, stderr := runCLI(t, "", bad...); code != 1 || !strings.Contains(stderr, "context size 16, now 32") {
		t.Errorf("other settings: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "activations", "cache"); code != 2 || !strings.Contains(stderr, "--out is required") {
		t.Errorf("no --out: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "activations", "cache", "--out", t.TempDir(), "--site", "resid_post.9"); code != 1 || !strings.Contains(stderr, `no hook point "resid_post.9"`) {
		t.Errorf("bad site: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "activations", "cache", "--out", t.TempDir(), "--text", "/nonexistent.jsonl"); code != 1 || !strings.Contains(stderr, "/nonexistent.jsonl") {
		t.Errorf("missing text: exit %d: %s", code, stderr)
	}
}
