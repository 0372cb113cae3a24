package answer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// BenchmarkFit fits k sources of about 120 tokens into a context that
// holds half of them, as rag ask -k k does with a small --num-ctx: the
// cost must grow with k, not with k².
func BenchmarkFit(b *testing.B) {
	text := strings.Repeat("The retry policy waits twice as long after each failure. ", 10)
	for _, k := range []int{1000, 3000, 10000} {
		sources := make([]Source, k)
		for i := range sources {
			sources[i] = Source{N: i + 1, Result: retrieve.Result{Path: fmt.Sprintf("docs/file%d.md", i), StartLine: 1, EndLine: 9, Text: text}}
		}
		p := DefaultPrompt()
		all := 0
		for _, m := range p.Messages("What is the retry policy?", sources) {
			all += chunk.EstimateTokens(m.Content) + 4
		}
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for b.Loop() {
				kept, _ := p.Fit("What is the retry policy?", sources, all/2, chunk.EstimateTokens)
				if len(kept) == 0 || len(kept) == k {
					b.Fatalf("kept %d of %d", len(kept), k)
				}
			}
		})
	}
}
