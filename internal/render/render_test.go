package render

import (
	"regexp"
	"strings"
	"testing"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestBlockEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       int
	}{
		{"no break", "one line", 0},
		{"open line", "para\n\nnext", len("para\n\n")},
		{"inside fence", "```\ncode\n\nmore", 0},
		{"closed fence", "```\ncode\n```\nafter", len("```\ncode\n```\n")},
		{"two paragraphs", "a\n\nb\n\nc", len("a\n\nb\n\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := blockEnd(tt.text); got != tt.want {
				t.Errorf("blockEnd = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStream(t *testing.T) {
	t.Parallel()
	answer := "First **bold** paragraph [1].\n\n- item one\n- item two\n\n```go\nx := 1\n\ny := 2\n```\nDone [2]."
	tests := []struct {
		name   string
		style  Style
		check  func(t *testing.T, out string)
		chunks int
	}{
		{"plain passes through", Plain, func(t *testing.T, out string) {
			if out != answer {
				t.Errorf("plain output changed the text: %q", out)
			}
		}, 0},
		{"styled renders", Styled, func(t *testing.T, out string) {
			text := ansi.ReplaceAllString(out, "")
			if !strings.Contains(out, "\x1b[") || strings.Contains(text, "**bold**") || !strings.Contains(text, "x := 1") || !strings.Contains(text, "• item two") {
				t.Errorf("styled output, without escapes: %q", text)
			}
		}, 0},
		{"unstyled has no escapes", Unstyled, func(t *testing.T, out string) {
			if strings.Contains(out, "\x1b[") || !strings.Contains(out, "item two") {
				t.Errorf("unstyled output: %q", out)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			s := NewStream(&b, tt.style, 80)
			for _, piece := range strings.SplitAfter(answer, " ") {
				if err := s.Write(piece); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, b.String())
		})
	}
}

func TestStreamRendersParagraphsEarly(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	s := NewStream(&b, Unstyled, 80)
	if err := s.Write("First paragraph.\n\nSecond"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "First paragraph.") || strings.Contains(b.String(), "Second") {
		t.Fatalf("after one paragraph: %q", b.String())
	}
}
