package weights

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of the shard index of a sharded checkpoint.
const IndexFile = "model.safetensors.index.json"

// Checkpoint is a model's weights: one safetensors file, or several shards listed by
// model.safetensors.index.json. Each shard is opened once; tensors are converted on demand.
type Checkpoint struct {
	Dir    string
	files  []*File
	byName map[string]*File
}

// OpenCheckpoint opens the safetensors weights in a model directory.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	return openCheckpoint(dir, func(name string) (*File, error) { return OpenFile(filepath.Join(dir, name)) },
		func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) },
		func() ([]string, error) { return filepath.Glob(filepath.Join(dir, "*.safetensors")) })
}

// OpenCheckpointFS opens a checkpoint inside an fs.FS (such as the embedded default model).
// Each file is read into memory once.
func OpenCheckpointFS(fsys fs.FS, dir string) (*Checkpoint, error) {
	read := func(name string) ([]byte, error) { return fs.ReadFile(fsys, path.Join(dir, name)) }
	return openCheckpoint(dir, func(name string) (*File, error) {
		buf, err := read(name)
		if err != nil {
			return nil, fmt.Errorf("opening safetensors: %w", err)
		}
		return FromBytes(buf, path.Join(dir, name))
	}, read, func() ([]string, error) { return fs.Glob(fsys, path.Join(dir, "*.safetensors")) })
}

func openCheckpoint(dir string, open func(string) (*File, error), read func(string) ([]byte, error),
	glob func() ([]string, error)) (*Checkpoint, error) {
	c := &Checkpoint{Dir: dir, byName: map[string]*File{}}
	index, err := read(IndexFile)
	switch {
	case err == nil:
		if err := c.openSharded(dir, index, open); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, IndexFile), err)
	}
	f, err := open("model.safetensors")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		matches, _ := glob()
		if len(matches) != 1 {
			return nil, fmt.Errorf("%s: no model weights: expected model.safetensors or %s (found %d other .safetensors files)",
				dir, IndexFile, len(matches))
		}
		if f, err = open(filepath.Base(matches[0])); err != nil {
			return nil, err
		}
	}
	c.add(f)
	return c, nil
}

func (c *Checkpoint) openSharded(dir string, index []byte, open func(string) (*File, error)) error {
	src := filepath.Join(dir, IndexFile)
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return fmt.Errorf("%s: invalid JSON: %w", src, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("%s: missing or empty field \"weight_map\"", src)
	}
	shards := map[string]*File{}
	var names []string
	for _, shard := range idx.WeightMap {
		if _, ok := shards[shard]; !ok {
			if shard != filepath.Base(shard) || strings.Contains(shard, "..") {
				return fmt.Errorf("%s: shard name %q must be a plain file name", src, shard)
			}
			shards[shard] = nil
			names = append(names, shard)
		}
	}
	sort.Strings(names)
	for _, shard := range names {
		f, err := open(shard)
		if err != nil {
			return fmt.Errorf("shard listed in %s: %w", src, err)
		}
		shards[shard] = f
		if err := c.add(f); err != nil {
			return err
		}
	}
	for tensor, shard := range idx.WeightMap {
		f := c.byName[tensor]
		if f == nil {
			return fmt.Errorf("%s: tensor %q is mapped to %s, which does not contain it", src, tensor, shard)
		}
		if f != shards[shard] {
			return fmt.Errorf("%s: tensor %q is mapped to %s but found in %s", src, tensor, shard, f.Name)
		}
	}
	return nil
}

func (c *Checkpoint) add(f *File) error {
	c.files = append(c.files, f)
	for name := range f.tensors {
		if prev, dup := c.byName[name]; dup {
			return fmt.Errorf("tensor %q appears in both %s and %s", name, prev.Name, f.Name)
		}
		c.byName[name] = f
	}
	return nil
}

// Close releases every shard.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Names returns all tensor names, sorted.
func (c *Checkpoint) Names() []string {
	out := make([]string, 0, len(c.byName))
	for n := range c.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Has reports whether the checkpoint holds the tensor.
func (c *Checkpoint) Has(name string) bool { _, ok := c.byName[name]; return ok }

// Info describes a tensor.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Float32 returns a floating-point tensor converted to float32, and its shape. A missing tensor is
// an error naming it and the checkpoint directory: never substitute random or zero weights.
func (c *Checkpoint) Float32(name string) ([]float32, []int, error) {
	f, ok := c.byName[name]
	if !ok {
		all := map[string]TensorInfo{}
		for _, f := range c.files {
			for k, v := range f.tensors {
				all[k] = v
			}
		}
		return nil, nil, fmt.Errorf("%s: missing tensor %q%s", c.Dir, name, suggest(name, all))
	}
	return f.Float32(name)
}

// Raw returns a tensor's bytes as stored, aliasing the mapped file.
func (c *Checkpoint) Raw(name string) ([]byte, TensorInfo, error) {
	f, ok := c.byName[name]
	if !ok {
		return nil, TensorInfo{}, fmt.Errorf("%s: missing tensor %q", c.Dir, name)
	}
	return f.Raw(name)
}

// NumParams returns the total number of elements over all tensors.
func (c *Checkpoint) NumParams() int64 {
	var n int64
	for _, f := range c.files {
		for _, t := range f.tensors {
			n += int64(t.NumElements())
		}
	}
	return n
}

// DTypes counts elements per stored dtype.
func (c *Checkpoint) DTypes() map[DType]int64 {
	out := map[DType]int64{}
	for _, f := range c.files {
		for _, t := range f.tensors {
			out[t.DType] += int64(t.NumElements())
		}
	}
	return out
}
