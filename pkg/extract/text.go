package extract

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	xunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// ErrNotText marks content that is not text: binary data, or text in an
// encoding rag cannot know.
var ErrNotText = errors.New("not a text file")

// errNotUTF8 is ErrNotText for data that is not binary but not UTF-8
// either: a page that declares its charset can still be read (decodeHTML).
var errNotUTF8 = fmt.Errorf("%w: not UTF-8", ErrNotText)

// sniffLen is how much of a file decides whether it is binary, as in git.
const sniffLen = 8000

// Decode returns data as UTF-8 text. UTF-8 (with or without a byte-order
// mark) and UTF-16 and UTF-32 with a byte-order mark are read; a NUL byte
// in the first 8000 bytes of other data means binary; anything else that is
// not valid UTF-8 is refused, since guessing an encoding would index
// garbage.
func Decode(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		out, err := utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil {
			return "", fmt.Errorf("%w: bad UTF-32: %v", ErrNotText, err)
		}
		return checkUTF8(out)
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		out, err := xunicode.UTF16(xunicode.BigEndian, xunicode.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil {
			return "", fmt.Errorf("%w: bad UTF-16: %v", ErrNotText, err)
		}
		return checkUTF8(out)
	}
	head := data
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "", fmt.Errorf("%w: binary content", ErrNotText)
	}
	return checkUTF8(data)
}

func checkUTF8(data []byte) (string, error) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		line := bytes.Count(data[:off], []byte("\n")) + 1
		return "", fmt.Errorf("%w (first bad byte on line %d; convert it, e.g. with iconv)", errNotUTF8, line)
	}
	// Carriage returns of CRLF files would end every line; drop them.
	s := string(data)
	if strings.Contains(s, "\r") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return s, nil
}

// splitLines splits text into lines without their newlines; a final
// newline does not start an empty last line.
func splitLines(text string) []string {
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// fileLines are a text file's own lines, numbered from 1.
func fileLines(text string) []Line {
	ls := splitLines(text)
	out := make([]Line, len(ls))
	for i, l := range ls {
		out[i] = Line{Text: l, N: i + 1}
	}
	return out
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// paragraphs makes a block of every run of non-blank lines of lines[from:to].
func paragraphs(lines []Line, from, to int, kind Kind) []Block {
	var out []Block
	start := -1
	for i := from; i <= to; i++ {
		if i < to && !blank(lines[i].Text) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, Block{Kind: kind, Start: start, End: i})
			start = -1
		}
	}
	return out
}

// PlainText reads prose: a block per paragraph.
func PlainText(text string) *Doc {
	lines := fileLines(text)
	return &Doc{Format: "text", Lines: lines, Blocks: paragraphs(lines, 0, len(lines), Para), SourceLines: true}
}

var codeExts = set(`.go .py .pyi .js .mjs .cjs .ts .tsx .jsx .java .kt .kts .scala .c .h .cc .cpp
	.cxx .hpp .hh .cs .rb .rs .php .swift .m .mm .sh .bash .zsh .fish .ps1 .lua .pl .pm .r .sql .dart .ex .exs
	.erl .hrl .hs .clj .cljs .el .vue .svelte .groovy .gradle .tf .proto .zig .nim .jl .f90 .cmake .mk`)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

func isCode(ext string) bool { return codeExts[ext] }

// SourceCode reads a program: a block per top-level declaration. A
// declaration starts at a line that is not indented, not a closing bracket
// and follows a blank line, which is how nearly every language is written;
// comments just above it belong to it.
func SourceCode(text string) *Doc {
	lines := fileLines(text)
	var blocks []Block
	start := -1
	for i := 0; i <= len(lines); i++ {
		top := i < len(lines) && i > 0 && blank(lines[i-1].Text) && startsDecl(lines[i].Text)
		if i == len(lines) || top {
			if start >= 0 {
				end := i
				for end > start && blank(lines[end-1].Text) {
					end--
				}
				blocks = append(blocks, Block{Kind: Code, Start: start, End: end})
			}
			start = -1
		}
		if i < len(lines) && start < 0 && !blank(lines[i].Text) {
			start = i
		}
	}
	return &Doc{Format: "code", Lines: lines, Blocks: blocks, SourceLines: true}
}

func startsDecl(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	if unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '}', ')', ']':
		return false
	}
	return true
}

// RST reads reStructuredText: a title is a line underlined (and perhaps
// overlined) with punctuation; levels follow the order in which underline
// styles first appear, as in docutils.
func RST(text string) *Doc {
	lines := fileLines(text)
	var blocks []Block
	styles := map[string]int{}
	isAdorn := func(s string) bool {
		s = strings.TrimRight(s, " ")
		if len(s) < 2 || strings.ContainsAny(s[:1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \t") {
			return false
		}
		return strings.Count(s, s[:1]) == len(s)
	}
	from := 0
	for i := 0; i+1 < len(lines); i++ {
		t, u := lines[i].Text, lines[i+1].Text
		if blank(t) || isAdorn(t) || !isAdorn(u) || utf8.RuneCountInString(strings.TrimRight(u, " ")) < utf8.RuneCountInString(strings.TrimSpace(t)) {
			continue
		}
		start, style := i, "u"+u[:1]
		if i > 0 && isAdorn(lines[i-1].Text) && lines[i-1].Text[:1] == u[:1] {
			start, style = i-1, "o"+u[:1]
		}
		blocks = append(blocks, paragraphs(lines, from, start, Para)...)
		lvl, ok := styles[style]
		if !ok {
			lvl = len(styles) + 1
			styles[style] = lvl
		}
		blocks = append(blocks, Block{Kind: Heading, Level: lvl, Title: strings.TrimSpace(t), Start: start, End: i + 2})
		from = i + 2
		i++
	}
	blocks = append(blocks, paragraphs(lines, from, len(lines), Para)...)
	return &Doc{Format: "rst", Lines: lines, Blocks: blocks, SourceLines: true}
}

// Org reads Emacs Org files: "* Title" lines are headings, the number of
// stars their level.
func Org(text string) *Doc {
	lines := fileLines(text)
	var blocks []Block
	from := 0
	for i, l := range lines {
		stars := len(l.Text) - len(strings.TrimLeft(l.Text, "*"))
		if stars == 0 || !strings.HasPrefix(l.Text[stars:], " ") {
			continue
		}
		blocks = append(blocks, paragraphs(lines, from, i, Para)...)
		blocks = append(blocks, Block{Kind: Heading, Level: stars, Title: strings.TrimSpace(l.Text[stars:]), Start: i, End: i + 1})
		from = i + 1
	}
	blocks = append(blocks, paragraphs(lines, from, len(lines), Para)...)
	return &Doc{Format: "org", Lines: lines, Blocks: blocks, SourceLines: true}
}
