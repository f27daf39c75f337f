//go:build xla

package sae

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	_ "github.com/gomlx/go-xla/compute/xla" // the XLA (PJRT) backend; never its auto-installer
	. "github.com/gomlx/gomlx/core/graph"   //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// TestXLADeviceStep runs the OnDevice TopK step through GoMLX's XLA (PJRT) backend — CUDA's code path —
// with the plugin named by STEER_XLA_PLUGIN (a CPU PJRT plugin in CI, jax-cuda13-pjrt's on a GPU), and
// requires the same updates as the sparse Go step on the pure-Go backend, then a short Train run
// with the bfloat16 selection that lowers the FVU.
func TestXLADeviceStep(t *testing.T) {
	be := xlaBackend(t)
	checkDeviceStepMatchesSparse(t, be)
	t.Run("bf16-graphs", func(t *testing.T) { checkDeviceStepBF16Graphs(t, be) })
	const d = 16
	data := synthData(128*40, d, 48, 3, 1)
	for _, bf16 := range []bool{false, true} {
		cfg := smallCfg(ArchTopK)
		cfg.OnDevice = On // a CPU plugin would pick the sparse Go step
		cfg.BF16Matmuls = bf16
		first, last, ev := trainAndEvaluate(t, data, d, cfg, be)
		t.Logf("xla OnDevice (bf16 matmuls %v): train FVU %.3f -> %.3f; eval FVU %.3f L0 %.2f", bf16, first.FVU, last.FVU, ev.FVU, ev.L0)
		if !(ev.FVU < 0.5 && last.FVU < 0.7*first.FVU) || ev.L0 > 4 {
			t.Fatalf("xla OnDevice training did not converge: first %.3f last %.3f eval %.3f L0 %.2f", first.FVU, last.FVU, ev.FVU, ev.L0)
		}
	}
}

// TestXLAStepsMatchTorchAutograd runs the PyTorch autograd comparison (TestStepsMatchTorchAutograd)
// with the graph and on-device steps compiled by XLA.
func TestXLAStepsMatchTorchAutograd(t *testing.T) { checkStepsMatchTorch(t, xlaBackend(t)) }

// TestXLADenseGraph runs the hand-written ReLU / JumpReLU graph step (densegraph.go) and the OnDevice
// step built on it through the XLA backend: the same updates as the autodiff graph step there, and a
// bfloat16-product run that lowers the FVU.
func TestXLADenseGraph(t *testing.T) {
	be := xlaBackend(t)
	checkDenseGraphMatchesAutodiff(t, be)
	checkDenseGraphBF16Trains(t, be)
}

// xlaBackend is the XLA backend on the PJRT plugin STEER_XLA_PLUGIN (a CPU plugin in CI, jax-cuda13-pjrt's
// on a GPU), never its auto-installer, with float32 matmuls in float32 (tf32=false: as on the Go backend,
// and PyTorch's default).
func xlaBackend(tb testing.TB) compute.Backend {
	plugin := os.Getenv("STEER_XLA_PLUGIN")
	if plugin == "" {
		tb.Fatal("built with -tags xla: set STEER_XLA_PLUGIN to a PJRT plugin (.so)")
	}
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	be, err := compute.NewWithConfig("xla:" + plugin + ",tf32=false")
	if err != nil {
		tb.Fatal(err)
	}
	return be
}

// BenchmarkXLATrain measures SAE training throughput through the XLA backend (STEER_XLA_PLUGIN; on a GPU,
// jax-cuda13-pjrt's plugin) for the workloads of ../shared/bench/h100-pytorch.md, with steer's step
// variants: the OnDevice TopK step with float32 or bfloat16 matmuls, with the chunked (default) or the
// full-sort top-k, with AuxK forced on, in the bf16 layouts measured before the current one, and the
// OnDevice ReLU / JumpReLU steps (hand-written gradients, densegraph.go). Each result is printed as a JSON line (and appended to
// $STEER_SAE_BENCH_JSON if set). STEER_SAE_BENCH_STEPS sets the timed steps (default 30);
// STEER_SAE_BENCH_ONLY keeps the variants whose name contains one of its comma-separated parts.
//
//	go test -c -tags xla ./sae && STEER_XLA_PLUGIN=... ./sae.test -test.run '^$' -test.bench XLATrain -test.benchtime 1x
func BenchmarkXLATrain(b *testing.B) {
	be := xlaBackend(b)
	steps := 30
	if v, err := strconv.Atoi(os.Getenv("STEER_SAE_BENCH_STEPS")); err == nil && v > 0 {
		steps = v
	}
	type variant struct {
		name string
		c    BenchConfig
	}
	var vs []variant
	for _, sh := range []struct{ d, s, k int }{{768, 24576, 32}, {2304, 16384, 64}} {
		base := BenchConfig{Arch: ArchTopK, DIn: sh.d, DSAE: sh.s, K: sh.k, BatchSize: 4096, Steps: steps, Warmup: 3}
		tag := fmt.Sprintf("%dx%d_k%d", sh.d, sh.s, sh.k)
		bf := base
		bf.BF16Matmuls = true
		old := bf
		old.DeviceGraph = "f32select,f32scatter,gomlxtopk,chunks=32"
		vs = append(vs, variant{"topk_device_bf16_" + tag, bf}, variant{"topk_device_f32_" + tag, base},
			variant{"topk_device_bf16_session2_graph_" + tag, old})
		if sh.d == 768 {
			srt := bf
			srt.TopK = "sort"
			aux := bf
			aux.ForceAux = true
			aux5 := aux // 5% dead: the compact AuxK step (S/8 gathered columns)
			aux5.DeadFraction = 0.05
			vs = append(vs, variant{"topk_device_bf16_sort_" + tag, srt}, variant{"topk_device_bf16_auxk_" + tag, aux},
				variant{"topk_device_bf16_auxk_5pct_dead_" + tag, aux5})
			// ReLU's per-step graph loop (OnDevice off), hand-written and autodiff
			graph := base
			graph.Arch, graph.K, graph.OnDevice = ArchReLU, 0, Off
			autodiff := graph
			autodiff.AutodiffGraph = true
			vs = append(vs, variant{"relu_graph_f32_" + tag, graph}, variant{"relu_graph_autodiff_f32_" + tag, autodiff})
			for _, arch := range []Arch{ArchReLU, ArchJumpReLU} {
				for _, bf16 := range []bool{false, true} {
					c := base
					c.Arch, c.K, c.BF16Matmuls = arch, 0, bf16
					vs = append(vs, variant{fmt.Sprintf("%s_device_%s_%s", arch, map[bool]string{false: "f32", true: "bf16"}[bf16], tag), c})
				}
			}
			// the layouts measured before (session 2's graph: float32 selection and scatters, one level of
			// 32, GoMLX's stable TopK sorts), one change at a time, and other chunk plans
			// and session 4's candidates (prepared without a GPU): the k pre-activations from the selection
			// product, ∂b_enc as a ones column of ∂W_enc's product, firing counts by a scatter, and together
			for _, g := range []string{"f32scatter", "f32select", "gomlxtopk", "bf16rows",
				"chunks=32/8", "chunks=64/16/4", "chunks=32", "chunks=64/8",
				"selpre", "biascol", "firedscatter", "selpre,bf16rows", "selpre,biascol,firedscatter", "selpre,biascol,firedscatter,bf16rows", "sparsegrad", "selpre,sparsegrad", "selpre,sparsegrad,bf16rows"} {
				v := bf
				v.DeviceGraph = g
				vs = append(vs, variant{"topk_device_bf16_" + strings.NewReplacer(",", "_", "=", "", "/", "_").Replace(g) + "_" + tag, v})
			}
		}
	}
	for _, v := range vs {
		if !selected("STEER_SAE_BENCH_ONLY", v.name) {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				res, err := Bench(context.Background(), be, v.c)
				if err != nil {
					b.Fatal(err)
				}
				benchLine(map[string]any{"variant": v.name, "result": res})
				b.ReportMetric(res.TrainTokensPerSec, "train_tokens/s")
				b.ReportMetric(res.ResidentTokensPerSec, "resident_tokens/s")
			}
		})
	}
}

// BenchmarkXLAParts times the pieces of the OnDevice bf16 TopK step at 768→24576, k 32, batch 4096 as
// separate graphs on data already on the device (20 runs, then a read of a later result, which waits for
// them; "noop" is the cost of a launch alone), to show where a step's time goes. STEER_SAE_PARTS_ONLY
// keeps the parts whose name contains one of its comma-separated parts. Each part is
// printed as a JSON line (and appended to $STEER_SAE_BENCH_JSON).
func BenchmarkXLAParts(b *testing.B) {
	be := xlaBackend(b)
	B, d, S, k := 4096, 768, 24576, 32
	if os.Getenv("STEER_SAE_BENCH_SMALL") != "" {
		B, d, S = 256, 64, 2048
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dev := func(x *tensors.Tensor) *tensors.Tensor {
		if err := x.MaterializeOnDevice(be, false, 0); err != nil {
			b.Fatal(err)
		}
		return x
	}
	randT := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, v := range dims {
			n *= v
		}
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(rng.NormFloat64()) * 0.05
		}
		return dev(tensors.FromFlatDataAndDimensions(f, dims...))
	}
	idxData := make([]int32, B*k)
	for r := range B {
		for j := range k {
			idxData[r*k+j] = int32((r*7919 + j*(S/k)) % S)
		}
	}
	// a skewed firing pattern: a quarter of each row's k among 64 hot latents (scatter-add contention)
	skewData := slices.Clone(idxData)
	for r := range B {
		for j := range k / 4 {
			skewData[r*k+j] = int32((r + j*(64/(k/4))) % 64)
		}
		for j := k / 4; j < k; j++ {
			skewData[r*k+j] = 64 + int32((r*7919+j*(S/k))%(S-64))
		}
	}
	x, wEncT, wDec, bEnc := randT(B, d), randT(S, d), randT(S, d), randT(S)
	pre32 := randT(B, S)
	idx := dev(tensors.FromFlatDataAndDimensions(idxData, B, k))
	idxSkew := dev(tensors.FromFlatDataAndDimensions(skewData, B, k))
	scatterGrad := func(in []*Node) []*Node { // sparsegrad's ∂W: B·k rows scatter-added into [S,d]
		upd := Mul(InsertAxes(in[1], -1), InsertAxes(in[2], 1))
		return []*Node{Scatter(InsertAxes(in[0], -1), upd, shapes.Make(dtypes.Float32, S, d), false, false)}
	}
	vals := randT(B, k)
	one := dev(tensors.FromScalar(float32(1)))
	toBF := func(in *tensors.Tensor) *tensors.Tensor {
		e, err := NewExec(be, func(a *Node) *Node { return ConvertDType(a, dtypes.BFloat16) })
		if err != nil {
			b.Fatal(err)
		}
		return e.MustExec(in)[0]
	}
	preBF, xBF := toBF(pre32), toBF(x)
	sel := &trainer{cfg: TrainConfig{BF16Matmuls: true}}
	selF32 := &trainer{cfg: TrainConfig{BF16Matmuls: true, deviceGraph: "f32select"}}
	scatter := func(dt dtypes.DType) func(in []*Node) []*Node {
		return func(in []*Node) []*Node {
			g := in[0].Graph()
			rows := Iota(g, shapes.Make(dtypes.Int32, B, k, 1), 0)
			ij := Concatenate([]*Node{rows, InsertAxes(in[0], -1)}, -1)
			F := Scatter(ij, ConvertDType(in[1], dt), shapes.Make(dt, B, S), false, true)
			fired := ReduceSum(ConvertDType(GreaterThan(F, ScalarZero(g, dt)), dtypes.Float32), 0)
			return []*Node{ConvertDType(F, dtypes.BFloat16), fired}
		}
	}
	parts := []struct {
		name string
		fn   func(in []*Node) []*Node
		args []any
	}{
		{"noop", func(in []*Node) []*Node { return []*Node{AddScalar(in[0], 1)} }, []any{one}},
		{"select_gemm_f32_out", func(in []*Node) []*Node { return []*Node{selF32.selectionPre(in[0], nil, in[1], in[2])} }, []any{x, wEncT, bEnc}},
		{"select_gemm_bf16_out_bias_folded", func(in []*Node) []*Node { return []*Node{sel.selectionPre(in[0], nil, in[1], in[2])} }, []any{x, wEncT, bEnc}},
		{"topk_planned_f32", func(in []*Node) []*Node { return []*Node{topKSel{}.indices(in[0], k)} }, []any{pre32}},
		{"topk_planned_bf16", func(in []*Node) []*Node { return []*Node{topKSel{}.indices(in[0], k)} }, []any{preBF}},
		{"topk_planned_gomlx_sorts_bf16", func(in []*Node) []*Node { return []*Node{topKSel{gomlx: true}.indices(in[0], k)} }, []any{preBF}},
		{"topk_chunked32_gomlx_sorts_bf16", func(in []*Node) []*Node { return []*Node{topKChunked(in[0], k, true, 32)} }, []any{preBF}},
		{"topk_chunked16_bf16", func(in []*Node) []*Node { return []*Node{topKChunked(in[0], k, false, 16)} }, []any{preBF}},
		{"topk_chunked64_bf16", func(in []*Node) []*Node { return []*Node{topKChunked(in[0], k, false, 64)} }, []any{preBF}},
		{"topk_chunked32_then8_bf16", func(in []*Node) []*Node { return []*Node{topKChunked(in[0], k, false, 32, 8)} }, []any{preBF}},
		{"topk_chunked64_then16_bf16", func(in []*Node) []*Node { return []*Node{topKChunked(in[0], k, false, 64, 16)} }, []any{preBF}},
		{"topk_chunked64_then16_then4_bf16", func(in []*Node) []*Node { return []*Node{topKChunked(in[0], k, false, 64, 16, 4)} }, []any{preBF}},
		{"topk_sort_bf16", func(in []*Node) []*Node { _, i := TopK(in[0], k, -1); return []*Node{i} }, []any{preBF}},
		{"topk_full_row_k16_bf16", func(in []*Node) []*Node { _, i := TopK(in[0], 16, -1); return []*Node{i} }, []any{preBF}},
		{"topk_full_row_k16_f32", func(in []*Node) []*Node { _, i := TopK(in[0], 16, -1); return []*Node{i} }, []any{pre32}},
		{"topk_chunk_maxima_k16_bf16", func(in []*Node) []*Node {
			_, ci := TopK(ReduceMax(Reshape(in[0], B, S/32, 32), 2), 16, -1)
			return []*Node{ci}
		}, []any{preBF}},
		{"topk_1024_cands_k32_bf16", func(in []*Node) []*Node {
			_, ci := TopK(Slice(in[0], AxisRange(), AxisRange(0, 1024)), k, -1)
			return []*Node{ci}
		}, []any{preBF}},
		{"topk_chunk_maxima_only_bf16", func(in []*Node) []*Node {
			_, ci := TopK(ReduceMax(Reshape(in[0], B, S/32, 32), 2), k, -1)
			return []*Node{ci}
		}, []any{preBF}},
		{"chunk_maxima_reduce_bf16", func(in []*Node) []*Node { return []*Node{ReduceMax(Reshape(in[0], B, S/32, 32), 2)} }, []any{preBF}},
		{"select_and_topk_f32", func(in []*Node) []*Node {
			return []*Node{topKSel{}.indices(selF32.selectionPre(in[0], nil, in[1], in[2]), k)}
		}, []any{x, wEncT, bEnc}},
		{"select_and_topk_bf16", func(in []*Node) []*Node {
			return []*Node{topKSel{}.indices(sel.selectionPre(in[0], nil, in[1], in[2]), k)}
		}, []any{x, wEncT, bEnc}},
		{"scatter_f32_convert", scatter(dtypes.Float32), []any{idx, vals}},
		{"scatter_bf16", scatter(dtypes.BFloat16), []any{idx, vals}},
		{"grad_gemm_BS_x_Bd", func(in []*Node) []*Node { return []*Node{sel.mm(in[0], []int{0}, in[1], []int{0})} }, []any{preBF, x}},
		{"gathers_fwd_bwd", func(in []*Node) []*Node {
			i1 := InsertAxes(in[0], -1)
			xin := in[1]
			pre := Add(ReduceSum(Mul(Gather(in[2], i1), InsertAxes(xin, 1)), 2), Gather(in[3], i1))
			v := Max(pre, ScalarZero(xin.Graph(), dtypes.Float32))
			dec := Gather(in[4], i1)
			xhat := ReduceSum(Mul(dec, InsertAxes(v, -1)), 1)
			dpre := ReduceSum(Mul(dec, InsertAxes(Sub(xin, xhat), 1)), 2)
			return []*Node{xhat, dpre}
		}, []any{idx, x, wEncT, bEnc, wDec}},
		{"gathers_dec_only_selpre", func(in []*Node) []*Node { // selpre: values from pre, decoder rows only
			i1 := InsertAxes(in[0], -1)
			g := in[1].Graph()
			rows := Iota(g, shapes.Make(dtypes.Int32, B, k, 1), 0)
			v := Max(ConvertDType(Reshape(Gather(in[2], Concatenate([]*Node{rows, i1}, -1)), B, k), dtypes.Float32), ScalarZero(g, dtypes.Float32))
			dec := Gather(in[3], i1)
			xhat := ReduceSum(Mul(dec, InsertAxes(v, -1)), 1)
			dpre := ReduceSum(Mul(dec, InsertAxes(Sub(in[1], xhat), 1)), 2)
			return []*Node{xhat, dpre}
		}, []any{idx, x, preBF, wDec}},
		{"grad_scatter_add_spread", scatterGrad, []any{idx, vals, x}},
		{"grad_scatter_add_skewed", scatterGrad, []any{idxSkew, vals, x}},
		{"adam_two_weights", func(in []*Node) []*Node {
			var out []*Node
			for i := 0; i < 2; i++ {
				p, gr := in[i], in[2+i]
				m := MulScalar(gr, 0.1)
				v := MulScalar(Square(gr), 0.001)
				out = append(out, Sub(p, MulScalar(Div(m, AddScalar(Sqrt(v), 1e-8)), 1e-4)), m, v)
			}
			return out
		}, []any{wEncT, wDec, wDec, wEncT}},
		{"bf16_x_copy", func(in []*Node) []*Node { return []*Node{ConvertDType(in[0], dtypes.Float32)} }, []any{xBF}},
	}
	syncExec, err := NewExec(be, func(a *Node) *Node { return AddScalar(a, 1) })
	if err != nil {
		b.Fatal(err)
	}
	sync := func() { // device work runs in order: reading a later result waits for the earlier ones
		_ = tensors.ToScalar[float32](syncExec.MustExec(one)[0])
	}
	for _, p := range parts {
		if !selected("STEER_SAE_PARTS_ONLY", p.name) {
			continue
		}
		e, err := NewExec(be, func(g *Graph, in []*Node) []*Node { return p.fn(in) })
		if err != nil {
			b.Fatal(err)
		}
		run := func() {
			outs, err := e.Exec(p.args...)
			if err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
			for _, o := range outs {
				o.FinalizeAll()
			}
		}
		for range 3 {
			run()
		}
		sync()
		const n = 20
		t0 := time.Now()
		for range n {
			run()
		}
		sync()
		ms := float64(time.Since(t0).Microseconds()) / 1000 / n
		benchLine(map[string]any{"part": p.name, "ms": ms, "B": B, "d": d, "S": S, "k": k})
	}
}

// selected: the environment variable env is unset, or name contains one of its comma-separated parts.
func selected(env, name string) bool {
	only := os.Getenv(env)
	if only == "" {
		return true
	}
	for _, o := range strings.Split(only, ",") {
		if o != "" && strings.Contains(name, o) {
			return true
		}
	}
	return false
}

// benchLine prints v as a JSON line and appends it to $STEER_SAE_BENCH_JSON if set.
func benchLine(v any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
	if p := os.Getenv("STEER_SAE_BENCH_JSON"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
}
