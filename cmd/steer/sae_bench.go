package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/sae"
)

func newSAEBenchCmd(s *ioStreams) *cobra.Command {
	var (
		c        sae.BenchConfig
		arch     string
		backend  string
		onDevice string
		format   = outputFormat("text")
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure SAE training throughput (tokens/s) on synthetic activations",
		Long: "Train an SAE of the given shape for --warmup + --steps steps on synthetic activations and report\n" +
			"tokens/s through the whole training loop and, for the on-device step, for the step alone on\n" +
			"batches already on the device. Compare with scripts/bench_sae.py (PyTorch, SAELens) and\n" +
			"scripts/bench_sae_cuda.py (PyTorch on a GPU).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !sae.Arch(arch).Valid() {
				return &usageError{fmt.Sprintf("--arch must be topk, batchtopk, relu or jumprelu, not %q", arch)}
			}
			if c.DIn < 1 || c.DSAE < 1 || c.BatchSize < 1 || c.Steps < 1 || c.Warmup < 1 {
				return &usageError{"--d-in, --width, --batch, --steps and --warmup must be positive"}
			}
			if !(c.DeadFraction > 0 && c.DeadFraction <= 1) { // also NaN
				return &usageError{fmt.Sprintf("--dead-fraction must be in (0, 1], not %v", c.DeadFraction)}
			}
			od, err := parseToggle("--on-device", onDevice)
			if err != nil {
				return err
			}
			if c.TopK != "" && c.TopK != "sort" && c.TopK != "chunked" {
				return &usageError{fmt.Sprintf("--topk must be sort or chunked, not %q", c.TopK)}
			}
			c.Arch, c.OnDevice = sae.Arch(arch), od
			be, err := model.NewBackend(backend)
			if err != nil {
				return err
			}
			res, err := sae.Bench(cmd.Context(), be, c)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(s.Out, res)
			}
			kk := ""
			if res.Arch == string(sae.ArchTopK) || res.Arch == string(sae.ArchBatchTopK) {
				kk = fmt.Sprintf(" k=%d", res.K)
			}
			fmt.Fprintf(s.Out, "%s %d→%d%s batch %d on %s (%s step", res.Arch, res.DIn, res.DSAE, kk, res.BatchSize, res.Backend, res.Step)
			if c.BF16Matmuls && res.Step == "device" {
				fmt.Fprint(s.Out, ", bf16 matmuls")
			}
			if res.TopK != "" {
				fmt.Fprintf(s.Out, ", %s top-k", res.TopK)
			}
			if res.AuxK {
				fmt.Fprint(s.Out, ", AuxK forced in the step-alone timing")
			}
			fmt.Fprintf(s.Out, "): train loop %.0f tokens/s (%.2f ms/step)", res.TrainTokensPerSec, res.TrainMsPerStep)
			if res.ResidentTokensPerSec > 0 {
				fmt.Fprintf(s.Out, ", step alone %.0f tokens/s (%.2f ms/step; a batch upload takes %.2f ms)", res.ResidentTokensPerSec, res.ResidentMsPerStep, res.UploadMsPerBatch)
			}
			fmt.Fprintf(s.Out, "; first step %.1fs; FVU %.3f\n", res.FirstStepSeconds, res.FinalFVU)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "topk", "architecture: topk, batchtopk, relu or jumprelu")
	f.IntVar(&c.DIn, "d-in", 768, "input dimension")
	f.IntVar(&c.DSAE, "width", 24576, "number of latents")
	f.IntVar(&c.K, "k", 32, "active latents per token (topk, batchtopk)")
	f.IntVar(&c.BatchSize, "batch", 4096, "tokens per step")
	f.IntVar(&c.Steps, "steps", 20, "timed steps")
	f.IntVar(&c.Warmup, "warmup", 3, "untimed steps first (compilation included)")
	f.StringVar(&backend, "backend", "", "compute backend: go (default), xla:<plugin.so> (or $STEER_BACKEND)")
	f.StringVar(&onDevice, "on-device", "auto", "topk, relu, jumprelu: the whole step in one compiled graph on the device: auto (on accelerator backends), on or off")
	f.BoolVar(&c.BF16Matmuls, "bf16", false, "on-device step: bfloat16 operands for the dense matmuls (encoder, decoder, weight gradients)")
	f.StringVar(&c.TopK, "topk", "", "on-device step: top-k method, chunked (default) or sort (a full sort per row)")
	f.BoolVar(&c.ForceAux, "force-aux", false, "on-device step: time the step alone with --dead-fraction of the latents dead (AuxK active)")
	f.Float64Var(&c.DeadFraction, "dead-fraction", 0.5, "with --force-aux: the fraction of latents dead (up to ~0.09 the compact AuxK step runs)")
	f.Uint64Var(&c.Seed, "seed", 0, "seed")
	f.Var(&format, "format", "output format: text or json")
	return cmd
}
