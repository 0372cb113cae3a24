package iostreams

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestColorWanted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		tty  bool
		want bool
	}{
		{"terminal", map[string]string{"TERM": "xterm-256color"}, true, true},
		{"pipe", map[string]string{"TERM": "xterm-256color"}, false, false},
		{"no color on terminal", map[string]string{"NO_COLOR": "1"}, true, false},
		{"dumb terminal", map[string]string{"TERM": "dumb"}, true, false},
		{"forced on pipe", map[string]string{"CLICOLOR_FORCE": "1"}, false, true},
		{"force zero is off", map[string]string{"CLICOLOR_FORCE": "0"}, false, false},
		{"no color beats force", map[string]string{"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := func(k string) string { return tt.env[k] }
			if got := colorWanted(env, tt.tty); got != tt.want {
				t.Errorf("colorWanted = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetTTY(t *testing.T) {
	t.Parallel()
	s, _, _, _ := Test()
	if s.IsStdoutTTY() || s.RenderMarkdown() {
		t.Fatal("test streams must start as pipes")
	}
	s.SetTTY(false, true, true, func(string) string { return "" })
	if !s.IsStdoutTTY() || !s.IsStderrTTY() || !s.ColorEnabled() || !s.RenderMarkdown() {
		t.Fatal("SetTTY did not make the streams terminals")
	}
	if s.TerminalWidth() != 80 {
		t.Fatalf("width = %d", s.TerminalWidth())
	}
}

func TestTerminalAbilities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		env                    map[string]string
		stdout, stderr         bool
		redraw, escOut, escErr bool
	}{
		{"terminal", map[string]string{"TERM": "xterm"}, true, true, true, true, true},
		{"no color terminal still redraws", map[string]string{"NO_COLOR": "1"}, true, true, true, true, true},
		{"dumb terminal", map[string]string{"TERM": "dumb"}, true, true, false, true, true},
		{"pipe", map[string]string{"TERM": "xterm"}, false, false, false, false, false},
		{"forced colour on a pipe escapes", map[string]string{"CLICOLOR_FORCE": "1"}, false, false, false, true, false},
		{"stderr terminal only", nil, false, true, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _, _, _ := Test()
			s.SetTTY(false, tt.stdout, tt.stderr, func(k string) string { return tt.env[k] })
			if s.CanRedraw() != tt.redraw || s.EscapeUntrusted() != tt.escOut || s.EscapeUntrustedErr() != tt.escErr {
				t.Errorf("CanRedraw %v, EscapeUntrusted %v, EscapeUntrustedErr %v; want %v %v %v",
					s.CanRedraw(), s.EscapeUntrusted(), s.EscapeUntrustedErr(), tt.redraw, tt.escOut, tt.escErr)
			}
		})
	}
	s, _, _, _ := Test()
	s.SetSize(100, 40)
	if s.TerminalWidth() != 100 || s.TerminalHeight() != 40 {
		t.Errorf("size = %dx%d", s.TerminalWidth(), s.TerminalHeight())
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in   string
		tty        bool
		want       []string
		wantPrompt string
	}{
		{name: "piped", in: "one\r\ntwo\n\nthree", want: []string{"one", "two", "", "three"}},
		{name: "terminal prompts on stderr", in: "one\n", tty: true, want: []string{"one"}, wantPrompt: "> > \r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, in, _, errOut := Test()
			s.SetTTY(tt.tty, tt.tty, tt.tty, func(string) string { return "" })
			in.WriteString(tt.in)
			lines := s.Lines("> ")
			var got []string
			for {
				l, err := lines.ReadLine()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, l)
			}
			if !slices.Equal(got, tt.want) || errOut.String() != tt.wantPrompt {
				t.Errorf("lines %q, prompts %q", got, errOut.String())
			}
		})
	}
	t.Run("a line too long", func(t *testing.T) {
		t.Parallel()
		s, in, _, _ := Test()
		in.WriteString(strings.Repeat("x", maxLine+1))
		if _, err := s.Lines("").ReadLine(); !errors.Is(err, bufio.ErrTooLong) {
			t.Errorf("err = %v", err)
		}
	})
}
