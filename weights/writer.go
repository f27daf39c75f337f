package weights

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// WriteTensor is one tensor to write: raw little-endian bytes with a dtype and shape.
type WriteTensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32Tensor encodes float32 values.
func F32Tensor(name string, shape []int, data []float32) WriteTensor {
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return WriteTensor{Name: name, DType: F32, Shape: shape, Data: buf}
}

// BF16Tensor encodes float32 values as bfloat16 (round to nearest even).
func BF16Tensor(name string, shape []int, data []float32) WriteTensor {
	buf := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(buf[2*i:], Float32ToBF16(v))
	}
	return WriteTensor{Name: name, DType: BF16, Shape: shape, Data: buf}
}

// I64Tensor encodes int64 values.
func I64Tensor(name string, shape []int, data []int64) WriteTensor {
	buf := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
	}
	return WriteTensor{Name: name, DType: I64, Shape: shape, Data: buf}
}

// I32Tensor encodes int32 values.
func I32Tensor(name string, shape []int, data []int32) WriteTensor {
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
	}
	return WriteTensor{Name: name, DType: I32, Shape: shape, Data: buf}
}

// WriteFile writes a safetensors file atomically: it writes a temporary file in the same directory,
// syncs it and renames it over path, so a crash or a full disk never leaves a half-written file
// under the final name. Tensors are stored sorted by name, the header padded to 8 bytes.
func WriteFile(path string, tensors []WriteTensor, metadata map[string]string) (err error) {
	header, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return WriteAtomic(path, func(w *bufio.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		for _, i := range order {
			if _, err := w.Write(tensors[i].Data); err != nil {
				return err
			}
		}
		return nil
	})
}

func buildHeader(tensors []WriteTensor, metadata map[string]string) ([]byte, []int, error) {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return tensors[order[a]].Name < tensors[order[b]].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for k, i := range order {
		t := tensors[i]
		if k > 0 && tensors[order[k-1]].Name == t.Name {
			return nil, nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		if t.Name == "" || t.Name == "__metadata__" {
			return nil, nil, fmt.Errorf("invalid tensor name %q", t.Name)
		}
		if t.DType.Size() == 0 {
			return nil, nil, fmt.Errorf("tensor %q: unsupported dtype %q", t.Name, t.DType)
		}
		elems := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			elems *= int64(d)
		}
		if want := elems * int64(t.DType.Size()); int64(len(t.Data)) != want {
			return nil, nil, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, got %d", t.Name, t.Shape, t.DType, want, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": [2]int64{offset, offset + int64(len(t.Data))}}
		offset += int64(len(t.Data))
	}
	buf, err := json.Marshal(header)
	if err != nil {
		return nil, nil, err
	}
	for len(buf)%8 != 0 {
		buf = append(buf, ' ')
	}
	return buf, order, nil
}

// WriteAtomic writes path through a temporary file in the same directory that is synced and renamed
// into place only when fill succeeds; on any error the temporary file is removed and path is untouched.
func WriteAtomic(path string, fill func(*bufio.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = fill(w); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil { // persist the rename
		d.Sync()
		d.Close()
	}
	return nil
}
