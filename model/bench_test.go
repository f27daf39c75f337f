package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steer-dev/steer/weights"
)

// The model benchmark of issue 3 (scripts/bench-model.sh runs it next to the PyTorch peer,
// scripts/bench_model.py, with the same checkpoints and shapes):
//
//	GOEXPERIMENT=simd go test ./model -run '^$' -bench 'Prefill|Decode' -benchtime 3x
//
// Each benchmark has a sub-benchmark per model: "tiny" (the embedded tiny-lm) and "gpt2-small" (a
// random checkpoint shaped like GPT-2 small: 12 layers, d 768, 12 heads, vocab 50257, context 1024,
// written once by writeGPT2Small to $STEER_BENCH_GPT2, else to a directory under os.TempDir()).
// Metrics: tokens/s (wall clock) and cpu-tokens/s (tokens per second of process CPU time, which is
// less sensitive to other processes on a shared machine).

// GPT2BenchEnv names the directory of the random GPT-2-small checkpoint (created if missing).
const GPT2BenchEnv = "STEER_BENCH_GPT2"

func benchPrompt(B, T int) [][]int {
	ids := make([][]int, B)
	for b := range ids {
		ids[b] = make([]int, T)
		for j := range ids[b] {
			ids[b][j] = (b*131 + j*17 + 1) % 8000
		}
	}
	return ids
}

var (
	gpt2Once sync.Once
	gpt2M    *Model
	gpt2Err  error
)

// gpt2Small loads (writing it first if needed) the random GPT-2-small-shaped checkpoint.
func gpt2Small(b *testing.B) *Model {
	b.Helper()
	gpt2Once.Do(func() {
		dir := os.Getenv(GPT2BenchEnv)
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "steer-bench-gpt2-small")
		}
		if gpt2Err = writeGPT2Small(dir); gpt2Err == nil {
			gpt2M, gpt2Err = Load(dir)
		}
	})
	if gpt2Err != nil {
		b.Fatal(gpt2Err)
	}
	return gpt2M
}

// writeGPT2Small writes config.json and model.safetensors of a GPT-2-small-shaped model with
// deterministic random weights (N(0, 0.02) matrices, unit LayerNorm gains, zero biases), unless dir
// already holds a checkpoint.
func writeGPT2Small(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return nil
	}
	const L, d, V, P = 12, 768, 50257, 1024
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := map[string]any{
		"architectures": []string{"GPT2LMHeadModel"}, "model_type": "gpt2", "vocab_size": V, "n_positions": P,
		"n_embd": d, "n_layer": L, "n_head": 12, "n_inner": nil, "activation_function": "gelu_new",
		"layer_norm_epsilon": 1e-5, "tie_word_embeddings": true, "bos_token_id": 50256, "eos_token_id": 50256,
	}
	js, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(3, 0))
	var ts []weights.WriteTensor
	add := func(name string, fill func() float32, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = fill()
		}
		ts = append(ts, weights.F32Tensor(name, shape, data))
	}
	normal := func() float32 { return float32(rng.NormFloat64() * 0.02) }
	one := func() float32 { return 1 }
	zero := func() float32 { return 0 }
	add("transformer.wte.weight", normal, V, d)
	add("transformer.wpe.weight", normal, P, d)
	add("transformer.ln_f.weight", one, d)
	add("transformer.ln_f.bias", zero, d)
	for i := range L {
		p := fmt.Sprintf("transformer.h.%d.", i)
		add(p+"ln_1.weight", one, d)
		add(p+"ln_1.bias", zero, d)
		add(p+"ln_2.weight", one, d)
		add(p+"ln_2.bias", zero, d)
		add(p+"attn.c_attn.weight", normal, d, 3*d)
		add(p+"attn.c_attn.bias", zero, 3*d)
		add(p+"attn.c_proj.weight", normal, d, d)
		add(p+"attn.c_proj.bias", zero, d)
		add(p+"mlp.c_fc.weight", normal, d, 4*d)
		add(p+"mlp.c_fc.bias", zero, 4*d)
		add(p+"mlp.c_proj.weight", normal, 4*d, d)
		add(p+"mlp.c_proj.bias", zero, d)
	}
	return weights.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
}

// benchModels runs fn as a sub-benchmark for each benchmark model.
func benchModels(b *testing.B, fn func(b *testing.B, m *Model)) {
	b.Run("tiny", func(b *testing.B) { fn(b, tinyLM(b)) })
	b.Run("gpt2-small", func(b *testing.B) { fn(b, gpt2Small(b)) })
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn b.N times (after one untimed warm-up call, which compiles) and reports tokens/s
// for tokens per call, by wall clock and by process CPU time.
func measure(b *testing.B, tokens int, fn func() error) {
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(tokens*b.N)/wall.Seconds(), "tokens/s")
	b.ReportMetric(float64(tokens*b.N)/cpu.Seconds(), "cpu-tokens/s")
}

// BenchmarkPrefill measures forward tokens/s on batch 8 x 256 (logits for all positions).
func BenchmarkPrefill(b *testing.B) {
	benchModels(b, func(b *testing.B, m *Model) {
		ids := benchPrompt(8, 256)
		measure(b, 8*256, func() error { _, err := m.Forward(ids); return err })
	})
}

func benchDecode(b *testing.B, B int) {
	benchModels(b, func(b *testing.B, m *Model) {
		ids := benchPrompt(B, 16)
		const n = 64
		opts := GenerateOptions{MaxNewTokens: n, IgnoreEOS: true}
		measure(b, B*n, func() error { _, err := m.Generate(ids, opts); return err })
	})
}

// BenchmarkDecode1 and BenchmarkDecode8 measure generated tokens/s (16-token prompts, 64 new tokens,
// KV cache; the prompt's prefill is included, as in transformers' generate).
func BenchmarkDecode1(b *testing.B) { benchDecode(b, 1) }
func BenchmarkDecode8(b *testing.B) { benchDecode(b, 8) }
