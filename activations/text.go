package activations

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/steer-dev/steer/assets"
	"github.com/ulikunitz/xz"
)

// Text formats. A text file is either JSONL (one JSON object per line, the document in a string field,
// "text" by default) or plain text. Plain text is split into documents at blank lines (one or more
// empty or whitespace-only lines end a document); a single-paragraph file is one document. JSONL is
// chosen by the extension (.jsonl, .json, .ndjson, before any compression suffix) or, failing that, when
// the first non-blank byte of the content is '{'. Compression (.gz, .xz, .zst) is detected by its magic
// bytes, whatever the file is called.

// DocReader yields the documents of a text source, in order.
type DocReader struct {
	name      string
	textField string
	jsonl     bool
	br        *bufio.Reader
	closers   []io.Closer
	line      int // lines read (JSONL) / documents (plain)
	docs      int
}

// Name returns the text source's name (a path, or the embedded sample set).
func (r *DocReader) Name() string { return r.name }

// Docs returns how many documents Next has returned.
func (r *DocReader) Docs() int { return r.docs }

// OpenText opens a text file (see the package doc for the formats). An empty path opens the
// embedded tiny-lm samples (assets.Samples).
func OpenText(path, textField string) (*DocReader, error) {
	if textField == "" {
		textField = "text"
	}
	if path == "" {
		rc, name := assets.Samples()
		return newDocReader(rc, name, textField, true, []io.Closer{rc})
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("text %s is a directory; pass a .jsonl or plain-text file", path)
	}
	base := strings.ToLower(filepath.Base(path))
	for _, ext := range []string{".gz", ".xz", ".zst", ".zstd"} {
		base = strings.TrimSuffix(base, ext)
	}
	jsonl := strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".ndjson")
	r, err := newDocReader(f, path, textField, jsonl, []io.Closer{f})
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NewDocReader reads documents from r (possibly compressed); jsonl forces JSONL, else it is detected.
func NewDocReader(r io.Reader, name, textField string, jsonl bool) (*DocReader, error) {
	if textField == "" {
		textField = "text"
	}
	return newDocReader(r, name, textField, jsonl, nil)
}

func newDocReader(r io.Reader, name, textField string, jsonl bool, closers []io.Closer) (*DocReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(6)
	var dec io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("text %s: gzip: %w", name, err)
		}
		closers = append([]io.Closer{z}, closers...)
		dec = z
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("text %s: xz: %w", name, err)
		}
		dec = z
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := newZstdReader(br)
		if err != nil {
			return nil, fmt.Errorf("text %s: zstd: %w", name, err)
		}
		closers = append([]io.Closer{z}, closers...)
		dec = z
	}
	if dec != nil {
		br = bufio.NewReaderSize(dec, 1<<16)
	}
	if !jsonl {
		// Detect JSONL by content: the first non-blank byte is '{'.
		peek, _ := br.Peek(4096)
		if t := bytes.TrimLeft(peek, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			jsonl = true
		}
	}
	return &DocReader{name: name, textField: textField, jsonl: jsonl, br: br, closers: closers}, nil
}

// Close releases the underlying file.
func (r *DocReader) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// Next returns the next document, or io.EOF. Empty documents are skipped.
func (r *DocReader) Next() (string, error) {
	for {
		doc, err := r.next()
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(doc) != "" {
			r.docs++
			return doc, nil
		}
	}
}

func (r *DocReader) readLine() (string, error) {
	line, err := r.br.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("text %s: %w", r.name, err)
		}
		return "", err
	}
	r.line++
	return strings.TrimRight(line, "\r\n"), nil
}

func (r *DocReader) next() (string, error) {
	if r.jsonl {
		for {
			line, err := r.readLine()
			if err != nil {
				return "", err
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return "", fmt.Errorf("text %s line %d: not a JSON object: %v", r.name, r.line, err)
			}
			raw, ok := obj[r.textField]
			if !ok {
				return "", fmt.Errorf("text %s line %d: no %q field (choose the field with --text-field)", r.name, r.line, r.textField)
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", fmt.Errorf("text %s line %d: field %q is not a string", r.name, r.line, r.textField)
			}
			return s, nil
		}
	}
	// Plain text: a document is a run of non-blank lines.
	var b strings.Builder
	for {
		line, err := r.readLine()
		if err == io.EOF {
			if b.Len() > 0 {
				return b.String(), nil
			}
			return "", io.EOF
		}
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(line) == "" {
			if b.Len() > 0 {
				return b.String(), nil
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
}
