// Package termtest replays what rag writes to a terminal, for tests: it
// applies the few cursor movements rag's live output uses (carriage return,
// cursor up, erase line and erase below) and returns the text left on the
// screen, colour codes kept in place. Any other control character or escape
// sequence is an error, so a test also proves that no untrusted control
// reached the terminal.
package termtest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type line struct {
	cells []string // one rune each, with the colour codes before it
	tail  string   // colour codes after the last rune
}

// Screen returns the lines a terminal shows after out, joined by "\n".
// A newline also returns the cursor to the first column, as a terminal
// with onlcr (the default) does.
func Screen(out string) (string, error) {
	lines := []*line{{}}
	row, col := 0, 0
	pending := ""
	for i := 0; i < len(out); {
		c := out[i]
		switch {
		case c == '\r':
			col = 0
			i++
			continue
		case c == '\n':
			row++
			col = 0
			for len(lines) <= row {
				lines = append(lines, &line{})
			}
			i++
			continue
		case c == '\t':
		case c == 0x1b:
			seq, final, params, ok := csi(out[i:])
			if !ok {
				return "", fmt.Errorf("offset %d: escape sequence %q is not one rag may write", i, out[i:min(len(out), i+12)])
			}
			l := lines[row]
			n := 1
			if params != "" {
				if v, err := strconv.Atoi(params); err == nil {
					n = v
				}
			}
			switch final {
			case 'm':
				if col >= len(l.cells) {
					l.tail += seq
				} else {
					pending += seq
				}
			case 'A':
				row = max(0, row-n)
			case 'J':
				if params != "" && params != "0" {
					return "", fmt.Errorf("offset %d: unsupported %q", i, seq)
				}
				l.cut(col)
				lines = lines[:row+1]
			case 'K':
				switch params {
				case "", "0":
					l.cut(col)
				case "2":
					l.cells, l.tail = blank(col), ""
				default:
					return "", fmt.Errorf("offset %d: unsupported %q", i, seq)
				}
			default:
				return "", fmt.Errorf("offset %d: unsupported %q", i, seq)
			}
			i += len(seq)
			continue
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("offset %d: control character %#x reached the terminal", i, c)
		}
		r, size := utf8.DecodeRuneInString(out[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return "", fmt.Errorf("offset %d: byte %#x is not UTF-8", i, out[i])
		case r >= 0x80 && r <= 0x9f:
			return "", fmt.Errorf("offset %d: C1 control %U reached the terminal", i, r)
		}
		l := lines[row]
		for len(l.cells) < col {
			l.cells = append(l.cells, " ")
		}
		cell := pending + string(r)
		pending = ""
		if col == len(l.cells) {
			l.cells = append(l.cells, l.tail+cell)
			l.tail = ""
		} else {
			l.cells[col] = cell
		}
		col++
		i += size
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Join(l.cells, ""))
		b.WriteString(l.tail)
	}
	return b.String(), nil
}

func (l *line) cut(col int) {
	if col < len(l.cells) {
		l.cells = l.cells[:col]
		l.tail = ""
	}
}

func blank(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = " "
	}
	return out
}

// csi parses a CSI sequence at the start of s: ESC [ params final.
func csi(s string) (seq string, final byte, params string, ok bool) {
	if len(s) < 3 || s[1] != '[' {
		return "", 0, "", false
	}
	for j := 2; j < len(s); j++ {
		c := s[j]
		switch {
		case c >= '0' && c <= '9' || c == ';':
		case c >= 0x40 && c <= 0x7e:
			return s[:j+1], c, s[2:j], true
		default:
			return "", 0, "", false
		}
	}
	return "", 0, "", false
}
