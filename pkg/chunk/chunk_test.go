package chunk

import (
	"fmt"
	"strings"
	"testing"
)

// checkLines asserts the property citations depend on: a chunk's text is
// exactly its line range of the input.
func checkLines(t *testing.T, text string, chunks []Chunk) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, c := range chunks {
		if c.StartLine < 1 || c.EndLine < c.StartLine || c.EndLine > len(lines) {
			t.Fatalf("chunk %d has range %d-%d for %d lines", i, c.StartLine, c.EndLine, len(lines))
		}
		want := strings.Join(lines[c.StartLine-1:c.EndLine], "\n")
		if c.Text != want {
			t.Fatalf("chunk %d text is not lines %d-%d:\n%q\nwant\n%q", i, c.StartLine, c.EndLine, c.Text, want)
		}
	}
}

// checkCoverage asserts no non-blank line is lost between chunks.
func checkCoverage(t *testing.T, text string, chunks []Chunk) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	covered := make([]bool, len(lines))
	for _, c := range chunks {
		for i := c.StartLine - 1; i < c.EndLine; i++ {
			covered[i] = true
		}
	}
	for i, l := range lines {
		if !covered[i] && strings.TrimSpace(l) != "" {
			t.Fatalf("line %d (%q) is in no chunk", i+1, l)
		}
	}
}

func paragraphs(n, wordsEach int) string {
	var b strings.Builder
	for p := 0; p < n; p++ {
		for l := 0; l < 4; l++ {
			for w := 0; w < wordsEach/4; w++ {
				fmt.Fprintf(&b, "word%d_%d_%d ", p, l, w)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		text       string
		opt        Options
		wantChunks int
	}{
		{"empty", "", DefaultOptions, 0},
		{"blank only", "\n\n  \n", DefaultOptions, 0},
		{"one line", "hello world", DefaultOptions, 1},
		{"small doc", "# Title\n\nSome text.\n", DefaultOptions, 1},
		{"long line alone", strings.Repeat("x", 5000) + "\nshort\n", Options{Target: 100, Overlap: 10}, 2},
		{"many paragraphs", paragraphs(40, 40), DefaultOptions, -1},
		{"crlf", "line one\r\nline two\r\n", DefaultOptions, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Split(tt.text, tt.opt)
			if tt.wantChunks >= 0 && len(got) != tt.wantChunks {
				t.Fatalf("got %d chunks, want %d: %+v", len(got), tt.wantChunks, got)
			}
			checkLines(t, tt.text, got)
			checkCoverage(t, tt.text, got)
		})
	}
}

func TestSplitSizeAndOverlap(t *testing.T) {
	t.Parallel()
	text := paragraphs(60, 60)
	opt := Options{Target: 500, Overlap: 75}
	chunks := Split(text, opt)
	if len(chunks) < 5 {
		t.Fatalf("only %d chunks", len(chunks))
	}
	for i, c := range chunks {
		if n := EstimateTokens(c.Text); n > opt.Target+10 {
			t.Errorf("chunk %d has %d tokens, over target %d", i, n, opt.Target)
		}
		if i > 0 {
			prev := chunks[i-1]
			if c.StartLine > prev.EndLine+1 {
				t.Errorf("gap between chunk %d (ends %d) and %d (starts %d)", i-1, prev.EndLine, i, c.StartLine)
			}
			if c.StartLine <= prev.StartLine {
				t.Errorf("chunk %d does not move forward", i)
			}
		}
	}
	// Overlap: most neighbours share lines.
	shared := 0
	for i := 1; i < len(chunks); i++ {
		if chunks[i].StartLine <= chunks[i-1].EndLine {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no chunk overlaps its predecessor")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("hello\nworld\n", 50, 5)
	f.Add(paragraphs(10, 20), 100, 15)
	f.Add("\n\n\nx\n\n", 1, 0)
	f.Fuzz(func(t *testing.T, text string, target, overlap int) {
		if target > 5000 || overlap > 5000 {
			return
		}
		chunks := Split(text, Options{Target: target, Overlap: overlap})
		checkLines(t, text, chunks)
		checkCoverage(t, text, chunks)
	})
}

func BenchmarkSplit(b *testing.B) {
	text := paragraphs(500, 60)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		Split(text, DefaultOptions)
	}
}
