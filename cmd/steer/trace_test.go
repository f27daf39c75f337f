package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-dev/steer/weights"
)

// TestTraceGolden traces golden prompts and compares every written tensor with transformers' values.
func TestTraceGolden(t *testing.T) {
	g := openGolden(t)
	p0 := goldenIDs(t, g, "p0.input_ids")
	p2 := goldenIDs(t, g, "p2.input_ids")[:len(p0)] // same length as p0: a second row
	out := filepath.Join(t.TempDir(), "trace.safetensors")
	code, stdout, errOut := runCLI(t, "", "trace", "--ids", idList(p0)+";"+idList(p2), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if stdout != "" {
		t.Errorf("trace printed %q on stdout", stdout)
	}
	f, err := weights.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const layers, d, vocab = 6, 384, 8192
	T := len(p0)
	sites := []string{"logits"}
	for l := range layers {
		sites = append(sites, fmt.Sprintf("resid_post.%d", l))
	}
	if n := len(f.Tensors()); n != len(sites) {
		t.Errorf("%d tensors written, want %d", n, len(sites))
	}
	for _, site := range sites {
		info, ok := f.Info(site)
		if !ok {
			t.Fatalf("no tensor %q", site)
		}
		wantShape := []int{2, T, d}
		if site == "logits" {
			wantShape = []int{2, T, vocab}
		}
		if info.DType != weights.F32 || !slices.Equal(info.Shape, wantShape) {
			t.Errorf("%s: %s %v, want F32 %v", site, info.DType, info.Shape, wantShape)
			continue
		}
		got, _, err := f.Float32(site)
		if err != nil {
			t.Fatal(err)
		}
		// Row 0 is golden prompt 0, whole.
		want, _, err := g.Float32("p0." + site)
		if err != nil {
			t.Fatal(err)
		}
		if diff := maxDiff(got[:len(want)], want); diff > 1e-4 {
			t.Errorf("%s row 0: max abs diff %.3g > 1e-4", site, diff)
		}
		// Row 1 is a prefix of golden prompt 2: causal, so its values are the golden's first T positions.
		want2, _, err := g.Float32("p2." + site)
		if err != nil {
			t.Fatal(err)
		}
		if diff := maxDiff(got[len(want):], want2[:len(want)]); diff > 1e-4 {
			t.Errorf("%s row 1: max abs diff %.3g > 1e-4", site, diff)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

func TestTraceErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.safetensors")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unequal rows", []string{"--ids", "1,2,3;4,5", "--out", out}, "same length"},
		{"missing out", []string{"--ids", "1,2"}, "--ids and --out are required"},
		{"missing ids", []string{"--out", out}, "--ids and --out are required"},
		{"invalid id", []string{"--ids", "1,a", "--out", out}, "invalid token id"},
		{"id out of range", []string{"--ids", "1,8192", "--out", out}, "out of range"},
		{"unknown model path", []string{"--model", "/nonexistent/model-dir", "--ids", "1", "--out", out}, "/nonexistent/model-dir"},
		{"unwritable output", []string{"--ids", "1,2", "--out", "/nonexistent/dir/x.safetensors"}, "/nonexistent/dir"},
		{"unknown flag", []string{"--ids", "1", "--out", out, "--bogus"}, "unknown flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, errOut := runCLI(t, "", append([]string{"trace"}, c.args...)...)
			if code == 0 || code == 3 {
				t.Fatalf("exit %d (want a user error), stdout %q, stderr %q", code, stdout, errOut)
			}
			if !strings.HasPrefix(errOut, "steer: ") || !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q lacks %q", errOut, c.want)
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "internal error") {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}
