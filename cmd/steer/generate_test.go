package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/steer-dev/steer/weights"
)

// tiny-lm's golden references (transformers): prompts, greedy continuations, logits and residuals.
const (
	goldenTensors = "../../assets/tinylm/golden.safetensors"
	goldenJSON    = "../../assets/tinylm/golden.json"
)

func openGolden(t *testing.T) *weights.File {
	t.Helper()
	f, err := weights.OpenFile(goldenTensors)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func goldenIDs(t *testing.T, f *weights.File, name string) []int {
	t.Helper()
	v, _, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func idList(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

// generateJSON runs `steer generate --format json` and decodes its output.
func generateJSON(t *testing.T, args ...string) generateResult {
	t.Helper()
	code, out, errOut := runCLI(t, "", append([]string{"generate", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("generate %v: exit %d: %s", args, code, errOut)
	}
	var res generateResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("generate %v: bad json %q: %v", args, out, err)
	}
	if res.IDs == nil {
		t.Fatalf("generate %v: no ids in %q", args, out)
	}
	return res
}

func TestGenerateGoldenPromptIDs(t *testing.T) {
	g := openGolden(t)
	for _, p := range []int{0, 1, 4} {
		prompt := goldenIDs(t, g, fmt.Sprintf("p%d.input_ids", p))
		want := goldenIDs(t, g, fmt.Sprintf("p%d.greedy_ids", p))
		res := generateJSON(t, "--prompt-ids", idList(prompt), "-n", strconv.Itoa(len(want)-len(prompt)))
		if !slices.Equal(res.IDs, want) {
			t.Errorf("prompt %d: ids\n got %v\nwant %v", p, res.IDs, want)
		}
		if res.Text == "" {
			t.Errorf("prompt %d: empty text", p)
		}
	}
}

func TestGenerateGoldenText(t *testing.T) {
	g := openGolden(t)
	var gj struct {
		Prompts     []string          `json:"prompts"`
		Generations map[string]string `json:"generations"`
	}
	data, err := os.ReadFile(goldenJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &gj); err != nil {
		t.Fatal(err)
	}
	const p = 0
	want := goldenIDs(t, g, fmt.Sprintf("p%d.greedy_ids", p))
	n := len(want) - len(goldenIDs(t, g, fmt.Sprintf("p%d.input_ids", p)))
	res := generateJSON(t, "--prompt", gj.Prompts[p], "-n", strconv.Itoa(n))
	if !slices.Equal(res.IDs, want) {
		t.Errorf("ids\n got %v\nwant %v", res.IDs, want)
	}
	// golden.json's continuation is at least as long as ours: ours is a prefix of it.
	if full := gj.Generations[gj.Prompts[p]]; !strings.HasPrefix(full, res.Text) || !strings.HasPrefix(res.Text, gj.Prompts[p]) {
		t.Errorf("text %q is not a prefix of the golden continuation %q", res.Text, full)
	}

	// Text output streams the same text.
	code, out, errOut := runCLI(t, "", "generate", "--prompt", gj.Prompts[p], "-n", strconv.Itoa(n))
	if code != 0 || strings.TrimSuffix(out, "\n") != res.Text {
		t.Errorf("text output: exit %d, %q (stderr %q), want %q", code, out, errOut, res.Text)
	}
}

func TestGenerateSamplingSeed(t *testing.T) {
	args := []string{"--prompt-ids", "1,300,42,7", "-n", "24", "--temperature", "0.9", "--top-k", "50"}
	a := generateJSON(t, append(args, "--seed", "7")...)
	b := generateJSON(t, append(args, "--seed", "7")...)
	if !slices.Equal(a.IDs, b.IDs) || a.Text != b.Text {
		t.Errorf("same seed, different outputs:\n%v\n%v", a.IDs, b.IDs)
	}
	differs := false
	for seed := 8; seed < 12 && !differs; seed++ {
		c := generateJSON(t, append(args, "--seed", strconv.Itoa(seed))...)
		differs = !slices.Equal(a.IDs, c.IDs)
	}
	if !differs {
		t.Errorf("seeds 7..11 all gave %v: the seed is ignored", a.IDs)
	}
}

func TestGenerateStop(t *testing.T) {
	g := openGolden(t)
	prompt := goldenIDs(t, g, "p0.input_ids")
	full := generateJSON(t, "--prompt-ids", idList(prompt), "-n", "48")
	// "fortune" is in the greedy continuation ("... not to be a man of fortune. I am sure ...").
	const stop = "fortune"
	if !strings.Contains(full.Text, stop) {
		t.Fatalf("test premise: %q lacks %q", full.Text, stop)
	}
	res := generateJSON(t, "--prompt-ids", idList(prompt), "-n", "48", "--stop", stop)
	if len(res.IDs) >= len(full.IDs) || !slices.Equal(res.IDs, full.IDs[:len(res.IDs)]) {
		t.Fatalf("stop: ids %v are not a proper prefix of %v", res.IDs, full.IDs)
	}
	if !strings.Contains(res.Text, stop) {
		t.Errorf("stop: text %q lacks %q", res.Text, stop)
	}
	// It stopped at the first token that completed the stop string: one token less lacks it.
	less := generateJSON(t, "--prompt-ids", idList(prompt), "-n", strconv.Itoa(len(res.IDs)-len(prompt)-1))
	if strings.Contains(less.Text, stop) {
		t.Errorf("stop: generation went on after %q: %q", stop, res.Text)
	}
}

func TestGenerateErrors(t *testing.T) {
	long := make([]int, 513) // tiny-lm's context is 512 positions
	for i := range long {
		long[i] = 5
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown model path", []string{"--model", "/nonexistent/model-dir", "--prompt-ids", "1,2"}, "/nonexistent/model-dir"},
		{"prompt longer than context", []string{"--prompt-ids", idList(long)}, "longer than the model's context"},
		{"id out of range", []string{"--prompt-ids", "1,99999"}, "out of range"},
		{"negative id", []string{"--prompt-ids", "-3"}, "out of range"},
		{"non-numeric id", []string{"--prompt-ids", "1,x"}, "invalid token id"},
		{"no ids", []string{"--prompt-ids", ","}, "no token ids"},
		{"no prompt", []string{}, "exactly one of --prompt or --prompt-ids"},
		{"both prompts", []string{"--prompt", "hi", "--prompt-ids", "1"}, "exactly one of --prompt or --prompt-ids"},
		{"zero tokens", []string{"--prompt-ids", "1", "-n", "0"}, "-n must be positive"},
		{"bad temperature", []string{"--prompt-ids", "1", "--temperature", "-1"}, "temperature"},
		{"bad flag value", []string{"--prompt-ids", "1", "-n", "many"}, "invalid argument"},
		{"unknown flag", []string{"--prompt-ids", "1", "--bogus"}, "unknown flag"},
		{"bad format", []string{"--prompt-ids", "1", "--format", "xml"}, "xml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append([]string{"generate"}, c.args...)...)
			if code == 0 || code == 3 {
				t.Fatalf("exit %d (want a user error), stdout %q, stderr %q", code, out, errOut)
			}
			if !strings.HasPrefix(errOut, "steer: ") || !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q lacks %q", errOut, c.want)
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "internal error") || strings.Count(errOut, "\n") > 1 {
				t.Errorf("stderr should be one clear line: %q", errOut)
			}
		})
	}
}
