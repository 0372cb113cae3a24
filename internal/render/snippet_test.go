package render

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSnippet(t *testing.T) {
	t.Parallel()
	hl := Highlight{On: "<", Off: ">"}
	tests := []struct {
		name, text, query string
		width             int
		want              []string
	}{
		{"best window, match in the middle", "a\nb\n\nc\nthe retry policy\nd\ne", "retry policies", 80, []string{"c", "the <retry> <policy>", "d"}},
		{"stems match", "Installing it.\nThe installation.", "install", 80, []string{"<Installing> it.", "The <installation>."}},
		{"no match: first lines", "one\ntwo\nthree\nfour", "zebra", 80, []string{"one", "two", "three"}},
		{"long line cut around the match", strings.Repeat("x ", 50) + "needle " + strings.Repeat("y ", 50), "needle", 30,
			[]string{"…x x x x x <needle> y y y y y y…"}},
		{"multibyte text is cut on rune boundaries", strings.Repeat("é ", 50) + "needle " + strings.Repeat("ü ", 50), "needle", 30,
			[]string{"…é é é é é <needle> ü ü ü ü ü ü…"}},
		{"control characters escaped", "bad \x1b]52;c;x\x07 retry", "retry", 80, []string{`bad \x1b]52;c;x\x07 <retry>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Snippet(tt.text, tt.query, 3, tt.width, hl)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Snippet =\n%q\nwant\n%q", got, tt.want)
			}
			for _, l := range got {
				if !utf8.ValidString(l) {
					t.Errorf("invalid UTF-8: %q", l)
				}
			}
		})
	}
}

func TestMarked(t *testing.T) {
	t.Parallel()
	if got := Marked("Retry\x1b[31m retries", "retry", Highlight{On: "<", Off: ">"}); got != `<Retry>\x1b[31m <retries>` {
		t.Errorf("Marked = %q", got)
	}
	if got := Marked("a\x07b", "zzz", Highlight{}); got != `a\x07b` {
		t.Errorf("Marked without highlight = %q", got)
	}
}
