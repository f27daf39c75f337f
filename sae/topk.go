package sae

import "math/bits"

func gt16Generic(pre, bias []float32, thr float32, buf *[16]float32) uint16 {
	var m uint16
	for l := range 16 {
		v := pre[l] + bias[l]
		buf[l] = v
		if v > thr {
			m |= 1 << l
		}
	}
	return m
}

// topKBias writes into idx and vals (len k) the indices and values of the k largest v_j = pre[j] + bias[j],
// ordered by decreasing value, ties to the lower index (the same selection and order as topKIndices on
// the biased row). A running threshold (the weakest kept value) filters 16 values at a time.
func topKBias(pre, bias []float32, k int, idx []int32, vals []float32) {
	n := len(pre)
	bias = bias[:n]
	idx, vals = idx[:k], vals[:k]
	weaker := func(a, b int) bool { // a ranks below b
		if vals[a] != vals[b] {
			return vals[a] < vals[b]
		}
		return idx[a] > idx[b]
	}
	down := func(i, size int) {
		for {
			l := 2*i + 1
			if l >= size {
				return
			}
			m := l
			if r := l + 1; r < size && weaker(r, l) {
				m = r
			}
			if !weaker(m, i) {
				return
			}
			idx[i], idx[m] = idx[m], idx[i]
			vals[i], vals[m] = vals[m], vals[i]
			i = m
		}
	}
	for j := range k {
		idx[j], vals[j] = int32(j), pre[j]+bias[j]
		for i := j; i > 0; {
			p := (i - 1) / 2
			if !weaker(i, p) {
				break
			}
			idx[i], idx[p] = idx[p], idx[i]
			vals[i], vals[p] = vals[p], vals[i]
			i = p
		}
	}
	thr := vals[0]
	offer := func(j int, v float32) {
		// v > thr: a later index never wins a tie, so only strictly greater values enter
		idx[0], vals[0] = int32(j), v
		down(0, k)
		thr = vals[0]
	}
	j := k
	var buf [16]float32
	for ; j+16 <= n; j += 16 {
		m := gt16(pre[j:j+16], bias[j:j+16], thr, &buf)
		for m != 0 {
			l := bits.TrailingZeros16(m)
			m &= m - 1
			if v := buf[l]; v > thr {
				offer(j+l, v)
			}
		}
	}
	for ; j < n; j++ {
		if v := pre[j] + bias[j]; v > thr {
			offer(j, v)
		}
	}
	for end := k - 1; end > 0; end-- {
		idx[0], idx[end] = idx[end], idx[0]
		vals[0], vals[end] = vals[end], vals[0]
		down(0, end)
	}
}
