package engine

import "testing"

func TestParseCitation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		first citeRef
	}{
		{"guide.md", citeRef{path: "guide.md"}},
		{"guide.md:12-30", citeRef{path: "guide.md", start: 12, end: 30}},
		{"guide.md:12", citeRef{path: "guide.md", start: 12, end: 12}},
		{"guide.md:12-30 (Install > Linux)", citeRef{path: "guide.md", start: 12, end: 30}},
		{"guide.md:12-30 (Install (beta) > Linux)", citeRef{path: "guide.md", start: 12, end: 30}},
		{"my docs/guide.md:1-2", citeRef{path: "my docs/guide.md", start: 1, end: 2}},
		{"manual.pdf p.3", citeRef{path: "manual.pdf", page: 3}},
		{"manual.pdf p.3 (Warranty)", citeRef{path: "manual.pdf", page: 3}},
		{"report.docx ¶4-7", citeRef{path: "report.docx", start: 4, end: 7}},
		{"report.docx ¶4-7 (Regions)", citeRef{path: "report.docx", start: 4, end: 7}},
		{`"new\nline.md":1-1`, citeRef{path: "new\nline.md", start: 1, end: 1}},
		{"a.md:30-12", citeRef{path: "a.md:30-12"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			refs := parseCitation(tt.in)
			if len(refs) == 0 || refs[0] != tt.first {
				t.Errorf("parseCitation(%q) = %+v, want %+v first", tt.in, refs, tt.first)
			}
		})
	}
}

func FuzzParseCitation(f *testing.F) {
	for _, s := range []string{"guide.md:12-30 (Install > Linux)", "manual.pdf p.3", "report.docx ¶4-7", `"a\nb":1-2`, "a ((b))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range parseCitation(s) {
			if r.start < 0 || r.end < r.start || r.page < 0 || r.lines() && r.page > 0 {
				t.Fatalf("parseCitation(%q) gave %+v", s, r)
			}
		}
		if refs := parseCitation(s); len(refs) == 0 || refs[len(refs)-1].path != unquotePath(s) {
			t.Fatalf("parseCitation(%q) does not end with the whole string as a path: %+v", s, refs)
		}
	})
}

func TestReasonGroup(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]string{
		"larger than --max-size (70000000 > 67108864 bytes)":                                 "larger than --max-size",
		"not a text file: not UTF-8 (first bad byte on line 3; convert it, e.g. with iconv)": "not a text file: not UTF-8",
		"hidden (--hidden includes it)":                                                      "hidden",
		"link to a folder indexed as docs/a":                                                 "link to a folder indexed under another path",
		"empty":                                                                              "empty",
		"larger than --max-size when uncompressed (more than 67108864 bytes uncompressed)": "larger than --max-size when uncompressed",
	} {
		if got := ReasonGroup(reason); got != want {
			t.Errorf("ReasonGroup(%q) = %q, want %q", reason, got, want)
		}
	}
}
