package render

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape makes untrusted text (from documents, the model, file names) safe
// to write to a terminal: every character a terminal would act on instead of
// showing is replaced by a visible escape, so an OSC 52 clipboard write or a
// title change in a document shows up as text and does nothing. Escaped are
// C0 controls except newline and tab (ESC, CR, BEL, backspace...), DEL, C1
// controls (U+0080-U+009F, among them the one-character CSI U+009B), bidi
// embeddings, overrides and isolates (which can make text read differently
// than it is)
// and bytes that are not UTF-8 (a lone 0x9B is CSI to an 8-bit terminal).
// Backslashes are left alone, so ordinary text is unchanged; a reader can
// tell an escape from a literal "\x1b" only by context, which is the price
// of not mangling paths and code.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			if r < 0x80 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeLine is Escape for text that must stay on one line (a status line,
// a heading in a list): newlines and tabs are escaped too.
func EscapeLine(s string) string {
	s = Escape(s)
	if !strings.ContainsAny(s, "\n\t") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return true
		}
		if c >= utf8.RuneSelf {
			return slowNeedsEscape(s[i:])
		}
	}
	return false
}

func slowNeedsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports whether a terminal may act on r rather than show it.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\n' && r != '\t'
	case r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	// Embeddings, overrides and isolates can make text read in another
	// order than it is ("Trojan Source"); the plain marks (LRM, RLM, ALM)
	// cannot, and right-to-left text needs them, so they stay.
	case r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// EscapeJSON escapes, in encoding/json output, the characters that package
// leaves raw but a terminal may act on: DEL, C1 controls and bidi controls.
// C0 controls are already escaped by encoding/json. Outside strings JSON
// output is plain ASCII, so every such rune is inside a string and its
// \uXXXX form decodes to the same text.
func EscapeJSON(b []byte) []byte {
	if !needsJSONEscape(b) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError && unsafeRune(r) && r >= 0x20 {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

func needsJSONEscape(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			if b[i] == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}
