package render

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile holds what a document or a model could carry to take over a
// terminal: clipboard write (OSC 52), title set, colour, cursor moves,
// 8-bit CSI, bidi override, bell, backspace, carriage return.
const hostile = "a\x1b]52;c;ZXZpbA==\x07b\x1b]0;pwned\x1b\\c\x1b[31mred\x1b[0m\x1b[2J\u009b31m\u202eevil\u2066\x08\r\x7f\xff\x9bz"

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain text unchanged", "Retry policy: 5 times, C:\\path\\x1b", "Retry policy: 5 times, C:\\path\\x1b"},
		{"newline and tab kept", "a\n\tb", "a\n\tb"},
		{"unicode kept", "naïve café — 日本", "naïve café — 日本"},
		{"right-to-left marks kept", "שלום\u200f abc \u200e", "שלום\u200f abc \u200e"},
		{"osc 52", "\x1b]52;c;ZXZpbA==\x07", `\x1b]52;c;ZXZpbA==\x07`},
		{"title", "\x1b]0;pwned\x1b\\", `\x1b]0;pwned\x1b\`},
		{"csi", "\x1b[2J", `\x1b[2J`},
		{"c1 csi", "\u009b31m", `\u009b31m`},
		{"del and cr", "a\x7f\rb", `a\x7f\x0db`},
		{"bidi override", "\u202eevil\u2069", `\u202eevil\u2069`},
		{"invalid utf-8", "a\xffb\x9b", `a\xffb\x9b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	t.Run("line", func(t *testing.T) {
		t.Parallel()
		if got := EscapeLine("a\nb\tc\x1b"); got != `a\nb\tc\x1b` {
			t.Errorf("EscapeLine = %q", got)
		}
	})
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", hostile, "a\nb", "\u009b", "\xc2", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Escape(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if unsafeRune(r) {
				t.Fatalf("Escape(%q) = %q keeps %U", s, got, r)
			}
		}
		if !needsEscape(s) && got != s {
			t.Fatalf("Escape changed safe text %q to %q", s, got)
		}
		if Escape(got) != got {
			t.Fatalf("Escape is not idempotent on %q", s)
		}
		line := EscapeLine(s)
		if strings.ContainsAny(line, "\n\t") {
			t.Fatalf("EscapeLine(%q) = %q spans lines", s, line)
		}
		b, err := json.Marshal(map[string]string{"text": s})
		if err != nil {
			t.Fatal(err)
		}
		esc := EscapeJSON(b)
		var back map[string]string
		if err := json.Unmarshal(esc, &back); err != nil {
			t.Fatalf("EscapeJSON broke the JSON: %v: %s", err, esc)
		}
		var want map[string]string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if back["text"] != want["text"] {
			t.Fatalf("EscapeJSON changed the value: %q, want %q", back["text"], want["text"])
		}
		for _, c := range esc {
			if c < 0x20 && c != '\n' || c == 0x7f {
				t.Fatalf("EscapeJSON output has byte %#x: %q", c, esc)
			}
		}
		for _, r := range string(esc) {
			if unsafeRune(r) && r != '\n' {
				t.Fatalf("EscapeJSON output keeps %U: %q", r, esc)
			}
		}
	})
}

func TestEscapeJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(hostile)
	if err != nil {
		t.Fatal(err)
	}
	got := string(EscapeJSON(b))
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\x7f"} {
		if strings.Contains(got, bad) {
			t.Errorf("JSON keeps %q raw: %s", bad, got)
		}
	}
	for _, want := range []string{`\u001b]52`, `\u009b31m`, `\u202e`, `\u007f`} {
		if !strings.Contains(got, want) {
			t.Errorf("JSON lacks %s: %s", want, got)
		}
	}
}
