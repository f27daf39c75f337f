//go:build amd64 && goexperiment.simd

package sae

import (
	"math"
	"simd/archsimd"
)

var useAVX512 = archsimd.X86.AVX512()

// axpy32: y += a·x (len(y) >= len(x)).
func axpy32(a float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	i := 0
	if useAVX512 {
		av := archsimd.BroadcastFloat32x16(a)
		for ; i+16 <= n; i += 16 {
			xv := archsimd.LoadFloat32x16Slice(x[i:])
			yv := archsimd.LoadFloat32x16Slice(y[i:])
			xv.MulAdd(av, yv).StoreSlice(y[i:])
		}
	}
	for ; i < n; i++ {
		y[i] += a * x[i]
	}
}

// dot32 returns Σ a_i·b_i (fixed summation order for a given length).
func dot32(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	i := 0
	var s float32
	if useAVX512 && n >= 16 {
		acc0 := archsimd.BroadcastFloat32x16(0)
		acc1 := acc0
		for ; i+32 <= n; i += 32 {
			acc0 = archsimd.LoadFloat32x16Slice(a[i:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:]), acc0)
			acc1 = archsimd.LoadFloat32x16Slice(a[i+16:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i+16:]), acc1)
		}
		for ; i+16 <= n; i += 16 {
			acc0 = archsimd.LoadFloat32x16Slice(a[i:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:]), acc0)
		}
		var buf [16]float32
		acc0.Add(acc1).Store(&buf)
		for _, v := range buf {
			s += v
		}
	}
	for ; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// scal32: x *= a.
func scal32(a float32, x []float32) {
	n := len(x)
	i := 0
	if useAVX512 {
		av := archsimd.BroadcastFloat32x16(a)
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16Slice(x[i:]).Mul(av).StoreSlice(x[i:])
		}
	}
	for ; i < n; i++ {
		x[i] *= a
	}
}

// update applies one Adam step to p with gradient g (len(g) == len(p); a 1-element g of 0 is broadcast
// when len(p) == 1), in float32 with the graph step's operation order:
// m = b1·m + c1·g; v = b2·v + c2·g²; p −= lr·((m/bc1) / (sqrt(v/bc2) + eps)).
func (c adamConsts) update(p, m, v, g []float32) {
	n := len(p)
	m, v, g = m[:n], v[:n], g[:n]
	i := 0
	if useAVX512 {
		b1, b2 := archsimd.BroadcastFloat32x16(c.b1), archsimd.BroadcastFloat32x16(c.b2)
		c1, c2 := archsimd.BroadcastFloat32x16(c.c1), archsimd.BroadcastFloat32x16(c.c2)
		bc1, bc2 := archsimd.BroadcastFloat32x16(c.bc1), archsimd.BroadcastFloat32x16(c.bc2)
		lr, eps := archsimd.BroadcastFloat32x16(c.lr), archsimd.BroadcastFloat32x16(c.eps)
		for ; i+16 <= n; i += 16 {
			gv := archsimd.LoadFloat32x16Slice(g[i:])
			mv := archsimd.LoadFloat32x16Slice(m[i:]).Mul(b1).Add(gv.Mul(c1))
			vv := archsimd.LoadFloat32x16Slice(v[i:]).Mul(b2).Add(gv.Mul(gv).Mul(c2))
			mv.StoreSlice(m[i:])
			vv.StoreSlice(v[i:])
			upd := mv.Div(bc1).Div(vv.Div(bc2).Sqrt().Add(eps))
			pv := archsimd.LoadFloat32x16Slice(p[i:])
			pv.Sub(lr.Mul(upd)).StoreSlice(p[i:])
		}
	}
	for ; i < n; i++ {
		c.one(&p[i], &m[i], &v[i], g[i])
	}
}

func (c adamConsts) one(p, m, v *float32, g float32) {
	mm := *m*c.b1 + g*c.c1
	vv := *v*c.b2 + (g*g)*c.c2
	*m, *v = mm, vv
	*p -= c.lr * ((mm / c.bc1) / (float32(math.Sqrt(float64(vv/c.bc2))) + c.eps))
}

// gt16 stores v = pre[0:16] + bias[0:16] into buf and returns the bit mask of v > thr.
func gt16(pre, bias []float32, thr float32, buf *[16]float32) uint16 {
	if useAVX512 {
		v := archsimd.LoadFloat32x16Slice(pre).Add(archsimd.LoadFloat32x16Slice(bias))
		v.Store(buf)
		return v.Greater(archsimd.BroadcastFloat32x16(thr)).ToBits()
	}
	return gt16Generic(pre, bias, thr, buf)
}

// addTo: y += x.
func addTo(x, y []float32) { axpy32(1, x, y) }

// reluBias32: out[i] = max(pre[i] + bias[i], 0).
func reluBias32(pre, bias, out []float32) {
	n := len(out)
	pre, bias = pre[:n], bias[:n]
	i := 0
	if useAVX512 {
		z := archsimd.BroadcastFloat32x16(0)
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16Slice(pre[i:]).Add(archsimd.LoadFloat32x16Slice(bias[i:])).Max(z).StoreSlice(out[i:])
		}
	}
	for ; i < n; i++ {
		out[i] = max(pre[i]+bias[i], 0)
	}
}

// reluBack32 is the ReLU backward over one row segment: where f > 0, dp = df + cfn, else 0; it accumulates
// the firing count, Σf and Σdp per column (fired, sumF, gb).
func reluBack32(f, df, cfn, dp, fired, sumF, gb []float32) {
	n := len(f)
	df, cfn, dp, fired, sumF, gb = df[:n], cfn[:n], dp[:n], fired[:n], sumF[:n], gb[:n]
	i := 0
	if useAVX512 {
		z, one := archsimd.BroadcastFloat32x16(0), archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			fv := archsimd.LoadFloat32x16Slice(f[i:])
			m := fv.Greater(z)
			d := archsimd.LoadFloat32x16Slice(df[i:]).Add(archsimd.LoadFloat32x16Slice(cfn[i:])).Masked(m)
			d.StoreSlice(dp[i:])
			archsimd.LoadFloat32x16Slice(fired[i:]).Add(one.Masked(m)).StoreSlice(fired[i:])
			archsimd.LoadFloat32x16Slice(sumF[i:]).Add(fv.Masked(m)).StoreSlice(sumF[i:])
			archsimd.LoadFloat32x16Slice(gb[i:]).Add(d).StoreSlice(gb[i:])
		}
	}
	reluBackGeneric(f[i:], df[i:], cfn[i:], dp[i:], fired[i:], sumF[i:], gb[i:])
}

// jumpBias32: z = pre + bias (stored in keep), out = z where z > th, else 0.
func jumpBias32(pre, bias, th, out, keep []float32) {
	n := len(out)
	pre, bias, th, keep = pre[:n], bias[:n], th[:n], keep[:n]
	i := 0
	if useAVX512 {
		for ; i+16 <= n; i += 16 {
			z := archsimd.LoadFloat32x16Slice(pre[i:]).Add(archsimd.LoadFloat32x16Slice(bias[i:]))
			z.StoreSlice(keep[i:])
			z.Masked(z.Greater(archsimd.LoadFloat32x16Slice(th[i:]))).StoreSlice(out[i:])
		}
	}
	jumpBiasGeneric(pre[i:], bias[i:], th[i:], out[i:], keep[i:])
}

// jumpBack32 is the JumpReLU backward over one row segment (z = pre + b_enc, df = ∂L/∂f): dp = df where
// z > th, else 0; where lo < z < hi (the rectangle kernel around θ) gTh += a·df + c; it accumulates the
// firing count and Σdp per column.
func jumpBack32(z, df, th, lo, hi, a []float32, c float32, dp, fired, gTh, gb []float32) {
	n := len(z)
	df, th, lo, hi, a, dp, fired, gTh, gb = df[:n], th[:n], lo[:n], hi[:n], a[:n], dp[:n], fired[:n], gTh[:n], gb[:n]
	i := 0
	if useAVX512 {
		one, cv := archsimd.BroadcastFloat32x16(1), archsimd.BroadcastFloat32x16(c)
		for ; i+16 <= n; i += 16 {
			zv := archsimd.LoadFloat32x16Slice(z[i:])
			gd := archsimd.LoadFloat32x16Slice(df[i:])
			on := zv.Greater(archsimd.LoadFloat32x16Slice(th[i:]))
			d := gd.Masked(on)
			d.StoreSlice(dp[i:])
			archsimd.LoadFloat32x16Slice(fired[i:]).Add(one.Masked(on)).StoreSlice(fired[i:])
			archsimd.LoadFloat32x16Slice(gb[i:]).Add(d).StoreSlice(gb[i:])
			k := zv.Greater(archsimd.LoadFloat32x16Slice(lo[i:])).And(zv.Less(archsimd.LoadFloat32x16Slice(hi[i:])))
			t := archsimd.LoadFloat32x16Slice(a[i:]).MulAdd(gd, cv).Masked(k)
			archsimd.LoadFloat32x16Slice(gTh[i:]).Add(t).StoreSlice(gTh[i:])
		}
	}
	jumpBackGeneric(z[i:], df[i:], th[i:], lo[i:], hi[i:], a[i:], c, dp[i:], fired[i:], gTh[i:], gb[i:])
}
