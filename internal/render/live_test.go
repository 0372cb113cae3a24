package render

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/render/termtest"
)

// syncBuffer is a strings.Builder safe for Live's timer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func screen(t *testing.T, out string) string {
	t.Helper()
	s, err := termtest.Screen(out)
	if err != nil {
		t.Fatalf("%v\noutput: %q", err, out)
	}
	return s
}

func TestLive(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A sentence of the answer that goes on [1]. ", 40) + "\n\n- one\n- two\n\n" + strings.Repeat("Last words here. ", 30)
	tests := []struct {
		name          string
		answer        string
		style         Style
		width, height int
	}{
		{"styled short", "First **bold** paragraph [1].\n\n- item one\n- item two\n\n```go\nx := 1\n```\nDone [2].", Styled, 80, 24},
		{"unstyled short", "First **bold** paragraph [1].\n\n- item one\n\nDone.", Unstyled, 80, 24},
		{"taller than the terminal", long, Styled, 60, 8},
		{"narrow terminal", long, Unstyled, 30, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out syncBuffer
			l, err := NewLive(&out, tt.style, tt.width, tt.height)
			if err != nil {
				t.Fatal(err)
			}
			l.interval = time.Millisecond // many redraws, some from the timer
			for i, piece := range strings.SplitAfter(tt.answer, " ") {
				if err := l.Write(piece); err != nil {
					t.Fatal(err)
				}
				if i == 0 && !strings.Contains(screen(t, out.String()), strings.TrimSpace(piece)) {
					t.Fatalf("first piece %q not drawn at once: %q", piece, out.String())
				}
				if i%7 == 0 {
					time.Sleep(2 * time.Millisecond)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			want, err := Markdown(tt.answer, tt.style, tt.width)
			if err != nil {
				t.Fatal(err)
			}
			want = strings.TrimRight(want, "\n") + "\n"
			if got := screen(t, out.String()); got != want {
				t.Errorf("final screen differs from Markdown:\n--- got\n%s\n--- want\n%s", got, want)
			}
			if tt.style == Unstyled && ansi.MatchString(out.String()) {
				t.Errorf("unstyled output has colours: %q", out.String())
			}
		})
	}
}

func TestLiveRedrawsOnlyTheScreen(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l, err := NewLive(&out, Unstyled, 40, 6)
	if err != nil {
		t.Fatal(err)
	}
	l.interval = 0
	for i := 0; i < 30; i++ {
		if err := l.Write("line\n\n"); err != nil {
			t.Fatal(err)
		}
		if l.rows > 5 {
			t.Fatalf("after %d writes %d rows are redrawable on a 6-row terminal", i+1, l.rows)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLiveCloseWithoutText(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l, err := NewLive(&out, Styled, 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil || out.String() != "" {
		t.Fatalf("Close = %v, wrote %q", err, out.String())
	}
}

func TestHostileMarkdown(t *testing.T) {
	t.Parallel()
	md := "# Title " + hostile + "\n\nText " + hostile + " **bold " + hostile + "**\n\n```\n" + hostile + "\n```\n\n- `" + hostile + "`\n"
	for _, style := range []Style{Styled, Unstyled} {
		out, err := Markdown(md, style, 80)
		if err != nil {
			t.Fatal(err)
		}
		s := screen(t, out) // fails on any control that reached the terminal
		if !strings.Contains(s, `\x1b]52;c;ZXZpbA==\x07`) {
			t.Errorf("style %d: the OSC 52 sequence is not shown escaped:\n%s", style, s)
		}
		var live syncBuffer
		l, err := NewLive(&live, style, 80, 24)
		if err != nil {
			t.Fatal(err)
		}
		for _, piece := range strings.SplitAfter(md, "\x1b") {
			if err := l.Write(piece); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		screen(t, live.String())
	}
	if out, _ := Markdown(md, Plain, 80); out != md {
		t.Error("plain output must keep the text as stored")
	}
}

func TestUnstyledHasNoMarkers(t *testing.T) {
	t.Parallel()
	out, err := Markdown("# Heading\n\n**Sources**\n\n- **[1]** `guide.md:1-3`\n\nSome *emphasis* and ~~gone~~.", Unstyled, 80)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"**", "`", "# ", "~~", "*emphasis*"} {
		if strings.Contains(out, marker) {
			t.Errorf("unstyled output keeps %q:\n%s", marker, out)
		}
	}
	for _, want := range []string{"Heading", "Sources", "• [1] guide.md:1-3", "emphasis"} {
		if !strings.Contains(out, want) {
			t.Errorf("unstyled output lacks %q:\n%s", want, out)
		}
	}
}

// BenchmarkLiveRedraw is the cost of one redraw of a long answer (about
// 1,000 words with lists and code). Measured: 19 ms on 2 shared cores, so
// Live waits at least twice a render's time between redraws.
func BenchmarkLiveRedraw(b *testing.B) {
	md := strings.Repeat("A paragraph of the answer with **bold** words and a citation [1]. ", 10) + "\n\n- one\n- two\n\n```go\nx := 1\n```\n\n"
	md = strings.Repeat(md, 8)
	l, err := NewLive(io.Discard, Styled, 100, 40)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		l.md.Reset() // as if the answer had just come
		l.drawn, l.rows, l.frozen, l.last = 0, 0, 0, time.Time{}
		if err := l.Write(md); err != nil {
			b.Fatal(err)
		}
	}
}
