//go:build hftokenizers

package main

import (
	"fmt"

	"github.com/steer-dev/steer/tokenizer/hforacle"
)

// With -tags hftokenizers, `steer tokenize --backend hf` uses Hugging Face's Rust tokenizers.
func init() {
	tokenizerBackends["hf"] = func(data []byte, name string) (encodeFunc, func(), error) {
		t, err := hforacle.LoadBytes(data, name)
		if err != nil {
			return nil, nil, err
		}
		enc := func(text string, special bool) ([]int, error) {
			if !hforacle.CanEncode(text) {
				return nil, fmt.Errorf("the hf backend cannot take text with a NUL byte or invalid UTF-8 (use --backend go)")
			}
			return t.Encode(text, special), nil
		}
		return enc, t.Close, nil
	}
}
