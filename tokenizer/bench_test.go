package tokenizer

import (
	"testing"
)

// BenchmarkEncodeCorpus encodes the first ~4 MB of corpus text on one goroutine.
func BenchmarkEncodeCorpus(b *testing.B) {
	texts := corpusTexts(b, 4<<20)
	total := 0
	for _, s := range texts {
		total += len(s)
	}
	for _, c := range []struct {
		name string
		tk   *Tokenizer
	}{{"tinylm", loadTinyLM(b)}, {"llama3", loadFixture(b, "llama3")}, {"bert", loadFixture(b, "bert-base-uncased")}, {"sp-style-bpe", loadFixture(b, "sp-style-bpe")}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range texts {
					_ = c.tk.Encode(s, false)
				}
			}
		})
	}
}
