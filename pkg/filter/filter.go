// Package filter is rag's metadata filter: the small grammar of --filter
// (and of the filter of rag serve's and MCP's requests), parsed into a
// plain value (Filter) that a store applies in the same pass as access
// control and collections, and the rule that decides whether a file's
// fields match it (Filter.Match).
//
// The grammar, one expression a --filter:
//
//	filter    = condition { "|" condition }      one of them holds (OR)
//	condition = field op value
//	          | field "exists"                   the file has the field
//	          | field "missing"                  it has not
//	field     = name | quoted
//	name      = letters, digits, "_", "-", "." (a.b: key b of map a)
//	op        = "=" | "!=" | "<" | "<=" | ">" | ">="
//	value     = quoted | bare
//	bare      = what follows, up to "|" or the end, spaces around it dropped
//	quoted    = '"' text '"', with \" and \\ inside
//
// Several filters must all hold (AND). A bare value is typed as written:
// a number (12, 2.5, 10KB, 3MiB), a date (2025-01-31, 2025-01-31T10:00,
// RFC 3339; without a zone in UTC), true or false, else text; a quoted
// value is always text. FIELD=VALUE holds when the field equals the value
// or, for a list, holds it; != is its negation (also true of a file
// without the field); <, <=, > and >= compare numbers and dates (a date
// without a time compares by the day). path=GLOB matches the path as
// citations show it with a glob (*, **, ?, [a-z], {a,b}).
//
// Built-in fields (Builtins) are every file's: path, type, format, size,
// modified, indexed, collection and title; any other name is a key of the
// file's front matter (meta.NAME reaches a key that a built-in shadows).
package filter

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/bmatcuk/doublestar/v4"
)

// Op is a condition's operator.
type Op string

// The operators.
const (
	Eq      Op = "="
	Ne      Op = "!="
	Lt      Op = "<"
	Le      Op = "<="
	Gt      Op = ">"
	Ge      Op = ">="
	Exists  Op = "exists"
	Missing Op = "missing"
)

// Kind is the type of a value as it was written.
type Kind string

// The kinds of values.
const (
	Text   Kind = "text"
	Number Kind = "number"
	Date   Kind = "date"
	Bool   Kind = "bool"
)

// Value is a condition's value: its text as written (unquoted) and, for a
// number, date or bool, what it means.
type Value struct {
	Kind Kind    `json:"kind"`
	Text string  `json:"text"`
	Num  float64 `json:"num,omitempty"`
	// Time is a date's instant (UTC when it named no zone).
	Time time.Time `json:"time,omitzero"`
	// Day is set for a date without a time: it is compared by the day.
	Day  bool `json:"day,omitempty"`
	Bool bool `json:"bool,omitempty"`
}

// Cond is one condition: a field, an operator and (but for Exists and
// Missing) a value.
type Cond struct {
	Field string `json:"field"`
	Op    Op     `json:"op"`
	Value Value  `json:"value,omitzero"`
}

// Any holds when one of its conditions does: one --filter.
type Any []Cond

// Filter holds when each of All does (nil All: every file): a store
// receives it in its view and keeps the files that match before it
// ranks. It is plain data, so a store on a server can translate it into
// its own query language (And of Or of conditions).
type Filter struct {
	All []Any `json:"all,omitempty"`
}

// IsZero reports whether f keeps every file.
func (f Filter) IsZero() bool { return len(f.All) == 0 }

// And is the filter of the files both f and g keep.
func (f Filter) And(g Filter) Filter {
	if g.IsZero() {
		return f
	}
	if f.IsZero() {
		return g
	}
	return Filter{All: append(append([]Any(nil), f.All...), g.All...)}
}

// String is f as --filter flags would give it, one expression a line
// joined by " & ": for messages.
func (f Filter) String() string {
	parts := make([]string, len(f.All))
	for i, a := range f.All {
		parts[i] = a.String()
	}
	return strings.Join(parts, " & ")
}

// String is the expression of a.
func (a Any) String() string {
	parts := make([]string, len(a))
	for i, c := range a {
		parts[i] = c.String()
	}
	return strings.Join(parts, " | ")
}

// String is the condition as it would be written.
func (c Cond) String() string {
	field := c.Field
	if !isName(field) {
		field = quote(field)
	}
	if c.Op == Exists || c.Op == Missing {
		return field + " " + string(c.Op)
	}
	v := c.Value.Text
	if c.Value.Kind == Text && !bareText(v) {
		v = quote(v)
	}
	return field + string(c.Op) + v
}

// bareText reports whether text written bare reads back as that text.
func bareText(s string) bool {
	if s == "" || s != strings.TrimSpace(s) || strings.ContainsAny(s, `|"`) {
		return false
	}
	_, typed := typeOf(s)
	return !typed
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !nameRune(r) {
			return false
		}
	}
	return true
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Builtin describes a field every file has.
type Builtin struct {
	Name string
	Kind Kind
	Doc  string
}

// Builtins are the fields of every file, whatever its front matter.
var Builtins = []Builtin{
	{"path", Text, "the path as citations show it; = and != take a glob (runbooks/**, *.md)"},
	{"type", Text, "the file's extension, without the dot (md, pdf)"},
	{"format", Text, "the reader that read it (markdown, pdf, html, docx, text, ...)"},
	{"size", Number, "its size in bytes (10KB, 2MiB)"},
	{"modified", Date, "when it was last modified, as rag index saw it"},
	{"indexed", Date, "when rag index last read it"},
	{"collection", Text, "its collection"},
	{"title", Text, "its front matter's title, else its file name without the extension"},
}

// builtin is the built-in field named name, if any.
func builtin(name string) (Builtin, bool) {
	for _, b := range Builtins {
		if b.Name == name {
			return b, true
		}
	}
	return Builtin{}, false
}

// IsBuiltin reports whether name is a built-in field.
func IsBuiltin(name string) bool {
	_, ok := builtin(name)
	return ok
}

// SyntaxError is an expression that does not parse; Pos is the byte
// offset of the bad character in Expr.
type SyntaxError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at character %d of %q", e.Msg, e.Column(), e.Expr)
}

// Column is the 1-based character (not byte) of the bad character.
func (e *SyntaxError) Column() int {
	pos := min(max(e.Pos, 0), len(e.Expr))
	return len([]rune(e.Expr[:pos])) + 1
}

// Caret is the expression and, below it, a caret under the bad
// character: for a terminal.
func (e *SyntaxError) Caret() string {
	return e.Expr + "\n" + strings.Repeat(" ", e.Column()-1) + "^"
}

// ParseAll parses the expressions of several --filter flags, all of
// which must hold; none gives the zero Filter.
func ParseAll(exprs []string) (Filter, error) {
	var f Filter
	for _, e := range exprs {
		a, err := Parse(e)
		if err != nil {
			return Filter{}, err
		}
		f.All = append(f.All, a)
	}
	return f, nil
}

// MaxLen bounds an expression: a filter is a few conditions.
const MaxLen = 4096

// Parse parses one expression.
func Parse(expr string) (Any, error) {
	if len(expr) > MaxLen {
		return nil, &SyntaxError{Expr: expr[:MaxLen], Pos: MaxLen, Msg: fmt.Sprintf("a filter is at most %d bytes", MaxLen)}
	}
	p := &parser{s: expr}
	var out Any
	for {
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		p.space()
		if p.eof() {
			return out, nil
		}
		if p.s[p.i] != '|' {
			return nil, p.errf(p.i, "want | or the end, not %s", p.what())
		}
		p.i++
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) space() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Expr: p.s, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// what names the character at p.i for a message.
func (p *parser) what() string {
	if p.eof() {
		return "the end"
	}
	r := []rune(p.s[p.i:])[0]
	return fmt.Sprintf("%q", r)
}

// nameRune reports whether r may be in a bare field name: a letter, a
// digit, _, - or . (a.b names key b of map a).
func nameRune(r rune) bool {
	return r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// cond parses one condition.
func (p *parser) cond() (Cond, error) {
	p.space()
	field, err := p.field()
	if err != nil {
		return Cond{}, err
	}
	p.space()
	opAt := p.i
	op, err := p.op()
	if err != nil {
		return Cond{}, err
	}
	c := Cond{Field: field, Op: op}
	if op == Exists || op == Missing {
		return c, nil
	}
	p.space()
	valueAt := p.i
	if c.Value, err = p.value(); err != nil {
		return Cond{}, err
	}
	return c, check(p, c, opAt, valueAt)
}

// field parses a field's name, bare or quoted.
func (p *parser) field() (string, error) {
	if !p.eof() && p.s[p.i] == '"' {
		at := p.i
		s, err := p.quoted()
		if err == nil && s == "" {
			err = p.errf(at, "a field's name is not empty")
		}
		return s, err
	}
	start := p.i
	for !p.eof() {
		r := []rune(p.s[p.i:])[0]
		if !nameRune(r) {
			break
		}
		p.i += len(string(r))
	}
	if p.i == start {
		return "", p.errf(p.i, "want a field's name, not %s", p.what())
	}
	return p.s[start:p.i], nil
}

// op parses an operator (or the word exists or missing).
func (p *parser) op() (Op, error) {
	rest := p.s[p.i:]
	if strings.HasPrefix(rest, "==") {
		return "", p.errf(p.i+1, "want one =, not ==")
	}
	for _, op := range []Op{Ne, Le, Ge, Eq, Lt, Gt} {
		if strings.HasPrefix(rest, string(op)) {
			p.i += len(op)
			return op, nil
		}
	}
	for _, op := range []Op{Exists, Missing} {
		if strings.HasPrefix(rest, string(op)) {
			end := p.i + len(op)
			if end == len(p.s) || p.s[end] == ' ' || p.s[end] == '\t' || p.s[end] == '|' {
				p.i = end
				return op, nil
			}
		}
	}
	return "", p.errf(p.i, "want =, !=, <, <=, >, >=, exists or missing, not %s", p.what())
}

// value parses a value, quoted (text) or bare (typed as written).
func (p *parser) value() (Value, error) {
	if !p.eof() && p.s[p.i] == '"' {
		s, err := p.quoted()
		return Value{Kind: Text, Text: s}, err
	}
	start := p.i
	for !p.eof() && p.s[p.i] != '|' {
		if p.s[p.i] == '"' {
			return Value{}, p.errf(p.i, `a " may only start a value (quote the whole value, and write \" inside)`)
		}
		p.i++
	}
	text := strings.TrimRight(p.s[start:p.i], " \t")
	if text == "" {
		return Value{}, p.errf(start, "want a value, not %s", p.whatAt(start))
	}
	v, _ := typeOf(text)
	return v, nil
}

func (p *parser) whatAt(i int) string {
	q := *p
	q.i = i
	return q.what()
}

// quoted parses a quoted string at p.i.
func (p *parser) quoted() (string, error) {
	open := p.i
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 < len(p.s) && (p.s[p.i+1] == '"' || p.s[p.i+1] == '\\') {
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			return "", p.errf(p.i, `want \" or \\ after a backslash`)
		}
		b.WriteByte(c)
		p.i++
	}
	return "", p.errf(open, "this quote is never closed")
}

// check refuses a condition that could never mean anything: an order of
// text, a built-in field given a value of the wrong type, a bad glob.
func check(p *parser, c Cond, opAt, valueAt int) error {
	ordered := c.Op == Lt || c.Op == Le || c.Op == Gt || c.Op == Ge
	if b, ok := builtin(c.Field); ok {
		switch {
		case b.Kind == Text && ordered:
			return p.errf(opAt, "%s is text: it takes = and != (and exists, missing)", c.Field)
		case b.Kind == Number && c.Value.Kind != Number:
			return p.errf(valueAt, "%s is a number (bytes: 1500, 10KB, 2MiB), not %q", c.Field, c.Value.Text)
		case b.Kind == Date && c.Value.Kind != Date:
			return p.errf(valueAt, "%s is a date (2025-01-31, 2025-01-31T10:00:00Z), not %q", c.Field, c.Value.Text)
		case c.Field == "path":
			if err := validGlob(c.Value.Text); err != nil {
				return p.errf(valueAt, "path takes a glob: %v", err)
			}
		}
		return nil
	}
	if ordered && c.Value.Kind != Number && c.Value.Kind != Date {
		return p.errf(valueAt, "%s compares numbers and dates, and %q is neither", c.Op, c.Value.Text)
	}
	return nil
}

// validGlob checks a glob of path.
func validGlob(pattern string) error {
	if !doublestar.ValidatePattern(pattern) {
		return fmt.Errorf("%q is not a valid glob (an unclosed [ or {?)", pattern)
	}
	return nil
}

// typeOf types a bare value: a number (with a unit of size), a date, a
// bool, else text; typed reports which.
func typeOf(s string) (Value, bool) {
	if n, ok := number(s); ok {
		return Value{Kind: Number, Text: s, Num: n}, true
	}
	if t, day, ok := ParseDate(s); ok {
		return Value{Kind: Date, Text: s, Time: t, Day: day}, true
	}
	switch strings.ToLower(s) {
	case "true":
		return Value{Kind: Bool, Text: s, Bool: true}, true
	case "false":
		return Value{Kind: Bool, Text: s}, true
	}
	return Value{Kind: Text, Text: s}, false
}

// units of size, by suffix (case-insensitive): powers of 1000 and 1024.
var units = []struct {
	suffix string
	n      float64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}}

// number parses a decimal number, with a unit of size: not hex, inf or
// NaN, which a front matter value would never mean.
func number(s string) (float64, bool) {
	mult := 1.0
	low := strings.ToLower(s)
	for _, u := range units {
		if strings.HasSuffix(low, u.suffix) {
			s, mult = s[:len(s)-len(u.suffix)], u.n
			break
		}
	}
	n, ok := decimal(s)
	return n * mult, ok
}

// decimal parses [+-]digits[.digits][e[+-]digits].
func decimal(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		return 0, false
	}
	return f, true
}

// dateLayouts are the forms of dates read, in front matter and filters:
// ISO 8601 and RFC 3339 as YAML, TOML, Hugo and Jekyll write them.
var dateLayouts = []struct {
	layout string
	day    bool
}{
	{"2006-01-02", true},
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02T15:04", false},
	{"2006-01-02 15:04:05.999999999Z07:00", false},
	{"2006-01-02 15:04:05.999999999 -0700", false},
	{"2006-01-02 15:04:05.999999999 -07:00", false},
	{"2006-01-02 15:04:05.999999999 -0700 MST", false},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02 15:04", false},
}

// ParseDate reads a date in one of the usual forms (a time without a zone
// in UTC); day is set when it names a day alone.
func ParseDate(s string) (t time.Time, day, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false, false // the common case: not a date
	}
	if len(s) == 10 { // a day, the most common by far: without time.Parse's layouts
		t, ok := calendarDay(s)
		return t, ok, ok
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l.layout, s, time.UTC); err == nil {
			return t, l.day, true
		}
	}
	return time.Time{}, false, false
}

// calendarDay reads YYYY-MM-DD, a real day of the calendar.
func calendarDay(s string) (time.Time, bool) {
	n := func(from, to int) int {
		v := 0
		for i := from; i < to; i++ {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			v = v*10 + int(s[i]-'0')
		}
		return v
	}
	y, m, d := n(0, 4), n(5, 7), n(8, 10)
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t, t.Day() == d // 2025-02-30 is no day
}

// Names returns the distinct fields f names, sorted.
func (f Filter) Names() []string {
	var names []string
	for _, a := range f.All {
		for _, c := range a {
			names = append(names, c.Field)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
