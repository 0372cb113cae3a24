package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	day := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		expr string
		want Any
	}{
		{"tags=prod", Any{{Field: "tags", Op: Eq, Value: Value{Kind: Text, Text: "prod"}}}},
		{"  author != alice  ", Any{{Field: "author", Op: Ne, Value: Value{Kind: Text, Text: "alice"}}}},
		{"date>=2025-01-01", Any{{Field: "date", Op: Ge, Value: Value{Kind: Date, Text: "2025-01-01", Time: day("2025-01-01"), Day: true}}}},
		{"size<10KB", Any{{Field: "size", Op: Lt, Value: Value{Kind: Number, Text: "10KB", Num: 10000}}}},
		{"size<=2MiB", Any{{Field: "size", Op: Le, Value: Value{Kind: Number, Text: "2MiB", Num: 2 << 20}}}},
		{"priority>-1.5e1", Any{{Field: "priority", Op: Gt, Value: Value{Kind: Number, Text: "-1.5e1", Num: -15}}}},
		{"draft=TRUE", Any{{Field: "draft", Op: Eq, Value: Value{Kind: Bool, Text: "TRUE", Bool: true}}}},
		{`version="1.10"`, Any{{Field: "version", Op: Eq, Value: Value{Kind: Text, Text: "1.10"}}}},
		{`"last reviewed" exists`, Any{{Field: "last reviewed", Op: Exists}}},
		{"owner missing|owner=bob", Any{{Field: "owner", Op: Missing}, {Field: "owner", Op: Eq, Value: Value{Kind: Text, Text: "bob"}}}},
		{`path=runbooks/** | tags = "a|b \"c\" \\"`, Any{{Field: "path", Op: Eq, Value: Value{Kind: Text, Text: "runbooks/**"}}, {Field: "tags", Op: Eq, Value: Value{Kind: Text, Text: `a|b "c" \`}}}},
		{"title=Release plan 2", Any{{Field: "title", Op: Eq, Value: Value{Kind: Text, Text: "Release plan 2"}}}},
		{"meta.path=x", Any{{Field: "meta.path", Op: Eq, Value: Value{Kind: Text, Text: "x"}}}},
		{"büro=ja", Any{{Field: "büro", Op: Eq, Value: Value{Kind: Text, Text: "ja"}}}},
		{"existsx=1", Any{{Field: "existsx", Op: Eq, Value: Value{Kind: Number, Text: "1", Num: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
			back, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("String %q parses back as %#v, %v", got.String(), back, err)
			}
		})
	}
}

// TestParseErrors checks that every mistake is refused and that the
// error points at the bad character.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		col  int // 1-based, in characters
		msg  string
	}{
		{"", 1, "want a field's name"},
		{"tags", 5, "want =, !="},
		{"tags~prod", 5, `not '~'`},
		{"tags==prod", 6, "one ="},
		{"tags=", 6, "want a value"},
		{"tags=  |x=1", 8, "want a value"},
		{"tags=prod|", 11, "want a field's name"},
		{"=prod", 1, "want a field's name"},
		{`tags="prod`, 6, "never closed"},
		{`tags="a\q"`, 8, `want \" or \\`},
		{`tags=a"b"`, 7, "may only start a value"},
		{`tags="a" b`, 10, "want | or the end"},
		{"date<soon", 6, "compares numbers and dates"},
		{`n>"5"`, 3, "compares numbers and dates"},
		{"path<x", 5, "path is text"},
		{"path=[a", 6, "not a valid glob"},
		{"size>big", 6, "size is a number"},
		{"modified>=yesterday", 11, "modified is a date"},
		{"öl~x", 3, `not '~'`},
		{`""=x`, 1, "not empty"},
		{"tags exists x", 13, "want | or the end"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a SyntaxError", err)
			}
			if se.Column() != tt.col || !strings.Contains(se.Error(), tt.msg) {
				t.Errorf("error %q at column %d, want %q at %d\n%s", se.Error(), se.Column(), tt.msg, tt.col, se.Caret())
			}
		})
	}
}

// record is a Record of a map.
type record map[string]any

func (r record) Field(name string) (any, bool) { return Lookup(r, name) }

func TestMatch(t *testing.T) {
	doc := record{
		"path":     "runbooks/db/restore.md",
		"size":     int64(12000),
		"modified": time.Date(2025, 3, 4, 22, 30, 0, 0, time.UTC),
		"tags":     []any{"prod", "db", 7.0},
		"author":   "alice",
		"priority": 3.0,
		"date":     "2025-01-31",
		"updated":  "2025-02-01T10:00:00+01:00",
		"draft":    false,
		"version":  "1.10",
		"count":    2, // a Go int, as YAML decodes before a catalog's JSON
		"owner":    nil,
		"nested":   map[string]any{"team": "sre"},
		"ints":     []int{1, 2},
	}
	tests := []struct {
		expr string
		want bool
	}{
		{"tags=prod", true},
		{"tags=staging", false},
		{"tags!=staging", true},
		{"tags!=prod", false},
		{"tags=7", true},
		{"author=alice", true},
		{"author=Alice", false},
		{"author!=bob", true},
		{"nobody!=bob", true},
		{"nobody=bob", false},
		{"nobody<3", false},
		{"priority>2", true},
		{"priority>=3", true},
		{"priority<3", false},
		{"priority=3", true},
		{"priority=3.0", true},
		{"count<=2", true},
		{"ints=2", true},
		{"date>=2025-01-01", true},
		{"date<2025-01-31", false},
		{"date<=2025-01-31", true},
		{"date=2025-01-31", true},
		{"updated=2025-02-01", true},
		{"updated<2025-02-01T09:30:00Z", true},
		{"modified=2025-03-04", true},
		{"modified>2025-03-04", false},
		{"modified>=2025-03-04T22:00", true},
		{"draft=false", true},
		{"draft=true", false},
		{"draft exists", true},
		{"owner exists", false},
		{"owner missing", true},
		{`version="1.10"`, true},
		{"version=1.10", true},
		{"version=1.1", true}, // as numbers, 1.10 is 1.1; quote it to compare text
		{`version="1.1"`, false},
		{"nested.team=sre", true},
		{"nested=sre", false},
		{"size>10KB", true},
		{"size>12KB", false},
		{"path=runbooks/**", true},
		{"path=runbooks/*.md", false},
		{"path=**/*.md", true},
		{"path!=runbooks/**", false},
		{"author=bob|tags=db", true},
		{"author=bob|tags=x", false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			a, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := (Filter{All: []Any{a}}).Match(doc); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	f, err := ParseAll([]string{"tags=prod", "author=bob|priority>1"})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(doc) {
		t.Error("both filters hold: want a match")
	}
	if f.And(Filter{All: []Any{{{Field: "author", Op: Eq, Value: Value{Kind: Text, Text: "bob"}}}}}).Match(doc) {
		t.Error("And: a third filter that fails: want no match")
	}
	if !(Filter{}).Match(doc) || !(Filter{}).IsZero() {
		t.Error("the zero filter keeps every file")
	}
}

func TestKindOf(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want Kind
	}{
		{"x", Text}, {"2025-01-02", Date}, {3.0, Number}, {7, Number}, {true, Bool}, {[]any{"a"}, "list"},
		{time.Now(), Date}, {nil, ""}, {map[string]any{}, ""},
	} {
		if got := KindOf(tt.v); got != tt.want {
			t.Errorf("KindOf(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// FuzzParse: no expression panics the parser; an error points inside the
// expression; what parses prints as an expression that parses back the
// same; matching a parsed filter never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tags=prod", "date>=2025-01-01", "size<10KB|size>1GiB", `"a b" exists`, `x="a\"|b"`, "path=runbooks/**",
		"owner missing | owner=bob", "n<=-1e3", "modified>2025-01-01T10:00:00+02:00", "tags==x", `x="`, "path=[", "ü=ö",
	} {
		f.Add(s)
	}
	doc := record{"tags": []any{"prod", 1.0}, "date": "2025-01-01", "path": "a/b.md", "n": 3.0, "x": nil}
	f.Fuzz(func(t *testing.T, expr string) {
		a, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(se.Expr) {
				t.Fatalf("%q: error %v outside the expression", expr, err)
			}
			if utf8.ValidString(expr) && se.Column() > utf8.RuneCountInString(se.Expr)+1 {
				t.Fatalf("%q: column %d past the end", expr, se.Column())
			}
			return
		}
		back, err := Parse(a.String())
		if err != nil || !reflect.DeepEqual(back, a) {
			t.Fatalf("%q prints as %q, which parses as %#v, %v; want %#v", expr, a.String(), back, err, a)
		}
		(Filter{All: []Any{a}}).Match(doc)
	})
}

func TestParseDate(t *testing.T) {
	for _, tt := range []struct {
		s       string
		want    string
		day, ok bool
	}{
		{"2025-01-31", "2025-01-31T00:00:00Z", true, true},
		{"2024-02-29", "2024-02-29T00:00:00Z", true, true},
		{"2025-02-29", "", false, false},
		{"2025-13-01", "", false, false},
		{"2025-1-01x", "", false, false},
		{"2025-01-31T10:00", "2025-01-31T10:00:00Z", false, true},
		{"2025-01-31 10:00:00 +0100", "2025-01-31T09:00:00Z", false, true},
		{"2025-01-31T10:00:00.5+02:00", "2025-01-31T08:00:00.5Z", false, true},
		{"2025-01-31T25:00", "", false, false},
	} {
		got, day, ok := ParseDate(tt.s)
		if ok != tt.ok || day != tt.day || ok && got.UTC().Format(time.RFC3339Nano) != tt.want {
			t.Errorf("ParseDate(%q) = %v, %v, %v; want %s, %v, %v", tt.s, got.UTC(), day, ok, tt.want, tt.day, tt.ok)
		}
	}
}
