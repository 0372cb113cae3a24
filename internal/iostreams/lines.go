package iostreams

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// LineReader reads what a person types, a line at a time.
type LineReader interface {
	// ReadLine returns the next line without its line end, and io.EOF
	// when input ends (Ctrl-D on a terminal).
	ReadLine() (string, error)
}

// maxLine is the longest line read from a pipe.
const maxLine = 1 << 20

// Lines reads lines from In. On a terminal it is a line editor (arrow
// keys, history, Ctrl-A, Ctrl-E, Ctrl-U, Ctrl-W) that shows prompt on
// stderr and holds the terminal in raw mode only while a line is read, so
// that what is written between lines is drawn as usual; Ctrl-D on an empty
// line and Ctrl-C end the input. Elsewhere it reads In's lines, writing the
// prompt first only when stdin is said to be a terminal (tests).
func (s *IOStreams) Lines(prompt string) LineReader {
	if f, ok := s.In.(*os.File); ok && s.stdinTTY && isTerminal(f) {
		t := term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{f, s.ErrOut}, prompt)
		return &termLines{fd: int(f.Fd()), t: t, w: s.ErrOut}
	}
	sc := bufio.NewScanner(s.In)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	p := ""
	if s.stdinTTY {
		p = prompt
	}
	return &pipeLines{sc: sc, prompt: p, w: s.ErrOut}
}

type termLines struct {
	fd int
	t  *term.Terminal
	w  io.Writer
}

func (l *termLines) ReadLine() (line string, err error) {
	if w, h, err := term.GetSize(l.fd); err == nil {
		if err := l.t.SetSize(w, h); err != nil {
			return "", err
		}
	}
	old, err := term.MakeRaw(l.fd)
	if err != nil {
		return "", fmt.Errorf("terminal raw mode: %w", err)
	}
	defer func() {
		if rerr := term.Restore(l.fd, old); rerr != nil && err == nil {
			err = fmt.Errorf("restore the terminal: %w", rerr)
		}
	}()
	line, err = l.t.ReadLine()
	if errors.Is(err, io.EOF) {
		err = endPromptLine(l.w)
	}
	return line, err
}

// endPromptLine ends the line of a prompt that input's end left open, so
// that what follows (the shell's prompt) starts a line of its own; in raw
// mode a line ends with CR LF. It returns io.EOF, or the write's error.
func endPromptLine(w io.Writer) error {
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return err
	}
	return io.EOF
}

type pipeLines struct {
	sc     *bufio.Scanner
	prompt string
	w      io.Writer
}

func (l *pipeLines) ReadLine() (string, error) {
	if l.prompt != "" {
		if _, err := io.WriteString(l.w, l.prompt); err != nil {
			return "", err
		}
	}
	if l.sc.Scan() {
		return strings.TrimSuffix(l.sc.Text(), "\r"), nil
	}
	if err := l.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return "", fmt.Errorf("a line of input is longer than %d bytes: %w", maxLine, err)
		}
		return "", err
	}
	if l.prompt != "" {
		return "", endPromptLine(l.w)
	}
	return "", io.EOF
}
