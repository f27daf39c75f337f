package activations

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-dev/steer/weights"
)

// FuzzOpenCache opens a directory holding one valid shard under an arbitrary manifest.json and reads
// every row: a manifest that does not describe the shard is an error, never a panic or a read outside
// the directory.
func FuzzOpenCache(f *testing.F) {
	f.Add([]byte(`{"version": 1, "d": 4, "shards": [{"file": "shard-00000.safetensors", "rows": 3}]}`))
	f.Add([]byte(`{"version": 1, "d": 4, "shards": [{"file": "shard-00000.safetensors", "rows": 3}, {"file": "shard-00000.safetensors", "rows": 3}]}`))
	f.Add([]byte(`{"version": 1, "d": 2, "shards": [{"file": "shard-00000.safetensors", "rows": 6}]}`))
	f.Add([]byte(`{"version": 1, "d": 4, "shards": [{"file": "../outside.safetensors", "rows": 3}]}`))
	f.Add([]byte(`{"version": 1, "d": 4, "shards": []}`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "cache")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		rows := make([]float32, 12)
		for i := range rows {
			rows[i] = float32(i)
		}
		shard := []weights.WriteTensor{weights.F32Tensor("activations", []int{3, 4}, rows)}
		for _, p := range []string{filepath.Join(dir, "shard-00000.safetensors"), filepath.Join(root, "outside.safetensors")} {
			if err := weights.WriteFile(p, shard, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, ManifestName), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCache(dir, 1)
		if err != nil {
			return
		}
		defer c.Close()
		for _, sh := range c.Manifest.Shards {
			if filepath.Base(sh.File) != sh.File {
				t.Fatalf("opened shard %q outside the cache directory", sh.File)
			}
		}
		_ = c.Verify()
		c.Skip(1)
		dst := make([]float32, c.Dim()*2)
		for n := 0; ; n++ {
			_, err := c.Next(dst)
			if errors.Is(err, io.EOF) || err != nil {
				break
			}
			if n > 1000 {
				t.Fatal("Next never ends")
			}
		}
	})
}

// FuzzDocReader reads arbitrary bytes (plain, JSONL or gzip-compressed) as text: documents or an error
// naming the line, never a panic or an endless loop.
func FuzzDocReader(f *testing.F) {
	f.Add([]byte("{\"text\": \"a b\"}\n{\"text\": \"c\"}\n"), true)
	f.Add([]byte("first doc\nstill first\n\n\nsecond\n"), false)
	f.Add([]byte("{\"text\": 3}\n"), false)
	f.Add([]byte("{\"other\": \"x\"}\n\n{"), true)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"text\": \"zipped\"}\n"))
	zw.Close()
	f.Add(gz.Bytes(), false)
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00, 1, 2, 3}, false)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		r, err := NewDocReader(bytes.NewReader(data), "fuzz", "text", jsonl)
		if err != nil {
			return
		}
		defer r.Close()
		for n := 0; n <= len(data)+1; n++ {
			doc, err := r.Next()
			if err != nil {
				return
			}
			if doc == "" {
				t.Fatal("an empty document")
			}
		}
		t.Fatalf("more documents than bytes (%d)", len(data))
	})
}
