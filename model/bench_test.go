package model

import (
	"testing"
	"time"
)

// go test ./model -run '^$' -bench . -benchtime 3x

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

// BenchmarkPrefill measures forward tokens/s of tiny-lm on batch 8 x 256 (logits for all positions).
func BenchmarkPrefill(b *testing.B) {
	m := tinyLM(b)
	ids := benchPrompt(8, 256)
	if _, err := m.Forward(ids); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := m.Forward(ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(8*256*b.N)/time.Since(start).Seconds(), "tokens/s")
}

func benchDecode(b *testing.B, B int) {
	m := tinyLM(b)
	ids := benchPrompt(B, 16)
	const n = 64
	opts := GenerateOptions{MaxNewTokens: n, IgnoreEOS: true}
	if _, err := m.Generate(ids, opts); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := m.Generate(ids, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(B*n*b.N)/time.Since(start).Seconds(), "tokens/s")
}

// BenchmarkDecode1 and BenchmarkDecode8 measure generated tokens/s (16-token prompts, 64 new tokens, KV cache).
func BenchmarkDecode1(b *testing.B) { benchDecode(b, 1) }
func BenchmarkDecode8(b *testing.B) { benchDecode(b, 8) }
