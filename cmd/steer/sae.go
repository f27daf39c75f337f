package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/steer-dev/steer/activations"
	"github.com/steer-dev/steer/assets"
	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/sae"
)

func newSAECmd(s *ioStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sae",
		Short: "Train, evaluate and convert sparse autoencoders",
	}
	cmd.AddCommand(newSAETrainCmd(s), newSAEEvalCmd(s), newSAEConvertCmd(s), newSAEBenchCmd(s))
	return cmd
}

// hookName turns a site into a TransformerLens hook name as SAELens stores it (resid_post.3 →
// blocks.3.hook_resid_post).
func hookName(site string) string {
	kind, l, ok := strings.Cut(site, ".")
	if !ok {
		return site
	}
	return "blocks." + l + ".hook_" + kind
}

// siteOfHook is the inverse of hookName; it accepts a site as is.
func siteOfHook(h string) string {
	var l int
	var kind string
	if rest, ok := strings.CutPrefix(h, "blocks."); ok {
		num, hk, ok := strings.Cut(rest, ".hook_")
		if n, err := strconv.Atoi(num); ok && err == nil {
			l, kind = n, hk
			switch kind {
			case "resid_pre", "resid_post", "attn_out", "mlp_out":
				return kind + "." + strconv.Itoa(l)
			}
		}
	}
	return h
}

type trainSummary struct {
	Out          string  `json:"out"`
	Model        string  `json:"model"`
	Site         string  `json:"site"`
	Arch         string  `json:"arch"`
	DIn          int     `json:"d_in"`
	DSAE         int     `json:"d_sae"`
	K            int     `json:"k"`
	Tokens       int64   `json:"tokens"`
	Steps        int     `json:"steps"`
	Seconds      float64 `json:"seconds"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	FVU          float64 `json:"fvu"` // last progress report (training batches)
	L0           float64 `json:"l0"`
	DeadFrac     float64 `json:"dead_frac"`
	Source       string  `json:"source"`
	// TextEndDoc: the document the text read for training ended in (from a cache: where the cache's text
	// ends); held-out text on the same --text starts at TextEndDoc+1, where sae eval starts by default.
	TextEndDoc int `json:"text_end_doc"`
}

func newSAETrainCmd(s *ioStreams) *cobra.Command {
	var (
		h               harvestFlags
		cacheDir, out   string
		arch            string
		width, exp, k   int
		tokens          int64
		batch           int
		lr              float64
		warmup          int
		decayFrac       float64
		decay           string
		seed            uint64
		resume          bool
		checkpointEvery int
		buffer          int
		loop            bool
		onDevice        string
		bf16Matmuls     bool
		format          = outputFormat("text")
	)
	cmd := &cobra.Command{
		Use:   "train --out DIR",
		Short: "Train an SAE on activations harvested on the fly (--text) or from a cache (--activations)",
		Long: "Train a sparse autoencoder at --site. Activations come from text on the fly (shuffled in a seeded\n" +
			"buffer of --buffer rows) or from an `steer activations cache` directory. Progress (loss, FVU, L0,\n" +
			"dead %, tokens/s, ETA) goes to stderr and DIR/training_log.txt; the SAE is written to DIR in the\n" +
			"SAELens v6 layout (cfg.json, sae_weights.safetensors, sparsity.safetensors); checkpoints go to\n" +
			"DIR/run (--resume continues from the last one).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &usageError{"--out is required"}
			}
			if cacheDir != "" && (h.text != "" || cmd.Flags().Changed("model")) {
				return &usageError{"--activations reads a cache: don't combine it with --text or --model"}
			}
			if width > 0 && cmd.Flags().Changed("expansion") {
				return &usageError{"give --width or --expansion, not both"}
			}
			if !sae.Arch(arch).Valid() {
				return &usageError{fmt.Sprintf("--arch must be topk, batchtopk, relu or jumprelu, not %q", arch)}
			}
			if decay != "linear" && decay != "cosine" {
				return &usageError{fmt.Sprintf("--lr-decay-shape must be linear or cosine, not %q", decay)}
			}
			if !(decayFrac <= 1) { // also NaN
				return &usageError{fmt.Sprintf("--lr-decay is the fraction of the steps the decay takes, at most 1 (negative: none), not %v", decayFrac)}
			}
			if warmup < 0 {
				return &usageError{fmt.Sprintf("--lr-warmup must not be negative (got %d)", warmup)}
			}
			if tokens < int64(batch) || batch < 1 {
				return &usageError{fmt.Sprintf("--tokens (%d) must be at least one --batch (%d)", tokens, batch)}
			}
			od, err := parseToggle("--on-device", onDevice)
			if err != nil {
				return err
			}
			var (
				be        compute.Backend
				src       sae.Source
				dIn       int
				modelName string
				site              = h.site
				scale     float32 = 1
				textName  string
				ctxSize   = h.context
				bos       bool
				stream    *activations.Stream
				// the cache's text field and where its text ends
				cacheField string
				cacheEnd   int
			)
			if cacheDir != "" {
				c, err := activations.OpenCache(cacheDir, seed)
				if err != nil {
					return err
				}
				defer c.Close()
				if cmd.Flags().Changed("site") && h.site != c.Manifest.Site {
					return fmt.Errorf("--site %s, but the cache %s holds %s activations", h.site, cacheDir, c.Manifest.Site)
				}
				if c.Rows() < tokens {
					if !loop {
						fmt.Fprintf(s.ErrOut, "note: the cache holds %d activations, fewer than --tokens %d: training on %d (--epochs-loop reuses them)\n", c.Rows(), tokens, c.Rows())
						tokens = c.Rows() / int64(batch) * int64(batch)
					}
					c.Loop = loop
				}
				if be, err = model.NewBackend(h.backend); err != nil {
					return err
				}
				src, dIn, modelName, site, scale = c, c.Dim(), c.Manifest.Model, c.Manifest.Site, c.Scale()
				textName, ctxSize, bos = c.Manifest.Text, c.Manifest.ContextSize, c.Manifest.PrependBOS
				cacheField, cacheEnd = c.Manifest.TextField, c.Manifest.Position.Doc
			} else {
				cfg, err := h.config(cmd, s)
				if err != nil {
					return err
				}
				cfg.Tokens = tokens
				st, err := activations.NewStream(cfg, buffer, seed)
				if err != nil {
					return err
				}
				defer st.Close()
				stream = st
				src, dIn, modelName = st, st.Dim(), cfg.ModelName
				be = cfg.Model.Backend() // one backend (one device client) for the model and the SAE
				textName = h.text
				if textName == "" {
					textName = assets.SamplesName
				}
				bos = st.Harvester().PrependBOS()
			}
			dsae := width
			if dsae == 0 {
				dsae = exp * dIn
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			logf, err := os.OpenFile(filepath.Join(out, "training_log.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			defer logf.Close()
			var cl []string
			cmd.Flags().Visit(func(f *pflag.Flag) { cl = append(cl, "--"+f.Name+"="+f.Value.String()) })
			fmt.Fprintf(logf, "# %s %s %s\n", time.Now().UTC().Format(time.RFC3339), cmd.CommandPath(), strings.Join(cl, " "))
			heldText, heldField := activations.TextID(h.text), h.textField
			if cacheDir != "" {
				heldText, heldField = textName, cacheField
			}
			var last sae.Progress
			tcfg := sae.TrainConfig{Arch: sae.Arch(arch), DSAE: dsae, K: k, BatchSize: batch, Tokens: tokens, LR: lr, Seed: seed,
				WarmupSteps: warmup, DecayFrac: decayFrac, Decay: decay,
				RunDir: filepath.Join(out, "run"), CheckpointEvery: checkpointEvery, Resume: resume, OnDevice: od, BF16Matmuls: bf16Matmuls,
				Meta: sae.Meta{ModelName: modelName, HookName: hookName(site), Dataset: textName, ContextSize: ctxSize, PrependBOS: bos}}
			if bf16Matmuls && !sae.UsesDeviceStep(tcfg, be) {
				fmt.Fprintln(s.ErrOut, "note: --bf16 applies to the on-device step (an accelerator --backend, or --on-device on); this run trains in float32")
			}
			start := time.Now()
			res, err := sae.Train(cmd.Context(), src, tcfg, sae.TrainOptions{
				Backend:  be,
				Log:      io.MultiWriter(s.ErrOut, logf),
				Progress: func(p sae.Progress) { last = p },
			})
			if err != nil {
				return err
			}
			el := time.Since(start).Seconds()
			sa := res.SAE
			if scale != 1 { // the cache was normalised: fold its scale so the SAE takes raw activations
				prior := sa.Meta.ScaleFactor
				sa.FoldScale(scale)
				if prior != 0 {
					sa.Meta.ScaleFactor = prior * float64(scale)
				}
			}
			sum := trainSummary{Out: out, Model: modelName, Site: site, Arch: string(sa.Arch), DIn: sa.DIn, DSAE: sa.DSAE, K: sa.K,
				Tokens: res.Tokens, Steps: res.Steps, Seconds: el, TokensPerSec: float64(res.Tokens) / el,
				FVU: last.FVU, L0: last.L0, DeadFrac: last.DeadFrac, Source: textName, TextEndDoc: cacheEnd}
			if cacheDir != "" {
				sum.Source = cacheDir
			} else if stream != nil {
				sum.TextEndDoc = stream.TextEnd().Doc
			}
			// where the text the training read ends, so that sae eval on the same text is held out by default
			if sa.Meta.Extra == nil {
				sa.Meta.Extra = map[string]any{}
			}
			sa.Meta.Extra[metaText], sa.Meta.Extra[metaTextField], sa.Meta.Extra[metaHeldOut] = heldText, heldField, sum.TextEndDoc+1
			if err := sa.SaveSAELens(out, res.LogSparsity); err != nil {
				return err
			}
			fmt.Fprintf(logf, "# done: %d tokens, %d steps, %.1fs, FVU %.4f, L0 %.1f, dead %.2f%%, text end document %d\n",
				sum.Tokens, sum.Steps, el, sum.FVU, sum.L0, 100*sum.DeadFrac, sum.TextEndDoc)
			if format == "json" {
				return writeJSON(s.Out, sum)
			}
			kk := ""
			if sa.Arch == sae.ArchTopK || sa.Arch == sae.ArchBatchTopK {
				kk = fmt.Sprintf(" (k=%d)", sa.K)
			}
			fmt.Fprintf(s.Out, "%s: %s SAE %d→%d%s at %s of %s, %d tokens in %.1fs (%.0f tokens/s); last batch FVU %.4f, L0 %.1f, dead %.2f%%\n",
				out, sa.Arch, sa.DIn, sa.DSAE, kk, site, modelName, sum.Tokens, el, sum.TokensPerSec, sum.FVU, sum.L0, 100*sum.DeadFrac)
			if sum.TextEndDoc >= 0 {
				fmt.Fprintf(s.Out, "held-out text starts at document %d (sae eval on the same text starts there)\n", sum.TextEndDoc+1)
			}
			return nil
		},
	}
	h.register(cmd, 32)
	f := cmd.Flags()
	f.StringVar(&cacheDir, "activations", "", "train from an activation cache directory instead of text")
	f.BoolVar(&loop, "epochs-loop", false, "with --activations: when --tokens exceeds the cache, pass over it again (reshuffled)")
	f.StringVar(&out, "out", "", "output directory")
	f.StringVar(&arch, "arch", "topk", "architecture: topk, batchtopk, relu or jumprelu")
	f.IntVar(&width, "width", 0, "number of latents (d_sae)")
	f.IntVar(&exp, "expansion", 16, "d_sae = expansion × d_in (when --width is not given)")
	f.IntVar(&k, "k", 32, "active latents per token (topk, batchtopk)")
	f.Int64Var(&tokens, "tokens", 2_000_000, "training tokens")
	f.IntVar(&batch, "batch", 4096, "tokens per step")
	f.Float64Var(&lr, "lr", 0, "learning rate (default 2e-4/sqrt(d_sae/2^14))")
	f.IntVar(&warmup, "lr-warmup", 0, "steps of linear learning-rate warm-up (default min(1000, steps/20))")
	f.Float64Var(&decayFrac, "lr-decay", 0, "the learning rate decays to 0 over this last fraction of the steps (default 0.2; negative: no decay)")
	f.StringVar(&decay, "lr-decay-shape", "linear", "shape of the decay: linear or cosine")
	f.Uint64Var(&seed, "seed", 0, "seed (initialisation and data shuffling)")
	f.BoolVar(&resume, "resume", false, "continue from DIR/run/checkpoint.safetensors")
	f.IntVar(&checkpointEvery, "checkpoint-every", 100, "steps between checkpoints")
	f.IntVar(&buffer, "buffer", 1<<16, "shuffle buffer (rows) for on-the-fly activations")
	f.StringVar(&onDevice, "on-device", "auto", "topk, relu, jumprelu: the whole step (topk: selection, AuxK; dead-latent counters) in one compiled graph on the device: auto (on accelerator backends), on or off")
	f.BoolVar(&bf16Matmuls, "bf16", false, "with the on-device step: bfloat16 operands for its dense matmuls (encoder, decoder, weight gradients), float32 accumulation, weights and Adam")
	f.Var(&format, "format", "output format: text or json")
	return cmd
}

// parseToggle reads an auto|on|off flag.
func parseToggle(flag, v string) (sae.Toggle, error) {
	switch v {
	case "auto", "":
		return sae.Auto, nil
	case "on", "true":
		return sae.On, nil
	case "off", "false":
		return sae.Off, nil
	}
	return sae.Auto, &usageError{fmt.Sprintf("%s must be auto, on or off, not %q", flag, v)}
}

func newSAEEvalCmd(s *ioStreams) *cobra.Command {
	var (
		h          harvestFlags
		saeDir     string
		tokens     int64
		ceContexts int
		format     = outputFormat("text")
	)
	cmd := &cobra.Command{
		Use:   "eval --sae DIR",
		Short: "Evaluate an SAE on held-out text: FVU, L0, dead/dense latents, CE loss recovered, KL",
		Long: "Reconstruction metrics over --tokens activations and, on the first --ce-contexts contexts, the\n" +
			"model's next-token loss clean, with the SAE spliced in at the site (special-token positions keep\n" +
			"their activation), and with the site zero-ablated: CE loss recovered = (CE_zero − CE_sae) /\n" +
			"(CE_zero − CE_clean), and KL(clean‖spliced) per token. The loss at a prepended BOS is not counted.\n" +
			"--site, --context and --prepend-bos default to what the SAE's cfg.json records.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if saeDir == "" {
				return &usageError{"--sae is required"}
			}
			sa, err := sae.Load(saeDir)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if !fl.Changed("site") && sa.Meta.HookName != "" {
				h.site = siteOfHook(sa.Meta.HookName)
			}
			if !fl.Changed("context") && sa.Meta.ContextSize > 0 {
				h.context = sa.Meta.ContextSize
			}
			if !fl.Changed("prepend-bos") {
				h.prependBOS = strconv.FormatBool(sa.Meta.PrependBOS)
			}
			if n := heldOutStart(sa.Meta, h.text, h.textField); n > 0 && !fl.Changed("skip-docs") {
				h.skipDocs = n
				fmt.Fprintf(s.ErrOut, "note: evaluating held-out text: skipping the first %d documents, which the training read (--skip-docs 0 includes them)\n", n)
			}
			cfg, err := h.config(cmd, s)
			if err != nil {
				return err
			}
			if d := cfg.Model.DModel(); d != sa.DIn {
				return fmt.Errorf("SAE %s has d_in %d, but %s of model %s has d_model %d", saeDir, sa.DIn, cfg.Site, cfg.ModelName, d)
			}
			cfg.Tokens = tokens
			res, err := activations.EvaluateSAE(cmd.Context(), cfg, sa, activations.EvalOptions{CEContexts: ceContexts})
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(s.Out, res)
			}
			w := s.Out
			fmt.Fprintf(w, "SAE %s (%s %d→%d) at %s of %s, %d tokens of %s (skipping %d documents)\n",
				saeDir, sa.Arch, sa.DIn, sa.DSAE, res.Site, res.Model, res.Tokens, res.Text, res.SkipDocs)
			fmt.Fprintf(w, "  MSE %.5g  FVU %.4f  explained variance %.4f  L0 %.2f\n", res.MSE, res.FVU, res.ExplainedVariance, res.L0)
			fmt.Fprintf(w, "  dead %.2f%%  dense (>10%% of tokens) %.2f%%\n", 100*res.DeadFraction, 100*res.DenseFraction)
			fmt.Fprintf(w, "  latent density (log10):")
			for _, b := range res.DensityHistogram {
				fmt.Fprintf(w, " %s:%d", b.Range, b.Latents)
			}
			fmt.Fprintln(w)
			if res.CETokens > 0 {
				fmt.Fprintf(w, "  CE loss over %d tokens (%d contexts): clean %.4f  SAE %.4f  zero-ablation %.4f\n",
					res.CETokens, res.CEContexts, res.CEClean, res.CESAE, res.CEZero)
				fmt.Fprintf(w, "  CE loss recovered %.4f  KL(clean‖SAE) %.4f nats/token\n", res.CERecovered, res.KL)
			}
			return nil
		},
	}
	h.register(cmd, 8)
	f := cmd.Flags()
	f.StringVar(&saeDir, "sae", "", "SAE directory (SAELens, sparsify or Gemma Scope layout)")
	f.Int64Var(&tokens, "tokens", 100_000, "activations for the reconstruction metrics")
	f.IntVar(&ceContexts, "ce-contexts", 400, "contexts for the CE-loss figures (3 forward passes each)")
	f.Var(&format, "format", "output format: text or json")
	return cmd
}

// SAE metadata steer sae train records (cfg.json "metadata"): the text it read and the first document
// after it.
const (
	metaText      = "steer_text"
	metaTextField = "steer_text_field"
	metaHeldOut   = "steer_heldout_skip_docs"
)

// heldOutStart is the first document the SAE's training did not read when text (with textField) is the
// text it was trained on, else 0.
func heldOutStart(m sae.Meta, text, textField string) int {
	t, _ := m.Extra[metaText].(string)
	f, _ := m.Extra[metaTextField].(string)
	if t == "" || t != activations.TextID(text) || f != textField {
		return 0
	}
	switch n := m.Extra[metaHeldOut].(type) {
	case float64: // read back from JSON
		return max(0, int(n))
	case int:
		return max(0, n)
	}
	return 0
}

func newSAEConvertCmd(s *ioStreams) *cobra.Command {
	var in, out, to string
	format := outputFormat("text")
	cmd := &cobra.Command{
		Use:   "convert --in PATH --out DIR",
		Short: "Convert an SAE (SAELens, sparsify, Gemma Scope) to the SAELens v6 or sparsify layout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if in == "" || out == "" {
				return &usageError{"--in and --out are required"}
			}
			switch to {
			case "saelens", "sparsify":
			default:
				return &usageError{fmt.Sprintf("--to must be saelens or sparsify, not %q", to)}
			}
			if err := sae.Convert(in, out, to); err != nil {
				return err
			}
			sa, err := sae.Load(out)
			if err != nil {
				return errors.Join(fmt.Errorf("reading back the converted SAE"), err)
			}
			if format == "json" {
				return writeJSON(s.Out, map[string]any{"in": in, "out": out, "format": to, "arch": sa.Arch, "d_in": sa.DIn, "d_sae": sa.DSAE})
			}
			fmt.Fprintf(s.Out, "%s → %s (%s): %s %d→%d\n", in, out, to, sa.Arch, sa.DIn, sa.DSAE)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "SAE to convert (directory or file)")
	f.StringVar(&out, "out", "", "output directory")
	f.StringVar(&to, "to", "saelens", "output format: saelens or sparsify")
	f.Var(&format, "format", "output format: text or json")
	return cmd
}
