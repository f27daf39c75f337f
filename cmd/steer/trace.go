package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/steer-dev/steer/model"
	"github.com/steer-dev/steer/weights"
)

// parseIDRows parses "1,2,3;4,5,6" into equal-length rows.
func parseIDRows(s string) ([][]int, error) {
	var rows [][]int
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		row, err := parseIDList(part)
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, fmt.Errorf("all rows must have the same length (row 0 has %d ids, row %d has %d)", len(rows[0]), len(rows), len(row))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no token ids given")
	}
	return rows, nil
}

func newTraceCmd(s *ioStreams) *cobra.Command {
	var modelArg, ids, out, backend string
	cmd := &cobra.Command{
		Use:   "trace --ids \"1,2,3;4,5,6\" --out FILE.safetensors",
		Short: "Run a forward pass and save the logits and every layer's residual stream",
		Long: "Run a forward pass on token id rows (';'-separated, equal lengths) and write a safetensors file with\n" +
			"float32 logits [B,T,V] and resid_post.{L} [B,T,D] for every layer L.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ids == "" || out == "" {
				return &usageError{"--ids and --out are required"}
			}
			rows, err := parseIDRows(ids)
			if err != nil {
				return &usageError{"--ids: " + err.Error()}
			}
			src, err := resolveModel(cmd, modelArg, s.ErrOut)
			if err != nil {
				return err
			}
			m, err := loadModel(src, backend)
			if err != nil {
				return err
			}
			sites := []string{"logits"}
			for l := range m.NumLayers() {
				sites = append(sites, fmt.Sprintf("resid_post.%d", l))
			}
			res, err := m.Forward(rows, model.Capture(sites...))
			if err != nil {
				return err
			}
			var ts []weights.WriteTensor
			for _, site := range sites {
				a := res.Get(site)
				ts = append(ts, weights.F32Tensor(site, a.Shape, a.Data))
			}
			meta := map[string]string{"model": src.Name, "model_type": m.Config.ModelType}
			if err := weights.WriteFile(out, ts, meta); err != nil {
				return err
			}
			fmt.Fprintf(s.ErrOut, "wrote %s: logits %v and resid_post.0..%d\n", out, res.Logits().Shape, m.NumLayers()-1)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelArg, "model", "", "model directory (default: the embedded tiny-lm)")
	f.StringVar(&ids, "ids", "", "token ids: comma-separated, rows separated by ';' (equal lengths)")
	f.StringVar(&out, "out", "", "output .safetensors file")
	f.StringVar(&backend, "backend", "", "compute backend: go (default), xla:cuda, xla:/path/plugin.so (or $STEER_BACKEND)")
	return cmd
}
