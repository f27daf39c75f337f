//go:build !(amd64 && goexperiment.simd)

package sae

import "math"

func axpy32(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func scal32(a float32, x []float32) {
	for i := range x {
		x[i] *= a
	}
}

func (c adamConsts) update(p, m, v, g []float32) {
	n := len(p)
	m, v, g = m[:n], v[:n], g[:n]
	for i := range n {
		c.one(&p[i], &m[i], &v[i], g[i])
	}
}

func (c adamConsts) one(p, m, v *float32, g float32) {
	mm := *m*c.b1 + g*c.c1
	vv := *v*c.b2 + (g*g)*c.c2
	*m, *v = mm, vv
	*p -= c.lr * ((mm / c.bc1) / (float32(math.Sqrt(float64(vv/c.bc2))) + c.eps))
}

func gt16(pre, bias []float32, thr float32, buf *[16]float32) uint16 {
	return gt16Generic(pre, bias, thr, buf)
}

func addTo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += v
	}
}

func reluBias32(pre, bias, out []float32) {
	for i := range out {
		out[i] = max(pre[i]+bias[i], 0)
	}
}

func reluBack32(f, df, cfn, dp, fired, sumF, gb []float32) {
	reluBackGeneric(f, df, cfn, dp, fired, sumF, gb)
}

func jumpBias32(pre, bias, th, out, keep []float32) { jumpBiasGeneric(pre, bias, th, out, keep) }

func jumpBack32(z, df, th, lo, hi, a []float32, c float32, dp, fired, gTh, gb []float32) {
	jumpBackGeneric(z, df, th, lo, hi, a, c, dp, fired, gTh, gb)
}
