package assets

import (
	"bytes"
	_ "embed"
	"io"
)

// samples is tiny-lm-samples.jsonl.xz: 2.09M tokens of unconditional samples from tiny-lm itself (16,356
// documents, one JSON object {"text": ...} per line, xz-compressed), made for this project so that
// activation harvesting and SAE training work on a fresh clone with no outside corpus.
//
//go:embed samples/tiny-lm-samples.jsonl.xz
var samples []byte

// SamplesName names the embedded sample text in results and manifests.
const SamplesName = "embedded:tiny-lm-samples.jsonl.xz"

// Samples returns the embedded tiny-lm samples (xz-compressed JSONL, field "text") and their name.
func Samples() (io.ReadCloser, string) {
	return io.NopCloser(bytes.NewReader(samples)), SamplesName
}
