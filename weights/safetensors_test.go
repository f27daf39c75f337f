package weights

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
)

// rawFile builds a safetensors file from a header string and a data section.
func rawFile(header string, data []byte) []byte {
	buf := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(buf, uint64(len(header)))
	buf = append(buf, header...)
	return append(buf, data...)
}

func TestRoundTripAllDTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	f32 := []float32{1.5, -2.25, float32(math.Inf(1)), 0, -0, 3e-39}
	i64 := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 42}
	i32 := []int32{math.MinInt32, -7, 0, 7, math.MaxInt32, 1}
	bf := []float32{1, -2, 0.5, 3.140625, 65280, -0.0078125} // exactly representable in bf16
	err := WriteFile(path, []WriteTensor{
		F32Tensor("a.f32", []int{2, 3}, f32),
		I64Tensor("b.i64", []int{6}, i64),
		I32Tensor("c.i32", []int{3, 2}, i32),
		BF16Tensor("d.bf16", []int{1, 6}, bf),
		F32Tensor("e.scalar", nil, []float32{7}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata()["format"]; got != "pt" {
		t.Errorf("metadata format = %q", got)
	}
	got, shape, err := f.Float32("a.f32")
	if err != nil || len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("a.f32: %v %v", shape, err)
	}
	for i := range f32 {
		if math.Float32bits(got[i]) != math.Float32bits(f32[i]) {
			t.Errorf("a.f32[%d] = %v, want %v", i, got[i], f32[i])
		}
	}
	gi, _, err := f.Int64("b.i64")
	if err != nil {
		t.Fatal(err)
	}
	for i := range i64 {
		if gi[i] != i64[i] {
			t.Errorf("b.i64[%d] = %d, want %d", i, gi[i], i64[i])
		}
	}
	gi, _, err = f.Int64("c.i32")
	if err != nil {
		t.Fatal(err)
	}
	for i := range i32 {
		if gi[i] != int64(i32[i]) {
			t.Errorf("c.i32[%d] = %d, want %d", i, gi[i], i32[i])
		}
	}
	gb, _, err := f.Float32("d.bf16")
	if err != nil {
		t.Fatal(err)
	}
	for i := range bf {
		if gb[i] != bf[i] {
			t.Errorf("d.bf16[%d] = %v, want %v", i, gb[i], bf[i])
		}
	}
	if s, shape, err := f.Float32("e.scalar"); err != nil || len(shape) != 0 || s[0] != 7 {
		t.Errorf("scalar: %v %v %v", s, shape, err)
	}
	if _, _, err := f.Float32("b.i64"); err == nil || !strings.Contains(err.Error(), "b.i64") {
		t.Errorf("reading I64 as float: want an error naming the tensor, got %v", err)
	}
	if _, _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	// The header is padded to a multiple of 8, as the reference writer does.
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Errorf("header length %d is not 8-aligned", n)
	}
	// No temporary files left beside it.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(entries))
	}
}

// f16Reference decodes IEEE half precision straight from its definition.
func f16Reference(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m/1024, -14)
	case 31:
		if m == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

func TestF16AllValues(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := float64(F16ToFloat32(uint16(h)))
		want := f16Reference(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("f16 %#04x: got %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("f16 %#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestBF16Rounding(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1.0
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above half
		{0x7f7fffff, 0x7f80}, // max float rounds to +Inf like torch
	}
	for _, c := range cases {
		if got := Float32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("bf16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if got := Float32ToBF16(float32(math.NaN())); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("NaN became %#04x", got)
	}
}

func TestCorruptFiles(t *testing.T) {
	eight := make([]byte, 8)
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "truncated", nil},
		{"short", "truncated", []byte{1, 2, 3}},
		{"header past EOF", "runs past the end", func() []byte {
			b := rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4))
			return b[:20]
		}()},
		{"huge header", "exceeds", func() []byte {
			b := make([]byte, 16)
			binary.LittleEndian.PutUint64(b, 1<<40)
			return b
		}()},
		{"bad json", "invalid JSON header", rawFile(`{"a":`, nil)},
		{"unknown dtype", `unknown dtype "F7"`, rawFile(`{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}`, []byte{0})},
		{"bool vs bytes", "needs 3 bytes", rawFile(`{"w":{"dtype":"BOOL","shape":[3],"data_offsets":[0,2]}}`, []byte{0, 1})},
		{"offset outside data", "outside", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4))},
		{"reversed offsets", "outside", rawFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, eight)},
		{"negative offset", "outside", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, eight)},
		{"shape vs bytes", "needs 12 bytes", rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight)},
		{"negative dim", "invalid shape", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, eight)},
		{"overflowing shape", "invalid shape", rawFile(`{"w":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}`, eight)},
		{"overlap", "overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight)},
		{"bad metadata", "__metadata__", rawFile(`{"__metadata__":{"k":1}}`, nil)},
		{"entry not object", `tensor "w"`, rawFile(`{"w":[1,2]}`, nil)},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := OpenFile(path)
			if err == nil {
				t.Fatalf("opened a corrupt file without error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name the file and contain %q", err, c.want)
			}
		})
	}
}

func TestWriterRejectsBadTensors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	for _, ts := range [][]WriteTensor{
		{{Name: "x", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}},
		{F32Tensor("x", []int{1}, []float32{1}), F32Tensor("x", []int{1}, []float32{2})},
		{{Name: "x", DType: "Q4", Shape: []int{1}, Data: make([]byte, 1)}},
	} {
		if err := WriteFile(path, ts, nil); err == nil {
			t.Errorf("WriteFile accepted %v", ts[0].Name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files behind", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.safetensors"), []WriteTensor{F32Tensor("x", []int{1}, []float32{1})}, nil); err == nil ||
		!strings.Contains(err.Error(), "missing") {
		t.Errorf("write into a missing directory: %v", err)
	}
}

func TestShardedTinyLM(t *testing.T) {
	c, err := OpenCheckpoint(filepath.Join(sharedtest.RepoRoot(), "assets", "tinylm"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.NumParams(), int64(12_587_904); got != want { // MODEL_CARD.md
		t.Errorf("parameters = %d, want %d", got, want)
	}
	if n := len(c.Names()); n != 56 {
		t.Errorf("tensors = %d, want 56 (6 layers x 9 + embed + norm)", n)
	}
	if c.DTypes()[BF16] != c.NumParams() {
		t.Errorf("dtypes = %v, want all BF16", c.DTypes())
	}
	emb, shape, err := c.Float32("model.embed_tokens.weight")
	if err != nil || shape[0] != 8192 || shape[1] != 384 || len(emb) != 8192*384 {
		t.Fatalf("embed: %v %v", shape, err)
	}
	// BF16 -> F32 is exact: every converted value has its low 16 bits zero.
	for i, v := range emb[:4096] {
		if math.Float32bits(v)&0xffff != 0 {
			t.Fatalf("embed[%d] = %v has low bits set", i, v)
		}
	}
	_, _, err = c.Float32("lm_head.weight")
	if err == nil || !strings.Contains(err.Error(), `missing tensor "lm_head.weight"`) {
		t.Errorf("tied model: lm_head lookup should fail naming the tensor, got %v", err)
	}
}

// copyDir copies a model directory so tests can damage it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestShardedErrors(t *testing.T) {
	src := filepath.Join(sharedtest.RepoRoot(), "assets", "tinylm")
	t.Run("missing shard", func(t *testing.T) {
		dir := copyDir(t, src)
		os.Remove(filepath.Join(dir, "model-00002-of-00003.safetensors"))
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), "model-00002-of-00003.safetensors") {
			t.Errorf("want an error naming the missing shard, got %v", err)
		}
	})
	t.Run("index points to wrong shard", func(t *testing.T) {
		dir := copyDir(t, src)
		idx, _ := os.ReadFile(filepath.Join(dir, IndexFile))
		s := strings.Replace(string(idx), `"model.norm.weight": "model-00003-of-00003.safetensors"`,
			`"model.norm.weight": "model-00001-of-00003.safetensors"`, 1)
		if s == string(idx) {
			t.Skip("index layout changed")
		}
		os.WriteFile(filepath.Join(dir, IndexFile), []byte(s), 0o644)
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), "model.norm.weight") {
			t.Errorf("want an error naming the tensor, got %v", err)
		}
	})
	t.Run("bad index json", func(t *testing.T) {
		dir := copyDir(t, src)
		os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{"weight_map": [`), 0o644)
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), IndexFile) {
			t.Errorf("want an error naming the index, got %v", err)
		}
	})
	t.Run("traversal in index", func(t *testing.T) {
		dir := copyDir(t, src)
		os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{"weight_map": {"a": "../../etc/passwd"}}`), 0o644)
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), "plain file name") {
			t.Errorf("want a rejected shard name, got %v", err)
		}
	})
	t.Run("no weights", func(t *testing.T) {
		_, err := OpenCheckpoint(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "no model weights") {
			t.Errorf("got %v", err)
		}
	})
}

func TestFixtureCheckpoints(t *testing.T) {
	for _, fam := range []string{"gpt2", "llama", "qwen2", "gemma2", "llama_bf16", "llama32_rope_llama3"} {
		dir := sharedtest.Path(t, "fixtures/transformers/"+fam)
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatalf("%s: %v", fam, err)
		}
		g, err := OpenFile(filepath.Join(dir, "golden.safetensors"))
		if err != nil {
			t.Fatalf("%s golden: %v", fam, err)
		}
		ids, shape, err := g.Int64("input_ids")
		if err != nil || len(shape) != 2 || shape[0] != 2 || len(ids) != shape[0]*shape[1] {
			t.Errorf("%s input_ids: %v %v", fam, shape, err)
		}
		for _, name := range c.Names() {
			if info, _ := c.Info(name); info.DType.IsFloat() {
				if _, _, err := c.Float32(name); err != nil {
					t.Errorf("%s: %v", fam, err)
				}
			}
		}
		wantDType := F32
		if fam == "llama_bf16" {
			wantDType = BF16
		}
		if d := c.DTypes(); d[wantDType] != c.NumParams() {
			t.Errorf("%s: dtypes %v, want all %s", fam, d, wantDType)
		}
		c.Close()
		g.Close()
	}
}

func BenchmarkLoadTinyLM(b *testing.B) {
	dir := filepath.Join(sharedtest.RepoRoot(), "assets", "tinylm")
	for b.Loop() {
		c, err := OpenCheckpoint(dir)
		if err != nil {
			b.Fatal(err)
		}
		var n int
		for _, name := range c.Names() {
			v, _, err := c.Float32(name)
			if err != nil {
				b.Fatal(err)
			}
			n += len(v)
		}
		c.Close()
		b.SetBytes(int64(2 * n))
	}
}

func FuzzSafetensorsHeader(f *testing.F) {
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := FromBytes(data, "fuzz")
		if err != nil {
			return
		}
		for _, info := range sf.Tensors() {
			if info.End > int64(len(data)) || info.End-info.Begin != int64(info.NumElements()*info.DType.Size()) {
				t.Fatalf("accepted inconsistent tensor %+v", info)
			}
			if info.DType.IsFloat() {
				if _, _, err := sf.Float32(info.Name); err != nil {
					t.Fatal(err)
				}
			} else if _, _, err := sf.Int64(info.Name); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A file may hold tensors of every safetensors dtype (masks, quantised weights, FP8 scales): it opens, the
// integer and boolean ones read through Int64, the float ones we convert read through Float32, and FP8 read
// as float32 is an error naming the tensor and its dtype.
func TestOtherDTypes(t *testing.T) {
	header := `{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},` +
		`"u":{"dtype":"U8","shape":[2],"data_offsets":[3,5]},` +
		`"i":{"dtype":"I8","shape":[2],"data_offsets":[5,7]},` +
		`"s":{"dtype":"I16","shape":[1],"data_offsets":[7,9]},` +
		`"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[9,11]},` +
		`"w":{"dtype":"F32","shape":[1],"data_offsets":[11,15]}}`
	data := []byte{1, 0, 1, 200, 7, 0xff, 5, 0xfe, 0xff, 0x38, 0x40}
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(2.5))
	path := filepath.Join(t.TempDir(), "mixed.safetensors")
	if err := os.WriteFile(path, rawFile(header, data), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, want := range map[string][]int64{"m": {1, 0, 1}, "u": {200, 7}, "i": {-1, 5}, "s": {-2}} {
		got, _, err := f.Int64(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
	if w, _, err := f.Float32("w"); err != nil || w[0] != 2.5 {
		t.Errorf("w: %v %v", w, err)
	}
	if _, _, err := f.Float32("q"); err == nil || !strings.Contains(err.Error(), `"q"`) || !strings.Contains(err.Error(), "F8_E4M3") {
		t.Errorf("FP8 read as float32: %v", err)
	}
}
