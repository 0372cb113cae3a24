package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// unknownCommand is the usage error of a mistyped command, with the
// commands it is closest to, as git's "did you mean".
func unknownCommand(root *cobra.Command, name string) error {
	root.SuggestionsMinimumDistance = 2
	if s := closest(name, root.SuggestionsFor(name)); len(s) > 0 {
		return usagef("unknown command %q; did you mean %s?", name, quoteOr(s))
	}
	return usagef("unknown command %q", name)
}

// closest are the suggestions nearest to name in edits, as git names
// only its best guesses: "serch" is search (one edit), not serve (two).
// A command name starts with counts as nearest.
func closest(name string, suggestions []string) []string {
	best := -1
	var out []string
	name = strings.ToLower(name)
	for _, s := range suggestions {
		d := editDistance(name, strings.ToLower(s))
		if strings.HasPrefix(strings.ToLower(s), name) {
			d = 0
		}
		switch {
		case best < 0 || d < best:
			best, out = d, []string{s}
		case d == best:
			out = append(out, s)
		}
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// quoteOr lists names as `a`, `b` or `c`.
func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`rag " + n + "`"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// flagError says what a flag's value should have been in words, where
// pflag reports the parser's error ("strconv.ParseInt: parsing ...").
func flagError(err error) error {
	var invalid *pflag.InvalidValueError
	if !errors.As(err, &invalid) {
		return err
	}
	f := invalid.GetFlag()
	name := "--" + f.Name
	if f.Shorthand != "" {
		name = "-" + f.Shorthand
	}
	want := ""
	switch f.Value.Type() {
	case "int", "int64", "int32", "uint", "uint64":
		want = "a whole number"
	case "float64", "float32":
		want = "a number"
	case "bool":
		want = "true or false"
	case "duration":
		want = "a duration such as 30s, 2m or 1h30m"
	}
	if want == "" {
		return fmt.Errorf("%s %q: %w", name, invalid.GetValue(), errors.Unwrap(invalid))
	}
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%s wants %s, and %q is out of range", name, want, invalid.GetValue())
	}
	return fmt.Errorf("%s wants %s, not %q", name, want, invalid.GetValue())
}
