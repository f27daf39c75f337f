package sae

import (
	"encoding/json"
	"fmt"
	"github.com/gomlx/compute"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/steer-dev/steer/weights"
)

// torchRefTol bounds max|ours − torch| / max|torch| per tensor: our steps run in float32, the reference in
// float64, and both make the same discrete decisions (the generator keeps every decision away from its
// boundary), so the differences are float32 rounding carried through three Adam steps.
const torchRefTol = 1e-5

type torchRefMeta struct {
	Steps  int `json:"steps"`
	DIn    int `json:"d_in"`
	Config struct {
		DSAE                int     `json:"d_sae"`
		K                   int     `json:"k"`
		BatchSize           int     `json:"batch_size"`
		Tokens              int64   `json:"tokens"`
		LR                  float64 `json:"lr"`
		WarmupSteps         int     `json:"warmup_steps"`
		DecayFrac           float64 `json:"decay_frac"`
		SparsityWarmupSteps int     `json:"sparsity_warmup_steps"`
		L1Coef              float64 `json:"l1_coef"`
		L0Coef              float64 `json:"l0_coef"`
		JumpBandwidth       float64 `json:"jump_bandwidth"`
		KAux                int     `json:"k_aux"`
		AuxCoef             float64 `json:"aux_coef"`
		DeadTokens          int64   `json:"dead_tokens"`
	} `json:"config"`
	Cases map[string]struct {
		Arch  Arch `json:"arch"`
		Aux   bool `json:"aux"`
		Stats []struct {
			Loss, MSE, Aux, L0, LR, Coef float64
			NDead                        int     `json:"n_dead"`
			BTThresh                     float64 `json:"batchtopk_threshold"`
		} `json:"stats"`
	} `json:"cases"`
}

// TestStepsMatchTorchAutograd checks our training steps against an independent PyTorch implementation of
// the recipe (testdata/gen_torch_steps.py: float64, gradients by torch autograd from losses written from
// the papers, torch.optim.Adam, the decoder-row gradient projection and renormalisation, the lr and
// sparsity-coefficient warm-ups and the lr decay, dead-latent counting). From the same initial state and
// batches (d 16, S 64, k 4, batch 32, 3 steps) every step variant that trains the arch on the Go backend
// must give the reference's parameters after each step, and its Adam moments, loss statistics and
// dead-latent counters after the last, within torchRefTol (relative to each tensor's largest entry).
// Cases: topk, batchtopk (each without and with half of the latents dead, so AuxK is active), relu
// (decoder-norm-weighted L1, free decoder), jumprelu (rectangle-kernel STE for θ and the L0 penalty).
func TestStepsMatchTorchAutograd(t *testing.T) { checkStepsMatchTorch(t, goBackend(t)) }

// checkStepsMatchTorch runs TestStepsMatchTorchAutograd's comparison with the graphs on backend be.
func checkStepsMatchTorch(t *testing.T, be compute.Backend) {
	f, err := weights.OpenFile("testdata/torchsteps/steps.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var meta torchRefMeta
	if err := json.Unmarshal([]byte(f.Metadata()["torch_reference"]), &meta); err != nil {
		t.Fatal(err)
	}
	get := func(name string) []float32 {
		t.Helper()
		v, _, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	d, c := meta.DIn, meta.Config
	B, S := c.BatchSize, c.DSAE
	x := get("x")
	var init [nParams][]float32
	for i, n := range ckptNames {
		init[i] = get("init." + n)
	}
	type variant struct {
		name   string
		set    func(*TrainConfig)
		device bool
	}
	none := func(*TrainConfig) {}
	topk := []variant{{"sparse", none, false}, {"graph", func(c *TrainConfig) { c.TopKGraph = true }, false},
		{"device", none, true}}
	dense := []variant{{"dense", none, false}, {"densegraph", func(c *TrainConfig) { c.DenseGraph = true }, false},
		{"autodiff", func(c *TrainConfig) { c.DenseGraph, c.AutodiffGraph = true, true }, false}, {"device", none, true}}
	variants := map[Arch][]variant{ArchTopK: topk, ArchBatchTopK: topk[:2], ArchReLU: dense, ArchJumpReLU: dense}

	names := make([]string, 0, len(meta.Cases))
	for n := range meta.Cases {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) != 6 {
		t.Fatalf("fixture has cases %v", names)
	}
	for _, cn := range names {
		cs := meta.Cases[cn]
		since0, _, err := f.Int64(cn + ".since0")
		if err != nil {
			t.Fatal(err)
		}
		sinceRef, _, err := f.Int64(cn + ".since")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants[cs.Arch] {
			t.Run(cn+"/"+v.name, func(t *testing.T) {
				cfg := TrainConfig{Arch: cs.Arch, DSAE: S, K: c.K, BatchSize: B, Tokens: c.Tokens, LR: c.LR,
					WarmupSteps: c.WarmupSteps, DecayFrac: c.DecayFrac, SparsityWarmupSteps: c.SparsityWarmupSteps,
					L1Coef: c.L1Coef, L0Coef: c.L0Coef, JumpBandwidth: c.JumpBandwidth, KAux: c.KAux, AuxCoef: c.AuxCoef,
					DeadTokens: c.DeadTokens, NoNormalize: true}
				v.set(&cfg)
				if err := cfg.defaults(d); err != nil {
					t.Fatal(err)
				}
				tr := &trainer{cfg: cfg, d: d, S: S, steps: int(cfg.Tokens / int64(B)), stepExec: map[string]*graph.Exec{},
					backend: be, scale: 1, since: slices.Clone(since0), firedTot: make([]int64, S), onDevice: v.device}
				shapes := tr.paramShapes()
				for i := range 3 * nParams {
					var data []float32
					if i < nParams {
						data = slices.Clone(init[i])
					} else {
						data = make([]float32, len(init[i%nParams]))
					}
					tr.state = append(tr.state, tensors.FromFlatDataAndDimensions(data, shapes[i%nParams]...))
				}
				state := func(i int) []float32 {
					v, err := tensors.CopyFlatData[float32](tr.state[i])
					if err != nil {
						t.Fatal(err)
					}
					return v
				}
				var worstP, worstMV float64
				check := func(what string, got, want []float32) float64 {
					t.Helper()
					r := relDiff(got, want)
					if !(r <= torchRefTol) {
						t.Errorf("%s: rel diff %.2e > %.0e", what, r, torchRefTol)
					}
					return r
				}
				for s := range meta.Steps {
					p, err := tr.trainStep(x[s*B*d:(s+1)*B*d], true)
					if err != nil {
						t.Fatal(err)
					}
					tr.step++
					ref := cs.Stats[s]
					if math.Abs(p.LR-ref.LR) > 1e-12*ref.LR || math.Abs(tr.sparsityCoef0(s)-ref.Coef) > 1e-12 {
						t.Errorf("step %d: lr %v coef %v, torch lr %v coef %v", s+1, p.LR, tr.sparsityCoef0(s), ref.LR, ref.Coef)
					}
					if math.Abs(p.MSE-ref.MSE) > 1e-5*ref.MSE || math.Abs(p.AuxLoss-ref.Aux) > 1e-5*ref.Aux || p.L0 != ref.L0 ||
						math.Abs(p.Loss-ref.Loss) > 1e-5*ref.Loss {
						t.Errorf("step %d: loss %.7g mse %.7g aux %.7g L0 %v; torch %.7g %.7g %.7g %v", s+1, p.Loss, p.MSE,
							p.AuxLoss, p.L0, ref.Loss, ref.MSE, ref.Aux, ref.L0)
					}
					if cs.Aux && ref.NDead > 0 && p.AuxLoss == 0 {
						t.Errorf("step %d: AuxK inactive (torch: %d dead)", s+1, ref.NDead)
					}
					if cs.Arch == ArchBatchTopK && math.Abs(tr.btThresh-ref.BTThresh) > 1e-5*ref.BTThresh {
						t.Errorf("step %d: batchtopk threshold %v, torch %v", s+1, tr.btThresh, ref.BTThresh)
					}
					for i, n := range ckptNames {
						got := state(i)
						if i == 3 && cs.Arch != ArchJumpReLU {
							if !slices.Equal(got, init[3]) {
								t.Errorf("step %d: log_threshold changed for %s", s+1, cs.Arch)
							}
							continue
						}
						worstP = max(worstP, check(fmt.Sprintf("step %d %s", s+1, n), got, get(fmt.Sprintf("%s.%d.%s", cn, s+1, n))))
					}
				}
				for i := nParams; i < 3*nParams; i++ {
					n := ckptName(i)
					worstMV = max(worstMV, check(n, state(i), get(cn+"."+n)))
				}
				if !v.device && !slices.Equal(tr.since, sinceRef) {
					t.Errorf("tokens since fired %v, torch %v", tr.since, sinceRef)
				}
				t.Logf("worst rel diff vs torch over %d steps: params %.2e, Adam m/v after the last %.2e", meta.Steps, worstP, worstMV)
			})
		}
	}
}

// sparsityCoef0 is sparsityCoef at 0-based step s.
func (t *trainer) sparsityCoef0(s int) float64 {
	old := t.step
	t.step = s
	defer func() { t.step = old }()
	return t.sparsityCoef()
}
