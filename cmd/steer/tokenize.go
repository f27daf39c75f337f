package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/steer-dev/steer/tokenizer"
)

// encodeFunc is what tokenize needs from a tokenizer backend.
type encodeFunc func(text string, addSpecialTokens bool) ([]int, error)

// tokenizerBackends maps --backend names to loaders; builds with the hftokenizers tag add "hf".
var tokenizerBackends = map[string]func(data []byte, name string) (encodeFunc, func(), error){
	"go": func(data []byte, name string) (encodeFunc, func(), error) {
		t, err := tokenizer.FromBytes(data, name)
		if err != nil {
			return nil, nil, err
		}
		return func(text string, special bool) ([]int, error) { return t.Encode(text, special), nil }, func() {}, nil
	},
}

func newTokenizeCmd(s *ioStreams) *cobra.Command {
	var (
		path    string
		special bool
		backend string
	)
	cmd := &cobra.Command{
		Use:   "tokenize [--tokenizer PATH] [--special]",
		Short: "Tokenize JSON lines {\"text\": ...} from stdin into JSON lines {\"ids\": [...]}",
		Long: "Tokenize JSON lines {\"text\": \"...\"} read from stdin and write one JSON line {\"ids\": [...]} per input line.\n" +
			"PATH is a tokenizer.json file or a model directory holding one; without it, the embedded tiny-lm's.\n" +
			"--special adds special tokens as Hugging Face's add_special_tokens=True does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			load, ok := tokenizerBackends[backend]
			if !ok {
				return &usageError{fmt.Sprintf("unknown tokenizer backend %q (this build has: %s)", backend, backendNames())}
			}
			data, name, err := readTokenizerJSON(path)
			if err != nil {
				return err
			}
			enc, closeFn, err := load(data, name)
			if err != nil {
				return err
			}
			defer closeFn()
			return tokenizeLines(s.In, s.Out, enc, special)
		},
	}
	cmd.Flags().StringVar(&path, "tokenizer", "", "tokenizer.json file or model directory (default: embedded tiny-lm)")
	cmd.Flags().BoolVar(&special, "special", false, "add special tokens (BOS/EOS, templates) like add_special_tokens=True")
	cmd.Flags().StringVar(&backend, "backend", "go", "tokenizer implementation: "+backendNames())
	return cmd
}

func backendNames() string {
	if _, ok := tokenizerBackends["hf"]; ok {
		return "go, hf"
	}
	return "go (hf needs a build with -tags hftokenizers)"
}

func readTokenizerJSON(path string) ([]byte, string, error) {
	if path == "" {
		src, err := resolveModelSource(context.Background(), "", nil)
		if err != nil {
			return nil, "", err
		}
		return src.tokenizerJSON()
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, path, fmt.Errorf("reading tokenizer: %w", err)
	}
	return data, path, nil
}

// tokenizeLines streams JSON lines; a bad line is an error naming its line number.
func tokenizeLines(in io.Reader, out io.Writer, enc encodeFunc, special bool) error {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<16)
	defer w.Flush()
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			var rec struct {
				Text *string `json:"text"`
			}
			if jerr := json.Unmarshal(raw, &rec); jerr != nil {
				return fmt.Errorf("stdin line %d: invalid JSON: %v", line, jerr)
			}
			if rec.Text == nil {
				return fmt.Errorf("stdin line %d: missing string field \"text\"", line)
			}
			ids, eerr := enc(*rec.Text, special)
			if eerr != nil {
				return fmt.Errorf("stdin line %d: %w", line, eerr)
			}
			if ids == nil {
				ids = []int{}
			}
			b, _ := json.Marshal(struct {
				IDs []int `json:"ids"`
			}{ids})
			w.Write(b)
			if werr := w.WriteByte('\n'); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
}
