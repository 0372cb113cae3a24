package iostreams

import "testing"

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
