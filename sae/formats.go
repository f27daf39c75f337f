package sae

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/steer-dev/steer/weights"
)

// Format names accepted by Convert.
const (
	FormatSAELens  = "saelens"  // SAELens v6: cfg.json + sae_weights.safetensors (+ sparsity.safetensors)
	FormatSparsify = "sparsify" // EleutherAI sparsify: cfg.json + sae.safetensors
)

// File names of the supported layouts.
const (
	SAELensCfgFile      = "cfg.json"
	SAELensWeightsFile  = "sae_weights.safetensors"
	SAELensSparsityFile = "sparsity.safetensors"
	SparsifyWeightsFile = "sae.safetensors"
	GemmaScope1File     = "params.npz"
	GemmaScope2File     = "params.safetensors"
	GemmaScope2CfgFile  = "config.json"
)

// Load reads an SAE, detecting the format from the files present (path may be the directory or a file in it):
//
//   - SAELens v6 or pre-6: cfg.json + sae_weights.safetensors. Architectures "standard" (→ relu, needs
//     activation_fn relu), "topk", "jumprelu", "gated" (read as the JumpReLU SAE it equals: see
//     gatedToJumpReLU), and the training checkpoints "batchtopk" / "matryoshka_batchtopk" (→ batchtopk: a
//     JumpReLU with the global topk_threshold, as SAELens's save_inference_model converts them).
//     rescale_acts_by_decoder_norm (topk; batchtopk checkpoints, where it defaults to true) is folded into
//     the weights (exactly equivalent up to rounding). normalize_activations "none",
//     "expected_average_only_in" and "covariance_whitening" are identities at inference (SAELens folds
//     them in at save); "constant_norm_rescale" and "layer_norm" are kept as run-time normalisations
//     (Meta.Normalize; see RuntimeNorm and Forward). Pre-6 configs are read as SAELens 6 does
//     (handle_pre_6_0_config). Transcoders, abstopk, matching_pursuit and temporal SAEs are rejected.
//   - EleutherAI sparsify: cfg.json + sae.safetensors (encoder.weight [d_sae,d_in], encoder.bias,
//     W_dec [d_sae,d_in], b_dec); TopK with b_dec subtracted from the input. Transcoders, skip connections
//     and non-topk activations are rejected.
//   - Gemma Scope 1: params.npz (W_enc, W_dec, b_enc, b_dec, threshold), JumpReLU, no b_dec subtraction;
//     an embedding SAE (a folder named "embedding") gets SAELens's sqrt(d_in) rescaling.
//   - Gemma Scope 2: params.safetensors (w_enc [d_in,d_sae], w_dec [d_sae,d_in], b_enc, b_dec, threshold;
//     lower-case keys as SAELens's gemma_3 loader reads them) + optional config.json (architecture must be
//     "jump_relu"; model_name, hf_hook_point_in are kept). JumpReLU, no b_dec subtraction.
//
// Weights are converted to float32.
func Load(path string) (*SAE, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	dir := path
	if !st.IsDir() {
		dir = filepath.Dir(path)
		switch filepath.Base(path) {
		case GemmaScope1File:
			return loadGemmaScope1(path)
		case GemmaScope2File:
			return loadGemmaScope2(dir)
		}
	}
	has := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	switch {
	case has(SAELensCfgFile) && has(SAELensWeightsFile):
		return loadSAELens(dir)
	case has(SAELensCfgFile) && has(SparsifyWeightsFile):
		return loadSparsify(dir)
	case has(GemmaScope1File):
		return loadGemmaScope1(filepath.Join(dir, GemmaScope1File))
	case has(GemmaScope2File):
		return loadGemmaScope2(dir)
	}
	return nil, fmt.Errorf("sae: %s: no known SAE layout (want cfg.json+sae_weights.safetensors (SAELens), "+
		"cfg.json+sae.safetensors (sparsify), params.npz (Gemma Scope 1) or params.safetensors (Gemma Scope 2))", path)
}

func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("sae: %s: %w", path, err)
	}
	return m, nil
}

func jInt(m map[string]any, key string) (int, bool) {
	switch v := m[key].(type) {
	case float64:
		return int(v), true
	case string:
		i, err := strconv.Atoi(v)
		return i, err == nil
	}
	return 0, false
}

func jStr(m map[string]any, key string) string { s, _ := m[key].(string); return s }

func jBool(m map[string]any, key string, def bool) bool {
	if b, ok := m[key].(bool); ok {
		return b
	}
	return def
}

// tensor reads a float tensor and checks its shape.
func tensor(f *weights.File, name string, shape ...int) ([]float32, error) {
	d, sh, err := f.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	if !slices.Equal(sh, shape) {
		return nil, fmt.Errorf("sae: %s: tensor %q has shape %v, want %v", f.Name, name, sh, shape)
	}
	return d, nil
}

func loadSAELens(dir string) (*SAE, error) {
	cfgPath := filepath.Join(dir, SAELensCfgFile)
	cfg, err := readJSON(cfgPath)
	if err != nil {
		return nil, err
	}
	md, v6 := cfg["metadata"].(map[string]any)
	ver := jStr(cfg, "sae_lens_version")
	if v6 {
		if v := jStr(md, "sae_lens_version"); v != "" {
			ver = v
		}
	}
	if ver != "" {
		if maj, err := strconv.Atoi(strings.SplitN(ver, ".", 2)[0]); err == nil && maj < 6 {
			v6 = false
		}
	}
	if !v6 {
		// pre-6 flat config: everything at top level, renamed keys (SAELens handle_pre_6_0_config).
		md = map[string]any{}
		for k, v := range cfg {
			switch k {
			case "hook_point":
				k = "hook_name"
			case "hook_point_head_index":
				k = "hook_head_index"
			case "activation_fn_str":
				k = "activation_fn"
			}
			md[k] = v
		}
		cfg = md
		if jStr(cfg, "architecture") == "" {
			cfg["architecture"] = "standard"
		}
		if jStr(cfg, "activation_fn") == "topk" {
			if kw, ok := cfg["activation_fn_kwargs"].(map[string]any); ok {
				if k, ok := jInt(kw, "k"); ok {
					cfg["architecture"] = "topk"
					cfg["k"] = float64(k)
				}
			}
		}
		if jBool(cfg, "finetuning_scaling_factor", false) {
			return nil, fmt.Errorf("sae: %s: finetuning_scaling_factor is not supported", cfgPath)
		}
		// normalize_activations was a bool before 6.0 (true: the April-update scaling, an identity at
		// inference once folded); a missing reshape_activations means hook_z for hook_z hooks.
		switch v := cfg["normalize_activations"].(type) {
		case bool:
			cfg["normalize_activations"] = map[bool]string{false: "none", true: "expected_average_only_in"}[v]
		case nil:
			cfg["normalize_activations"] = "none"
		}
		if _, ok := cfg["reshape_activations"]; !ok && strings.Contains(jStr(cfg, "hook_name"), "hook_z") {
			cfg["reshape_activations"] = "hook_z"
		}
	}
	s := &SAE{}
	archName := jStr(cfg, "architecture")
	gated := false
	switch archName {
	case "standard":
		if af := jStr(cfg, "activation_fn"); af != "" && af != "relu" {
			return nil, fmt.Errorf("sae: %s: architecture \"standard\" with activation_fn %q is not supported (only relu)", cfgPath, af)
		}
		s.Arch = ArchReLU
	case "topk":
		s.Arch = ArchTopK
	case "jumprelu":
		s.Arch = ArchJumpReLU
	case "gated":
		// exactly a JumpReLU SAE after reparametrisation (see gatedToJumpReLU)
		s.Arch, gated = ArchJumpReLU, true
	case "batchtopk", "matryoshka_batchtopk":
		// SAELens training checkpoints (save_model of a BatchTopK / Matryoshka BatchTopK training SAE):
		// at inference a JumpReLU with the global topk_threshold, as SAELens's save_inference_model writes it.
		s.Arch = ArchBatchTopK
	case "transcoder", "skip_transcoder", "jumprelu_transcoder", "jumprelu_skip_transcoder":
		return nil, fmt.Errorf("sae: %s: architecture %q is a transcoder (reads one hook, writes another, d_out=%v): transcoders are not supported", cfgPath, archName, cfg["d_out"])
	case "abstopk", "matching_pursuit", "temporal":
		return nil, fmt.Errorf("sae: %s: architecture %q is not supported (supported: standard, topk, jumprelu, gated, batchtopk, matryoshka_batchtopk)", cfgPath, archName)
	default:
		return nil, fmt.Errorf("sae: %s: unknown architecture %q (supported: standard, topk, jumprelu, gated, batchtopk, matryoshka_batchtopk)", cfgPath, archName)
	}
	var ok bool
	if s.DIn, ok = jInt(cfg, "d_in"); !ok {
		return nil, fmt.Errorf("sae: %s: missing d_in", cfgPath)
	}
	if s.DSAE, ok = jInt(cfg, "d_sae"); !ok {
		return nil, fmt.Errorf("sae: %s: missing d_sae", cfgPath)
	}
	if s.Arch == ArchTopK || s.Arch == ArchBatchTopK {
		if s.K, ok = jInt(cfg, "k"); !ok {
			return nil, fmt.Errorf("sae: %s: %s architecture without k", cfgPath, archName)
		}
	}
	norm := jStr(cfg, "normalize_activations")
	switch norm {
	case "", "none", "expected_average_only_in", "covariance_whitening":
		// identities at inference: SAELens folds the factor / whitening into the weights before saving
	case NormConstantNormRescale, NormLayerNorm:
		// per-row run-time normalisations, applied by Encode / Forward
	default:
		return nil, fmt.Errorf("sae: %s: normalize_activations %q is not supported (none, expected_average_only_in, covariance_whitening, constant_norm_rescale, layer_norm)", cfgPath, norm)
	}
	if r := jStr(cfg, "reshape_activations"); r != "" && r != "none" && r != "hook_z" {
		return nil, fmt.Errorf("sae: %s: reshape_activations %q is not supported", cfgPath, r)
	}
	s.Meta = metaFrom(md)
	s.Meta.ApplyBDecToInput = jBool(cfg, "apply_b_dec_to_input", true)
	s.Meta.Normalize = norm
	s.Meta.Dtype = jStr(cfg, "dtype")
	if r := jStr(cfg, "reshape_activations"); r == "hook_z" {
		s.Meta.Extra["reshape_activations"] = r
	}

	wpath := filepath.Join(dir, SAELensWeightsFile)
	f, err := weights.OpenFile(wpath)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	defer f.Close()
	if err := checkScalingFactor(f); err != nil {
		return nil, err
	}
	if gated {
		if err := gatedToJumpReLU(f, s); err != nil {
			return nil, err
		}
		s.Meta.Extra["converted_from_architecture"] = "gated"
		return s, s.Validate()
	}
	if err := readStd(f, s, "W_enc", "b_enc", "W_dec", "b_dec"); err != nil {
		return nil, err
	}
	if s.Arch == ArchJumpReLU || s.Arch == ArchBatchTopK {
		if _, ok := f.Info("threshold"); ok {
			if s.Threshold, err = tensor(f, "threshold", s.DSAE); err != nil {
				return nil, err
			}
		} else if th, _, err := f.Float32("topk_threshold"); err == nil && len(th) == 1 && s.Arch == ArchBatchTopK {
			s.Threshold = make([]float32, s.DSAE)
			for i := range s.Threshold {
				s.Threshold[i] = th[0]
			}
		} else {
			return nil, fmt.Errorf("sae: %s: %s SAE without a threshold tensor", wpath, archName)
		}
	}
	// rescale_acts_by_decoder_norm: topk selects on pre·‖W_dec,j‖ and decodes with W_dec,j/‖W_dec,j‖. The
	// training configs (batchtopk checkpoints) default it to true, the inference topk config to false.
	// A batchtopk checkpoint's topk_threshold is in those rescaled units, as the jumprelu threshold
	// SAELens derives from it for the folded weights.
	if (s.Arch == ArchTopK || s.Arch == ArchBatchTopK) && jBool(cfg, "rescale_acts_by_decoder_norm", s.Arch == ArchBatchTopK) {
		foldDecoderNorm(s)
	}
	return s, s.Validate()
}

// checkScalingFactor rejects a pre-6 "scaling_factor" tensor (finetuning scaling) that is not all ones;
// SAELens drops an all-ones one.
func checkScalingFactor(f *weights.File) error {
	if _, ok := f.Info("scaling_factor"); !ok {
		return nil
	}
	v, _, err := f.Float32("scaling_factor")
	if err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	for _, x := range v {
		if x != 1 {
			return fmt.Errorf("sae: %s: a scaling_factor tensor other than ones (finetuning_scaling_factor) is not supported", f.Name)
		}
	}
	return nil
}

// gatedToJumpReLU reads an SAELens gated SAE (W_enc, b_gate, b_mag, r_mag, W_dec, b_dec) as the JumpReLU
// SAE it equals. SAELens: f = [x_in·W_enc + b_gate > 0] · ReLU(x_in·(W_enc·e^r_mag) + b_mag). With
// pre = x_in·W_enc' + b_enc', W_enc' = W_enc·e^r_mag and b_enc' = b_mag, the gate is
// x_in·W_enc + b_gate > 0 ⇔ pre > b_mag − e^r_mag·b_gate (e^r_mag > 0), so
// f = ReLU(pre)·[pre > θ] with θ = b_mag − e^r_mag·b_gate: exactly JumpReLU (θ may be negative).
func gatedToJumpReLU(f *weights.File, s *SAE) (err error) {
	if s.WEnc, err = tensor(f, "W_enc", s.DIn, s.DSAE); err != nil {
		return err
	}
	var bGate, rMag []float32
	if bGate, err = tensor(f, "b_gate", s.DSAE); err != nil {
		return err
	}
	if s.BEnc, err = tensor(f, "b_mag", s.DSAE); err != nil {
		return err
	}
	if rMag, err = tensor(f, "r_mag", s.DSAE); err != nil {
		return err
	}
	if s.WDec, err = tensor(f, "W_dec", s.DSAE, s.DIn); err != nil {
		return err
	}
	if s.BDec, err = tensor(f, "b_dec", s.DIn); err != nil {
		return err
	}
	scale := make([]float32, s.DSAE)
	s.Threshold = make([]float32, s.DSAE)
	for j, r := range rMag {
		scale[j] = float32(math.Exp(float64(r)))
		s.Threshold[j] = float32(float64(s.BEnc[j]) - float64(scale[j])*float64(bGate[j]))
	}
	for i := range s.DIn {
		row := s.WEnc[i*s.DSAE : (i+1)*s.DSAE]
		for j := range row {
			row[j] *= scale[j]
		}
	}
	return nil
}

func readStd(f *weights.File, s *SAE, wEnc, bEnc, wDec, bDec string) (err error) {
	if s.WEnc, err = tensor(f, wEnc, s.DIn, s.DSAE); err != nil {
		return err
	}
	if s.BEnc, err = tensor(f, bEnc, s.DSAE); err != nil {
		return err
	}
	if s.WDec, err = tensor(f, wDec, s.DSAE, s.DIn); err != nil {
		return err
	}
	s.BDec, err = tensor(f, bDec, s.DIn)
	return err
}

// foldDecoderNorm turns "pre·‖W_dec,j‖, decode with W_dec,j/‖W_dec,j‖" (rescale_acts_by_decoder_norm)
// into plain weights: W_enc[:,j]·=n_j, b_enc[j]·=n_j, W_dec[j]/=n_j.
func foldDecoderNorm(s *SAE) {
	n := s.DecoderNorms()
	for j, v := range n {
		if v == 0 {
			continue
		}
		s.BEnc[j] *= v
		for i := range s.DIn {
			s.WEnc[i*s.DSAE+j] *= v
			s.WDec[j*s.DIn+i] /= v
		}
	}
}

func metaFrom(md map[string]any) Meta {
	m := Meta{Extra: map[string]any{}}
	for k, v := range md {
		switch k {
		case "model_name":
			m.ModelName, _ = v.(string)
		case "hook_name":
			m.HookName, _ = v.(string)
		case "hook_head_index":
			if f, ok := v.(float64); ok {
				i := int(f)
				m.HookHeadIndex = &i
			}
		case "dataset_path":
			m.Dataset, _ = v.(string)
		case "context_size":
			if f, ok := v.(float64); ok {
				m.ContextSize = int(f)
			}
		case "prepend_bos":
			m.PrependBOS, _ = v.(bool)
		case "sae_lens_training_version":
			m.TrainingVersion, _ = v.(string)
		case "sae_lens_version", "architecture", "d_in", "d_sae", "dtype", "device", "apply_b_dec_to_input",
			"normalize_activations", "reshape_activations", "k", "activation_fn", "activation_fn_kwargs",
			"rescale_acts_by_decoder_norm", "finetuning_scaling_factor", "metadata":
		default:
			m.Extra[k] = v
		}
	}
	return m
}

func loadSparsify(dir string) (*SAE, error) {
	cfgPath := filepath.Join(dir, SAELensCfgFile)
	cfg, err := readJSON(cfgPath)
	if err != nil {
		return nil, err
	}
	if a := jStr(cfg, "activation"); a != "" && a != "topk" {
		return nil, fmt.Errorf("sae: %s: unknown architecture: sparsify activation %q is not supported (only topk)", cfgPath, a)
	}
	if jBool(cfg, "transcode", false) || jBool(cfg, "skip_connection", false) {
		return nil, fmt.Errorf("sae: %s: sparsify transcoders / skip connections are not supported", cfgPath)
	}
	s := &SAE{Arch: ArchTopK}
	var ok bool
	if s.DIn, ok = jInt(cfg, "d_in"); !ok {
		return nil, fmt.Errorf("sae: %s: missing d_in", cfgPath)
	}
	if s.K, ok = jInt(cfg, "k"); !ok {
		return nil, fmt.Errorf("sae: %s: missing k", cfgPath)
	}
	if s.DSAE, _ = jInt(cfg, "num_latents"); s.DSAE == 0 {
		ef, ok := jInt(cfg, "expansion_factor")
		if !ok {
			return nil, fmt.Errorf("sae: %s: neither num_latents nor expansion_factor", cfgPath)
		}
		s.DSAE = s.DIn * ef
	}
	wpath := filepath.Join(dir, SparsifyWeightsFile)
	f, err := weights.OpenFile(wpath)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	defer f.Close()
	encT, err := tensor(f, "encoder.weight", s.DSAE, s.DIn)
	if err != nil {
		return nil, err
	}
	s.WEnc = transpose(encT, s.DSAE, s.DIn)
	if s.BEnc, err = tensor(f, "encoder.bias", s.DSAE); err != nil {
		return nil, err
	}
	if s.WDec, err = tensor(f, "W_dec", s.DSAE, s.DIn); err != nil {
		return nil, err
	}
	if s.BDec, err = tensor(f, "b_dec", s.DIn); err != nil {
		return nil, err
	}
	s.Meta = Meta{ApplyBDecToInput: true, Normalize: "none", Dtype: dtypeName(f, "W_dec"), Extra: map[string]any{}}
	// sparsify keeps model / hookpoint in the parent's config.json and the folder name.
	if pc, err := readJSON(filepath.Join(filepath.Dir(dir), "config.json")); err == nil {
		s.Meta.ModelName = jStr(pc, "model")
		s.Meta.Dataset = jStr(pc, "dataset")
		s.Meta.ContextSize, _ = jInt(pc, "ctx_len")
	}
	s.Meta.Extra["sparsify_hookpoint"] = filepath.Base(dir)
	return s, s.Validate()
}

func dtypeName(f *weights.File, name string) string {
	ti, _ := f.Info(name)
	switch ti.DType {
	case weights.BF16:
		return "bfloat16"
	case weights.F16:
		return "float16"
	}
	return "float32"
}

func transpose(a []float32, r, c int) []float32 {
	out := make([]float32, len(a))
	for i := range r {
		for j := range c {
			out[j*r+i] = a[i*c+j]
		}
	}
	return out
}

func loadGemmaScope1(path string) (*SAE, error) {
	arrs, err := ReadNPZ(path)
	if err != nil {
		return nil, err
	}
	get := func(name string, rank int) (NPYArray, error) {
		a, ok := arrs[name]
		if !ok {
			return a, fmt.Errorf("sae: %s: no array %q", path, name)
		}
		if len(a.Shape) != rank {
			return a, fmt.Errorf("sae: %s: array %q has shape %v, want rank %d", path, name, a.Shape, rank)
		}
		return a, nil
	}
	// SAELens's gemma_2 loader renames w_* arrays to W_*; an all-ones scaling_factor is dropped.
	for k, a := range arrs {
		if strings.HasPrefix(k, "w_") {
			if _, dup := arrs["W_"+k[2:]]; !dup {
				arrs["W_"+k[2:]] = a
			}
		}
	}
	if sf, ok := arrs["scaling_factor"]; ok {
		for _, v := range sf.Data {
			if v != 1 {
				return nil, fmt.Errorf("sae: %s: a scaling_factor other than ones (finetuning_scaling_factor) is not supported", path)
			}
		}
	}
	we, err := get("W_enc", 2)
	if err != nil {
		return nil, err
	}
	s := &SAE{Arch: ArchJumpReLU, DIn: we.Shape[0], DSAE: we.Shape[1], WEnc: we.Data}
	for _, p := range []struct {
		name  string
		dst   *[]float32
		shape []int
	}{{"W_dec", &s.WDec, []int{s.DSAE, s.DIn}}, {"b_enc", &s.BEnc, []int{s.DSAE}}, {"b_dec", &s.BDec, []int{s.DIn}}, {"threshold", &s.Threshold, []int{s.DSAE}}} {
		a, err := get(p.name, len(p.shape))
		if err != nil {
			return nil, err
		}
		if !slices.Equal(a.Shape, p.shape) {
			return nil, fmt.Errorf("sae: %s: array %q has shape %v, want %v", path, p.name, a.Shape, p.shape)
		}
		*p.dst = a.Data
	}
	s.Meta = Meta{ApplyBDecToInput: false, Normalize: "none", Dtype: "float32", PrependBOS: true, Extra: map[string]any{"source_format": "gemma-scope-1"}}
	if gemmaScopeEmbedding(filepath.Dir(path)) {
		// The embedding SAEs were trained on embeddings without Gemma's sqrt(d_model) scale; SAELens's
		// gemma_2 loader (folder name containing "embedding") moves it into the weights:
		// W_enc /= sqrt(d_in), W_dec *= sqrt(d_in).
		r := float32(math.Sqrt(float64(s.DIn)))
		for i := range s.WEnc {
			s.WEnc[i] /= r
		}
		for i := range s.WDec {
			s.WDec[i] *= r
		}
		s.Meta.Extra["gemma_scope_embedding_rescaled"] = true
	}
	return s, s.Validate()
}

// gemmaScopeEmbedding reports whether a Gemma Scope 1 folder is an embedding SAE: one of its last three
// path components (the release's "embedding/width_4k/average_l0_6") names "embedding", as SAELens tests
// the folder name.
func gemmaScopeEmbedding(dir string) bool {
	for range 3 {
		if strings.Contains(filepath.Base(dir), "embedding") {
			return true
		}
		p := filepath.Dir(dir)
		if p == dir {
			break
		}
		dir = p
	}
	return false
}

func loadGemmaScope2(dir string) (*SAE, error) {
	s := &SAE{Arch: ArchJumpReLU}
	s.Meta = Meta{ApplyBDecToInput: false, Normalize: "none", Dtype: "float32", PrependBOS: true, Extra: map[string]any{"source_format": "gemma-scope-2"}}
	cfgPath := filepath.Join(dir, GemmaScope2CfgFile)
	if _, err := os.Stat(cfgPath); err == nil {
		cfg, err := readJSON(cfgPath)
		if err != nil {
			return nil, err
		}
		if a := jStr(cfg, "architecture"); a != "" && a != "jump_relu" {
			return nil, fmt.Errorf("sae: %s: unknown architecture %q (Gemma Scope 2 SAEs are \"jump_relu\")", cfgPath, a)
		}
		if jBool(cfg, "affine_connection", false) {
			return nil, fmt.Errorf("sae: %s: transcoders with an affine skip connection are not supported", cfgPath)
		}
		s.Meta.ModelName = jStr(cfg, "model_name")
		if h := jStr(cfg, "hf_hook_point_in"); h != "" {
			s.Meta.Extra["hf_hook_name"] = h
		}
	}
	wpath := filepath.Join(dir, GemmaScope2File)
	f, err := weights.OpenFile(wpath)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	defer f.Close()
	ti, ok := f.Info("w_enc")
	if !ok || len(ti.Shape) != 2 {
		return nil, fmt.Errorf("sae: %s: no 2-d tensor \"w_enc\"", wpath)
	}
	if _, ok := f.Info("affine_skip_connection"); ok {
		return nil, fmt.Errorf("sae: %s: transcoders with an affine skip connection are not supported", wpath)
	}
	s.DIn, s.DSAE = ti.Shape[0], ti.Shape[1]
	if err := readStd(f, s, "w_enc", "b_enc", "w_dec", "b_dec"); err != nil {
		return nil, err
	}
	if s.Threshold, err = tensor(f, "threshold", s.DSAE); err != nil {
		return nil, err
	}
	s.Meta.Dtype = dtypeName(f, "w_enc")
	return s, s.Validate()
}

// SaveSAELens writes dir/cfg.json (SAELens v6 layout) and dir/sae_weights.safetensors (float32), plus
// dir/sparsity.safetensors ({"sparsity": log10 feature firing rate [d_sae]}, as SAELens's trainer writes it)
// when sparsity is non-nil. Each file is written atomically (temporary file + rename), the config last, so a
// crash never leaves a partially written file. relu is written as "standard"; batchtopk as "jumprelu" with
// its threshold (as SAELens saves BatchTopK SAEs for inference).
func (s *SAE) SaveSAELens(dir string, sparsity []float32) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if sparsity != nil && len(sparsity) != s.DSAE {
		return fmt.Errorf("sae: SaveSAELens: sparsity has %d entries, want d_sae=%d", len(sparsity), s.DSAE)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	arch := map[Arch]string{ArchTopK: "topk", ArchReLU: "standard", ArchJumpReLU: "jumprelu", ArchBatchTopK: "jumprelu"}[s.Arch]
	ts := []weights.WriteTensor{
		weights.F32Tensor("W_enc", []int{s.DIn, s.DSAE}, s.WEnc),
		weights.F32Tensor("b_enc", []int{s.DSAE}, s.BEnc),
		weights.F32Tensor("W_dec", []int{s.DSAE, s.DIn}, s.WDec),
		weights.F32Tensor("b_dec", []int{s.DIn}, s.BDec),
	}
	if arch == "jumprelu" {
		ts = append(ts, weights.F32Tensor("threshold", []int{s.DSAE}, s.Threshold))
	}
	if err := weights.WriteFile(filepath.Join(dir, SAELensWeightsFile), ts, nil); err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	if sparsity != nil {
		if err := weights.WriteFile(filepath.Join(dir, SAELensSparsityFile),
			[]weights.WriteTensor{weights.F32Tensor("sparsity", []int{s.DSAE}, sparsity)}, nil); err != nil {
			return fmt.Errorf("sae: %w", err)
		}
	}
	md := map[string]any{}
	for k, v := range s.Meta.Extra {
		md[k] = v
	}
	md["model_name"] = s.Meta.ModelName
	md["hook_name"] = s.Meta.HookName
	md["hook_head_index"] = s.Meta.HookHeadIndex
	md["prepend_bos"] = s.Meta.PrependBOS
	md["dataset_path"] = s.Meta.Dataset
	md["context_size"] = s.Meta.ContextSize
	md["sae_lens_version"] = "6.0.0"
	tv := s.Meta.TrainingVersion
	if tv == "" {
		tv = "steer"
	}
	md["sae_lens_training_version"] = tv
	if s.Meta.ScaleFactor != 0 {
		md["norm_scaling_factor_folded"] = s.Meta.ScaleFactor
	}
	reshape := "none"
	if r, _ := md["reshape_activations"].(string); r != "" {
		reshape = r
		delete(md, "reshape_activations")
	}
	cfg := map[string]any{
		"architecture":          arch,
		"d_in":                  s.DIn,
		"d_sae":                 s.DSAE,
		"dtype":                 "float32",
		"device":                "cpu",
		"apply_b_dec_to_input":  s.Meta.ApplyBDecToInput,
		"normalize_activations": saveNorm(s), // any scale factor is folded into the weights
		"reshape_activations":   reshape,
		"metadata":              md,
	}
	if arch == "topk" {
		cfg["k"] = s.K
		cfg["rescale_acts_by_decoder_norm"] = false
	}
	return writeJSON(filepath.Join(dir, SAELensCfgFile), cfg)
}

// saveNorm is the normalize_activations SaveSAELens writes: "none" (scale factors are folded into the
// weights), or the run-time normalisation, which no weights can hold.
func saveNorm(s *SAE) string {
	if s.RuntimeNorm() {
		return s.Meta.Normalize
	}
	return "none"
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	if err := weights.WriteAtomic(path, func(w *bufio.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	return nil
}

// SaveSparsify writes dir/cfg.json + dir/sae.safetensors in EleutherAI sparsify's layout (float32).
// Only topk SAEs can be written. sparsify always subtracts b_dec from the input; an SAE with
// apply_b_dec_to_input = false is converted exactly by folding b_dec into the encoder bias
// (b_enc' = b_enc + b_dec·W_enc).
func (s *SAE) SaveSparsify(dir string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Arch != ArchTopK {
		return fmt.Errorf("sae: sparsify format holds only topk SAEs, not %q", s.Arch)
	}
	if s.RuntimeNorm() {
		return fmt.Errorf("sae: sparsify format has no run-time input normalisation (normalize_activations %q)", s.Meta.Normalize)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	bEnc := append([]float32(nil), s.BEnc...)
	if !s.Meta.ApplyBDecToInput {
		for i, b := range s.BDec {
			if b != 0 {
				axpy(b, s.WEnc[i*s.DSAE:(i+1)*s.DSAE], bEnc)
			}
		}
	}
	ts := []weights.WriteTensor{
		weights.F32Tensor("encoder.weight", []int{s.DSAE, s.DIn}, transpose(s.WEnc, s.DIn, s.DSAE)),
		weights.F32Tensor("encoder.bias", []int{s.DSAE}, bEnc),
		weights.F32Tensor("W_dec", []int{s.DSAE, s.DIn}, s.WDec),
		weights.F32Tensor("b_dec", []int{s.DIn}, s.BDec),
	}
	if err := weights.WriteFile(filepath.Join(dir, SparsifyWeightsFile), ts, nil); err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	ef := 0
	if s.DSAE%s.DIn == 0 {
		ef = s.DSAE / s.DIn
	}
	cfg := map[string]any{
		"activation": "topk", "expansion_factor": ef, "normalize_decoder": true, "num_latents": s.DSAE,
		"k": s.K, "multi_topk": false, "skip_connection": false, "transcode": false, "d_in": s.DIn,
	}
	return writeJSON(filepath.Join(dir, SAELensCfgFile), cfg)
}

// Convert loads the SAE at src (any format Load reads) and writes it to dstDir in format
// (FormatSAELens or FormatSparsify). A sparsity.safetensors next to an SAELens source is carried over.
func Convert(src, dstDir, format string) error {
	s, err := Load(src)
	if err != nil {
		return err
	}
	switch format {
	case FormatSAELens, "saelens-v6", "sae_lens":
		var sp []float32
		if f, err := weights.OpenFile(filepath.Join(src, SAELensSparsityFile)); err == nil {
			sp, _, _ = f.Float32("sparsity")
			f.Close()
			if len(sp) != s.DSAE {
				sp = nil
			}
		}
		return s.SaveSAELens(dstDir, sp)
	case FormatSparsify:
		return s.SaveSparsify(dstDir)
	}
	return fmt.Errorf("sae: unknown output format %q (want %q or %q)", format, FormatSAELens, FormatSparsify)
}
