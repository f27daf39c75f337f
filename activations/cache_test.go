package activations

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/weights"
)

func cacheCfg(t *testing.T) Config {
	m, tok := tiny(t)
	return Config{Model: m, Tokenizer: tok, Site: "resid_post.1", ContextSize: 32, BatchSize: 4, Tokens: 1000, Normalize: true, NormTokens: 100}
}

func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestCacheResume: a run cancelled after 2 shards, then rerun, leaves exactly the files of an
// uninterrupted run (shards and manifest byte for byte).
func TestCacheResume(t *testing.T) {
	cfg := cacheCfg(t)
	opts := CacheOptions{ShardRows: 200, Seed: 3}
	full := t.TempDir()
	m, err := Cache(context.Background(), cfg, full, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Complete || m.Tokens != 1000 || len(m.Shards) < 4 || m.Scale == 1 {
		t.Fatalf("manifest %+v", m)
	}
	part := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o := opts
	o.afterShard = func(k int) {
		if k == 1 {
			cancel()
		}
	}
	m2, err := Cache(ctx, cfg, part, o)
	if !errors.Is(err, context.Canceled) || len(m2.Shards) != 2 || m2.Complete {
		t.Fatalf("interrupted run: err %v, %d shards", err, len(m2.Shards))
	}
	mid, _ := ReadManifest(part)
	if len(mid.Shards) != 2 || mid.Complete {
		t.Fatalf("manifest after the interruption: %+v", mid)
	}
	if _, err := Cache(context.Background(), cfg, part, opts); err != nil {
		t.Fatal(err)
	}
	a, b := dirFiles(t, full), dirFiles(t, part)
	if len(a) != len(b) {
		t.Fatalf("files %d vs %d", len(a), len(b))
	}
	for name, data := range a {
		if !slices.Equal(data, b[name]) {
			t.Errorf("%s differs after resuming", name)
		}
	}
	// The cache reads back as a shuffled permutation of the rows; other settings are refused.
	src, err := OpenCache(full, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Verify(); err != nil {
		t.Fatal(err)
	}
	rows := collect(t, src)
	if len(rows) != 1000*384 {
		t.Fatalf("%d rows read", len(rows)/384)
	}
	st, err := NewStream(cfg, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	direct := collect(t, st)
	key := func(x []float32) []string {
		var k []string
		for i := 0; i < len(x); i += 384 {
			k = append(k, string(float32Bytes(x[i:i+384])))
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(key(rows), key(direct)) {
		t.Error("cache rows are not a permutation of the streamed rows")
	}
	if slices.Equal(rows[:384], direct[:384]) {
		t.Error("cache not shuffled")
	}
	other := cfg
	other.Site = "resid_post.2"
	if _, err := Cache(context.Background(), other, full, opts); err == nil || !strings.Contains(err.Error(), "site resid_post.1, now resid_post.2") {
		t.Errorf("different settings: %v", err)
	}
}

// TestCacheWriteFailure: a full disk while writing shard 2 fails naming the path; the manifest still
// lists the 2 complete shards, no partial file is left, and a rerun completes the cache identically.
func TestCacheWriteFailure(t *testing.T) {
	cfg := cacheCfg(t)
	opts := CacheOptions{ShardRows: 200}
	full := t.TempDir()
	if _, err := Cache(context.Background(), cfg, full, opts); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls := 0
	bad := opts
	bad.writeFile = func(path string, ts []weights.WriteTensor, meta map[string]string) error {
		calls++
		if calls == 3 { // disk full halfway through the shard
			return weights.WriteAtomic(path, func(w *bufio.Writer) error {
				w.Write(make([]byte, 1000))
				w.Flush()
				return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
			})
		}
		return weights.WriteFile(path, ts, meta)
	}
	_, err := Cache(context.Background(), cfg, dir, bad)
	want := filepath.Join(dir, "shard-00002.safetensors")
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v does not name %s / ENOSPC", err, want)
	}
	m, err := ReadManifest(dir)
	if err != nil || len(m.Shards) != 2 || m.Complete {
		t.Fatalf("manifest after the failure: %+v, %v", m, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 { // manifest + 2 shards, no temporary or partial file
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("files after the failure: %v", names)
	}
	if _, err := Cache(context.Background(), cfg, dir, opts); err != nil {
		t.Fatal(err)
	}
	a, b := dirFiles(t, full), dirFiles(t, dir)
	for name, data := range a {
		if !slices.Equal(data, b[name]) {
			t.Errorf("%s differs after recovering from the failure", name)
		}
	}
}

// TestNonFinite: a NaN activation is an error naming the site, shard and row; so is a NaN in a cache file.
func TestNonFinite(t *testing.T) {
	cfg := cacheCfg(t)
	calls := 0
	cfg.mutate = func(a *model.Activation) {
		calls++
		if calls == 5 {
			a.Data[3*384+7] = float32(math.NaN()) // context 0 of the batch, position 3
		}
	}
	_, err := Cache(context.Background(), cfg, t.TempDir(), CacheOptions{ShardRows: 200})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "NaN activation at resid_post.1, shard-00002.safetensors row 2 before shuffling") {
		t.Fatalf("error %v", err)
	}
	dir := t.TempDir()
	data := make([]float32, 10*384)
	data[5*384+2] = float32(math.Inf(1))
	if err := weights.WriteFile(filepath.Join(dir, "shard-00000.safetensors"), []weights.WriteTensor{weights.F32Tensor("activations", []int{10, 384}, data)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := writeManifest(dir, &Manifest{Version: 1, D: 384, Shards: []Shard{{File: "shard-00000.safetensors", Rows: 10}}}); err != nil {
		t.Fatal(err)
	}
	src, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Next(make([]float32, 10*384))
	if err == nil || !strings.Contains(err.Error(), "+Inf in "+filepath.Join(dir, "shard-00000.safetensors")+" row 5") {
		t.Fatalf("error %v", err)
	}
}
