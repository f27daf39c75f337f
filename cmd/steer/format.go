package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// outputFormat is the --format flag shared by commands: "text" (default) or "json".
type outputFormat string

func (f *outputFormat) String() string { return string(*f) }
func (f *outputFormat) Type() string   { return "text|json" }
func (f *outputFormat) Set(v string) error {
	switch v {
	case "text", "json":
		*f = outputFormat(v)
		return nil
	}
	return &usageError{fmt.Sprintf("--format must be text or json, not %q", v)}
}

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
