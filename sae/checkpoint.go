package sae

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/steer-dev/steer/weights"
)

// CheckpointFile is the checkpoint's name inside TrainConfig.RunDir.
const CheckpointFile = "checkpoint.safetensors"

const ckptMetaKey = "steer_sae_checkpoint"

var ckptNames = []string{"W_encT", "b_enc", "b_dec", "log_threshold", "W_dec"}

// ckptName names run-state tensor i (params, then Adam m, then Adam v) in the checkpoint.
func ckptName(i int) string {
	return [...]string{"", "adam_m.", "adam_v."}[i/nParams] + ckptNames[i%nParams]
}

type ckptState struct {
	Version   int     `json:"version"`
	Arch      Arch    `json:"arch"`
	DIn       int     `json:"d_in"`
	DSAE      int     `json:"d_sae"`
	K         int     `json:"k"`
	BatchSize int     `json:"batch_size"`
	Tokens    int64   `json:"tokens"`
	Seed      uint64  `json:"seed"`
	Step      int     `json:"step"`
	Rows      int64   `json:"rows_consumed"`
	Scale     float32 `json:"scale"`
	BTThresh  float64 `json:"batchtopk_threshold"`
	RNG       string  `json:"rng_state"`
	DeadView  *int    `json:"dead_view,omitempty"` // OnDevice: the dead-latent count deciding AuxK
	CRC       uint32  `json:"crc32"`
}

func (t *trainer) ckptPath() string { return filepath.Join(t.cfg.RunDir, CheckpointFile) }

// saveCheckpoint writes params, Adam moments, dead-latent counters, step, data position and RNG state,
// atomically, with a CRC32 over all tensor bytes (stored in the metadata) to detect corruption.
func (t *trainer) saveCheckpoint() error {
	if err := os.MkdirAll(t.cfg.RunDir, 0o755); err != nil {
		return fmt.Errorf("sae: checkpoint: %w", err)
	}
	shapes := t.paramShapes()
	var ts []weights.WriteTensor
	for i := range 3 * nParams {
		data, err := tensors.CopyFlatData[float32](t.state[i])
		if err != nil {
			return fmt.Errorf("sae: checkpoint: %w", err)
		}
		name := ckptName(i)
		ts = append(ts, weights.F32Tensor(name, shapes[i%nParams], data))
	}
	ts = append(ts, weights.I64Tensor("tokens_since_fired", []int{t.S}, t.since), weights.I64Tensor("fired_total", []int{t.S}, t.firedTot))
	slices.SortFunc(ts, func(a, b weights.WriteTensor) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	h := crc32.NewIEEE()
	for _, w := range ts {
		h.Write(w.Data)
	}
	rng, _ := t.rng.MarshalBinary()
	st := ckptState{Version: 1, Arch: t.cfg.Arch, DIn: t.d, DSAE: t.S, K: t.cfg.K, BatchSize: t.cfg.BatchSize, Tokens: t.cfg.Tokens,
		Seed: t.cfg.Seed, Step: t.step, Rows: t.rows, Scale: t.scale, BTThresh: t.btThresh,
		RNG: base64.StdEncoding.EncodeToString(rng), CRC: h.Sum32()}
	if t.dev != nil {
		st.DeadView = &t.dev.deadView
	}
	b, _ := json.Marshal(st)
	if err := weights.WriteFile(t.ckptPath(), ts, map[string]string{ckptMetaKey: string(b)}); err != nil {
		return fmt.Errorf("sae: checkpoint: %w", err)
	}
	return nil
}

// loadCheckpoint restores the run state; false when there is no checkpoint.
func (t *trainer) loadCheckpoint() (bool, error) {
	path := t.ckptPath()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return false, nil
	}
	bad := func(format string, a ...any) (bool, error) {
		return false, fmt.Errorf("sae: checkpoint %s is corrupt or incompatible: %s", path, fmt.Sprintf(format, a...))
	}
	f, err := weights.OpenFile(path)
	if err != nil {
		return bad("%v", err)
	}
	defer f.Close()
	var st ckptState
	if err := json.Unmarshal([]byte(f.Metadata()[ckptMetaKey]), &st); err != nil {
		return bad("metadata: %v", err)
	}
	c := t.cfg
	if st.Arch != c.Arch || st.DIn != t.d || st.DSAE != t.S || st.K != c.K || st.BatchSize != c.BatchSize || st.Tokens != c.Tokens || st.Seed != c.Seed {
		return false, fmt.Errorf("sae: checkpoint %s was written by a different run (arch %s d_in %d d_sae %d k %d batch %d tokens %d seed %d)",
			path, st.Arch, st.DIn, st.DSAE, st.K, st.BatchSize, st.Tokens, st.Seed)
	}
	names := make([]string, 0, len(f.Tensors()))
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	slices.Sort(names)
	h := crc32.NewIEEE()
	for _, n := range names {
		raw, _, err := f.Raw(n)
		if err != nil {
			return bad("%v", err)
		}
		h.Write(raw)
	}
	if h.Sum32() != st.CRC {
		return bad("CRC32 mismatch (stored %08x, computed %08x)", st.CRC, h.Sum32())
	}
	shapes := t.paramShapes()
	t.state = make([]*tensors.Tensor, 3*nParams)
	for i := range 3 * nParams {
		name := ckptName(i)
		data, shape, err := f.Float32(name)
		if err != nil {
			return bad("%v", err)
		}
		if !slices.Equal(shape, shapes[i%nParams]) {
			return bad("tensor %s has shape %v, want %v", name, shape, shapes[i%nParams])
		}
		t.state[i] = tensors.FromFlatDataAndDimensions(data, shape...)
	}
	if t.since, _, err = f.Int64("tokens_since_fired"); err != nil || len(t.since) != t.S {
		return bad("tokens_since_fired: %v", err)
	}
	if t.firedTot, _, err = f.Int64("fired_total"); err != nil || len(t.firedTot) != t.S {
		return bad("fired_total: %v", err)
	}
	rb, err := base64.StdEncoding.DecodeString(st.RNG)
	t.rng = rand.NewPCG(0, 0)
	if err != nil || t.rng.UnmarshalBinary(rb) != nil {
		return bad("rng state")
	}
	t.step, t.rows, t.scale, t.btThresh = st.Step, st.Rows, st.Scale, st.BTThresh
	if st.DeadView != nil {
		t.dev = &deviceState{deadView: *st.DeadView}
	}
	return true, nil
}
