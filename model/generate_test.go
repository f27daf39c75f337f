package model

import (
	"slices"
	"testing"
)

func TestGenerateStops(t *testing.T) {
	m := tinyLM(t)
	prompt := []int{5, 17, 300}
	base, err := m.Generate([][]int{prompt}, GenerateOptions{MaxNewTokens: 6, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if base.StopReasons[0] != StopMaxTokens || len(base.NewTokens[0]) != 6 {
		t.Fatalf("max tokens: %v %v", base.StopReasons, base.NewTokens)
	}
	eos := base.NewTokens[0][2]
	g, err := m.Generate([][]int{prompt}, GenerateOptions{MaxNewTokens: 6, EOS: []int{eos}})
	if err != nil {
		t.Fatal(err)
	}
	if want := base.NewTokens[0][:slices.Index(base.NewTokens[0], eos)+1]; g.StopReasons[0] != StopEOS || !slices.Equal(g.NewTokens[0], want) {
		t.Errorf("eos: %v %v, want %v", g.StopReasons[0], g.NewTokens[0], want)
	}
	var streamed []int
	g, err = m.Generate([][]int{prompt}, GenerateOptions{MaxNewTokens: 6, IgnoreEOS: true,
		OnToken: func(row, id int) bool { streamed = append(streamed, id); return len(streamed) < 2 }})
	if err != nil {
		t.Fatal(err)
	}
	if g.StopReasons[0] != StopCallback || !slices.Equal(streamed, base.NewTokens[0][:2]) || !slices.Equal(g.NewTokens[0], streamed) {
		t.Errorf("callback: %v streamed %v new %v", g.StopReasons[0], streamed, g.NewTokens[0])
	}
	// A selector replaces greedy decoding; its tokens are fed back.
	g, err = m.Generate([][]int{prompt, {7}}, GenerateOptions{MaxNewTokens: 3, IgnoreEOS: true,
		Select: func(row int, logits []float32) int { return 100 + row }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.NewTokens[0], []int{100, 100, 100}) || !slices.Equal(g.NewTokens[1], []int{101, 101, 101}) {
		t.Errorf("select: %v", g.NewTokens)
	}
	if _, err := m.Generate([][]int{prompt}, GenerateOptions{MaxNewTokens: 2,
		Select: func(int, []float32) int { return -1 }}); err == nil {
		t.Errorf("a selector returning -1 gave no error")
	}
}

func TestGenerateCompilesOnce(t *testing.T) {
	m := tinyLM(t)
	opts := GenerateOptions{MaxNewTokens: 20, IgnoreEOS: true}
	before := m.Compilations()
	if _, err := m.Generate([][]int{{1, 2, 3}, {4, 5}}, opts); err != nil {
		t.Fatal(err)
	}
	if n := m.Compilations() - before; n > 2 { // one prefill graph + one decode-step graph
		t.Errorf("20 tokens compiled %d graphs, want at most 2", n)
	}
	before = m.Compilations()
	if _, err := m.Generate([][]int{{9, 8, 7}, {6, 5, 4}}, opts); err != nil {
		t.Fatal(err)
	}
	if n := m.Compilations() - before; n != 0 {
		t.Errorf("a second generation of the same shapes compiled %d graphs", n)
	}
}
