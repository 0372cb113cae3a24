package termtest

import "testing"

func TestScreen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, out, want string
		bad             bool
	}{
		{"plain", "a\nb\n", "a\nb\n", false},
		{"colours kept in place", "\x1b[1ma\x1b[0m\nb", "\x1b[1ma\x1b[0m\nb", false},
		{"redraw", "one\ntwo\r\x1b[1A\x1b[Jthree\nfour", "three\nfour", false},
		{"carriage return overwrites", "abcd\rxy", "xycd", false},
		{"erase line", "status\r\x1b[2Kdone", "done", false},
		{"erase to end", "abcd\r\x1b[Kx", "x", false},
		{"pty newlines", "a\r\nb", "a\nb", false},
		{"osc refused", "a\x1b]52;c;eA==\x07", "", true},
		{"bell refused", "a\x07", "", true},
		{"c1 refused", "a\u009b2J", "", true},
		{"invalid utf-8 refused", "a\x9b", "", true},
		{"other csi refused", "\x1b[2J", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Screen(tt.out)
			if (err != nil) != tt.bad {
				t.Fatalf("Screen(%q) error = %v, want error %v", tt.out, err, tt.bad)
			}
			if !tt.bad && got != tt.want {
				t.Errorf("Screen(%q) = %q, want %q", tt.out, got, tt.want)
			}
		})
	}
}
