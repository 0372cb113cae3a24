package access

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// maxLine is the longest .ragaccess line read; a longer one is an error
// rather than a silently cut rule.
const maxLine = 1 << 20

// LineError is a mistake on a line of a .ragaccess or membership file; the
// caller adds the file's path.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

func lineErr(line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf(format, args...)}
}

// Rules is a parsed .ragaccess file, in the style of CODEOWNERS: each line
// that is neither blank nor a # comment is `PATTERN PRINCIPAL...`,
// separated by spaces or tabs (a backslash escapes a space in a pattern; a
// # after the pattern starts a comment). PATTERN has gitignore's syntax, as
// in CODEOWNERS: "*.md" matches at any depth, "/docs/" or "docs/x.md" only
// from the root, "docs/" a folder and everything below, "**" any number of
// folders. As in gitignore (unlike GitHub's CODEOWNERS), "docs/*" also
// covers what is below docs' subfolders, since it matches the subfolders
// themselves. The last matching line wins, and a line without principals
// makes its files visible to nobody. Negated
// patterns ("!x") are an error: CODEOWNERS has none, and a later line says
// the same thing plainly. The zero Rules, and a nil *Rules, match nothing.
type Rules struct {
	rules []rule
}

type rule struct {
	line int
	text string // the pattern as written
	// pattern matches, unless the pattern is a glob with a "**" folder:
	// then star does (see starMatch).
	pattern    gitignore.Pattern
	star       []string
	dirOnly    bool
	principals []string // sorted, deduplicated; nil for nobody
}

// ParseRules reads a .ragaccess file. Errors are *LineError ("line 3:
// ..."); a bad principal in one wraps a *PrincipalError.
func ParseRules(r io.Reader) (*Rules, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	rs := &Rules{}
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF") // editors on Windows write one
		}
		f := fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		pat := f[0]
		if reason := checkPattern(pat); reason != "" {
			return nil, lineErr(n, "pattern %q: %s", pat, reason)
		}
		var ps []string
		for _, p := range f[1:] {
			if strings.HasPrefix(p, "#") {
				break
			}
			if err := CheckPrincipal(p); err != nil {
				return nil, &LineError{Line: n, Err: err}
			}
			ps = append(ps, p)
		}
		ru := rule{line: n, text: pat, principals: Normalize(ps)}
		if segs, dirOnly, glob := segments(pat); glob && slices.Contains(segs, "**") {
			ru.star, ru.dirOnly = segs, dirOnly
		} else {
			ru.pattern = gitignore.ParsePattern(pat, nil)
		}
		rs.rules = append(rs.rules, ru)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, lineErr(n+1, "longer than %d bytes", maxLine)
		}
		return nil, err
	}
	return rs, nil
}

// fields splits a line at spaces and tabs that no backslash escapes; the
// backslashes stay, for the pattern matcher to read.
func fields(line string) []string {
	var out []string
	var b strings.Builder
	in := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			b.WriteByte(c)
			b.WriteByte(line[i+1])
			i++
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

// checkPattern says what is wrong with a pattern, or "" when it is fine.
// The matcher treats a malformed pattern as matching nothing, which would
// quietly hand its files to a wider rule, so those are errors here.
func checkPattern(p string) string {
	if strings.HasPrefix(p, "!") {
		return `negated patterns are not supported (CODEOWNERS has none); a later line overrides an earlier one, and \! matches a name starting with !`
	}
	if strings.Trim(p, "/") == "" {
		return "matches nothing"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return `"**" must be a whole path segment ("docs/**/x.md"); use "*" within a name`
		}
		if _, err := filepath.Match(seg, ""); err != nil {
			return "malformed (an unclosed [ or a trailing \\?)"
		}
	}
	return ""
}

// Match returns the principals of the last line matching the file at p
// (slash-separated, relative to the root); ok is false when no line
// matches. A matching line without principals gives nil and true: nobody.
func (r *Rules) Match(p string) (principals []string, ok bool) {
	ru := r.match(p)
	if ru == nil {
		return nil, false
	}
	return slices.Clone(ru.principals), true
}

// Line returns the line number of the last line matching p, or 0.
func (r *Rules) Line(p string) int {
	if ru := r.match(p); ru != nil {
		return ru.line
	}
	return 0
}

// Len is the number of rules (lines with a pattern).
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	return len(r.rules)
}

func (r *Rules) match(p string) *rule {
	if r == nil || len(r.rules) == 0 {
		return nil
	}
	parts := splitPath(p)
	if parts == nil {
		return nil
	}
	for i := len(r.rules) - 1; i >= 0; i-- {
		if r.rules[i].matches(parts) {
			return &r.rules[i]
		}
	}
	return nil
}

// splitPath cleans a path as if rooted (no leading slash, no "." or ".."
// segments left) and splits it; nil for the root itself.
func splitPath(p string) []string {
	p = path.Clean("/" + p)[1:]
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (ru *rule) matches(parts []string) bool {
	if ru.star != nil {
		return starMatch(ru.star, parts, ru.dirOnly)
	}
	return ru.pattern.Match(parts, false) == gitignore.Exclude
}

// segments splits a pattern as gitignore reads it: one trailing slash
// makes it for folders only; any other slash makes it a glob anchored at
// the root, whose empty segments (a leading slash, doubled slashes) count
// for nothing. Runs of "**" are one.
func segments(p string) (segs []string, dirOnly, glob bool) {
	body, dirOnly := strings.CutSuffix(p, "/")
	glob = strings.Contains(body, "/")
	for _, s := range strings.Split(body, "/") {
		if s == "" || s == "**" && len(segs) > 0 && segs[len(segs)-1] == "**" {
			continue
		}
		segs = append(segs, s)
	}
	return segs, dirOnly, glob
}

// starMatch matches a glob pattern's segments against a file's path,
// gitignore's way: the pattern may match the file or any folder above it
// (a matched folder takes everything below; dirOnly wants a folder); "**"
// is zero or more folders, and at the end everything below. go-git's
// matcher is used for every other pattern, but here it goes wrong: after a
// "**" it takes the first folder matching the next segment and never a
// later one ("**/a/b" misses x/a/y/a/b), and "/**" matches nothing; a rule
// that fails to match hands its files to a wider one. Failed states are
// remembered, so a pattern of many "**" stays linear in the path.
func starMatch(segs, parts []string, dirOnly bool) bool {
	width := len(parts) + 1
	failed := make([]bool, (len(segs)+1)*width)
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		if i == len(segs) {
			return j > 0 && (j < len(parts) || !dirOnly)
		}
		if failed[i*width+j] {
			return false
		}
		ok := false
		switch {
		case segs[i] == "**" && i == len(segs)-1:
			ok = j < len(parts)
		case segs[i] == "**":
			ok = rec(i+1, j) || j < len(parts) && rec(i, j+1)
		case j < len(parts):
			m, _ := filepath.Match(segs[i], parts[j]) // checked by checkPattern
			ok = m && rec(i+1, j+1)
		}
		if !ok {
			failed[i*width+j] = true
		}
		return ok
	}
	return rec(0, 0)
}
