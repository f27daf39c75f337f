//go:build hftokenizers

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
)

// Both backends of `steer tokenize` give the same ids on the golden texts, through the CLI.
func TestTokenizeBackendsAgree(t *testing.T) {
	for _, name := range []string{"llama3", "bert-base-uncased", "sp-style-bpe"} {
		golden := sharedtest.Path(t, "fixtures/tokenizers/"+name+".golden.json")
		raw, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			Cases []struct{ Text string } `json:"cases"`
		}
		json.Unmarshal(raw, &g)
		var in strings.Builder
		for _, c := range g.Cases {
			if !strings.ContainsRune(c.Text, 0) {
				b, _ := json.Marshal(map[string]string{"text": c.Text})
				in.Write(b)
				in.WriteByte('\n')
			}
		}
		tok := sharedtest.Path(t, "fixtures/tokenizers/"+name+".tokenizer.json")
		for _, special := range []string{"--special=false", "--special=true"} {
			_, goOut, goErr := runCLI(t, in.String(), "tokenize", "--tokenizer", tok, special, "--backend", "go")
			_, hfOut, hfErr := runCLI(t, in.String(), "tokenize", "--tokenizer", tok, special, "--backend", "hf")
			if goErr != "" || hfErr != "" {
				t.Fatalf("%s: stderr go %q hf %q", name, goErr, hfErr)
			}
			gs, hs := bufio.NewScanner(strings.NewReader(goOut)), bufio.NewScanner(strings.NewReader(hfOut))
			n := 0
			for gs.Scan() && hs.Scan() {
				n++
				if gs.Text() != hs.Text() {
					t.Errorf("%s %s line %d: go %s, hf %s", name, special, n, gs.Text(), hs.Text())
				}
			}
			if n < 190 {
				t.Errorf("%s: compared only %d lines", name, n)
			}
		}
	}
	code, _, errOut := runCLI(t, `{"text": "a\u0000b"}`, "tokenize", "--backend", "hf")
	if code == 0 || !strings.Contains(errOut, "NUL") {
		t.Errorf("NUL text through hf: exit %d, %q", code, errOut)
	}
}
