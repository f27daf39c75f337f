package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

type modelInfo struct {
	Model         string           `json:"model"`
	Architecture  string           `json:"architecture"`
	ModelType     string           `json:"model_type"`
	Parameters    int64            `json:"parameters"`
	DType         string           `json:"dtype"`
	StoredDTypes  map[string]int64 `json:"stored_dtypes"`
	Layers        int              `json:"layers"`
	DModel        int              `json:"d_model"`
	VocabSize     int              `json:"vocab_size"`
	Heads         int              `json:"heads"`
	KVHeads       int              `json:"kv_heads"`
	HeadDim       int              `json:"head_dim"`
	DMLP          int              `json:"d_mlp"`
	ContextLength int              `json:"context_length"`
	TiedEmbedding bool             `json:"tie_word_embeddings"`
	RopeType      string           `json:"rope_type,omitempty"`
	RopeTheta     float64          `json:"rope_theta,omitempty"`
	SlidingWindow int              `json:"sliding_window,omitempty"`
}

func newInfoCmd(s *ioStreams) *cobra.Command {
	format := outputFormat("text")
	cmd := &cobra.Command{
		Use:   "info [MODEL]",
		Short: "Show a model's architecture, parameter count, dtype, layers, d_model and vocabulary size",
		Long: "Show a model's architecture, parameter count, dtype, layers, d_model and vocabulary size.\n" +
			"MODEL is a local directory in the Hugging Face layout or a Hub repo id org/name[@revision]\n" +
			"(found in the HF cache or downloaded); without it, the embedded tiny-lm.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			info, err := loadModelInfo(cmd.Context(), arg, s.ErrOut)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(s.Out, info)
			}
			return printModelInfo(s, info)
		},
	}
	cmd.Flags().Var(&format, "format", "output format: text or json")
	return cmd
}

func loadModelInfo(ctx context.Context, arg string, progress io.Writer) (*modelInfo, error) {
	src, err := resolveModelSource(ctx, arg, progress)
	if err != nil {
		return nil, err
	}
	cfg, err := src.config()
	if err != nil {
		return nil, err
	}
	ck, err := src.checkpoint()
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	info := &modelInfo{
		Model: src.Name, ModelType: cfg.ModelType, Parameters: ck.NumParams(), Layers: cfg.NumLayers,
		DModel: cfg.HiddenSize, VocabSize: cfg.VocabSize, Heads: cfg.NumHeads, KVHeads: cfg.NumKVHeads,
		HeadDim: cfg.HeadDim, DMLP: cfg.IntermediateSize, ContextLength: cfg.MaxPositions,
		TiedEmbedding: cfg.TieWordEmbeddings, SlidingWindow: cfg.SlidingWindow, StoredDTypes: map[string]int64{},
	}
	if len(cfg.Architectures) > 0 {
		info.Architecture = cfg.Architectures[0]
	} else {
		info.Architecture = cfg.ModelType
	}
	if cfg.ModelType != "gpt2" {
		info.RopeType, info.RopeTheta = cfg.Rope.Type, cfg.Rope.Theta
	}
	var most int64
	for dt, n := range ck.DTypes() {
		info.StoredDTypes[string(dt)] = n
		if n > most {
			most, info.DType = n, dtypeName(string(dt))
		}
	}
	return info, nil
}

// dtypeName spells safetensors dtypes as PyTorch does.
func dtypeName(dt string) string {
	switch dt {
	case "F32":
		return "float32"
	case "BF16":
		return "bfloat16"
	case "F16":
		return "float16"
	case "I64":
		return "int64"
	case "I32":
		return "int32"
	}
	return strings.ToLower(dt)
}

func printModelInfo(s *ioStreams, info *modelInfo) error {
	w := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
	row("model", info.Model)
	row("architecture", fmt.Sprintf("%s (%s)", info.Architecture, info.ModelType))
	row("parameters", fmt.Sprintf("%s (%d)", humanCount(info.Parameters), info.Parameters))
	if len(info.StoredDTypes) > 1 {
		var parts []string
		for dt, n := range info.StoredDTypes {
			parts = append(parts, fmt.Sprintf("%s %d", dtypeName(dt), n))
		}
		sort.Strings(parts)
		row("dtype", info.DType+" ("+strings.Join(parts, ", ")+")")
	} else {
		row("dtype", info.DType)
	}
	row("layers", info.Layers)
	row("d_model", info.DModel)
	row("vocab_size", info.VocabSize)
	row("heads", fmt.Sprintf("%d query, %d key/value, head_dim %d", info.Heads, info.KVHeads, info.HeadDim))
	row("d_mlp", info.DMLP)
	row("context_length", info.ContextLength)
	row("tie_word_embeddings", info.TiedEmbedding)
	if info.RopeType != "" {
		row("rope", fmt.Sprintf("%s, theta %g", info.RopeType, info.RopeTheta))
	}
	if info.SlidingWindow > 0 {
		row("sliding_window", info.SlidingWindow)
	}
	return w.Flush()
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
