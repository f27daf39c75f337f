package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/model/chat"
	"github.com/steer-dev/steer/model/sample"
	"github.com/steer-dev/steer/tokenizer"
)

// resolveModel is the single place where generate and trace turn a --model argument into a model
// source ("" = the embedded tiny-lm, a local directory, or a hub id: see resolveModelSource).
// Download progress, if any, goes to progress.
func resolveModel(cmd *cobra.Command, arg string, progress io.Writer) (*modelSource, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return resolveModelSource(ctx, arg, progress)
}

// loadModel loads a resolved model on the backend named by config ("" = $STEER_BACKEND, else go).
func loadModel(src *modelSource, backend string) (*model.Model, error) {
	opts := []model.Option{model.WithBackendConfig(backend), model.WithName(src.Name)}
	if src.Dir != "" {
		return model.Load(src.Dir, opts...)
	}
	return model.LoadFS(src.FS, ".", opts...)
}

// loadTokenizer reads the model's tokenizer.json.
func loadTokenizer(src *modelSource) (*tokenizer.Tokenizer, error) {
	data, name, err := src.tokenizerJSON()
	if err != nil {
		return nil, err
	}
	return tokenizer.FromBytes(data, name)
}

// generationEOS returns the eos ids of generation_config.json (which override config.json's), or nil.
func generationEOS(src *modelSource) []int {
	data, err := fs.ReadFile(src.FS, "generation_config.json")
	if err != nil {
		return nil
	}
	var gc struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if json.Unmarshal(data, &gc) != nil || len(gc.EOS) == 0 {
		return nil
	}
	var one int
	if json.Unmarshal(gc.EOS, &one) == nil {
		return []int{one}
	}
	var many []int
	if json.Unmarshal(gc.EOS, &many) == nil {
		return many
	}
	return nil
}

// parseIDList parses "1,2,3" (spaces allowed).
func parseIDList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("invalid token id %q", f)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no token ids in %q", s)
	}
	return out, nil
}

// renderChatPrompt renders a conversation (optional system message, then the user message) with the
// model's chat template (chat_template.jinja or tokenizer_config.json), ending with the generation prompt.
func renderChatPrompt(src *modelSource, system, user string) (string, error) {
	tmpl, err := chat.LoadTemplateFS(src.FS)
	if err != nil {
		return "", fmt.Errorf("--chat: model %s: %w", src.Name, err)
	}
	var msgs []chat.Message
	if system != "" {
		msgs = append(msgs, chat.Message{"role": "system", "content": system})
	}
	msgs = append(msgs, chat.Message{"role": "user", "content": user})
	return tmpl.Render(msgs, true, nil)
}

type generateResult struct {
	IDs  []int  `json:"ids"`
	Text string `json:"text"`
}

func newGenerateCmd(s *ioStreams) *cobra.Command {
	var (
		modelArg, prompt, promptIDs, backend string
		system                               string
		chatMode                             bool
		n                                    int
		params                               sample.Params
		stops                                []string
		format                               = outputFormat("text")
	)
	cmd := &cobra.Command{
		Use:   "generate (--prompt TEXT | --prompt-ids 1,2,3)",
		Short: "Generate a continuation of a prompt (greedy by default; sampling with --temperature)",
		Long: "Generate a continuation of a prompt with a KV cache, streaming tokens as they come.\n" +
			"Without --model, the embedded tiny-lm. --format json prints {\"ids\": [prompt and new ids], \"text\": ...}.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (prompt == "") == (promptIDs == "") {
				return &usageError{"give exactly one of --prompt or --prompt-ids"}
			}
			if n <= 0 {
				return &usageError{fmt.Sprintf("-n must be positive, got %d", n)}
			}
			if err := params.Validate(); err != nil {
				return &usageError{err.Error()}
			}
			src, err := resolveModel(cmd, modelArg, s.ErrOut)
			if err != nil {
				return err
			}
			tok, tokErr := loadTokenizer(src)
			var ids []int
			if prompt != "" {
				if tokErr != nil {
					return fmt.Errorf("--prompt needs the model's tokenizer: %w", tokErr)
				}
				if chatMode {
					rendered, err := renderChatPrompt(src, system, prompt)
					if err != nil {
						return err
					}
					// The template writes BOS and role markers itself, as transformers'
					// apply_chat_template(tokenize=True) does: no special tokens are added.
					ids = tok.Encode(rendered, false)
				} else {
					ids = tok.Encode(prompt, true)
				}
				if len(ids) == 0 {
					return fmt.Errorf("the prompt encodes to no tokens")
				}
			} else if ids, err = parseIDList(promptIDs); err != nil {
				return &usageError{"--prompt-ids: " + err.Error()}
			}
			if system != "" && !chatMode {
				return &usageError{"--system needs --chat"}
			}
			if chatMode && prompt == "" {
				return &usageError{"--chat needs --prompt (the user message)"}
			}
			if len(stops) > 0 && tokErr != nil {
				return fmt.Errorf("--stop needs the model's tokenizer: %w", tokErr)
			}
			m, err := loadModel(src, backend)
			if err != nil {
				return err
			}
			samplers, err := sample.NewBatch(params, 1)
			if err != nil {
				return &usageError{err.Error()}
			}
			decode := func(ids []int) string {
				if tok == nil {
					return ""
				}
				return tok.Decode(ids, true)
			}
			all := append([]int(nil), ids...)
			var newIDs []int
			printed := ""
			stream := format == "text" && tok != nil
			started := false
			opts := model.GenerateOptions{
				MaxNewTokens: n,
				EOS:          generationEOS(src),
				Select:       func(row int, logits []float32) int { return samplers[row].Next(logits) },
				OnToken: func(row, id int) bool {
					if stream && !started { // the prompt is printed once Generate has validated it
						started = true
						printed = decode(all)
						fmt.Fprint(s.Out, printed)
					}
					all = append(all, id)
					newIDs = append(newIDs, id)
					if stream {
						full := decode(all)
						if strings.HasPrefix(full, printed) && !strings.HasSuffix(full, string(utf8.RuneError)) {
							fmt.Fprint(s.Out, full[len(printed):])
							printed = full
						}
					}
					if len(stops) > 0 {
						text := decode(newIDs)
						for _, st := range stops {
							if st != "" && strings.Contains(text, st) {
								return false
							}
						}
					}
					return true
				},
			}
			if opts.EOS == nil {
				opts.EOS = m.Config.EOSTokenIDs
			}
			gen, err := m.Generate([][]int{ids}, opts)
			if err != nil {
				return err
			}
			text := decode(gen.IDs[0])
			if format == "json" {
				return writeJSON(s.Out, generateResult{IDs: gen.IDs[0], Text: text})
			}
			if !stream {
				// No tokenizer: print the ids.
				strs := make([]string, len(gen.IDs[0]))
				for i, id := range gen.IDs[0] {
					strs[i] = strconv.Itoa(id)
				}
				fmt.Fprintln(s.Out, strings.Join(strs, ","))
				return nil
			}
			if strings.HasPrefix(text, printed) {
				fmt.Fprint(s.Out, text[len(printed):])
			}
			fmt.Fprintln(s.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelArg, "model", "", "model directory (default: the embedded tiny-lm)")
	f.StringVar(&prompt, "prompt", "", "prompt text (encoded with the model's tokenizer, special tokens added)")
	f.StringVar(&promptIDs, "prompt-ids", "", "prompt as comma-separated token ids")
	f.IntVarP(&n, "max-new-tokens", "n", 32, "maximum number of new tokens")
	f.Float64Var(&params.Temperature, "temperature", 0, "sampling temperature (0 = greedy)")
	f.IntVar(&params.TopK, "top-k", 0, "keep the K most likely tokens (0 = off)")
	f.Float64Var(&params.TopP, "top-p", 1, "nucleus sampling threshold (1 = off)")
	f.Float64Var(&params.MinP, "min-p", 0, "drop tokens below min-p times the top probability (0 = off)")
	f.Uint64Var(&params.Seed, "seed", 0, "random seed for sampling")
	f.BoolVar(&chatMode, "chat", false, "wrap --prompt as a user message in the model's chat template (with the generation prompt)")
	f.StringVar(&system, "system", "", "with --chat: a system message before the user message")
	f.StringArrayVar(&stops, "stop", nil, "stop when the generated text contains this string (repeatable)")
	f.StringVar(&backend, "backend", "", "compute backend: go (default), xla:cuda, xla:/path/plugin.so (or $STEER_BACKEND)")
	f.Var(&format, "format", "output format: text or json")
	return cmd
}
