package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/steer-dev/steer/assets"
	"github.com/steer-dev/steer/weights"
	"github.com/steer-dev/steer/weights/hub"
)

// modelSource is a resolved model argument: a local directory, or the embedded tiny-lm.
type modelSource struct {
	Name string // as shown to the user
	Dir  string // local directory; empty for the embedded model
	FS   fs.FS  // the model directory as a file system
}

// resolveModelSource resolves a --model argument: "" or "tiny-lm" is the embedded default; then a
// local directory; then org/name[@revision] in the Hugging Face cache, downloaded when missing
// (unless HF_HUB_OFFLINE=1). Download progress goes to progress.
func resolveModelSource(ctx context.Context, arg string, progress io.Writer) (*modelSource, error) {
	if arg == "" || arg == assets.TinyLMName {
		return &modelSource{Name: assets.TinyLMName, FS: assets.TinyLM()}, nil
	}
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.IsDir():
		abs, _ := filepath.Abs(arg)
		return &modelSource{Name: arg, Dir: abs, FS: os.DirFS(abs)}, nil
	case err == nil:
		return nil, fmt.Errorf("model %q is a file; pass the model directory (with config.json and *.safetensors)", arg)
	case errors.Is(err, fs.ErrNotExist) && strings.Count(arg, "/") == 1 && !strings.HasPrefix(arg, ".") && !filepath.IsAbs(arg):
		dir, herr := hub.Resolve(ctx, arg, hub.Options{Progress: progress})
		if herr != nil {
			return nil, fmt.Errorf("model %q: %w", arg, herr)
		}
		return &modelSource{Name: arg, Dir: dir, FS: os.DirFS(dir)}, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("model %q not found: not a local directory nor a Hugging Face repo id org/name (the embedded default is %q)",
			arg, assets.TinyLMName)
	default:
		return nil, fmt.Errorf("model %q: %w", arg, err)
	}
}

// config reads and validates the model's config.json.
func (m *modelSource) config() (*weights.Config, error) {
	if m.Dir != "" {
		return weights.LoadConfig(m.Dir)
	}
	data, err := fs.ReadFile(m.FS, "config.json")
	if err != nil {
		return nil, fmt.Errorf("%s: reading config.json: %w", m.Name, err)
	}
	return weights.ParseConfig(data, m.Name+"/config.json")
}

// checkpoint opens the weights: memory-mapped for a directory, in memory for the embedded model.
func (m *modelSource) checkpoint() (*weights.Checkpoint, error) {
	if m.Dir != "" {
		return weights.OpenCheckpoint(m.Dir)
	}
	return weights.OpenCheckpointFS(m.FS, ".")
}

// tokenizerJSON returns the bytes of the model's tokenizer.json and a name for errors.
func (m *modelSource) tokenizerJSON() ([]byte, string, error) {
	data, err := fs.ReadFile(m.FS, "tokenizer.json")
	name := filepath.Join(m.Name, "tokenizer.json")
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", name, err)
	}
	return data, name, nil
}
