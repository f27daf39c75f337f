package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// variantFixture is one file of testdata/variants, written by testdata/gen_variants.py with
// transformers' own renderer (render_jinja_template after _normalize_chat_messages).
type variantFixture struct {
	Name     string  `json:"name"`
	Imitates string  `json:"imitates"`
	Template string  `json:"template"`
	Bos      *string `json:"bos_token"`
	Eos      *string `json:"eos_token"`
	Now      string  `json:"now"`
	Cases    []struct {
		Conversation        string  `json:"conversation"`
		AddGenerationPrompt bool    `json:"add_generation_prompt"`
		Rendered            *string `json:"rendered"`
		Raise               *string `json:"raise"`
		Error               *string `json:"error"`
	} `json:"cases"`
}

// TestVariants renders every case of testdata/variants with RenderJSON and compares byte
// for byte; a raise_exception case must give a *RaiseError with the message, another
// exception any error. Every template and case is checked.
func TestVariants(t *testing.T) {
	dir := filepath.Join("testdata", "variants")
	convData, err := os.ReadFile(filepath.Join(dir, "conversations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var convs map[string]json.RawMessage
	if err := json.Unmarshal(convData, &convs); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	templates, cases := 0, 0
	for _, f := range files {
		if filepath.Base(f) == "conversations.json" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx variantFixture
		if err := json.Unmarshal(data, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		templates++
		specials := map[string]string{}
		if fx.Bos != nil {
			specials["bos_token"] = *fx.Bos
		}
		if fx.Eos != nil {
			specials["eos_token"] = *fx.Eos
		}
		now, err := time.Parse("2006-01-02T15:04:05", fx.Now)
		if err != nil {
			t.Fatalf("%s: now: %v", f, err)
		}
		t.Run(fx.Name, func(t *testing.T) {
			tmpl, err := New(fx.Template, specials)
			if err != nil {
				t.Fatalf("compiling the template (imitates %s): %v", fx.Imitates, err)
			}
			tmpl.Now = func() time.Time { return now }
			for _, c := range fx.Cases {
				cases++
				name := c.Conversation
				if c.AddGenerationPrompt {
					name += "/gen"
				}
				conv, ok := convs[c.Conversation]
				if !ok {
					t.Fatalf("%s: no conversation %q", name, c.Conversation)
				}
				got, err := RenderJSON(tmpl, conv, c.AddGenerationPrompt)
				switch {
				case c.Rendered != nil:
					if err != nil {
						t.Errorf("%s: %v", name, err)
					} else if got != *c.Rendered {
						t.Errorf("%s: %s", name, firstDiff(got, *c.Rendered))
					}
				case c.Raise != nil:
					var re *RaiseError
					if !errors.As(err, &re) || !strings.Contains(err.Error(), *c.Raise) {
						t.Errorf("%s: got (%q, %v), want raise_exception(%q)", name, got, err, *c.Raise)
					}
				case c.Error != nil:
					if err == nil {
						t.Errorf("%s: got %q, want an error (jinja2: %s)", name, got, *c.Error)
					}
				}
			}
		})
	}
	if templates != 45 || cases != 508 {
		t.Errorf("%d templates, %d cases; the sweep has 45 and 508", templates, cases)
	}
	if templates < 30 {
		t.Fatalf("only %d variant templates", templates)
	}
	t.Logf("%d templates, %d cases", templates, cases)
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	line := strings.Count(want[:i], "\n") + 1
	lo := max(0, i-40)
	return "differs at byte " + itoa(i) + " (line " + itoa(line) + ")\n  got:  …" + quote(got[lo:min(len(got), i+60)]) +
		"\n  want: …" + quote(want[lo:min(len(want), i+60)]) + "\n  full got:  " + quote(got) + "\n  full want: " + quote(want)
}

func itoa(i int) string { return strconv.Itoa(i) }

func quote(s string) string { return strconv.Quote(s) }
