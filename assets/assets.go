// Package assets embeds the default model, tiny-lm (a 12.6M-parameter Llama trained for this
// project), so that steer runs with no download and no ../shared.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed tinylm/config.json tinylm/generation_config.json tinylm/tokenizer.json tinylm/tokenizer_config.json
//go:embed tinylm/model.safetensors.index.json tinylm/model-00001-of-00003.safetensors
//go:embed tinylm/model-00002-of-00003.safetensors tinylm/model-00003-of-00003.safetensors tinylm/MODEL_CARD.md
var files embed.FS

// TinyLMName is how the embedded default model is named on the command line and in results.
const TinyLMName = "tiny-lm"

// TinyLM returns the embedded tiny-lm directory as a file system rooted at the model directory.
func TinyLM() fs.FS {
	sub, err := fs.Sub(files, "tinylm")
	if err != nil { // cannot happen: the directory is embedded at build time
		panic(err)
	}
	return sub
}
