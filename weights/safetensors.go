// Package weights reads and writes model weights: safetensors files (memory-mapped, zero copy),
// sharded Hugging Face checkpoints, and config.json for the supported architecture families.
package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/edsrzf/mmap-go"
)

// DType is a safetensors element type.
type DType string

const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	F64  DType = "F64" // read as float32 (Float32), e.g. SAELens's double-precision topk_threshold buffer

	// The other dtypes of the safetensors format: a file holding them opens (their layout is checked),
	// Int64 reads the integer ones, and reading the float8 ones as float32 is an error naming the tensor
	// (FP8 checkpoints need their scale tensors, which steer does not apply).
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	Bool   DType = "BOOL"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	F8E8M0 DType = "F8_E8M0"
	C64    DType = "C64"
)

// Size returns the element size in bytes, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case Bool, U8, I8, F8E4M3, F8E5M2, F8E8M0:
		return 1
	case F16, BF16, I16, U16:
		return 2
	case F32, I32, U32:
		return 4
	case I64, F64, U64, C64:
		return 8
	}
	return 0
}

// IsFloat reports whether the dtype is a floating-point type.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// maxHeaderSize bounds the JSON header, as the reference implementation does (100 MB).
const maxHeaderSize = 100 << 20

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are byte offsets into the data section.
	Begin, End int64
}

// NumElements returns the product of the shape.
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file. Tensor data stays in the memory-mapped (or given) buffer;
// accessors convert on demand, so a checkpoint is never held twice in RAM.
type File struct {
	Name     string // path or name used in errors
	tensors  map[string]TensorInfo
	metadata map[string]string
	data     []byte // the data section
	mapped   mmap.MMap
}

// OpenFile memory-maps and validates a safetensors file.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a safetensors file", path)
	}
	if st.Size() < 8 {
		return nil, fmt.Errorf("%s: truncated safetensors file: %d bytes, need at least 8 for the header length", path, st.Size())
	}
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: memory-mapping: %w", path, err)
	}
	sf, err := parse([]byte(m), path)
	if err != nil {
		m.Unmap()
		return nil, err
	}
	sf.mapped = m
	return sf, nil
}

// FromBytes parses a safetensors file held in memory (e.g. embedded in the binary). The buffer is
// referenced, not copied.
func FromBytes(buf []byte, name string) (*File, error) { return parse(buf, name) }

// Close releases the memory map. Slices returned by Raw are invalid afterwards.
func (f *File) Close() error {
	if f.mapped != nil {
		err := f.mapped.Unmap()
		f.mapped, f.data = nil, nil
		return err
	}
	return nil
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

func parse(buf []byte, name string) (*File, error) {
	if len(buf) < 8 {
		return nil, fmt.Errorf("%s: truncated safetensors file: %d bytes, need at least 8 for the header length", name, len(buf))
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > maxHeaderSize {
		return nil, fmt.Errorf("%s: header length %d exceeds the %d-byte limit (corrupt file?)", name, n, maxHeaderSize)
	}
	if n > uint64(len(buf)-8) {
		return nil, fmt.Errorf("%s: header length %d runs past the end of the file (%d bytes): truncated or corrupt", name, n, len(buf))
	}
	header := buf[8 : 8+n]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON header: %w", name, err)
	}
	f := &File{Name: name, tensors: make(map[string]TensorInfo, len(raw)), data: buf[8+n:]}
	dataLen := int64(len(f.data))
	for key, msg := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.metadata); err != nil {
				return nil, fmt.Errorf("%s: __metadata__ must map strings to strings: %w", name, err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: invalid header entry: %w", name, key, err)
		}
		dt := DType(e.DType)
		if dt.Size() == 0 {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q (the safetensors dtypes are F64, F32, F16, BF16, F8_E4M3, F8_E5M2, F8_E8M0, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, C64)", name, key, e.DType)
		}
		info := TensorInfo{Name: key, DType: dt, Shape: make([]int, len(e.Shape)), Begin: e.DataOffsets[0], End: e.DataOffsets[1]}
		elems := int64(1)
		for i, d := range e.Shape {
			if d < 0 || (d > 0 && elems > math.MaxInt64/8/d) {
				return nil, fmt.Errorf("%s: tensor %q: invalid shape %v", name, key, e.Shape)
			}
			elems *= d
			info.Shape[i] = int(d)
		}
		if info.Begin < 0 || info.End < info.Begin || info.End > dataLen {
			return nil, fmt.Errorf("%s: tensor %q: data offsets [%d, %d] lie outside the %d-byte data section (truncated or corrupt)",
				name, key, info.Begin, info.End, dataLen)
		}
		if want := elems * int64(dt.Size()); info.End-info.Begin != want {
			return nil, fmt.Errorf("%s: tensor %q: shape %v of %s needs %d bytes but data offsets [%d, %d] span %d",
				name, key, e.Shape, dt, want, info.Begin, info.End, info.End-info.Begin)
		}
		f.tensors[key] = info
	}
	// Overlapping tensors mean a corrupt header.
	infos := f.Tensors()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Begin < infos[j].Begin })
	for i := 1; i < len(infos); i++ {
		if infos[i].Begin < infos[i-1].End {
			return nil, fmt.Errorf("%s: tensors %q and %q overlap (bytes [%d, %d] and [%d, %d])", name,
				infos[i-1].Name, infos[i].Name, infos[i-1].Begin, infos[i-1].End, infos[i].Begin, infos[i].End)
		}
	}
	return f, nil
}

// Tensors lists the tensors sorted by name.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, 0, len(f.tensors))
	for _, t := range f.tensors {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Metadata returns the __metadata__ map (may be nil).
func (f *File) Metadata() map[string]string { return f.metadata }

// Info returns a tensor's description.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Raw returns the little-endian bytes of a tensor, aliasing the file's buffer.
func (f *File) Raw(name string) ([]byte, TensorInfo, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, t, fmt.Errorf("%s: no tensor %q%s", f.Name, name, suggest(name, f.tensors))
	}
	if f.data == nil {
		return nil, t, fmt.Errorf("%s: file is closed", f.Name)
	}
	return f.data[t.Begin:t.End], t, nil
}

// Float32 returns a tensor converted to float32 (from F32, BF16, F16 or F64) and its shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	raw, t, err := f.Raw(name)
	if err != nil {
		return nil, nil, err
	}
	out, err := toFloat32(raw, t.DType)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", f.Name, name, err)
	}
	return out, t.Shape, nil
}

// Int64 returns an integer or boolean tensor as int64 and its shape (a U64 value above the int64 range
// is an error).
func (f *File) Int64(name string) ([]int64, []int, error) {
	raw, t, err := f.Raw(name)
	if err != nil {
		return nil, nil, err
	}
	n := t.NumElements()
	out := make([]int64, n)
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(raw[i]))
		}
	case U64:
		for i := range out {
			v := binary.LittleEndian.Uint64(raw[8*i:])
			if v > math.MaxInt64 {
				return nil, nil, fmt.Errorf("%s: tensor %q: U64 value %d at %d does not fit in int64", f.Name, name, v, i)
			}
			out[i] = int64(v)
		}
	case U32:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case U16:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case U8, Bool:
		for i := range out {
			out[i] = int64(raw[i])
		}
	default:
		return nil, nil, fmt.Errorf("%s: tensor %q has dtype %s, want an integer or boolean type", f.Name, name, t.DType)
	}
	return out, t.Shape, nil
}

func toFloat32(raw []byte, dt DType) ([]float32, error) {
	n := len(raw) / dt.Size()
	out := make([]float32, n)
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case F16:
		for i := range out {
			out[i] = F16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return nil, fmt.Errorf("dtype %s cannot be read as float32 (F32, BF16, F16 and F64 can; FP8 values need their checkpoint's scales)", dt)
	}
	return out, nil
}

// F16ToFloat32 converts an IEEE 754 half-precision value, including subnormals, infinities and NaN.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// Float32ToBF16 rounds to nearest even, as PyTorch does.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f { // NaN: keep it a quiet NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// suggest names a close tensor when a lookup fails (e.g. a missing "model." prefix).
func suggest(name string, have map[string]TensorInfo) string {
	base := name[strings.LastIndex(name, ".")+1:]
	var close []string
	for k := range have {
		if strings.HasSuffix(k, name) || strings.HasSuffix(name, k) {
			close = append(close, k)
		}
	}
	if len(close) == 0 {
		for k := range have {
			if strings.HasSuffix(k, "."+base) && len(close) < 3 {
				close = append(close, k)
			}
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	if len(close) > 3 {
		close = close[:3]
	}
	return fmt.Sprintf(" (similar: %s)", strings.Join(close, ", "))
}
