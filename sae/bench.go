package sae

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// BenchConfig describes one training-throughput measurement on synthetic activations.
type BenchConfig struct {
	Arch        Arch
	DIn, DSAE   int
	K           int
	BatchSize   int
	Steps       int // timed steps (default 20)
	Warmup      int // untimed steps first, compilation included (default 3)
	OnDevice    Toggle
	BF16Matmuls bool
	TopK        string // OnDevice: "sort", "chunked" or "" (the backend's best: sort on GPUs)
	ForceAux    bool   // the step-alone timing starts with some latents dead (DeadFraction), so AuxK runs
	// DeadFraction (ForceAux): the fraction of latents dead at the start, spread evenly; 0 means half. Up to
	// about 3/32 (S/8 columns, less room for growth) the compact AuxK step runs, above it the full one.
	DeadFraction float64
	DeviceGraph  string // OnDevice bf16 graph variant, for comparisons (TrainConfig.deviceGraph's values)
	// ReLU / JumpReLU: DenseGraph trains with the graph step on the pure-Go backend too (not the Go dense
	// step), AutodiffGraph with the autodiff graph step (TrainConfig's fields of those names).
	DenseGraph, AutodiffGraph bool
	Seed                      uint64
}

// BenchResult is one measurement. TrainTokensPerSec times Train itself (data source, checks, upload,
// step, progress reports) over the timed steps; ResidentTokensPerSec, for the OnDevice step, times the
// step alone on batches already on the device (what a step costs when the activations are produced on the
// device). FirstStep is the wall time of the first step (graph compilation included).
type BenchResult struct {
	Backend              string  `json:"backend"`
	Arch                 string  `json:"arch"`
	Step                 string  `json:"step"`
	TopK                 string  `json:"topk_method,omitempty"`
	BF16Matmuls          bool    `json:"bf16_matmuls"`
	AuxK                 bool    `json:"auxk_in_step_alone,omitempty"`
	DIn                  int     `json:"d_in"`
	DSAE                 int     `json:"d_sae"`
	K                    int     `json:"k"`
	BatchSize            int     `json:"batch_size"`
	Steps                int     `json:"timed_steps"`
	TrainTokensPerSec    float64 `json:"train_tokens_per_sec"`
	TrainMsPerStep       float64 `json:"train_ms_per_step"`
	ResidentTokensPerSec float64 `json:"resident_tokens_per_sec,omitempty"`
	ResidentMsPerStep    float64 `json:"resident_ms_per_step,omitempty"`
	UploadMsPerBatch     float64 `json:"upload_ms_per_batch,omitempty"`
	FirstStepSeconds     float64 `json:"first_step_seconds"`
	FinalFVU             float64 `json:"final_fvu"`
}

// Bench measures SAE training throughput on be with c's shapes, on synthetic activations (8 distinct
// batches, looped).
func Bench(ctx context.Context, be compute.Backend, c BenchConfig) (*BenchResult, error) {
	if c.Steps <= 0 {
		c.Steps = 20
	}
	if c.Warmup <= 0 {
		c.Warmup = 3
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 4096
	}
	if c.DIn <= 0 {
		return nil, fmt.Errorf("sae: Bench: d_in %d", c.DIn)
	}
	B, d := c.BatchSize, c.DIn
	data := SyntheticActivations(8*B, d, 4*d, 8, c.Seed+1)
	cfg := TrainConfig{Arch: c.Arch, DSAE: c.DSAE, K: c.K, BatchSize: B, Tokens: int64(B * (c.Warmup + c.Steps)), Seed: c.Seed,
		DeadTokens: 1 << 40, OnDevice: c.OnDevice, BF16Matmuls: c.BF16Matmuls, topKMethod: c.TopK, deviceGraph: c.DeviceGraph,
		DenseGraph: c.DenseGraph, AutodiffGraph: c.AutodiffGraph}
	src := NewSliceSource(data, d)
	src.Loop = true
	res := &BenchResult{Backend: be.String(), DIn: d, BatchSize: B, Steps: c.Steps}
	start := time.Now()
	var tWarm, tEnd time.Time
	var first time.Duration
	var last Progress
	execs := map[string]*graph.Exec{}
	r, err := Train(ctx, src, cfg, TrainOptions{Backend: be, ProgressEvery: 1, execCache: execs, Progress: func(p Progress) {
		if p.Step == 1 {
			first = time.Since(start)
		}
		if p.Step == c.Warmup {
			tWarm = time.Now()
		}
		tEnd = time.Now() // the last report is the last step (Train then returns the SAE: not timed)
		last = p
	}, progressAt: func(step int) bool { return step == 1 || step == c.Warmup || step%10 == 0 }})
	if err != nil {
		return nil, err
	}
	el := tEnd.Sub(tWarm).Seconds()
	res.Arch, res.DSAE, res.K = string(r.SAE.Arch), r.SAE.DSAE, r.SAE.K
	res.TrainTokensPerSec = float64(c.Steps*B) / el
	res.TrainMsPerStep = 1000 * el / float64(c.Steps)
	res.FirstStepSeconds = first.Seconds()
	res.FinalFVU = last.FVU
	res.Step = stepName(cfg, be)
	res.BF16Matmuls = c.BF16Matmuls
	if res.Step != "device" {
		return res, nil
	}
	// the step alone, on batches already on the device
	if err := cfg.defaults(d); err != nil {
		return nil, err
	}
	topk := cfg.Arch == ArchTopK
	if topk {
		res.TopK = cfg.topKMethod
		if res.TopK == "" {
			res.TopK = "chunked"
		}
	}
	if c.ForceAux && topk {
		cfg.DeadTokens = int64(B) * 1000
		res.AuxK = true
		execs = map[string]*graph.Exec{} // the graphs bake DeadTokens in
	}
	t := &trainer{cfg: cfg, d: d, S: cfg.DSAE, steps: c.Warmup + c.Steps, stepExec: execs, backend: be, onDevice: true}
	t.init(data[:B*d])
	if res.AuxK { // some latents start dead: the AuxK branch runs on every step
		frac := c.DeadFraction
		if frac <= 0 || frac > 1 {
			frac = 0.5
		}
		n := max(1, int(frac*float64(t.S)))
		for i := range n {
			t.since[i*t.S/n] = cfg.DeadTokens
		}
	}
	xs := make([]*tensors.Tensor, 4)
	for i := range xs {
		xs[i] = tensors.FromFlatDataAndDimensions(data[i*B*d:(i+1)*B*d], B, d)
		if err := xs[i].MaterializeOnDevice(be, false, 0); err != nil {
			return nil, err
		}
		defer xs[i].FinalizeAll()
	}
	var t0 time.Time
	for s := range c.Warmup + c.Steps {
		if s == c.Warmup {
			t0 = time.Now()
		}
		if _, err := t.trainStepDevice(xs[s%len(xs)], s == c.Warmup-1 || s == c.Warmup+c.Steps-1); err != nil {
			return nil, err
		}
		t.step++
	}
	el = time.Since(t0).Seconds()
	res.ResidentTokensPerSec = float64(c.Steps*B) / el
	res.ResidentMsPerStep = 1000 * el / float64(c.Steps)
	// one batch's host→device copy, alone (the train loop overlaps it with the previous step)
	var up []float64
	for i := range 5 {
		x := tensors.FromFlatDataAndDimensions(data[i%8*B*d:(i%8+1)*B*d], B, d)
		t1 := time.Now()
		err := x.MaterializeOnDevice(be, false, 0)
		up = append(up, time.Since(t1).Seconds())
		x.FinalizeAll()
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(up)
	res.UploadMsPerBatch = 1000 * up[len(up)/2]
	return res, nil
}

func stepName(cfg TrainConfig, be compute.Backend) string {
	switch {
	case UsesDeviceStep(cfg, be):
		return "device"
	case usesDenseStep(cfg, be):
		return "dense-go"
	case cfg.Arch == ArchTopK || cfg.Arch == ArchBatchTopK || cfg.Arch == "":
		return "sparse-go"
	}
	return "graph"
}
