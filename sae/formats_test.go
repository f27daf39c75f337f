package sae

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/steer-dev/steer/weights"
)

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTopKIndicesMatchesStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for trial := range 50 {
		n := 1 + r.IntN(200)
		row := make([]float32, n)
		for i := range row {
			row[i] = float32(r.IntN(7)) // many ties
		}
		k := 1 + r.IntN(n)
		idx := make([]int32, k)
		topKIndices(row, k, idx)
		want := make([]int32, n)
		for i := range want {
			want[i] = int32(i)
		}
		sort.SliceStable(want, func(a, b int) bool { return row[want[a]] > row[want[b]] })
		if !slices.Equal(idx, want[:k]) {
			t.Fatalf("trial %d: topK %v, want %v (row %v)", trial, idx, want[:k], row)
		}
	}
}

func TestEncodeDecodeReferenceAllArchs(t *testing.T) {
	for _, arch := range []Arch{ArchTopK, ArchReLU, ArchJumpReLU, ArchBatchTopK} {
		t.Run(string(arch), func(t *testing.T) {
			s := randSAE(arch, 12, 40, 5, 11)
			act := refReLU
			switch arch {
			case ArchTopK:
				act = refTopK(5)
			case ArchJumpReLU, ArchBatchTopK:
				act = refJump(f64(s.Threshold))
			}
			checkEncodeDecode(t, s, func(i, j int) float64 { return float64(s.WEnc[i*s.DSAE+j]) },
				f64(s.BEnc), f64(s.BDec), f64(s.WDec), true, act, 5)
		})
	}
}

func TestSAELensV6RoundTrip(t *testing.T) {
	for _, arch := range []Arch{ArchTopK, ArchReLU, ArchJumpReLU, ArchBatchTopK} {
		t.Run(string(arch), func(t *testing.T) {
			s := randSAE(arch, 8, 24, 4, 2)
			s.Meta.ContextSize = 128
			dir := t.TempDir()
			sp := make([]float32, s.DSAE)
			for i := range sp {
				sp[i] = -float32(i) / 10
			}
			if err := s.SaveSAELens(dir, sp); err != nil {
				t.Fatal(err)
			}
			cfg, err := readJSON(filepath.Join(dir, "cfg.json"))
			if err != nil {
				t.Fatal(err)
			}
			wantArch := map[Arch]string{ArchTopK: "topk", ArchReLU: "standard", ArchJumpReLU: "jumprelu", ArchBatchTopK: "jumprelu"}[arch]
			md, _ := cfg["metadata"].(map[string]any)
			if cfg["architecture"] != wantArch || cfg["d_in"] != 8.0 || cfg["d_sae"] != 24.0 || md == nil ||
				md["hook_name"] != "blocks.1.hook_resid_post" || md["context_size"] != 128.0 || cfg["apply_b_dec_to_input"] != true {
				t.Fatalf("cfg.json: %v", cfg)
			}
			if (arch == ArchTopK) != (cfg["k"] == 4.0) {
				t.Fatalf("k field: %v", cfg["k"])
			}
			f, err := weights.OpenFile(filepath.Join(dir, "sparsity.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := f.Float32("sparsity")
			f.Close()
			if err != nil || !slices.Equal(got, sp) {
				t.Fatalf("sparsity: %v %v", got, err)
			}
			l, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.WEnc, s.WEnc) || !slices.Equal(l.WDec, s.WDec) || !slices.Equal(l.BEnc, s.BEnc) || !slices.Equal(l.BDec, s.BDec) {
				t.Fatal("weights differ after round trip")
			}
			x := randVec(rand.New(rand.NewPCG(1, 1)), 3*8, 1)
			if !slices.Equal(l.Encode(x, 3), s.Encode(x, 3)) {
				t.Fatal("encode differs after round trip")
			}
		})
	}
}

func saelensWeights(t *testing.T, dir string, s *SAE, names [4]string) {
	t.Helper()
	ts := []weights.WriteTensor{
		weights.F32Tensor(names[0], []int{s.DIn, s.DSAE}, s.WEnc),
		weights.F32Tensor(names[1], []int{s.DSAE}, s.BEnc),
		weights.F32Tensor(names[2], []int{s.DSAE, s.DIn}, s.WDec),
		weights.F32Tensor(names[3], []int{s.DIn}, s.BDec),
	}
	if s.Threshold != nil {
		ts = append(ts, weights.F32Tensor("threshold", []int{s.DSAE}, s.Threshold))
	}
	if err := weights.WriteFile(filepath.Join(dir, "sae_weights.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSAELensPre6FlatConfig(t *testing.T) {
	s := randSAE(ArchTopK, 6, 20, 3, 4)
	dir := t.TempDir()
	saelensWeights(t, dir, s, [4]string{"W_enc", "b_enc", "W_dec", "b_dec"})
	writeJSONFile(t, filepath.Join(dir, "cfg.json"), map[string]any{
		"d_in": 6, "d_sae": 20, "hook_point": "blocks.2.hook_resid_pre", "model_name": "gpt2",
		"activation_fn_str": "topk", "activation_fn_kwargs": map[string]any{"k": 3}, "context_size": 64,
		"sae_lens_training_version": "3.1.0", "dtype": "float32",
	})
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Arch != ArchTopK || l.K != 3 || l.Meta.HookName != "blocks.2.hook_resid_pre" || l.Meta.ContextSize != 64 || !l.Meta.ApplyBDecToInput {
		t.Fatalf("pre-6 cfg parsed as %+v / %+v", l.Arch, l.Meta)
	}
	checkEncodeDecode(t, l, func(i, j int) float64 { return float64(s.WEnc[i*s.DSAE+j]) }, f64(s.BEnc), f64(s.BDec), f64(s.WDec), true, refTopK(3), 2)

	// pre-6 standard with apply_b_dec_to_input false
	writeJSONFile(t, filepath.Join(dir, "cfg.json"), map[string]any{"d_in": 6, "d_sae": 20, "hook_point": "h", "apply_b_dec_to_input": false})
	l, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Arch != ArchReLU || l.Meta.ApplyBDecToInput {
		t.Fatalf("pre-6 standard parsed as %v apply=%v", l.Arch, l.Meta.ApplyBDecToInput)
	}
	checkEncodeDecode(t, l, func(i, j int) float64 { return float64(s.WEnc[i*s.DSAE+j]) }, f64(s.BEnc), f64(s.BDec), f64(s.WDec), false, refReLU, 3)
}

func TestSAELensRescaleByDecoderNormFolded(t *testing.T) {
	s := randSAE(ArchTopK, 6, 20, 3, 9)
	dir := t.TempDir()
	saelensWeights(t, dir, s, [4]string{"W_enc", "b_enc", "W_dec", "b_dec"})
	writeJSONFile(t, filepath.Join(dir, "cfg.json"), map[string]any{"architecture": "topk", "d_in": 6, "d_sae": 20, "k": 3,
		"rescale_acts_by_decoder_norm": true, "apply_b_dec_to_input": true, "metadata": map[string]any{"sae_lens_version": "6.5.0"}})
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	norms := f64(s.DecoderNorms())
	// SAELens: hidden_pre·‖W_dec_j‖, topk, then decode (f/‖W_dec_j‖)·W_dec.
	wd := f64(s.WDec)
	wdN := make([]float64, len(wd))
	for j := range s.DSAE {
		for i := range s.DIn {
			wdN[j*s.DIn+i] = wd[j*s.DIn+i] / norms[j]
		}
	}
	bEnc := f64(s.BEnc)
	for j := range bEnc {
		bEnc[j] *= norms[j]
	}
	checkEncodeDecode(t, l, func(i, j int) float64 { return float64(s.WEnc[i*s.DSAE+j]) * norms[j] }, bEnc, f64(s.BDec), wdN, true, refTopK(3), 4)
}

func TestUnknownArchitectureNamesItAndFile(t *testing.T) {
	s := randSAE(ArchReLU, 4, 8, 0, 1)
	dir := t.TempDir()
	saelensWeights(t, dir, s, [4]string{"W_enc", "b_enc", "W_dec", "b_dec"})
	// (gated SAEs load since they are JumpReLU SAEs reparametrised: see TestRealWriterFixtures)
	writeJSONFile(t, filepath.Join(dir, "cfg.json"), map[string]any{"architecture": "abstopk", "d_in": 4, "d_sae": 8, "k": 2, "metadata": map[string]any{}})
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `"abstopk"`) || !strings.Contains(err.Error(), filepath.Join(dir, "cfg.json")) {
		t.Fatalf("want error naming abstopk and cfg.json, got %v", err)
	}
	// sparsify with a groupmax activation
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, "sae.safetensors"), []byte("x"), 0o644)
	writeJSONFile(t, filepath.Join(dir2, "cfg.json"), map[string]any{"activation": "groupmax", "d_in": 4, "k": 2, "num_latents": 8})
	if _, err := Load(dir2); err == nil || !strings.Contains(err.Error(), "groupmax") || !strings.Contains(err.Error(), "cfg.json") {
		t.Fatalf("want error naming groupmax, got %v", err)
	}
}

func TestSparsifyLoadAndConvert(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	din, dsae, k := 7, 21, 4
	enc := randVec(r, dsae*din, 0.4) // encoder.weight [d_sae, d_in]
	bias := randVec(r, dsae, 0.1)
	wdec := randVec(r, dsae*din, 0.4)
	bdec := randVec(r, din, 0.3)
	dir := filepath.Join(t.TempDir(), "layers.3")
	os.MkdirAll(dir, 0o755)
	if err := weights.WriteFile(filepath.Join(dir, "sae.safetensors"), []weights.WriteTensor{
		weights.BF16Tensor("encoder.weight", []int{dsae, din}, enc), weights.BF16Tensor("encoder.bias", []int{dsae}, bias),
		weights.BF16Tensor("W_dec", []int{dsae, din}, wdec), weights.BF16Tensor("b_dec", []int{din}, bdec),
	}, nil); err != nil {
		t.Fatal(err)
	}
	writeJSONFile(t, filepath.Join(dir, "cfg.json"), map[string]any{"activation": "topk", "expansion_factor": 3, "normalize_decoder": true,
		"num_latents": 0, "k": k, "multi_topk": false, "skip_connection": false, "transcode": false, "d_in": din})
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Arch != ArchTopK || l.DSAE != dsae || l.K != k || l.Meta.Dtype != "bfloat16" {
		t.Fatalf("sparsify parsed as %v %d %d %q", l.Arch, l.DSAE, l.K, l.Meta.Dtype)
	}
	bf := func(v []float32) []float64 { // what bf16 storage keeps
		o := make([]float64, len(v))
		for i, x := range v {
			o[i] = float64(math.Float32frombits(uint32(weights.Float32ToBF16(x)) << 16))
		}
		return o
	}
	encB, wdecB := bf(enc), bf(wdec)
	// sparsify: topk(relu(((x - b_dec) @ encoder.weight.T + bias)))
	checkEncodeDecode(t, l, func(i, j int) float64 { return encB[j*din+i] }, bf(bias), bf(bdec), wdecB, true, refTopK(k), 6)

	// sparsify -> SAELens -> sparsify: encodings identical
	out1, out2 := t.TempDir(), t.TempDir()
	if err := Convert(dir, out1, FormatSAELens); err != nil {
		t.Fatal(err)
	}
	if err := Convert(out1, out2, FormatSparsify); err != nil {
		t.Fatal(err)
	}
	a, err1 := Load(out1)
	b, err2 := Load(out2)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	x := randVec(r, 4*din, 1)
	if !slices.Equal(a.Encode(x, 4), l.Encode(x, 4)) || !slices.Equal(b.Encode(x, 4), l.Encode(x, 4)) {
		t.Fatal("encode differs after conversion")
	}
	if !slices.Equal(b.Decode(b.Encode(x, 4), 4), l.Decode(l.Encode(x, 4), 4)) {
		t.Fatal("decode differs after conversion")
	}
}

// writeNPY writes one array: descr '<f4' or '<f8' or other.
func writeNPY(descr string, fortran bool, shape []int, data []float64, version byte) []byte {
	var body bytes.Buffer
	for _, v := range data {
		switch descr {
		case "<f8":
			binary.Write(&body, binary.LittleEndian, v)
		case "<i4":
			binary.Write(&body, binary.LittleEndian, int32(v))
		default:
			binary.Write(&body, binary.LittleEndian, float32(v))
		}
	}
	sh := ""
	for _, d := range shape {
		sh += fmt.Sprintf("%d, ", d)
	}
	if len(shape) > 1 {
		sh = strings.TrimSuffix(sh, ", ")
	}
	fo := "False"
	if fortran {
		fo = "True"
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr, fo, sh)
	lenBytes := 2
	if version >= 2 {
		lenBytes = 4
	}
	for (10+lenBytes-2+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var out bytes.Buffer
	out.WriteString("\x93NUMPY")
	out.WriteByte(version)
	out.WriteByte(0)
	if version >= 2 {
		binary.Write(&out, binary.LittleEndian, uint32(len(h)))
	} else {
		binary.Write(&out, binary.LittleEndian, uint16(len(h)))
	}
	out.WriteString(h)
	out.Write(body.Bytes())
	return out.Bytes()
}

func writeNPZ(t *testing.T, path string, arrays map[string][]byte, deflate bool) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range arrays {
		m := zip.Store
		if deflate {
			m = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGemmaScope1NPZ(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	din, dsae := 6, 16
	wenc, wdec := f64(randVec(r, din*dsae, 0.5)), f64(randVec(r, dsae*din, 0.5))
	benc, bdec := f64(randVec(r, dsae, 0.1)), f64(randVec(r, din, 0.3))
	th := make([]float64, dsae)
	for i := range th {
		th[i] = r.Float64() * 0.6
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "params.npz")
	writeNPZ(t, path, map[string][]byte{
		"W_enc": writeNPY("<f8", false, []int{din, dsae}, wenc, 1), "W_dec": writeNPY("<f4", false, []int{dsae, din}, wdec, 2),
		"b_enc": writeNPY("<f4", false, []int{dsae}, benc, 1), "b_dec": writeNPY("<f8", false, []int{din}, bdec, 1),
		"threshold": writeNPY("<f4", false, []int{dsae}, th, 1),
	}, true)
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Arch != ArchJumpReLU || l.Meta.ApplyBDecToInput || l.DIn != din || l.DSAE != dsae {
		t.Fatalf("gemma scope 1 parsed as %v apply=%v %dx%d", l.Arch, l.Meta.ApplyBDecToInput, l.DIn, l.DSAE)
	}
	f32 := func(v []float64) []float64 {
		return f64(func() []float32 {
			o := make([]float32, len(v))
			for i := range v {
				o[i] = float32(v[i])
			}
			return o
		}())
	}
	// Gemma Scope: pre = x @ W_enc + b_enc; f = (pre > threshold) * relu(pre); x̂ = f @ W_dec + b_dec
	checkEncodeDecode(t, l, func(i, j int) float64 { return float64(float32(wenc[i*dsae+j])) }, f32(benc), f32(bdec), f32(wdec), false, refJump(f32(th)), 9)

	// Convert to SAELens keeps apply_b_dec_to_input=false and identical encodings.
	out := t.TempDir()
	if err := Convert(path, out, FormatSAELens); err != nil {
		t.Fatal(err)
	}
	cfg, _ := readJSON(filepath.Join(out, "cfg.json"))
	if cfg["architecture"] != "jumprelu" || cfg["apply_b_dec_to_input"] != false {
		t.Fatalf("converted cfg %v", cfg)
	}
	c, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	x := randVec(r, 3*din, 1)
	if !slices.Equal(c.Encode(x, 3), l.Encode(x, 3)) {
		t.Fatal("encode differs after GS1 -> SAELens")
	}
	// jumprelu cannot become sparsify
	if err := Convert(path, t.TempDir(), FormatSparsify); err == nil {
		t.Fatal("jumprelu -> sparsify should fail")
	}

	// Unsupported layouts are errors naming the array.
	for _, tc := range []struct {
		name string
		arr  []byte
		want string
	}{
		{"fortran", writeNPY("<f4", true, []int{din, dsae}, wenc, 1), "fortran"},
		{"int", writeNPY("<i4", false, []int{din, dsae}, wenc, 1), "<i4"},
		{"truncated", writeNPY("<f4", false, []int{din, dsae}, wenc, 1)[:200], "truncated"},
	} {
		p := filepath.Join(t.TempDir(), "params.npz")
		writeNPZ(t, p, map[string][]byte{"W_enc": tc.arr}, false)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "W_enc") {
			t.Fatalf("%s: want error with %q naming W_enc, got %v", tc.name, tc.want, err)
		}
	}
}

func TestGemmaScope2Safetensors(t *testing.T) {
	s := randSAE(ArchJumpReLU, 6, 18, 0, 12)
	dir := t.TempDir()
	if err := weights.WriteFile(filepath.Join(dir, "params.safetensors"), []weights.WriteTensor{
		weights.F32Tensor("w_enc", []int{6, 18}, s.WEnc), weights.F32Tensor("w_dec", []int{18, 6}, s.WDec),
		weights.F32Tensor("b_enc", []int{18}, s.BEnc), weights.F32Tensor("b_dec", []int{6}, s.BDec),
		weights.F32Tensor("threshold", []int{18}, s.Threshold),
	}, nil); err != nil {
		t.Fatal(err)
	}
	writeJSONFile(t, filepath.Join(dir, "config.json"), map[string]any{"architecture": "jump_relu", "model_name": "gemma-v3-270m-pt",
		"hf_hook_point_in": "model.layers.5.output"})
	l, err := Load(filepath.Join(dir, "params.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Meta.ApplyBDecToInput || l.Meta.ModelName != "gemma-v3-270m-pt" {
		t.Fatalf("meta %+v", l.Meta)
	}
	checkEncodeDecode(t, l, func(i, j int) float64 { return float64(s.WEnc[i*s.DSAE+j]) }, f64(s.BEnc), f64(s.BDec), f64(s.WDec), false, refJump(f64(s.Threshold)), 10)
	writeJSONFile(t, filepath.Join(dir, "config.json"), map[string]any{"architecture": "matryoshka"})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "matryoshka") || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("want unknown-architecture error, got %v", err)
	}
}

// The shared tiny-lm SAE (PyTorch-trained TopK, bf16, SAELens v6 layout): its README's formula is
// topk_k(relu((x - b_dec) @ W_enc + b_enc)), decode f @ W_dec + b_dec, W_dec rows unit norm.
func TestTinyLMReferenceSAE(t *testing.T) {
	dir := sharedtest.Path(t, "models/tiny-lm-saes/tiny-lm-resid_post.3-topk32-6144")
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Arch != ArchTopK || s.K != 32 || s.DIn != 384 || s.DSAE != 6144 || !s.Meta.ApplyBDecToInput ||
		s.Meta.HookName != "blocks.3.hook_resid_post" || s.Meta.ContextSize != 128 || s.Meta.Dtype != "bfloat16" {
		t.Fatalf("loaded %v k=%d %dx%d meta %+v", s.Arch, s.K, s.DIn, s.DSAE, s.Meta)
	}
	for j, n := range s.DecoderNorms() {
		if math.Abs(float64(n)-1) > 0.01 {
			t.Fatalf("W_dec row %d has norm %v, README says unit norm", j, n)
		}
	}
	// Independent reference with the raw bf16 tensors read directly.
	f, err := weights.OpenFile(filepath.Join(dir, "sae_weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	get := func(n string) []float64 {
		d, _, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		return f64(d)
	}
	wenc, benc, wdec, bdec := get("W_enc"), get("b_enc"), get("W_dec"), get("b_dec")
	// Inputs shaped like the site: b_dec plus a mix of decoder directions plus noise.
	r := rand.New(rand.NewPCG(1, 2))
	n := 4
	x := make([]float32, n*384)
	for row := range n {
		for i := range 384 {
			x[row*384+i] = float32(bdec[i] + 0.3*r.NormFloat64())
		}
		for range 10 {
			j := r.IntN(6144)
			a := 2 + 3*r.Float64()
			for i := range 384 {
				x[row*384+i] += float32(a * wdec[j*384+i])
			}
		}
	}
	fs := s.Encode(x, n)
	xh := s.Decode(fs, n)
	var num, den float64
	for row := range n {
		want := refEncode(f64(x[row*384:(row+1)*384]), 384, 6144, func(i, j int) float64 { return wenc[i*6144+j] }, benc, bdec, true, refTopK(32))
		assertClose(t, "tiny-lm encode", fs[row*6144:(row+1)*6144], want, 1e-4)
		l0 := 0
		for _, v := range fs[row*6144 : (row+1)*6144] {
			if v != 0 {
				l0++
			}
		}
		if l0 == 0 || l0 > 32 {
			t.Fatalf("row %d: L0 %d", row, l0)
		}
		for i := range 384 {
			d := float64(x[row*384+i] - xh[row*384+i])
			num += d * d
			c := float64(x[row*384+i]) - bdec[i]
			den += c * c
		}
	}
	t.Logf("reconstruction of synthetic decoder-direction mixtures: relative error %.3f", num/den)
	if num/den > 0.7 {
		t.Fatalf("reconstruction relative error %.3f: SAE does not reconstruct its own decoder directions", num/den)
	}
}

// Validate rejects non-finite weights, naming the tensor and index.
func TestValidateRejectsNonFinite(t *testing.T) {
	s := randSAE(ArchTopK, 8, 16, 2, 3)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.WDec[5] = float32(math.NaN())
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "W_dec[5]") {
		t.Errorf("NaN in W_dec: %v", err)
	}
	s = randSAE(ArchJumpReLU, 8, 16, 2, 3)
	s.Threshold[2] = float32(math.Inf(1))
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "threshold[2]") {
		t.Errorf("Inf threshold: %v", err)
	}
}
