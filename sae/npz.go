package sae

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// NPYArray is a float array read from a .npy file (float32 or float64 data, converted to float32).
type NPYArray struct {
	Shape []int
	Data  []float32
}

// ReadNPZ reads every array of a NumPy .npz archive (stored or deflated). Only little-endian
// float32 ('<f4') and float64 ('<f8') arrays in C order are supported; anything else is an error naming
// the file and the array.
func ReadNPZ(path string) (map[string]NPYArray, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("sae: reading %s: %w", path, err)
	}
	defer zr.Close()
	out := map[string]NPYArray{}
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("sae: %s: %s: %w", path, f.Name, err)
		}
		arr, err := ReadNPY(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("sae: %s: array %s: %w", path, name, err)
		}
		out[name] = arr
	}
	return out, nil
}

var (
	npyDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// maxNPYElems bounds an array's element count (2^34, 64 GiB of float32): larger shapes are corrupt.
const maxNPYElems = 1 << 34

// ReadNPY reads one .npy stream (format versions 1, 2 and 3).
func ReadNPY(r io.Reader) (NPYArray, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return NPYArray{}, fmt.Errorf("npy: short header: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return NPYArray{}, fmt.Errorf("npy: bad magic %q", pre[:6])
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return NPYArray{}, fmt.Errorf("npy: short header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return NPYArray{}, fmt.Errorf("npy: short header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return NPYArray{}, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return NPYArray{}, fmt.Errorf("npy: header length %d too large", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return NPYArray{}, fmt.Errorf("npy: short header: %w", err)
	}
	h := string(hb)
	m := npyDescr.FindStringSubmatch(h)
	if m == nil {
		return NPYArray{}, fmt.Errorf("npy: header without descr: %q", h)
	}
	descr := m[1]
	if fm := npyFortran.FindStringSubmatch(h); fm == nil {
		return NPYArray{}, fmt.Errorf("npy: header without fortran_order: %q", h)
	} else if fm[1] == "True" {
		return NPYArray{}, fmt.Errorf("npy: fortran_order arrays are not supported (save with C order)")
	}
	sm := npyShape.FindStringSubmatch(h)
	if sm == nil {
		return NPYArray{}, fmt.Errorf("npy: header without shape: %q", h)
	}
	var shape []int
	n := 1
	for _, p := range strings.Split(sm[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return NPYArray{}, fmt.Errorf("npy: bad shape %q", sm[1])
		}
		if d > 0 && n > maxNPYElems/d {
			return NPYArray{}, fmt.Errorf("npy: shape %q has more than %d elements", sm[1], maxNPYElems)
		}
		shape = append(shape, d)
		n *= d
	}
	var size int
	switch descr {
	case "<f4":
		size = 4
	case "<f8":
		size = 8
	default:
		return NPYArray{}, fmt.Errorf("npy: unsupported dtype %q (want '<f4' or '<f8')", descr)
	}
	// Read what the stream holds (at most the shape's bytes) before trusting the header's size: a
	// corrupt header must not allocate gigabytes.
	raw, err := io.ReadAll(io.LimitReader(r, int64(n)*int64(size)))
	if err != nil {
		return NPYArray{}, fmt.Errorf("npy: reading data: %w", err)
	}
	if len(raw) != n*size {
		return NPYArray{}, fmt.Errorf("npy: truncated data: %d bytes, the shape %v needs %d", len(raw), shape, n*size)
	}
	data := make([]float32, n)
	for i := range data {
		if size == 4 {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		} else {
			data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	}
	return NPYArray{Shape: shape, Data: data}, nil
}
