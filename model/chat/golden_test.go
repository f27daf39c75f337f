package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
)

type goldenCase struct {
	Template            string          `json:"template"`
	Conversation        string          `json:"conversation"`
	Messages            json.RawMessage `json:"messages"`
	AddGenerationPrompt bool            `json:"add_generation_prompt"`
	BosToken            string          `json:"bos_token"`
	EosToken            string          `json:"eos_token"`
	Rendered            string          `json:"rendered"`
}

// TestGolden renders the 12 jinja2 goldens (both through Render and RenderJSON).
func TestGolden(t *testing.T) {
	path := sharedtest.Path(t, "fixtures/chat_templates/golden.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) != 12 {
		t.Fatalf("golden has %d cases, want 12", len(golden.Cases))
	}
	matched := 0
	for _, c := range golden.Cases {
		name := c.Template + "/" + c.Conversation
		if c.AddGenerationPrompt {
			name += "/gen"
		}
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(filepath.Dir(path), c.Template))
			if err != nil {
				t.Fatal(err)
			}
			tmpl, err := New(string(src), map[string]string{"bos_token": c.BosToken, "eos_token": c.EosToken})
			if err != nil {
				t.Fatal(err)
			}
			got, err := RenderJSON(tmpl, c.Messages, c.AddGenerationPrompt)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Rendered {
				t.Fatalf("RenderJSON mismatch\n got: %q\nwant: %q", got, c.Rendered)
			}
			var msgs []Message
			if err := json.Unmarshal(c.Messages, &msgs); err != nil {
				t.Fatal(err)
			}
			got, err = tmpl.Render(msgs, c.AddGenerationPrompt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Rendered {
				t.Fatalf("Render mismatch\n got: %q\nwant: %q", got, c.Rendered)
			}
			matched++
		})
	}
	t.Logf("%d/%d goldens match", matched, len(golden.Cases))
}
