package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/steer-dev/steer/weights/hub"
)

// newPullCmd builds `steer pull`: download a model or SAE repo from the Hugging Face Hub
// into the shared HF cache (the one Python tools use) and print its snapshot directory.
func newPullCmd(s *ioStreams) *cobra.Command {
	var (
		revision string
		include  []string
		sae      bool
		format   string
	)
	cmd := &cobra.Command{
		Use:   "pull org/name[@revision]",
		Short: "Download a model or SAE from the Hugging Face Hub into the HF cache",
		Long: `Download a model (config, tokenizer, *.safetensors) or, with --sae, an SAE repo
(SAELens cfg.json/sae_weights.safetensors, Gemma Scope params.npz) into the Hugging Face
cache (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), the way
huggingface_hub does, and print the snapshot directory. Interrupted downloads resume.

Environment: HF_ENDPOINT, HF_TOKEN (else the token file of huggingface-cli login),
HF_HUB_OFFLINE. Pickles (.bin, .pt, .pth) are fetched only when --include selects them.`,
		Example: `  steer pull openai-community/gpt2
  steer pull google/gemma-scope-2b-pt-res --sae --include 'layer_12/width_16k/*'
  steer pull org/model --revision v1.0 --format json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{msg: "pull: want exactly one repo id (org/name[@revision])"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return &usageError{msg: fmt.Sprintf("pull: --format must be text or json, not %q", format)}
			}
			repo, rev, err := hub.ParseRepoRef(args[0])
			if err != nil {
				return &usageError{msg: "pull: " + strings.TrimPrefix(err.Error(), "hub: ")}
			}
			if strings.Contains(args[0], "@") && cmd.Flags().Changed("revision") {
				return &usageError{msg: "pull: give the revision either as org/name@rev or with --revision, not both"}
			}
			if cmd.Flags().Changed("revision") {
				rev = revision
			}
			opts := hub.Options{Progress: s.ErrOut, Include: include}
			if sae {
				opts.Kind = hub.SAE
			}
			snap, err := hub.Pull(cmd.Context(), repo, rev, opts)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(snap)
			}
			_, err = fmt.Fprintln(s.Out, snap.Dir)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&revision, "revision", "main", "branch, tag or commit to download")
	f.StringArrayVar(&include, "include", nil, "only files matching this glob (repeatable; '*' crosses '/'); selects pickles explicitly")
	f.BoolVar(&sae, "sae", false, "fetch an SAE repo (SAELens or Gemma Scope layout) instead of a model")
	f.StringVar(&format, "format", "text", "output format: text (the snapshot dir) or json")
	return cmd
}
