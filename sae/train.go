package sae

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend" // pure-Go CPU backend
	. "github.com/gomlx/gomlx/core/graph"  //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// TrainConfig configures Train. Zero values take the documented defaults.
type TrainConfig struct {
	Arch Arch // default topk
	DIn  int  // optional: if set, must equal the source's Dim()
	DSAE int  // width; default 16·d_in
	K    int  // topk: active latents per row; batchtopk: mean active latents per row (default 32)

	BatchSize int   // rows per step, default 4096
	Tokens    int64 // training rows (tokens); required. Steps = Tokens / BatchSize (a last partial batch is not used)

	LR          float64 // default 2e-4 / sqrt(d_sae / 2^14) (Gao et al.)
	WarmupSteps int     // linear lr warm-up; default min(1000, steps/20)
	DecayFrac   float64 // lr decays to 0 over this last fraction of the steps; default 0.2; negative: no decay
	Decay       string  // "linear" (default) or "cosine"

	// L1Coef (relu): loss = MSE + L1Coef·Σ_i f_i‖W_dec,i‖₂ (Anthropic April 2024 update). Default 5.
	L1Coef float64
	// L0Coef (jumprelu): loss = MSE + L0Coef·L0 with the rectangle-kernel STE. Default 1.
	L0Coef float64
	// SparsityWarmupSteps: the L1/L0 coefficient ramps linearly from 0 over these steps; default steps/20.
	SparsityWarmupSteps int
	JumpBandwidth       float64 // ε of the rectangle kernel, default 0.05 (SAELens)
	JumpInitThreshold   float64 // initial θ, default 0.01 (SAELens)

	// DeadTokens: a latent that has not fired for this many training tokens is dead. Default
	// min(10M, Tokens/4) so short runs can still detect dead latents.
	DeadTokens int64
	KAux       int     // AuxK latents (topk/batchtopk), default d_in/2
	AuxCoef    float64 // AuxK coefficient, default 1/32; negative disables AuxK

	// NoNormalize disables the input scaling (default: x is scaled by s = sqrt(d_in)/E‖x‖, estimated on the
	// first batch, as SAELens's "expected_average_only_in"; s is folded into the weights at the end).
	NoNormalize bool
	// GeomMedianIters: Weiszfeld iterations for the b_dec init on the first batch, default 50.
	GeomMedianIters int

	Seed uint64

	// TopKGraph trains TopK/BatchTopK with the GoMLX graph step (dense masked graph) instead of the
	// default sparse Go step (dense encoder forward only, everything else over the selected latents; see
	// sparsestep.go). Both compute the same update up to float32 rounding.
	TopKGraph bool
	// TopKSparse (implies TopKGraph) trains TopK with the sparse *graph* variant (the k selected
	// pre-activations recomputed and decoded by gathering W_dec rows in the graph). Measured slower than
	// the dense masked graph on the pure-Go backend (its gather/scatter kernels are generic).
	TopKSparse bool
	// OnDevice trains TopK, ReLU and JumpReLU with one compiled graph per step that also scales the
	// batch, (TopK) selects the latents and runs AuxK, and keeps the dead-latent counters on the device
	// (devicestep.go; ReLU/JumpReLU: densegraph.go's hand-written gradients): nothing but the batch crosses
	// to the device, and results are read back every few steps. Auto (the zero value) turns it on for
	// accelerator backends (not the Go backend or a CPU PJRT plugin).
	OnDevice Toggle
	// BF16Matmuls (OnDevice) runs the step's dense matmuls (the encoder product that selects the k
	// latents, and the [B,S]-sized gradient products for W_enc, W_dec and AuxK) with bfloat16 operands,
	// float32 accumulation and results, as autocast does; the k selected pre-activations, the decode, the
	// loss, Adam and the weights stay float32. For ReLU / JumpReLU it does the same to the five products of
	// the graph step with hand-written gradients (densegraph.go).
	BF16Matmuls bool
	// topKMethod (OnDevice): "chunked" (topKGraph's chunk maxima; "" means it) or "sort" (GoMLX's TopK,
	// a full sort of each row; benchmarks). Chunked measured faster on CPU (5x, 384→6144) and on an H200
	// (4.0 against 10.3 ms per 768→24576 bf16 step).
	topKMethod string
	// deviceGraph (OnDevice with BF16Matmuls; benchmarks): "" the default graph; containing "f32scatter":
	// F and ∂pre scattered as float32 and converted for the products; containing "f32select": the
	// selection pre-activations as a float32 [B,S] matrix, b_enc added separately (both together are the
	// graph before session 3's measurements); containing "chunks=c1/c2/...": topKChunked's chunk sizes;
	// containing "bf16rows": the k selected W_enc and W_dec rows gathered from bfloat16 copies (not yet
	// measured on a GPU).
	deviceGraph string
	// auxCols (OnDevice AuxK): the compact AuxK step's column count (tests); 0 = trainer.auxCols' default
	auxCols int
	// DenseGraph trains ReLU and JumpReLU with the GoMLX graph step (densegraph.go) on the pure-Go backend
	// too, instead of the Go dense step (densestep.go: the same five matmuls, hand-written gradients and two
	// fused elementwise passes). Other backends always use the graph step.
	DenseGraph bool
	// AutodiffGraph makes the ReLU / JumpReLU graph step take its gradients from GoMLX's autodiff instead
	// of the hand-written ones (densegraph.go; the same update): for tests and benchmarks.
	AutodiffGraph bool

	// RunDir, if set, receives checkpoint.safetensors every CheckpointEvery steps (default 1000) and the
	// final SAE (SAELens layout) in RunDir/final.
	RunDir          string
	CheckpointEvery int
	// Resume continues from RunDir/checkpoint.safetensors (a fresh start if there is none). Without it,
	// an existing checkpoint is an error rather than being overwritten.
	Resume bool

	Meta Meta // recorded in the trained SAE (hook, model, dataset, context size, ...)
}

// lockRunDir takes an exclusive lock on dir/.lock (released by the kernel if the process dies, so a
// killed run leaves nothing that blocks its resume) and removes temporary files that a run killed while
// writing a checkpoint or the final SAE left behind (.NAME.tmp-*).
func lockRunDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sae: run dir: %w", err)
	}
	l := flock.New(filepath.Join(dir, ".lock"))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("sae: locking %s: %w", dir, err)
	}
	if !ok {
		return nil, fmt.Errorf("sae: %s is in use by another training run (lock %s)", dir, l.Path())
	}
	for _, d := range []string{dir, filepath.Join(dir, "final")} {
		stale, _ := filepath.Glob(filepath.Join(d, ".*.tmp-*"))
		for _, f := range stale {
			os.Remove(f)
		}
	}
	return func() { l.Unlock() }, nil
}

// UsesDeviceStep says whether Train runs the OnDevice step for cfg on be (see TrainConfig.OnDevice).
func UsesDeviceStep(cfg TrainConfig, be compute.Backend) bool {
	switch cfg.Arch {
	case ArchTopK, "":
		return cfg.OnDevice == On || cfg.OnDevice == Auto && !cfg.TopKGraph && !cfg.TopKSparse && !isCPUBackend(be)
	case ArchReLU, ArchJumpReLU:
		return cfg.OnDevice == On || cfg.OnDevice == Auto && !cfg.AutodiffGraph && !isCPUBackend(be)
	}
	return false // BatchTopK: its batch threshold is kept on the host
}

// usesDenseStep says whether ReLU/JumpReLU train with the Go dense step (densestep.go) on be.
func usesDenseStep(cfg TrainConfig, be compute.Backend) bool {
	return cfg.Arch.dense() && !cfg.DenseGraph && isGoBackend(be)
}

// isGoBackend: the pure-Go backend (its Name() is "Go Backend", its String() "go").
func isGoBackend(be compute.Backend) bool { return be.String() == "go" || be.Name() == "Go Backend" }

// isCPUBackend: the pure-Go backend or an XLA backend on a CPU PJRT plugin, where the sparse Go step is the
// faster one.
func isCPUBackend(be compute.Backend) bool {
	if isGoBackend(be) {
		return true
	}
	p, ok := be.(interface{ PluginName() string })
	return ok && strings.Contains(strings.ToLower(p.PluginName()), "cpu")
}

// Toggle is a tri-state option: Auto (the zero value) lets Train decide.
type Toggle int

const (
	Auto Toggle = iota
	On
	Off
)

// TrainOptions are the non-reproducibility-affecting knobs of Train.
type TrainOptions struct {
	Backend       compute.Backend // nil: the pure-Go backend
	Progress      func(Progress)  // called every ProgressEvery steps and at the end
	Log           io.Writer       // if set, one line per progress report
	ProgressEvery int             // default 10

	progressAt func(step int) bool // benchmarks: report (and sync) at these steps instead of ProgressEvery
	execCache  map[string]*Exec    // benchmarks: compiled steps shared between runs of the same config
}

// Progress is one progress report.
type Progress struct {
	Step, Steps  int
	Tokens       int64
	Loss, MSE    float64 // MSE: mean over rows of Σ_d (x − x̂)², in training (normalized) units
	AuxLoss      float64
	FVU, L0      float64
	DeadFrac     float64
	LR           float64
	TokensPerSec float64
	ETA          time.Duration
}

// TrainResult is what Train returns.
type TrainResult struct {
	SAE *SAE
	// LogSparsity is log10 of each latent's firing rate over the run (as SAELens's sparsity.safetensors;
	// −10 for never-firing latents).
	LogSparsity []float32
	Steps       int
	Tokens      int64
}

func (c *TrainConfig) defaults(dIn int) error {
	if c.Arch == "" {
		c.Arch = ArchTopK
	}
	if !c.Arch.Valid() {
		return fmt.Errorf("sae: Train: unknown architecture %q", c.Arch)
	}
	if c.DSAE == 0 {
		c.DSAE = 16 * dIn
	}
	if c.K == 0 {
		c.K = 32
	}
	if c.BatchSize == 0 {
		c.BatchSize = 4096
	}
	if c.Tokens < int64(c.BatchSize) {
		return fmt.Errorf("sae: Train: Tokens=%d must be at least one batch (%d)", c.Tokens, c.BatchSize)
	}
	steps := int(c.Tokens / int64(c.BatchSize))
	if c.LR == 0 {
		c.LR = 2e-4 / math.Sqrt(float64(c.DSAE)/(1<<14))
	}
	if c.WarmupSteps == 0 {
		c.WarmupSteps = min(1000, steps/20)
	}
	if c.DecayFrac == 0 {
		c.DecayFrac = 0.2
	}
	if c.Decay == "" {
		c.Decay = "linear"
	}
	if c.Decay != "linear" && c.Decay != "cosine" {
		return fmt.Errorf("sae: Train: Decay %q (want linear or cosine)", c.Decay)
	}
	if c.L1Coef == 0 {
		c.L1Coef = 5
	}
	if c.L0Coef == 0 {
		c.L0Coef = 1
	}
	if c.SparsityWarmupSteps == 0 {
		c.SparsityWarmupSteps = steps / 20
	}
	if c.JumpBandwidth == 0 {
		c.JumpBandwidth = 0.05
	}
	if c.JumpInitThreshold == 0 {
		c.JumpInitThreshold = 0.01
	}
	if c.DeadTokens == 0 {
		c.DeadTokens = min(10_000_000, c.Tokens/4)
	}
	if c.KAux == 0 {
		c.KAux = dIn / 2
	}
	c.KAux = min(c.KAux, c.DSAE)
	if c.AuxCoef == 0 {
		c.AuxCoef = 1.0 / 32
	}
	if c.GeomMedianIters == 0 {
		c.GeomMedianIters = 50
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 1000
	}
	if (c.Arch == ArchTopK || c.Arch == ArchBatchTopK) && (c.K <= 0 || c.K > c.DSAE) {
		return fmt.Errorf("sae: Train: k=%d out of range for d_sae=%d", c.K, c.DSAE)
	}
	return nil
}

func (c *TrainConfig) lrAt(step, steps int) float64 { // step is 0-based
	lr := c.LR
	if c.WarmupSteps > 0 && step < c.WarmupSteps {
		lr *= float64(step+1) / float64(c.WarmupSteps)
	}
	if c.DecayFrac > 0 {
		start := int(float64(steps) * (1 - c.DecayFrac))
		if step >= start {
			frac := float64(step-start+1) / float64(steps-start)
			if c.Decay == "cosine" {
				lr *= 0.5 * (1 + math.Cos(math.Pi*frac))
			} else {
				lr *= 1 - frac
			}
		}
	}
	return lr
}

const (
	adamB1  = 0.9
	adamB2  = 0.999
	adamEps = 6.25e-10
	nParams = 5 // W_encT [S,d], b_enc [S], b_dec [d], log_threshold [S], W_dec [S,d]
)

// trainer holds the run state.
type trainer struct {
	cfg      TrainConfig
	opts     TrainOptions
	d, S     int
	steps    int
	backend  compute.Backend
	state    []*tensors.Tensor // params, m, v (3·nParams)
	scale    float32
	step     int   // steps done
	rows     int64 // rows consumed from the source
	since    []int64
	firedTot []int64
	rng      *rand.PCG
	btThresh float64 // batchtopk inference threshold: EMA (rate 0.01) of the smallest kept activation
	encExec  *Exec
	stepExec map[string]*Exec
	onDevice bool         // the OnDevice step is used
	dev      *deviceState // its on-device bookkeeping
	sp       *sparseStep  // sparse topk/batchtopk step buffers
	ds       *denseStep   // dense relu/jumprelu Go step buffers
	mmExec   *Exec        // its encoder matmul
	// lowp is the reduced precision of BF16Matmuls (bfloat16 when unset); tests set float32 to check the
	// bfloat16 graphs' structure exactly.
	lowp dtypes.DType
}

// Train trains an SAE on rows from src. See TrainConfig for the recipe and defaults.
//
// TopK and BatchTopK (default): the encoder matmul is a compiled GoMLX exec, the top-k (per row) or
// top-k·N (per batch) selection is done in Go (exact, ties to the lower index), and the rest of the step
// (decode, AuxK, backward, Adam, decoder renormalisation) runs in Go over the selected latents only (see
// sparsestep.go). With TopKGraph the selection instead feeds a compiled GoMLX training graph as a mask
// (with TopKSparse, TopK trains a sparse graph that gathers only the k active W_dec / W_enc rows).
// ReLU and JumpReLU steps are compiled GoMLX graphs (compiled once, reused).
//
// Determinism: for a given seed and a deterministic source two runs give bit-identical weights, and a run
// resumed from a checkpoint ends with the same weights as an uninterrupted one. Cancelling ctx returns
// ctx.Err() without writing a checkpoint (like a kill): resume from the last periodic one. Non-finite
// activations or losses stop the run with an error naming the step (and row); the last checkpoint is kept.
func Train(ctx context.Context, src Source, cfg TrainConfig, opts TrainOptions) (*TrainResult, error) {
	d := src.Dim()
	if d <= 0 {
		return nil, fmt.Errorf("sae: Train: source has Dim() = %d", d)
	}
	if cfg.DIn != 0 && cfg.DIn != d {
		return nil, fmt.Errorf("sae: Train: the SAE's d_in is %d but the activation source has Dim() = %d", cfg.DIn, d)
	}
	if cfg.Meta.Extra == nil {
		cfg.Meta.Extra = map[string]any{}
	}
	if err := cfg.defaults(d); err != nil {
		return nil, err
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 10
	}
	t := &trainer{cfg: cfg, opts: opts, d: d, S: cfg.DSAE, steps: int(cfg.Tokens / int64(cfg.BatchSize)), stepExec: map[string]*Exec{}}
	if opts.execCache != nil {
		t.stepExec = opts.execCache
	}
	t.backend = opts.Backend
	if t.backend == nil {
		b, err := compute.NewWithConfig("go")
		if err != nil {
			return nil, fmt.Errorf("sae: backend: %w", err)
		}
		t.backend = b
	}
	if cfg.OnDevice == On && cfg.Arch == ArchBatchTopK {
		return nil, fmt.Errorf("sae: Train: OnDevice supports topk, relu and jumprelu, not %s (its batch threshold is kept on the host)", cfg.Arch)
	}
	t.onDevice = UsesDeviceStep(cfg, t.backend)
	B := cfg.BatchSize
	batch := make([]float32, B*d)

	resumed := false
	if cfg.RunDir != "" {
		unlock, err := lockRunDir(cfg.RunDir)
		if err != nil {
			return nil, err
		}
		defer unlock()
		ok, err := t.loadCheckpoint()
		if err != nil {
			return nil, err
		}
		if ok && !cfg.Resume {
			return nil, fmt.Errorf("sae: %s already has a checkpoint: set Resume to continue it, or use another run dir", cfg.RunDir)
		}
		resumed = ok
	}
	if resumed {
		if err := skipRows(src, t.rows, d); err != nil {
			return nil, fmt.Errorf("sae: resuming: restoring the data position (%d rows): %w", t.rows, err)
		}
	}
	haveBatch := false
	if !resumed {
		if err := t.readBatch(src, batch, 0); err != nil {
			return nil, err
		}
		haveBatch = true
		t.init(batch)
	}

	start := time.Now()
	startStep := t.step
	var pf *prefetcher
	if t.onDevice {
		var first []float32
		if haveBatch {
			first = batch
		}
		pf = t.startPrefetch(src, first)
		defer pf.stop()
	}
	var last Progress
	for t.step < t.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next := t.step + 1
		sync := t.reportAt(next) || (cfg.RunDir != "" && next%cfg.CheckpointEvery == 0)
		var p Progress
		var err error
		if pf != nil {
			item := <-pf.out
			if item.err != nil {
				if errors.Is(item.err, io.EOF) {
					break
				}
				return nil, item.err
			}
			t.rows = item.rows
			p, err = t.trainStepDevice(item.x, sync)
			pf.recycle(item.x)
		} else {
			if !haveBatch {
				if err := t.readBatch(src, batch, t.step); err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					return nil, err
				}
			}
			haveBatch = false
			p, err = t.trainStep(batch, sync)
		}
		if err != nil {
			return nil, err
		}
		t.step++
		if cfg.RunDir != "" && t.step%cfg.CheckpointEvery == 0 && t.step < t.steps {
			if err := t.saveCheckpoint(); err != nil {
				return nil, err
			}
		}
		if t.reportAt(t.step) {
			el := time.Since(start).Seconds()
			done := t.step - startStep
			p.Step, p.Steps, p.Tokens = t.step, t.steps, int64(t.step)*int64(B)
			p.TokensPerSec = float64(done*B) / el
			p.ETA = time.Duration(float64(t.steps-t.step) * el / float64(done) * float64(time.Second))
			last = p
			t.report(p)
		}
	}
	_ = last
	s, err := t.toSAE()
	if err != nil {
		return nil, err
	}
	res := &TrainResult{SAE: s, Steps: t.step, Tokens: int64(t.step) * int64(B), LogSparsity: make([]float32, t.S)}
	for j, c := range t.firedTot {
		if c == 0 || res.Tokens == 0 {
			res.LogSparsity[j] = -10
		} else {
			res.LogSparsity[j] = float32(math.Log10(float64(c) / float64(res.Tokens)))
		}
	}
	if cfg.RunDir != "" {
		if err := t.saveCheckpoint(); err != nil {
			return nil, err
		}
		if err := s.SaveSAELens(cfg.RunDir+"/final", res.LogSparsity); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// countFirings folds one step's per-latent firing counts into the tokens-since-fired counters and the
// firing totals, and returns the fraction of dead latents after it.
func countFirings[T int32 | float32](t *trainer, fired []T) float64 {
	B := int64(t.cfg.BatchSize)
	for j, c := range fired {
		if c > 0 {
			t.since[j] = 0
			t.firedTot[j] += int64(c)
		} else {
			t.since[j] += B
		}
	}
	dn := 0
	for _, s := range t.since {
		if s >= t.cfg.DeadTokens {
			dn++
		}
	}
	return float64(dn) / float64(t.S)
}

// newAdamConsts gives the Adam constants of 0-based step for the Go steps (float32, as the graph step).
func newAdamConsts(lr float64, step int) adamConsts {
	n := float64(step + 1)
	return adamConsts{lr: float32(lr), bc1: float32(1 - math.Pow(adamB1, n)), bc2: float32(1 - math.Pow(adamB2, n)),
		b1: adamB1, b2: adamB2, c1: float32(1 - adamB1), c2: float32(1 - adamB2), eps: adamEps}
}

func (t *trainer) reportAt(step int) bool {
	if step == t.steps {
		return true
	}
	if t.opts.progressAt != nil {
		return t.opts.progressAt(step)
	}
	return step%t.opts.ProgressEvery == 0
}

func (t *trainer) report(p Progress) {
	if t.opts.Progress != nil {
		t.opts.Progress(p)
	}
	if t.opts.Log != nil {
		fmt.Fprintf(t.opts.Log, "step %d/%d tokens %d loss %.5g mse %.5g aux %.3g fvu %.4f L0 %.1f dead %.2f%% lr %.3g %.0f tok/s eta %s\n",
			p.Step, p.Steps, p.Tokens, p.Loss, p.MSE, p.AuxLoss, p.FVU, p.L0, 100*p.DeadFrac, p.LR, p.TokensPerSec, p.ETA.Round(time.Second))
	}
}

// readBatch fills batch with exactly BatchSize rows, checking them for NaN/Inf.
func (t *trainer) readBatch(src Source, batch []float32, step int) error {
	if err := readBatchFrom(src, batch, t.d, step, t.rows); err != nil {
		return err
	}
	t.rows += int64(t.cfg.BatchSize)
	return nil
}

// readBatchFrom fills batch (a whole number of rows of d) from src and checks it for NaN/Inf; rows is the
// source position before it (for error messages). io.EOF if the source ends before the batch is full.
func readBatchFrom(src Source, batch []float32, d, step int, rows int64) error {
	filled, want := 0, len(batch)/d
	for filled < want {
		n, err := src.Next(batch[filled*d:])
		filled += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				if filled < want {
					return io.EOF
				}
				break
			}
			return fmt.Errorf("sae: step %d: reading activations: %w", step+1, err)
		}
		if n == 0 {
			return fmt.Errorf("sae: step %d: source returned 0 rows without error", step+1)
		}
	}
	if i := firstNonFinite(batch); i >= 0 {
		return fmt.Errorf("sae: step %d: non-finite activation %v in batch row %d (source row %d), column %d",
			step+1, batch[i], i/d, rows+int64(i/d), i%d)
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or ±Inf in a, or −1; large slices are scanned in parallel.
func firstNonFinite(a []float32) int {
	const chunk = 1 << 16
	scan := func(lo, hi int) int {
		for i := lo; i < hi; i++ {
			if a[i]-a[i] != 0 {
				return i
			}
		}
		return -1
	}
	n := (len(a) + chunk - 1) / chunk
	if n <= 1 {
		return scan(0, len(a))
	}
	first := make([]int, n)
	parallelDynamic(n, 1, func(_, c0, c1 int) {
		for c := c0; c < c1; c++ {
			first[c] = scan(c*chunk, min((c+1)*chunk, len(a)))
		}
	})
	for _, i := range first {
		if i >= 0 {
			return i
		}
	}
	return -1
}

func skipRows(src Source, rows int64, d int) error {
	if rows == 0 {
		return nil
	}
	if sk, ok := src.(Seeker); ok {
		return sk.Skip(rows)
	}
	buf := make([]float32, 4096*d)
	for rows > 0 {
		n, err := src.Next(buf[:min(int64(4096), rows)*int64(d)])
		rows -= int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

// init sets the initial weights from the seed and the first batch (scale and b_dec).
func (t *trainer) init(batch []float32) {
	d, S, B := t.d, t.S, t.cfg.BatchSize
	t.rng = rand.NewPCG(t.cfg.Seed, 0x5ae5ae)
	r := rand.New(t.rng)
	t.scale = 1
	if !t.cfg.NoNormalize {
		var sum float64
		for n := range B {
			var a float64
			for _, v := range batch[n*d : (n+1)*d] {
				a += float64(v) * float64(v)
			}
			sum += math.Sqrt(a)
		}
		if sum > 0 {
			t.scale = float32(math.Sqrt(float64(d)) / (sum / float64(B)))
		}
	}
	scaled := make([]float32, len(batch))
	for i, v := range batch {
		scaled[i] = v * t.scale
	}
	bDec := GeometricMedian(scaled, B, d, t.cfg.GeomMedianIters)
	wDec := make([]float32, S*d)
	for j := range S {
		row := wDec[j*d : (j+1)*d]
		var nrm float64
		for i := range row {
			row[i] = float32(r.NormFloat64())
			nrm += float64(row[i]) * float64(row[i])
		}
		inv := float32(1 / math.Sqrt(nrm))
		for i := range row {
			row[i] *= inv
		}
	}
	wEncT := append([]float32(nil), wDec...) // W_enc = W_decᵀ, stored transposed as [S,d]
	logTh := make([]float32, S)
	for j := range logTh {
		logTh[j] = float32(math.Log(t.cfg.JumpInitThreshold))
	}
	params := [][]float32{wEncT, make([]float32, S), bDec, logTh, wDec}
	shapes := t.paramShapes()
	t.state = make([]*tensors.Tensor, 3*nParams)
	for i := range nParams {
		t.state[i] = tensors.FromFlatDataAndDimensions(params[i], shapes[i]...)
		t.state[nParams+i] = tensors.FromFlatDataAndDimensions(make([]float32, len(params[i])), shapes[i]...)
		t.state[2*nParams+i] = tensors.FromFlatDataAndDimensions(make([]float32, len(params[i])), shapes[i]...)
	}
	t.since = make([]int64, S)
	t.firedTot = make([]int64, S)
}

func (t *trainer) paramShapes() [][]int {
	return [][]int{{t.S, t.d}, {t.S}, {t.d}, {t.S}, {t.S, t.d}}
}

// GeometricMedian returns the geometric median of n rows of x ([n,d]) by Weiszfeld iterations, started
// at the coordinate-wise mean.
func GeometricMedian(x []float32, n, d, iters int) []float32 {
	y := make([]float64, d)
	for r := range n {
		for i := range d {
			y[i] += float64(x[r*d+i])
		}
	}
	for i := range y {
		y[i] /= float64(n)
	}
	num := make([]float64, d)
	for range iters {
		clear(num)
		var den float64
		for r := range n {
			var dist float64
			for i := range d {
				dd := float64(x[r*d+i]) - y[i]
				dist += dd * dd
			}
			w := 1 / math.Max(math.Sqrt(dist), 1e-8)
			den += w
			for i := range d {
				num[i] += w * float64(x[r*d+i])
			}
		}
		var move float64
		for i := range y {
			nv := num[i] / den
			move += (nv - y[i]) * (nv - y[i])
			y[i] = nv
		}
		if move < 1e-16 {
			break
		}
	}
	out := make([]float32, d)
	for i, v := range y {
		out[i] = float32(v)
	}
	return out
}

// toSAE converts the training state into an SAE with the scale folded in.
func (t *trainer) toSAE() (*SAE, error) {
	p := make([][]float32, nParams)
	for i := range nParams {
		v, err := tensors.CopyFlatData[float32](t.state[i])
		if err != nil {
			return nil, err
		}
		p[i] = v
	}
	s := &SAE{Arch: t.cfg.Arch, DIn: t.d, DSAE: t.S, K: t.cfg.K,
		WEnc: transpose(p[0], t.S, t.d), BEnc: p[1], BDec: p[2], WDec: p[4], Meta: t.cfg.Meta}
	if s.Arch == ArchReLU {
		s.K = 0
	}
	s.Meta.ApplyBDecToInput = true
	s.Meta.Normalize = "none"
	s.Meta.Dtype = "float32"
	switch s.Arch {
	case ArchJumpReLU:
		s.Threshold = make([]float32, t.S)
		for j, v := range p[3] {
			s.Threshold[j] = float32(math.Exp(float64(v)))
		}
	case ArchBatchTopK:
		th := float32(t.btThresh)
		s.Threshold = make([]float32, t.S)
		for j := range s.Threshold {
			s.Threshold[j] = th
		}
	}
	if t.scale != 1 {
		s.FoldScale(t.scale)
		s.Meta.Normalize = "none"
	}
	return s, s.Validate()
}
