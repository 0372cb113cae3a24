package filter

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
)

// Record gives the fields of one file: a built-in's value (string, a
// number, time.Time) or a front matter key's as decoded (YAML, TOML or
// JSON), and whether the file has it.
type Record interface {
	Field(name string) (any, bool)
}

// Match reports whether the file of r matches f.
func (f Filter) Match(r Record) bool {
	for _, a := range f.All {
		if !a.Match(r) {
			return false
		}
	}
	return true
}

// Match reports whether one of a's conditions holds for r.
func (a Any) Match(r Record) bool {
	for _, c := range a {
		if c.Match(r) {
			return true
		}
	}
	return false
}

// Match reports whether the condition holds for r.
func (c Cond) Match(r Record) bool {
	v, ok := r.Field(c.Field)
	if ok && v == nil {
		ok = false // "owner:" with nothing after it: not there
	}
	switch c.Op {
	case Exists:
		return ok
	case Missing:
		return !ok
	case Ne:
		return !ok || !c.holds(Eq, v)
	}
	return ok && c.holds(c.Op, v)
}

// holds applies op to v, or for a list to any of its elements.
func (c Cond) holds(op Op, v any) bool {
	if list, ok := v.([]any); ok {
		for _, e := range list {
			if e != nil && c.scalar(op, e) {
				return true
			}
		}
		return false
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 {
		for i := range rv.Len() {
			if c.scalar(op, rv.Index(i).Interface()) {
				return true
			}
		}
		return false
	}
	return c.scalar(op, v)
}

// scalar applies op (=, <, <=, >, >=) to one scalar value.
func (c Cond) scalar(op Op, v any) bool {
	if c.Field == "path" && op == Eq {
		s, ok := v.(string)
		if !ok {
			return false
		}
		m, _ := doublestar.Match(c.Value.Text, s)
		return m
	}
	want := c.Value
	switch want.Kind {
	case Number:
		if n, ok := toNumber(v); ok {
			return compare(op, cmpFloat(n, want.Num))
		}
	case Date:
		if t, ok := toTime(v); ok {
			return compare(op, cmpTime(t, want))
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return op == Eq && b == want.Bool
		}
	}
	if op != Eq {
		return false
	}
	s, ok := toText(v)
	return ok && s == want.Text
}

func compare(op Op, c int) bool {
	switch op {
	case Eq:
		return c == 0
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return 2 // NaN: no order holds, nor equality
}

// cmpTime compares t with a date value: by the day (in UTC) when the
// value names a day alone.
func cmpTime(t time.Time, want Value) int {
	if want.Day {
		u := t.UTC()
		t = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Compare(want.Time)
}

// toNumber reads a number from a decoded value: a Go number, or text
// that is one (a version "3" in quotes).
func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case string:
		return number(n)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32:
		return rv.Float(), !math.IsNaN(rv.Float())
	}
	return 0, false
}

// toTime reads a date from a decoded value: a time, or text (or a TOML
// local date) in one of the usual forms.
func toTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		t2, _, ok := ParseDate(t)
		return t2, ok
	case fmt.Stringer:
		t2, _, ok := ParseDate(t.String())
		return t2, ok
	}
	return time.Time{}, false
}

// toText is a scalar as text, as it would be written: lists and maps are
// not text.
func toText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case time.Time:
		return t.Format(time.RFC3339Nano), true
	case fmt.Stringer:
		return t.String(), true
	}
	if n, ok := toNumber(v); ok {
		return strconv.FormatFloat(n, 'f', -1, 64), true
	}
	return "", false
}

// KindOf is the kind of a decoded front matter value, as rag status
// --fields shows it: text, number, date, bool or list; "" for a map or
// nothing.
func KindOf(v any) Kind {
	switch t := v.(type) {
	case nil, map[string]any:
		return ""
	case bool:
		return Bool
	case string:
		if _, _, ok := ParseDate(t); ok {
			return Date
		}
		return Text
	case time.Time:
		return Date
	case []any:
		return "list"
	}
	if _, ok := toNumber(v); ok {
		return Number
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
		return "list"
	}
	if s, ok := v.(fmt.Stringer); ok {
		return KindOf(s.String())
	}
	return ""
}

// Lookup finds a field of decoded front matter: the key itself, else a
// dotted path into nested maps (a.b is key b of map a).
func Lookup(meta map[string]any, name string) (any, bool) {
	if v, ok := meta[name]; ok {
		return v, true
	}
	for i := strings.IndexByte(name, '.'); i > 0; i = nextDot(name, i) {
		if sub, ok := meta[name[:i]].(map[string]any); ok {
			if v, ok := Lookup(sub, name[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
