package sae

import (
	"context"
	"errors"
	"github.com/gomlx/gomlx/core/tensors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// synthData: rows = Σ of a few random ground-truth directions with positive coefficients + offset + noise.
func synthData(n, d, nFeat, active int, seed uint64) []float32 {
	return SyntheticActivations(n, d, nFeat, active, seed)
}

func smallCfg(arch Arch) TrainConfig {
	return TrainConfig{Arch: arch, DSAE: 64, K: 4, BatchSize: 128, Tokens: 128 * 40, LR: 3e-3, Seed: 7,
		L1Coef: 0.05, L0Coef: 0.02, JumpBandwidth: 0.05, DeadTokens: 128 * 10, KAux: 8, WarmupSteps: 2}
}

func TestTrainAllArchsReduceFVU(t *testing.T) {
	data := synthData(128*40, 16, 48, 3, 1)
	for _, name := range []string{"topk", "topk-sparse", "topk-graph", "topk-device", "batchtopk", "batchtopk-graph", "relu", "jumprelu"} {
		t.Run(name, func(t *testing.T) {
			arch := Arch(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "-sparse"), "-graph"), "-device"))
			cfg := smallCfg(arch)
			if strings.HasSuffix(name, "-device") {
				cfg.OnDevice = On
			}
			cfg.TopKSparse = name == "topk-sparse"
			cfg.TopKGraph = strings.HasSuffix(name, "-graph")
			first, last, ev := trainAndEvaluate(t, data, 16, cfg, nil)
			t.Logf("%s: train FVU %.3f -> %.3f, L0 %.2f; eval FVU %.3f L0 %.2f dead %.2f", arch, first.FVU, last.FVU, last.L0, ev.FVU, ev.L0, ev.DeadFrac)
			maxFVU := 0.5
			if arch == ArchBatchTopK {
				// the inference threshold is an EMA (rate 0.01) of the smallest kept activation: after only 40
				// steps it is not yet calibrated, so eval L0 differs from training's k.
				maxFVU = 0.7
				if ev.L0 < 1 || ev.L0 > 16 {
					t.Fatalf("batchtopk eval L0 %.2f far from k=4", ev.L0)
				}
			}
			if !(ev.FVU < maxFVU && last.FVU < first.FVU*0.7) {
				t.Fatalf("training did not reduce FVU enough: first %.3f last %.3f eval %.3f", first.FVU, last.FVU, ev.FVU)
			}
			if arch == ArchTopK && ev.L0 > 4 {
				t.Fatalf("topk L0 %.2f > k", ev.L0)
			}
			if math.Abs(ev.FVU+ev.ExplainedVariance-1) > 1e-9 {
				t.Fatal("explained variance != 1 - FVU")
			}
		})
	}
}

func weightsEqual(a, b *SAE) bool {
	return slices.Equal(a.WEnc, b.WEnc) && slices.Equal(a.WDec, b.WDec) && slices.Equal(a.BEnc, b.BEnc) &&
		slices.Equal(a.BDec, b.BDec) && slices.Equal(a.Threshold, b.Threshold)
}

func TestTrainDeterministicAndResume(t *testing.T) {
	data := synthData(128*40, 16, 48, 3, 2)
	for _, arch := range []Arch{ArchTopK, ArchBatchTopK, ArchJumpReLU} {
		t.Run(string(arch), func(t *testing.T) {
			cfg := smallCfg(arch)
			cfg.Tokens = 128 * 24
			cfg.DeadTokens = 128 * 3 // dead latents appear, so the AuxK graph is exercised
			run := func(c TrainConfig, ctx context.Context, progress func(Progress)) (*TrainResult, error) {
				return Train(ctx, NewSliceSource(data, 16), c, TrainOptions{ProgressEvery: 1, Progress: progress})
			}
			a, err := run(cfg, context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := run(cfg, context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !weightsEqual(a.SAE, b.SAE) {
				t.Fatal("two runs with the same seed differ")
			}
			c2 := cfg
			c2.Seed = 8
			if c, err := run(c2, context.Background(), nil); err != nil || weightsEqual(a.SAE, c.SAE) {
				t.Fatalf("a different seed gives identical weights (err %v)", err)
			}

			// Interrupted run: checkpoints every 5 steps, cancelled after step 13 (no checkpoint on cancel,
			// like kill -9), then resumed from step 10.
			dir := t.TempDir()
			cr := cfg
			cr.RunDir, cr.CheckpointEvery = dir, 5
			ctx, cancel := context.WithCancel(context.Background())
			_, err = run(cr, ctx, func(p Progress) {
				if p.Step == 13 {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
			if _, err := run(cr, context.Background(), nil); err == nil || !strings.Contains(err.Error(), "Resume") {
				t.Fatalf("an existing checkpoint without Resume must be an error, got %v", err)
			}
			cr.Resume = true
			firstStep := 0
			r, err := run(cr, context.Background(), func(p Progress) {
				if firstStep == 0 {
					firstStep = p.Step
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if firstStep != 11 {
				t.Fatalf("resumed run started at step %d, want 11", firstStep)
			}
			if !weightsEqual(a.SAE, r.SAE) {
				t.Fatal("resumed run differs from the uninterrupted one")
			}
			if !slices.Equal(a.LogSparsity, r.LogSparsity) {
				t.Fatal("resumed run's sparsity differs")
			}
			final, err := Load(filepath.Join(dir, "final"))
			if err != nil || !weightsEqual(final, r.SAE) {
				t.Fatalf("final SAELens dir: %v", err)
			}
		})
	}
}

func TestCorruptCheckpointDetected(t *testing.T) {
	data := synthData(128*12, 16, 48, 3, 3)
	cfg := smallCfg(ArchTopK)
	cfg.Tokens = 128 * 8
	cfg.RunDir, cfg.CheckpointEvery, cfg.Resume = t.TempDir(), 4, true
	if _, err := Train(context.Background(), NewSliceSource(data, 16), cfg, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.RunDir, CheckpointFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"flipped":   func(b []byte) []byte { c := slices.Clone(b); c[len(c)-100] ^= 0x40; return c },
	} {
		os.WriteFile(path, mutate(orig), 0o644)
		_, err := Train(context.Background(), NewSliceSource(data, 16), cfg, TrainOptions{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("%s checkpoint: want an error naming %s, got %v", name, path, err)
		}
	}
}

type nanSource struct {
	*SliceSource
}

func TestTrainNaNStopsAndKeepsCheckpoint(t *testing.T) {
	for _, onDevice := range []Toggle{Off, On} {
		t.Run(map[Toggle]string{Off: "host", On: "device"}[onDevice], func(t *testing.T) {
			data := synthData(128*20, 16, 48, 3, 4)
			bad := slices.Clone(data)
			bad[(128*9+5)*16+3] = float32(math.NaN()) // step 10, batch row 5
			cfg := smallCfg(ArchTopK)
			cfg.OnDevice = onDevice
			cfg.Tokens = 128 * 20
			cfg.RunDir, cfg.CheckpointEvery = t.TempDir(), 4
			_, err := Train(context.Background(), NewSliceSource(bad, 16), cfg, TrainOptions{})
			if err == nil || !strings.Contains(err.Error(), "step 10") || !strings.Contains(err.Error(), "row 5") {
				t.Fatalf("want an error naming step 10 row 5, got %v", err)
			}
			// The checkpoint of step 8 is intact and resumable.
			cfg.Resume = true
			res, err := Train(context.Background(), NewSliceSource(data, 16), cfg, TrainOptions{})
			if err != nil {
				t.Fatalf("resume after NaN: %v", err)
			}
			if res.Steps != 20 {
				t.Fatalf("steps %d", res.Steps)
			}
			// Exploding loss: huge learning rate overflows to Inf/NaN.
			c2 := smallCfg(ArchReLU)
			if onDevice == On {
				c2 = smallCfg(ArchTopK)
				c2.OnDevice = On
			}
			c2.LR = 1e30
			c2.WarmupSteps = -1
			c2.RunDir, c2.CheckpointEvery = t.TempDir(), 1
			_, err = Train(context.Background(), NewSliceSource(data, 16), c2, TrainOptions{})
			if err == nil || !strings.Contains(err.Error(), "non-finite") || !strings.Contains(err.Error(), "step ") {
				t.Fatalf("want a non-finite loss error naming the step, got %v", err)
			}
			t.Logf("exploding run: %v", err)
			// nothing non-finite reached a checkpoint
			c2.Resume = true
			tr := &trainer{cfg: c2, d: 16, S: 64}
			if ok, err := tr.loadCheckpoint(); ok && err == nil {
				for i := range nParams {
					v, _ := tensors.CopyFlatData[float32](tr.state[i])
					if !finite32(v) {
						t.Fatalf("checkpoint at step %d holds non-finite parameters", tr.step)
					}
				}
			}
		})
	}
}

func TestDimMismatch(t *testing.T) {
	data := synthData(256, 16, 8, 2, 5)
	cfg := smallCfg(ArchTopK)
	cfg.DIn = 32
	if _, err := Train(context.Background(), NewSliceSource(data, 16), cfg, TrainOptions{}); err == nil || !strings.Contains(err.Error(), "d_in is 32") {
		t.Fatalf("want d_in mismatch error, got %v", err)
	}
	s := randSAE(ArchTopK, 8, 16, 2, 1)
	if _, err := Evaluate(s, NewSliceSource(data, 16), 0); err == nil || !strings.Contains(err.Error(), "Dim() = 16") {
		t.Fatalf("want Dim mismatch error, got %v", err)
	}
}

// TrainForTest trains a small TopK SAE (used by the Python round trip).
func TrainForTest(data []float32, d int) (*TrainResult, error) {
	cfg := smallCfg(ArchTopK)
	cfg.Tokens = int64(len(data) / d / cfg.BatchSize * cfg.BatchSize)
	return Train(context.Background(), NewSliceSource(data, d), cfg, TrainOptions{})
}

// TestRunDirLocked: a run directory in use is refused; stale temporary files of a killed run are removed.
func TestRunDirLocked(t *testing.T) {
	dir := t.TempDir()
	stale := dir + "/.checkpoint.safetensors.tmp-123"
	if err := os.WriteFile(stale, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockRunDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file kept: %v", err)
	}
	cfg := smallCfg(ArchTopK)
	cfg.RunDir = dir
	_, err = Train(context.Background(), NewSliceSource(synthData(128*4, 16, 48, 3, 1), 16), cfg, TrainOptions{})
	if err == nil || !strings.Contains(err.Error(), "in use by another training run") {
		t.Fatalf("want a lock error, got %v", err)
	}
	unlock()
	if _, err := Train(context.Background(), NewSliceSource(synthData(128*40, 16, 48, 3, 1), 16), cfg, TrainOptions{}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
