// Package iostreams is the one place that decides how rag talks to a person
// or a pipe: which streams are terminals, whether colour and markdown
// rendering are wanted, and how wide the terminal is. Every command gets its
// streams from here, so tests can swap them for buffers and pretend to be a
// terminal or a pipe.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// IOStreams holds a command's standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool

	colorEnabled bool
	dumb         bool
	size         func() (width, height int)
}

// Env looks up an environment variable; os.Getenv in production, a map in tests.
type Env func(key string) string

// System returns the process's streams. Colour follows the de facto
// conventions: NO_COLOR turns it off, CLICOLOR_FORCE turns it on even when
// piped, TERM=dumb turns it off on a terminal.
func System(env Env) *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		size: func() (int, int) {
			// stdout's size, else stderr's: a status line on stderr
			// must fit even when stdout is piped.
			for _, f := range []*os.File{os.Stdout, os.Stderr} {
				if w, h, err := term.GetSize(int(f.Fd())); err == nil {
					return w, h
				}
			}
			return 0, 0
		},
	}
	s.colorEnabled = colorWanted(env, s.stdoutTTY)
	s.dumb = env("TERM") == "dumb"
	return s
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

func colorWanted(env Env, tty bool) bool {
	if env("NO_COLOR") != "" {
		return false
	}
	if v := env("CLICOLOR_FORCE"); v != "" && v != "0" {
		return true
	}
	return tty && env("TERM") != "dumb"
}

// Test returns streams backed by buffers, all reporting "not a terminal".
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, size: func() (int, int) { return 80, 24 }}, in, out, errOut
}

// SetTTY makes test streams look like terminals (or pipes) and derives the
// colour decision the same way System does.
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool, env Env) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
	s.colorEnabled = colorWanted(env, stdout)
	s.dumb = env("TERM") == "dumb"
}

// SetSize sets the terminal size test streams report.
func (s *IOStreams) SetSize(width, height int) {
	s.size = func() (int, int) { return width, height }
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal; progress is
// drawn only then.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether output to stdout may carry escape codes.
func (s *IOStreams) ColorEnabled() bool { return s.colorEnabled }

// RenderMarkdown reports whether answers should be rendered as styled
// markdown: on a terminal, or when colour is forced.
func (s *IOStreams) RenderMarkdown() bool { return s.stdoutTTY || s.colorEnabled }

// CanRedraw reports whether stdout is a terminal that can move its cursor,
// so that output may be drawn and then redrawn in place (a streamed answer):
// not a pipe, not TERM=dumb. Colour does not matter.
func (s *IOStreams) CanRedraw() bool { return s.stdoutTTY && !s.dumb }

// CanRedrawErr is CanRedraw for stderr, where status lines are drawn.
func (s *IOStreams) CanRedrawErr() bool { return s.stderrTTY && !s.dumb }

// EscapeUntrusted reports whether text rag did not write itself (from
// documents, file names, the model) must have its control characters and
// escape sequences shown escaped on stdout: when stdout is a terminal, or
// when colour is forced (the output is on its way to one, as through
// less -R). Piped output keeps such text as it is stored.
func (s *IOStreams) EscapeUntrusted() bool { return s.RenderMarkdown() }

// EscapeUntrustedErr is EscapeUntrusted for stderr: whether stderr is a
// terminal.
func (s *IOStreams) EscapeUntrustedErr() bool { return s.stderrTTY }

// TerminalWidth is the width of stdout, or 80 when unknown.
func (s *IOStreams) TerminalWidth() int {
	if s.size != nil {
		if w, _ := s.size(); w > 0 {
			return w
		}
	}
	return 80
}

// TerminalHeight is the height of stdout, or 24 when unknown.
func (s *IOStreams) TerminalHeight() int {
	if s.size != nil {
		if _, h := s.size(); h > 0 {
			return h
		}
	}
	return 24
}
