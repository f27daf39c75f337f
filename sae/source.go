package sae

import (
	"fmt"
	"io"
)

// Source yields activation rows of width Dim().
type Source interface {
	Dim() int
	// Next fills dst (len(dst) is a multiple of Dim()) with the next rows and returns how many rows it filled;
	// io.EOF (with rows == 0) when exhausted.
	Next(dst []float32) (rows int, err error)
}

// Seeker is optionally implemented by a Source that can skip ahead: Skip(rows) discards the next rows.
// Train uses it on Resume to restore the data position; sources without it are advanced by reading
// and discarding.
type Seeker interface {
	Skip(rows int64) error
}

// SliceSource is an in-memory Source over a row-major [N, D] matrix. It is deterministic and
// implements Seeker. Loop makes it cycle forever (epochs) instead of returning io.EOF.
type SliceSource struct {
	D    int
	Data []float32
	Loop bool
	pos  int // row position
}

// NewSliceSource wraps data (len a multiple of d).
func NewSliceSource(data []float32, d int) *SliceSource {
	return &SliceSource{D: d, Data: data}
}

func (s *SliceSource) Dim() int { return s.D }

func (s *SliceSource) rows() int { return len(s.Data) / s.D }

func (s *SliceSource) Next(dst []float32) (int, error) {
	if s.D <= 0 || len(dst)%s.D != 0 {
		return 0, fmt.Errorf("sae: SliceSource.Next: len(dst)=%d is not a multiple of Dim()=%d", len(dst), s.D)
	}
	want := len(dst) / s.D
	n := 0
	for n < want {
		if s.pos >= s.rows() {
			if !s.Loop || s.rows() == 0 {
				break
			}
			s.pos = 0
		}
		m := min(want-n, s.rows()-s.pos)
		copy(dst[n*s.D:(n+m)*s.D], s.Data[s.pos*s.D:(s.pos+m)*s.D])
		n += m
		s.pos += m
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Skip implements Seeker.
func (s *SliceSource) Skip(rows int64) error {
	r := int64(s.rows())
	if r == 0 {
		return nil
	}
	p := int64(s.pos) + rows
	if s.Loop {
		p %= r
	} else if p > r {
		p = r
	}
	s.pos = int(p)
	return nil
}

// Reset rewinds to the first row.
func (s *SliceSource) Reset() { s.pos = 0 }
