// Package render writes rag's results for people: answers as markdown
// styled by glamour on a terminal (re-rendered in place as the model writes
// them, see Live) or as plain text in a pipe, search results and sources as
// text, and untrusted text made safe for a terminal (Escape). It decides
// nothing about terminals itself; callers say which mode.
package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/glamour"
	gansi "github.com/charmbracelet/glamour/ansi"
	"github.com/charmbracelet/glamour/styles"
)

// Style names how markdown is shown.
type Style int

const (
	// Plain writes markdown text as it is, with no escape codes.
	Plain Style = iota
	// Styled renders markdown with colours.
	Styled
	// Unstyled renders markdown for a terminal without colours (NO_COLOR,
	// TERM=dumb): plain text wrapped to the width, lists and code blocks
	// laid out, without the markers (**, `, #) that only colour would
	// replace.
	Unstyled
)

// Markdown renders md for a terminal of the given width. Styled and
// Unstyled output is for a terminal, so control characters in md are
// escaped first (md is the model's or a document's text); Plain returns md
// as it is.
func Markdown(md string, style Style, width int) (string, error) {
	if style == Plain {
		return md, nil
	}
	r, err := newRenderer(style, width)
	if err != nil {
		return "", err
	}
	out, err := r.Render(Escape(md))
	if err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return out, nil
}

func newRenderer(style Style, width int) (*glamour.TermRenderer, error) {
	styleOpt := glamour.WithStandardStyle(styles.DarkStyle)
	if style == Unstyled {
		styleOpt = glamour.WithStyles(unstyled())
	}
	r, err := glamour.NewTermRenderer(styleOpt, glamour.WithWordWrap(max(20, width-4)))
	if err != nil {
		return nil, fmt.Errorf("markdown renderer: %w", err)
	}
	return r, nil
}

// unstyled is glamour's style for terminals without colour with the
// markers dropped: "**Sources**" reads as "Sources", not as markdown.
func unstyled() gansi.StyleConfig {
	c := styles.NoTTYStyleConfig
	c.Strong, c.Emph, c.Strikethrough = gansi.StylePrimitive{}, gansi.StylePrimitive{}, gansi.StylePrimitive{}
	c.Code = gansi.StyleBlock{}
	for _, h := range []*gansi.StyleBlock{&c.H1, &c.H2, &c.H3, &c.H4, &c.H5, &c.H6} {
		*h = gansi.StyleBlock{}
	}
	return c
}

// Stream writes a streamed markdown answer. Plain text passes straight
// through; styled text is held until a block is complete (a blank line
// outside a code fence) and then rendered, so the reader sees each
// paragraph as soon as it is whole.
type Stream struct {
	w     io.Writer
	style Style
	width int
	buf   strings.Builder
	err   error
}

// NewStream returns a Stream writing to w.
func NewStream(w io.Writer, style Style, width int) *Stream {
	return &Stream{w: w, style: style, width: width}
}

// Write takes the next piece of the answer.
func (s *Stream) Write(piece string) error {
	if s.err != nil {
		return s.err
	}
	if s.style == Plain {
		_, s.err = io.WriteString(s.w, piece)
		return s.err
	}
	s.buf.WriteString(piece)
	text := s.buf.String()
	if cut := blockEnd(text); cut > 0 {
		s.buf.Reset()
		s.buf.WriteString(text[cut:])
		s.err = s.render(text[:cut])
	}
	return s.err
}

// Close renders whatever is left.
func (s *Stream) Close() error {
	if s.err != nil {
		return s.err
	}
	if s.style == Plain {
		return nil
	}
	rest := s.buf.String()
	s.buf.Reset()
	if strings.TrimSpace(rest) == "" {
		return nil
	}
	return s.render(rest)
}

func (s *Stream) render(md string) error {
	out, err := Markdown(md, s.style, s.width)
	if err != nil {
		return err
	}
	_, err = io.WriteString(s.w, strings.TrimRight(out, "\n")+"\n")
	return err
}

// blockEnd returns the offset just past the last blank line in text that
// is outside a fenced code block, or 0.
func blockEnd(text string) int {
	inFence := false
	cut := 0
	off := 0
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		complete := strings.HasSuffix(l, "\n")
		off += len(l)
		if !complete {
			break
		}
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
			if !inFence {
				cut = off // a closed fence ends a block
			}
			continue
		}
		if !inFence && t == "" && i > 0 {
			cut = off
		}
	}
	return cut
}
