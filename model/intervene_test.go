package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func testVec(d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)))
	}
	return v
}

func TestInterventionStrengthIsATensor(t *testing.T) {
	m := tinyLM(t)
	ids := [][]int{{5, 17, 300, 42, 9}}
	vec := testVec(m.DModel())
	base, err := m.Forward(ids, Capture("resid_post.2", "logits"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(s float32) *Output {
		out, err := m.Forward(ids, Capture("resid_post.2", "logits"), Intervene(AddVector("resid_post.2", vec, s)))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	o0 := run(0)
	before := m.Compilations()
	o1 := run(4)
	o2 := run(-2)
	if n := m.Compilations() - before; n != 0 {
		t.Fatalf("changing the strength recompiled %d times", n)
	}
	// strength 0 is the identity; strength s adds s·vec at resid_post.2 (captured after the intervention).
	if d := maxDiff(o0.Logits().Data, base.Logits().Data); d > 1e-6 {
		t.Errorf("strength 0 changed the logits by %g", d)
	}
	D := m.DModel()
	for i, x := range o1.Get("resid_post.2").Data {
		want := base.Get("resid_post.2").Data[i] + 4*vec[i%D]
		if math.Abs(float64(x-want)) > 1e-4 {
			t.Fatalf("resid_post.2[%d] = %g, want %g", i, x, want)
		}
	}
	if maxDiff(o1.Logits().Data, o0.Logits().Data) < 1e-2 || maxDiff(o2.Logits().Data, o1.Logits().Data) < 1e-2 {
		t.Errorf("the strength had no effect on the logits")
	}
}

// clampFeature is an SAE-style error-corrected clamp built on the Intervention interface:
// x + (v - relu(x·enc + b))·dec, with every parameter a graph input.
type clampFeature struct {
	site     string
	enc, dec []float32
	b, v     float32
}

func (c *clampFeature) Site() string { return c.site }
func (c *clampFeature) Key() string  { return "clamp_feature" }
func (c *clampFeature) Params() []Param {
	D := len(c.enc)
	return []Param{{Shape: []int{D, 1}, F32: c.enc}, {Shape: []int{1}, F32: []float32{c.b}},
		{Shape: []int{1, D}, F32: c.dec}, {F32: []float32{c.v}}}
}
func (c *clampFeature) Apply(x *Node, p []*Node) *Node {
	f := Add(DotGeneral(x, []int{2}, nil, p[0], []int{0}, nil), ExpandLeftToRank(p[1], 3)) // [B,T,1]
	f = Max(f, ZerosLike(f))
	delta := Sub(ExpandLeftToRank(p[3], 3), f)           // [B,T,1]
	return Add(x, Mul(delta, ExpandLeftToRank(p[2], 3))) // [B,T,D]
}

func TestGenericInterventionAndEarlyStop(t *testing.T) {
	m := tinyLM(t)
	ids := [][]int{{5, 17, 300, 42, 9}, {1, 2, 3, 4, 5}}
	D := m.DModel()
	enc, dec := testVec(D), make([]float32, D)
	var nrm float32
	for i := range dec {
		dec[i] = float32(math.Cos(float64(i)))
		nrm += dec[i] * dec[i]
	}
	for i := range dec {
		dec[i] /= float32(math.Sqrt(float64(nrm)))
	}
	iv := &clampFeature{site: "resid_post.1", enc: enc, dec: dec, b: 0.1, v: 3}
	out, err := m.Forward(ids, Capture("resid_post.1"), Intervene(iv))
	if err != nil {
		t.Fatal(err)
	}
	// Early stop: only layers 0..1 are in the graph.
	found := false
	for k := range m.execs {
		if strings.Contains(k, "stop=2 ") && strings.Contains(k, "clamp_feature") {
			found = true
		}
	}
	if !found {
		t.Errorf("no graph stopping after layer 1 was built")
	}
	// The feature activation after the clamp is relu(x'·enc + b); check x' = x + (v - f(x))·dec.
	base, err := m.Forward(ids, Capture("resid_post.1"))
	if err != nil {
		t.Fatal(err)
	}
	x, y := base.Get("resid_post.1").Data, out.Get("resid_post.1").Data
	for r := 0; r < len(x)/D; r++ {
		var f float32 = 0.1
		for i := range D {
			f += x[r*D+i] * enc[i]
		}
		f = max(f, 0)
		for i := range D {
			want := x[r*D+i] + (3-f)*dec[i]
			if math.Abs(float64(y[r*D+i]-want)) > 1e-3 {
				t.Fatalf("row %d feature %d: got %g, want %g", r, i, y[r*D+i], want)
			}
		}
	}
	// Interventions also run during generation, on the prompt and every new token.
	g0, err := m.Generate([][]int{ids[0]}, GenerateOptions{MaxNewTokens: 6, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	g1, err := m.Generate([][]int{ids[0]}, GenerateOptions{MaxNewTokens: 6, IgnoreEOS: true,
		Interventions: []Intervention{AddVector("resid_post.3", testVec(D), 40)}})
	if err != nil {
		t.Fatal(err)
	}
	if equalInts(g0.NewTokens[0], g1.NewTokens[0]) {
		t.Errorf("a strong steering vector did not change generation: %v", g0.NewTokens[0])
	}
}

func TestBadInputs(t *testing.T) {
	m := tinyLM(t)
	for _, tc := range []struct {
		ids  [][]int
		want string
	}{
		{[][]int{{1, -1}}, "out of range"},
		{[][]int{{1, 8192}}, "out of range"},
		{[][]int{{1, 2}, {3}}, "same length"},
		{[][]int{make([]int, 513)}, "context"},
	} {
		if _, err := m.Forward(tc.ids); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Forward(%v...): error %v, want one containing %q", len(tc.ids), err, tc.want)
		}
	}
	if _, err := m.Forward([][]int{{1}}, Capture("resid_post.6")); err == nil {
		t.Errorf("capture of a layer past the last: no error")
	}
	if _, err := m.Generate([][]int{make([]int, 600)}, GenerateOptions{MaxNewTokens: 1}); err == nil || !strings.Contains(err.Error(), "context") {
		t.Errorf("Generate with a too-long prompt: %v", err)
	}
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestForwardFrom: a pass started at a hook point (From) from the residual stream a clean pass had
// there gives that pass's logits and later captures, for each kind of hook point; an edit of the stream
// gives what the same edit made by an intervention gives; hook points at or before the start are refused.
func TestForwardFrom(t *testing.T) {
	m := tinyLM(t)
	ids := [][]int{{5, 17, 300, 42, 9, 7}, {0, 1, 2, 3, 4, 5}}
	all := []string{"logits", "resid_post.4"}
	for l := range 3 {
		for _, k := range []string{"resid_pre", "attn_out", "mlp_out", "resid_post"} {
			all = append(all, fmt.Sprintf("%s.%d", k, l))
		}
	}
	ref, err := m.Forward(ids, Capture(all...))
	if err != nil {
		t.Fatal(err)
	}
	add := func(a ...[]float32) []float32 {
		out := slices.Clone(a[0])
		for _, b := range a[1:] {
			for i := range out {
				out[i] += b[i]
			}
		}
		return out
	}
	get := func(s string) []float32 { return ref.Get(s).Data }
	streams := map[string][]float32{
		"resid_pre.1":  get("resid_pre.1"),
		"attn_out.1":   add(get("resid_pre.1"), get("attn_out.1")),
		"mlp_out.1":    add(add(get("resid_pre.1"), get("attn_out.1")), get("mlp_out.1")),
		"resid_post.1": get("resid_post.1"),
	}
	for site, stream := range streams {
		out, err := m.Forward(ids, From(site, stream), Capture("logits", "resid_post.4", "resid_post.2"))
		if err != nil {
			t.Fatalf("%s: %v", site, err)
		}
		for _, c := range []string{"logits", "resid_post.4", "resid_post.2"} {
			if d := maxDiff(out.Get(c).Data, get(c)); d > 1e-5 {
				t.Errorf("from %s: %s differs from the whole pass by %g", site, c, d)
			}
		}
	}
	// an edit of the stream = the same edit by an intervention at the site
	vec := testVec(m.DModel())
	edited := slices.Clone(get("resid_post.1"))
	for i := range edited {
		edited[i] += 3 * vec[i%m.DModel()]
	}
	want, err := m.Forward(ids, Intervene(AddVector("resid_post.1", vec, 3)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Forward(ids, From("resid_post.1", edited))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got.Logits().Data, want.Logits().Data); d > 1e-4 {
		t.Errorf("edited stream: logits differ from the intervention's by %g", d)
	}
	s := get("attn_out.1")
	for _, c := range []struct {
		opts []ForwardOption
		msg  string
	}{
		{[]ForwardOption{From("attn_out.1", s), Capture("attn_out.1")}, "cannot capture attn_out.1"},
		{[]ForwardOption{From("attn_out.1", s), Capture("resid_pre.0")}, "cannot capture resid_pre.0"},
		{[]ForwardOption{From("attn_out.1", s), Intervene(AddVector("resid_pre.1", vec, 1))}, "comes before"},
		{[]ForwardOption{From("attn_out.1", s[:10])}, "the stream has 10 values"},
		{[]ForwardOption{From("logits", s)}, "not a residual-stream hook point"},
		{[]ForwardOption{From("resid_post.9", s)}, "out of range"},
	} {
		if _, err := m.Forward(ids, c.opts...); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("want an error with %q, got %v", c.msg, err)
		}
	}
	// an intervention at the start site's later neighbour (mlp_out.1) still runs
	if _, err := m.Forward(ids, From("attn_out.1", s), Intervene(AddVector("mlp_out.1", vec, 1))); err != nil {
		t.Errorf("intervention after the start: %v", err)
	}
}
