package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-dev/steer/sae"
	"github.com/steer-dev/steer/weights"
)

// randomSAE writes a small SAELens topk SAE.
func randomSAE(t *testing.T, dIn, dSAE, k int, hook string) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int, sc float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = (r.Float32()*2 - 1) * sc
		}
		return v
	}
	s := &sae.SAE{Arch: sae.ArchTopK, DIn: dIn, DSAE: dSAE, K: k, WEnc: rnd(dIn*dSAE, 0.1), BEnc: rnd(dSAE, 0.01),
		WDec: rnd(dSAE*dIn, 0.1), BDec: rnd(dIn, 0.01), Meta: sae.Meta{HookName: hook, ContextSize: 16, ApplyBDecToInput: true}}
	dir := filepath.Join(t.TempDir(), "sae")
	if err := s.SaveSAELens(dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSAETrainEvalConvertCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sae")
	code, stdout, stderr := runCLI(t, "", "sae", "train", "--site", "resid_post.2", "--context", "32", "--tokens", "1024", "--batch", "256",
		"--width", "96", "--k", "8", "--buffer", "512", "--out", out, "--format", "json")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	var sum trainSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("bad json %q: %v", stdout, err)
	}
	if sum.Tokens != 1024 || sum.Steps != 4 || sum.DSAE != 96 || sum.K != 8 || sum.L0 <= 0 || sum.TextEndDoc < 0 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(stderr, "step 4/4") || !strings.Contains(stderr, "tok/s") {
		t.Errorf("no progress on stderr: %s", stderr)
	}
	for _, f := range []string{"cfg.json", "sae_weights.safetensors", "sparsity.safetensors", "training_log.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	s, err := sae.Load(out)
	if err != nil || s.Meta.HookName != "blocks.2.hook_resid_post" || s.Meta.ContextSize != 32 {
		t.Fatalf("trained SAE: %v %+v", err, s.Meta)
	}
	// eval picks the site and context from the SAE
	code, stdout, stderr = runCLI(t, "", "sae", "eval", "--sae", out, "--tokens", "200", "--ce-contexts", "2", "--skip-docs", fmt.Sprint(sum.TextEndDoc+1), "--format", "json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("bad json %q: %v", stdout, err)
	}
	for _, k := range []string{"fvu", "mse", "l0", "dead_fraction", "dense_fraction", "density_histogram", "ce_loss_clean", "ce_loss_sae",
		"ce_loss_zero_ablation", "ce_loss_recovered", "kl_clean_sae"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("eval json lacks %q", k)
		}
	}
	if ev["site"] != "resid_post.2" || ev["tokens"].(float64) != 200 || ev["ce_contexts"].(float64) != 2 {
		t.Errorf("eval %v", ev)
	}
	// without --skip-docs, eval on the training text starts after what the training read, and says so
	code, stdout, stderr = runCLI(t, "", "sae", "eval", "--sae", out, "--tokens", "100", "--ce-contexts", "1")
	if code != 0 || !strings.Contains(stdout, "CE loss recovered") || !strings.Contains(stdout, "FVU") ||
		!strings.Contains(stdout, fmt.Sprintf("skipping %d documents", sum.TextEndDoc+1)) || !strings.Contains(stderr, "held-out") {
		t.Errorf("text eval: exit %d: %s %s", code, stdout, stderr)
	}
	// --skip-docs 0 evaluates from the start; another text starts at its beginning
	other := filepath.Join(dir, "other.txt")
	if err := os.WriteFile(other, []byte(strings.Repeat("Another text, never trained on, for the evaluation. ", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--skip-docs", "0"}, {"--text", other}} {
		code, stdout, stderr = runCLI(t, "", append([]string{"sae", "eval", "--sae", out, "--tokens", "100", "--ce-contexts", "1", "--format", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("eval %v: exit %d: %s", args, code, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil || ev["skip_docs"].(float64) != 0 || strings.Contains(stderr, "held-out") {
			t.Errorf("eval %v: skip_docs %v (%v) %s", args, ev["skip_docs"], err, stderr)
		}
	}
	// convert to sparsify and back
	sp := filepath.Join(dir, "sparsify")
	if code, _, stderr := runCLI(t, "", "sae", "convert", "--in", out, "--out", sp, "--to", "sparsify"); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "sae", "convert", "--in", sp, "--out", filepath.Join(dir, "back"), "--format", "json"); code != 0 {
		t.Fatalf("convert back: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "sae", "convert", "--in", out, "--out", sp, "--to", "onnx"); code != 2 || !strings.Contains(stderr, "--to must be") {
		t.Errorf("bad --to: exit %d: %s", code, stderr)
	}
}

func TestSAEEvalErrors(t *testing.T) {
	small := randomSAE(t, 16, 32, 4, "blocks.1.hook_resid_post")
	if code, _, stderr := runCLI(t, "", "sae", "eval", "--sae", small); code != 1 || !strings.Contains(stderr, "d_in 16") || !strings.Contains(stderr, "d_model 384") {
		t.Errorf("d_in mismatch: exit %d: %s", code, stderr)
	}
	unknown := randomSAE(t, 384, 32, 4, "blocks.1.hook_resid_post")
	cfgPath := filepath.Join(unknown, "cfg.json")
	data, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(data, []byte(`"topk"`), []byte(`"gated_v9"`), 1), 0o644)
	if code, _, stderr := runCLI(t, "", "sae", "eval", "--sae", unknown); code != 1 || !strings.Contains(stderr, "gated_v9") {
		t.Errorf("unknown architecture: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "sae", "eval", "--sae", filepath.Join(t.TempDir(), "none")); code != 1 || !strings.Contains(stderr, "none") {
		t.Errorf("missing SAE: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "sae", "eval"); code != 2 || !strings.Contains(stderr, "--sae is required") {
		t.Errorf("no --sae: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "sae", "train", "--out", t.TempDir(), "--arch", "gated"); code != 2 || !strings.Contains(stderr, "--arch") {
		t.Errorf("bad arch: exit %d: %s", code, stderr)
	}
	for _, bad := range [][]string{{"--lr-decay", "NaN"}, {"--lr-decay", "1.5"}, {"--lr-warmup", "-3"}, {"--lr-decay-shape", "step"}} {
		args := append([]string{"sae", "train", "--out", t.TempDir()}, bad...)
		if code, _, stderr := runCLI(t, "", args...); code != 2 || !strings.Contains(stderr, bad[0]) {
			t.Errorf("%v: exit %d: %s", bad, code, stderr)
		}
	}
	// NaN weights are refused (by sae.Load, or the evaluation)
	nan := randomSAE(t, 384, 32, 4, "blocks.1.hook_resid_post")
	s, _ := sae.Load(nan)
	s.BDec[3] = float32(nanValue())
	err := weights.WriteFile(filepath.Join(nan, "sae_weights.safetensors"), []weights.WriteTensor{
		weights.F32Tensor("W_enc", []int{384, 32}, s.WEnc), weights.F32Tensor("b_enc", []int{32}, s.BEnc),
		weights.F32Tensor("W_dec", []int{32, 384}, s.WDec), weights.F32Tensor("b_dec", []int{384}, s.BDec)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "", "sae", "eval", "--sae", nan, "--tokens", "50", "--ce-contexts", "1"); code != 1 || !strings.Contains(strings.ToLower(stderr), "nan") {
		t.Errorf("NaN weights: exit %d: %s", code, stderr)
	}
}

func nanValue() float64 { var z float64; return z / z }

func TestSAEBenchCLI(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "sae", "bench", "--d-in", "16", "--width", "128", "--k", "4", "--batch", "64", "--steps", "3", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("bad json %q: %v", stdout, err)
	}
	if res["step"] != "sparse-go" || res["d_sae"].(float64) != 128 || !(res["train_tokens_per_sec"].(float64) > 0) {
		t.Errorf("bench %v", res)
	}
	code, stdout, _ = runCLI(t, "", "sae", "bench", "--arch", "relu", "--d-in", "16", "--width", "64", "--batch", "64", "--steps", "2")
	if code != 0 || !strings.Contains(stdout, "dense-go step") || !strings.Contains(stdout, "tokens/s") {
		t.Errorf("relu bench: exit %d: %s", code, stdout)
	}
	for _, bad := range [][]string{{"--arch", "gelu"}, {"--topk", "heap"}, {"--on-device", "maybe"}, {"--steps", "0"}} {
		if code, _, stderr := runCLI(t, "", append([]string{"sae", "bench"}, bad...)...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d (want 2): %s", bad, code, stderr)
		}
	}
}
