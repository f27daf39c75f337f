package activations

import (
	"fmt"
	"io"
	"math/rand/v2"
)

// Stream is a sae.Source over activations harvested on the fly, shuffled in a seeded buffer: the
// buffer is filled first, then every row that comes in replaces a uniformly chosen row, which is
// emitted; at the end of the text the buffer drains in random order. The same Config, buffer size and
// seed give the same rows in the same order.
type Stream struct {
	h       *Harvester
	d       int
	cap     int
	buf     []float32 // [n, d]
	n       int
	in      []float32 // rows from the harvester not yet placed
	inN     int
	rng     *rand.Rand
	done    bool
	emitted int64
	end     Position

	// prefetch: the harvester runs ahead in a goroutine (so harvesting overlaps with training)
	ch   chan fetched
	stop chan struct{}
}

type fetched struct {
	rows []float32
	n    int
	end  Position
	err  error
}

// NewStream starts harvesting with a shuffle buffer of bufferRows rows (0 = 65536; 1 = no shuffling).
func NewStream(cfg Config, bufferRows int, seed uint64) (*Stream, error) {
	h, err := NewHarvester(cfg, Position{})
	if err != nil {
		return nil, err
	}
	return newStream(h, bufferRows, seed), nil
}

func newStream(h *Harvester, bufferRows int, seed uint64) *Stream {
	if bufferRows <= 0 {
		bufferRows = 1 << 16
	}
	return &Stream{h: h, d: h.Dim(), cap: bufferRows, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		buf: make([]float32, 0, bufferRows*h.Dim())}
}

// Dim implements sae.Source.
func (s *Stream) Dim() int { return s.d }

// Scale returns the normalisation factor applied to the rows (1 without normalisation).
func (s *Stream) Scale() float32 { return s.h.Scale() }

// Harvester returns the underlying harvester.
func (s *Stream) Harvester() *Harvester { return s.h }

// TextEnd returns the text position after the last context harvested so far: text before it was
// used (eval on held-out text can start at TextEnd().Doc + 1).
func (s *Stream) TextEnd() Position { return s.end }

// Close stops the prefetching and releases the text.
func (s *Stream) Close() error {
	if s.stop != nil {
		close(s.stop)
		for range s.ch { // wait for the producer to finish
		}
		s.stop = nil
	}
	return s.h.Close()
}

func (s *Stream) produce() {
	defer close(s.ch)
	for {
		rows, n, end, err := s.h.NextBatch()
		select {
		case s.ch <- fetched{rows, n, end, err}:
		case <-s.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// pull fetches the next batch into s.in; false at the end.
func (s *Stream) pull() (bool, error) {
	if s.done {
		return false, nil
	}
	if s.ch == nil {
		s.ch, s.stop = make(chan fetched, 4), make(chan struct{})
		go s.produce()
	}
	f, ok := <-s.ch
	if !ok {
		f.err = io.EOF
	}
	rows, n, end, err := f.rows, f.n, f.end, f.err
	if err == io.EOF {
		s.done = true
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.in, s.inN, s.end = rows, n, end
	return true, nil
}

// Next implements sae.Source.
func (s *Stream) Next(dst []float32) (int, error) {
	d := s.d
	if len(dst)%d != 0 {
		return 0, fmt.Errorf("activations: Next: len(dst)=%d is not a multiple of Dim()=%d", len(dst), d)
	}
	want := len(dst) / d
	got := 0
	for got < want {
		if s.inN == 0 {
			ok, err := s.pull()
			if err != nil {
				return got, err
			}
			if !ok {
				break
			}
			continue
		}
		row := s.in[:d]
		if s.n < s.cap { // filling
			s.buf = append(s.buf, row...)
			s.n++
		} else {
			j := s.rng.IntN(s.n)
			copy(dst[got*d:(got+1)*d], s.buf[j*d:(j+1)*d])
			copy(s.buf[j*d:(j+1)*d], row)
			got++
		}
		s.in, s.inN = s.in[d:], s.inN-1
	}
	for got < want && s.n > 0 { // drain at the end
		j := s.rng.IntN(s.n)
		last := s.n - 1
		copy(dst[got*d:(got+1)*d], s.buf[j*d:(j+1)*d])
		copy(s.buf[j*d:(j+1)*d], s.buf[last*d:(last+1)*d])
		s.buf = s.buf[:last*d]
		s.n--
		got++
	}
	s.emitted += int64(got)
	if got == 0 {
		return 0, io.EOF
	}
	return got, nil
}

// Skip discards the next rows (sae.Seeker), for resuming training.
func (s *Stream) Skip(rows int64) error {
	tmp := make([]float32, 4096*s.d)
	for rows > 0 {
		n, err := s.Next(tmp[:min(rows, 4096)*int64(s.d)])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rows -= int64(n)
	}
	return nil
}
