package chunk

import (
	"strings"
	"testing"
)

// Pieces fit the target, cite the source lines of their own text, and
// together are the chunk's text.
func TestCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A sentence of a long line. ", 30)
	tests := []struct {
		name   string
		lines  map[int]string // source line: text, in order of the keys
		order  []int
		target int
	}{
		{"lines with gaps in their numbers", map[int]string{3: "alpha beta gamma delta", 4: "epsilon zeta eta theta", 7: "iota kappa lambda mu", 8: "nu xi omicron pi", 9: "rho sigma tau upsilon"}, []int{3, 4, 7, 8, 9}, 10},
		{"a line too long on its own", map[int]string{10: "before it", 11: long, 12: "after it"}, []int{10, 11, 12}, 40},
		{"one line cut", map[int]string{5: long}, []int{5}, 25},
		{"blank lines", map[int]string{1: "first words here", 2: "", 3: "", 4: "last words here"}, []int{1, 2, 3, 4}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var texts []string
			for _, n := range tt.order {
				texts = append(texts, tt.lines[n])
			}
			text := strings.Join(texts, "\n")
			pieces := Cut(text, tt.order, tt.target)
			if len(pieces) < 2 {
				t.Fatalf("%d pieces", len(pieces))
			}
			var words []string
			for i, p := range pieces {
				if n := EstimateTokens(p.Text); n > tt.target+1 {
					t.Errorf("piece %d has %d tokens, target %d", i, n, tt.target)
				}
				if len(p.Lines) == 1 {
					if !strings.Contains(tt.lines[p.StartLine()], p.Text) {
						t.Errorf("piece %d %q is not part of line %d", i, p.Text, p.StartLine())
					}
				} else {
					var want []string
					for _, n := range p.Lines {
						want = append(want, tt.lines[n])
					}
					if p.Text != strings.Join(want, "\n") {
						t.Errorf("piece %d %q is not lines %v", i, p.Text, p.Lines)
					}
				}
				words = append(words, strings.Fields(p.Text)...)
			}
			if strings.Join(words, " ") != strings.Join(strings.Fields(text), " ") {
				t.Errorf("pieces lose or add text:\n%q\n%q", words, strings.Fields(text))
			}
		})
	}
}

// Lines that do not number the text: every piece cites them all.
func TestCutLinesUnknown(t *testing.T) {
	t.Parallel()
	pieces := Cut("one two three\nfour five six\nseven eight nine", []int{4, 9}, 4)
	if len(pieces) < 2 {
		t.Fatalf("%d pieces", len(pieces))
	}
	for _, p := range pieces {
		if p.StartLine() != 4 || p.EndLine() != 9 {
			t.Errorf("piece %q cites %d-%d", p.Text, p.StartLine(), p.EndLine())
		}
	}
}

// FuzzCut: for any text and target, the pieces keep all the text in order,
// a piece of whole lines is exactly those lines, and a part of a line is
// part of the line it cites.
func FuzzCut(f *testing.F) {
	f.Add("alpha beta\ngamma delta epsilon\n\nzeta", 3)
	f.Add(strings.Repeat("A sentence. ", 40), 5)
	f.Add("x", 1)
	f.Fuzz(func(t *testing.T, text string, target int) {
		target = 1 + abs(target)%64
		parts := strings.Split(text, "\n")
		lines := make([]int, len(parts))
		byLine := map[int]string{}
		for i := range lines {
			lines[i] = 10 + 2*i
			byLine[lines[i]] = parts[i]
		}
		var words []string
		for _, p := range Cut(text, lines, target) {
			if len(p.Lines) == 0 {
				t.Fatalf("piece %q cites no line", p.Text)
			}
			if len(p.Lines) == 1 && !strings.Contains(byLine[p.StartLine()], p.Text) {
				t.Fatalf("piece %q is not part of line %d %q", p.Text, p.StartLine(), byLine[p.StartLine()])
			}
			if len(p.Lines) > 1 {
				var want []string
				for _, n := range p.Lines {
					want = append(want, byLine[n])
				}
				if p.Text != strings.Join(want, "\n") {
					t.Fatalf("piece %q is not lines %v", p.Text, p.Lines)
				}
			}
			words = append(words, strings.Fields(p.Text)...)
		}
		// A line cut between two characters of a word splits it.
		if strings.Join(words, "") != strings.Join(strings.Fields(text), "") {
			t.Fatalf("text lost or added: %q from %q", words, text)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
