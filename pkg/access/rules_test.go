package access

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRulesMatch(t *testing.T) {
	t.Parallel()
	type want struct {
		path       string
		principals []string
		ok         bool
		line       int
	}
	none := func(p string) want { return want{path: p} }
	tests := []struct {
		name  string
		rules string
		want  []want
	}{
		{"extension anywhere", "*.md group:writers\n", []want{
			{"a.md", []string{"group:writers"}, true, 1},
			{"x/y/z.md", []string{"group:writers"}, true, 1},
			none("a.txt"), none("a.mdx"),
		}},
		{"anchored folder", "/docs/ group:docs\n", []want{
			{"docs/a.md", []string{"group:docs"}, true, 1},
			{"docs/sub/b.pdf", []string{"group:docs"}, true, 1},
			none("src/docs/a.md"), none("docs"), none("docsx/a.md"),
		}},
		{"folder anywhere", "docs/ group:docs\n", []want{
			{"docs/a.md", []string{"group:docs"}, true, 1},
			{"src/docs/a.md", []string{"group:docs"}, true, 1},
			none("docs"), none("src/docs.md"),
		}},
		{"slash inside anchors", "docs/*.md group:d\n", []want{
			{"docs/a.md", []string{"group:d"}, true, 1},
			none("src/docs/a.md"), none("docs/sub/a.md"), none("docs/a.txt"),
		}},
		{"star under a folder reaches below (gitignore)", "docs/* group:d\n", []want{
			{"docs/a.md", []string{"group:d"}, true, 1},
			{"docs/sub/a.md", []string{"group:d"}, true, 1},
		}},
		{"anchored file", "/README.md public\n", []want{
			{"README.md", []string{"public"}, true, 1},
			none("sub/README.md"),
		}},
		{"name anywhere", "secret.txt user:ann\n", []want{
			{"secret.txt", []string{"user:ann"}, true, 1},
			{"a/b/secret.txt", []string{"user:ann"}, true, 1},
		}},
		{"double star prefix", "**/private/** group:sec\n", []want{
			{"private/a.md", []string{"group:sec"}, true, 1},
			{"a/b/private/c/d.md", []string{"group:sec"}, true, 1},
			none("a/privately.md"),
		}},
		{"double star in the middle", "docs/**/*.pdf group:pdf\n", []want{
			{"docs/a.pdf", []string{"group:pdf"}, true, 1},
			{"docs/x/y/a.pdf", []string{"group:pdf"}, true, 1},
			none("docs/a.md"), none("src/docs/a.pdf"),
		}},
		{"double star finds a later folder", "**/a/b group:x\nx/**/a/b group:y\n", []want{
			{"x/a/y/a/b", []string{"group:y"}, true, 2},
			{"z/a/y/a/b", []string{"group:x"}, true, 1},
			{"a/b", []string{"group:x"}, true, 1},
			{"x/a/b", []string{"group:y"}, true, 2},
			none("a/c"),
		}},
		{"double star from the root", "/** group:all\n", []want{
			{"a", []string{"group:all"}, true, 1},
			{"a/b/c", []string{"group:all"}, true, 1},
		}},
		{"trailing double star is what is inside", "foo/** group:f\n", []want{
			{"foo/a", []string{"group:f"}, true, 1},
			{"foo/a/b", []string{"group:f"}, true, 1},
			none("foo"), none("x/foo/a"),
		}},
		{"double star folder only", "**/secret/ group:s\n", []want{
			{"a/secret/b.md", []string{"group:s"}, true, 1},
			{"secret/b.md", []string{"group:s"}, true, 1},
			none("a/secret"),
		}},
		{"repeated double stars", "a/**/**/b/** group:r\n", []want{
			{"a/b/c", []string{"group:r"}, true, 1},
			{"a/x/y/b/c", []string{"group:r"}, true, 1},
			none("a/b"),
		}},
		{"everything", "* public\n", []want{
			{"a", []string{"public"}, true, 1},
			{"a/b/c.md", []string{"public"}, true, 1},
		}},
		{"case-sensitive", "*.MD public\n", []want{none("a.md"), {"b.MD", []string{"public"}, true, 1}}},
		{"character class", "report-[0-9].md group:fin\n", []want{
			{"report-3.md", []string{"group:fin"}, true, 1},
			none("report-x.md"),
		}},
		{"later lines win", "* public\n/hr/ group:hr\n/hr/handbook.md public group:hr\n", []want{
			{"a.md", []string{"public"}, true, 1},
			{"hr/pay.md", []string{"group:hr"}, true, 2},
			{"hr/handbook.md", []string{"group:hr", "public"}, true, 3},
		}},
		{"an earlier line does not override a later one", "/hr/handbook.md public\n/hr/ group:hr\n", []want{
			{"hr/handbook.md", []string{"group:hr"}, true, 2},
		}},
		{"line without principals is nobody", "* public\n/private/\n/private/ok.md user:ann\n", []want{
			{"private/a.md", nil, true, 2},
			{"private/ok.md", []string{"user:ann"}, true, 3},
			{"open.md", []string{"public"}, true, 1},
		}},
		{"comments and blank lines", "# who sees what\n\n   \n\t# indented comment\n*.md group:eng # engineers only\n\n", []want{
			{"a.md", []string{"group:eng"}, true, 5},
		}},
		{"comment right after the pattern is nobody", "* public\n/drafts/ # hidden for now\n", []want{
			{"drafts/a.md", nil, true, 2},
		}},
		{"tabs, CRLF and a byte order mark", "\uFEFF*.md\tgroup:eng\t user:ann\r\n/x/  public\r\n", []want{
			{"a.md", []string{"group:eng", "user:ann"}, true, 1},
			{"x/a.md", []string{"public"}, true, 2},
		}},
		{"escaped space in a pattern", `/my\ docs/ group:d` + "\n", []want{
			{"my docs/a.md", []string{"group:d"}, true, 1},
			none("my/a.md"),
		}},
		{"escaped hash and bang", `\#notes.md user:a` + "\n" + `\!x.md user:b` + "\n", []want{
			{"#notes.md", []string{"user:a"}, true, 1},
			{"!x.md", []string{"user:b"}, true, 2},
		}},
		{"principals sorted and deduplicated", "* user:b group:a user:b public\n", []want{
			{"a", []string{"group:a", "public", "user:b"}, true, 1},
		}},
		{"paths are cleaned", "/docs/ group:d\n", []want{
			{"./docs/a.md", []string{"group:d"}, true, 1},
			{"/docs/a.md", []string{"group:d"}, true, 1},
			{"docs//a.md", []string{"group:d"}, true, 1},
			none(""), none("."), none("/"),
		}},
		{"empty file", "", []want{none("a.md")}},
		{"only comments", "# nothing yet\n", []want{none("a.md")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustRules(t, tt.rules)
			for _, w := range tt.want {
				got, ok := r.Match(w.path)
				if ok != w.ok || !slices.Equal(got, w.principals) || (got == nil) != (w.principals == nil) {
					t.Errorf("Match(%q) = %#v, %v; want %#v, %v", w.path, got, ok, w.principals, w.ok)
				}
				if line := r.Line(w.path); line != w.line {
					t.Errorf("Line(%q) = %d, want %d", w.path, line, w.line)
				}
			}
		})
	}
	t.Run("nil rules match nothing", func(t *testing.T) {
		t.Parallel()
		var r *Rules
		if got, ok := r.Match("a.md"); ok || got != nil || r.Line("a.md") != 0 || r.Len() != 0 {
			t.Fatalf("nil Rules matched: %q, %v", got, ok)
		}
	})
	t.Run("Len counts rules", func(t *testing.T) {
		t.Parallel()
		if n := mustRules(t, "# c\n* public\n\n/x/\n").Len(); n != 2 {
			t.Fatalf("Len = %d, want 2", n)
		}
	})
	t.Run("Match returns a copy", func(t *testing.T) {
		t.Parallel()
		r := mustRules(t, "* group:a\n")
		got, _ := r.Match("x")
		got[0] = "public"
		if again, _ := r.Match("x"); again[0] != "group:a" {
			t.Fatalf("rules changed through a result: %q", again)
		}
	})
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, rules string
		line        int
		want        string // whole error text
		principal   bool   // wraps a *PrincipalError
	}{
		{"bad principal", "*.md grp:x\n", 1, `line 1: bad principal "grp:x": want public, user:NAME or group:NAME`, true},
		{"bad principal after comments", "# c\n\n*.md public\n/x/ group:ok user:a b\n", 4, `line 4: bad principal "b": want public, user:NAME or group:NAME`, true},
		{"empty name", "* public\n* user:\n", 2, `line 2: bad principal "user:": empty name; want public, user:NAME or group:NAME`, true},
		{"bare name", "* alice\n", 1, `line 1: bad principal "alice": want public, user:NAME or group:NAME`, true},
		{"negated pattern", "* public\n!x.md user:a\n", 2, `line 2: pattern "!x.md": negated patterns are not supported (CODEOWNERS has none); a later line overrides an earlier one, and \! matches a name starting with !`, false},
		{"unclosed bracket", "a[b public\n", 1, `line 1: pattern "a[b": malformed (an unclosed [ or a trailing \?)`, false},
		{"trailing backslash", `a\`, 1, `line 1: pattern "a\\": malformed (an unclosed [ or a trailing \?)`, false},
		{"root alone", "/ public\n", 1, `line 1: pattern "/": matches nothing`, false},
		{"double star inside a name", "docs/a**b public\n", 1, `line 1: pattern "docs/a**b": "**" must be a whole path segment ("docs/**/x.md"); use "*" within a name`, false},
		{"line too long", "* public\n" + strings.Repeat("x", maxLine+1) + "\n", 2, "line 2: longer than 1048576 bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRules(strings.NewReader(tt.rules))
			if err == nil {
				t.Fatalf("ParseRules accepted %q: %d rules", tt.rules, r.Len())
			}
			if err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != tt.line {
				t.Fatalf("err = %#v, want a *LineError at line %d", err, tt.line)
			}
			var pe *PrincipalError
			if errors.As(err, &pe) != tt.principal {
				t.Fatalf("wraps a *PrincipalError: %v, want %v", !tt.principal, tt.principal)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		if _, err := ParseRules(failingReader{boom}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// FuzzParseRules feeds the .ragaccess parser anything: it never panics, an
// error always has its line, and the rules it accepts match any path
// without panicking, giving only valid principals, sorted.
func FuzzParseRules(f *testing.F) {
	for _, s := range []struct{ rules, path string }{
		{"*.md group:eng\n/hr/ group:hr\n/hr/closed/\n", "hr/closed/x.md"},
		{"# c\n\n* public # all\n", "a/b"},
		{"\uFEFF**/secret/** user:a@b.c\r\n", "x/secret/y"},
		{`/my\ docs/ group:d`, "my docs/a"},
		{"docs/**/*.pdf group:p\n", "docs/x/y.pdf"},
		{"!x public\n", "x"},
		{"a[ public\n", "a["},
		{"* grp:x\n", ""},
		{"/\n", "/"},
		{"\\", "../a"},
		{"[^a]/** user:x\n", "b/c"},
		{"**/a/b user:x\n", "x/a/y/a/b"},
		{"a/*/c/ user:x\ndocs/x.md public\n/r user:y\n", "a/b/c/d"},
		{"a//b/ user:x\n", "a/b/c"},
	} {
		f.Add(s.rules, s.path)
	}
	f.Fuzz(func(t *testing.T, text, p string) {
		r, err := ParseRules(strings.NewReader(text))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		got, ok := r.Match(p)
		if !ok && (got != nil || r.Line(p) != 0) {
			t.Fatalf("no match but %q, line %d", got, r.Line(p))
		}
		if ok && (r.Line(p) < 1 || r.Len() == 0) {
			t.Fatalf("match without a line")
		}
		for _, pr := range got {
			if err := CheckPrincipal(pr); err != nil {
				t.Fatalf("Match(%q) gave %v", p, err)
			}
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("Match(%q) = %q: not sorted and unique", p, got)
		}
		// The matcher for "**" patterns must agree with go-git's on the
		// patterns go-git gets right.
		if parts := splitPath(p); parts != nil {
			for _, ru := range r.rules {
				segs, dirOnly, glob := segments(ru.text)
				if ru.star == nil && glob && starMatch(segs, parts, dirOnly) != ru.matches(parts) {
					t.Fatalf("pattern %q, path %q: starMatch %v, go-git %v", ru.text, p, !ru.matches(parts), ru.matches(parts))
				}
			}
		}
		if _, _, err := Resolve(nil, r, p, nil); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
	})
}

// TestStarMatchAgreesWithGoGit checks the matcher used for "**" patterns
// against go-git's on every small glob pattern without "**" (where go-git
// is right) and every small path: the two kinds of rules mean the same.
func TestStarMatchAgreesWithGoGit(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "*", "?", "[ab]", "a*"}
	var patterns []string
	for _, x := range names {
		for _, y := range names {
			patterns = append(patterns, x+"/"+y, "/"+x, "/"+x+"/"+y+"/", x+"/"+y+"/b", x+"//"+y)
		}
	}
	var paths [][]string
	var grow func(p []string)
	grow = func(p []string) {
		if len(p) > 0 {
			paths = append(paths, p)
		}
		if len(p) == 4 {
			return
		}
		for _, n := range []string{"a", "b", "ab"} {
			grow(append(slices.Clone(p), n))
		}
	}
	grow(nil)
	for _, pat := range patterns {
		ru := mustRules(t, pat+" public\n").rules[0]
		segs, dirOnly, glob := segments(pat)
		if ru.star != nil || !glob {
			t.Fatalf("%q: not a go-git glob rule", pat)
		}
		for _, p := range paths {
			if got, want := starMatch(segs, p, dirOnly), ru.matches(p); got != want {
				t.Errorf("pattern %q, path %q: starMatch %v, go-git %v", pat, strings.Join(p, "/"), got, want)
			}
		}
	}
}
