//go:build hftokenizers

package hforacle

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steer-dev/steer/internal/sharedtest"
	"github.com/steer-dev/steer/tokenizer"
)

type sample struct {
	label string
	text  string
}

// oracleSamples returns every corpus document (the first 2 MB with -short) and every
// distinct fixture text.
func oracleSamples(t *testing.T) []sample {
	t.Helper()
	var out []sample
	limit := 0 // the whole corpus
	if testing.Short() {
		limit = 2 << 20
	}
	for i, d := range readCorpus(t, limit) {
		out = append(out, sample{fmt.Sprintf("corpus doc %d (%s)", i, d.Src), d.Text})
	}
	seen := map[string]bool{}
	for _, name := range fixtureNames {
		for i, c := range readGolden(t, name) {
			if !seen[c.Text] {
				seen[c.Text] = true
				out = append(out, sample{fmt.Sprintf("%s.golden.json case %d", name, i), c.Text})
			}
		}
	}
	return out
}

type mismatch struct {
	idx      int // into samples
	add      bool
	pos      int // first differing position
	want     []int
	got      []int
	panicked string
}

// TestOracleMatchesGoTokenizer encodes the whole corpus and all fixture texts, with and
// without special tokens, with HF's Rust tokenizer and with the pure-Go tokenizer, and
// requires identical ids. It also requires the Go tokenizer to decode the oracle's ids
// (skip_special_tokens false and true) to the same text as HF.
func TestOracleMatchesGoTokenizer(t *testing.T) {
	type tokCase struct{ name, path string }
	cases := []tokCase{{"tiny-lm", tinyLMTokenizerPath()}}
	for _, n := range fixtureNames {
		cases = append(cases, tokCase{n, sharedtest.Path(t, "fixtures/tokenizers/"+n+".tokenizer.json")})
	}
	samples := oracleSamples(t)
	totalBytes := 0
	for _, s := range samples {
		totalBytes += len(s.text)
	}
	t.Logf("%d texts, %.1f MB", len(samples), float64(totalBytes)/1e6)
	var summary []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := "stopped early (see its errors)"
			defer func() { summary = append(summary, tc.name+": "+line) }()
			line = compareOne(t, tc.path, samples, totalBytes)
		})
	}
	t.Logf("summary: %s", strings.Join(summary, "; "))
}

// compareOne runs the comparison for one tokenizer and returns a one-line summary. It calls
// the Go tokenizer from two goroutines at once, as its API allows.
func compareOne(t *testing.T, path string, samples []sample, totalBytes int) string {
	oracle := loadOracle(t, path)
	goTok, err := tokenizer.FromFile(path)
	if err != nil {
		t.Fatalf("Go tokenizer: %v", err)
	}

	var (
		mu             sync.Mutex
		encBad         []mismatch
		decBad         []string
		decBadCount    int
		skipped        atomic.Int64
		tokens         atomic.Int64
		oracleNS, goNS atomic.Int64
		next           atomic.Int64
		wg             sync.WaitGroup
	)
	encodeGo := func(text string, add bool) (ids []int, panicked string) {
		defer func() {
			if r := recover(); r != nil {
				panicked = fmt.Sprint(r)
			}
		}()
		return goTok.Encode(text, add), ""
	}
	decodeGo := func(ids []int, skip bool) (s string) {
		defer func() {
			if r := recover(); r != nil {
				s = fmt.Sprintf("<panic: %v>", r)
			}
		}()
		return goTok.Decode(ids, skip)
	}
	workers := min(2, runtime.GOMAXPROCS(0))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(samples) {
					return
				}
				text := samples[i].text
				if !CanEncode(text) {
					skipped.Add(1)
					continue
				}
				for _, add := range []bool{false, true} {
					t0 := time.Now()
					want := oracle.Encode(text, add)
					t1 := time.Now()
					got, panicked := encodeGo(text, add)
					t2 := time.Now()
					oracleNS.Add(int64(t1.Sub(t0)))
					goNS.Add(int64(t2.Sub(t1)))
					tokens.Add(int64(len(want)))
					if panicked != "" || !slices.Equal(got, want) {
						pos := 0
						for pos < len(want) && pos < len(got) && want[pos] == got[pos] {
							pos++
						}
						mu.Lock()
						encBad = append(encBad, mismatch{i, add, pos, want, got, panicked})
						mu.Unlock()
					}
					if add {
						for _, skip := range []bool{false, true} {
							if w, g := oracle.Decode(want, skip), decodeGo(want, skip); w != g {
								mu.Lock()
								decBadCount++
								if len(decBad) < 5 {
									d := firstDiff(g, w)
									decBad = append(decBad, fmt.Sprintf("%s: Decode(oracle ids, skipSpecial=%v) differs at byte %d (len got %d, want %d):\n\t got %q\n\twant %q",
										samples[i].label, skip, d, len(g), len(w), around(g, d), around(w, d)))
								}
								mu.Unlock()
							}
						}
					}
				}
			}
		}()
	}
	wg.Wait()

	mb := 2 * float64(totalBytes) / 1e6 // both passes
	t.Logf("%d tokens; %d texts skipped (NUL byte); encode CPU time: oracle %.1fs (%.1f MB/s), Go %.1fs (%.1f MB/s)",
		tokens.Load(), skipped.Load(),
		float64(oracleNS.Load())/1e9, mb/(float64(oracleNS.Load())/1e9),
		float64(goNS.Load())/1e9, mb/(float64(goNS.Load())/1e9))

	sort.Slice(encBad, func(a, b int) bool {
		if encBad[a].idx != encBad[b].idx {
			return encBad[a].idx < encBad[b].idx
		}
		return !encBad[a].add
	})
	var perFlag [2]int
	for k, m := range encBad {
		if m.add {
			perFlag[1]++
		} else {
			perFlag[0]++
		}
		if k < 8 {
			t.Error(describeMismatch(oracle, samples[m.idx], m))
		}
	}
	for _, s := range decBad {
		t.Error(s)
	}
	if len(encBad) > 0 {
		t.Errorf("%d of %d encodings differ from HF (add_special_tokens=false: %d, true: %d); first %d shown above",
			len(encBad), 2*(len(samples)-int(skipped.Load())), perFlag[0], perFlag[1], min(8, len(encBad)))
	}
	if decBadCount > 0 {
		t.Errorf("%d decodes of the oracle's ids differ from HF", decBadCount)
	}
	return fmt.Sprintf("%d/%d encodings differ (add_special=false: %d, true: %d), %d decodes differ",
		len(encBad), 2*(len(samples)-int(skipped.Load())), perFlag[0], perFlag[1], decBadCount)
}

func describeMismatch(oracle *Tokenizer, s sample, m mismatch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, add_special_tokens=%v: ", s.label, m.add)
	if m.panicked != "" {
		fmt.Fprintf(&b, "Go tokenizer panicked: %s\n\ttext: %q", m.panicked, around(s.text, 0))
		return b.String()
	}
	fmt.Fprintf(&b, "first difference at token %d (len got %d, want %d)\n", m.pos, len(m.got), len(m.want))
	enc := oracle.EncodeDetailed(s.text, m.add)
	if m.pos < len(enc.Offsets) {
		start := enc.Offsets[m.pos][0]
		lo, hi := max(0, start-40), min(len(s.text), start+60)
		for lo > 0 && !isBoundary(s.text, lo) {
			lo--
		}
		for hi < len(s.text) && !isBoundary(s.text, hi) {
			hi++
		}
		fmt.Fprintf(&b, "\ttext near byte %d: %q\n", start, s.text[lo:hi])
	}
	fmt.Fprintf(&b, "\t got %s\n", window(oracle, m.got, m.pos))
	fmt.Fprintf(&b, "\twant %s", window(oracle, m.want, m.pos))
	return b.String()
}

func isBoundary(s string, i int) bool { return i >= len(s) || s[i] < 0x80 || s[i] >= 0xC0 }

// window shows ids[pos-5:pos+6] as id:"piece" with the piece decoded by HF.
func window(oracle *Tokenizer, ids []int, pos int) string {
	lo, hi := max(0, pos-5), min(len(ids), pos+6)
	parts := make([]string, 0, hi-lo+2)
	if lo > 0 {
		parts = append(parts, "…")
	}
	for i := lo; i < hi; i++ {
		mark := ""
		if i == pos {
			mark = ">>"
		}
		parts = append(parts, fmt.Sprintf("%s%d:%q", mark, ids[i], oracle.Decode([]int{ids[i]}, false)))
	}
	if hi < len(ids) {
		parts = append(parts, "…")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func firstDiff(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// around returns s[at-60:at+60], widened to UTF-8 boundaries.
func around(s string, at int) string {
	lo, hi := max(0, at-60), min(len(s), at+60)
	for lo > 0 && !isBoundary(s, lo) {
		lo--
	}
	for hi < len(s) && !isBoundary(s, hi) {
		hi++
	}
	out := s[lo:hi]
	if lo > 0 {
		out = "…" + out
	}
	if hi < len(s) {
		out += "…"
	}
	return out
}
