// Package english forms the counted nouns of rag's messages, shared by the
// engine's errors and the CLI's output so that both say "1 file", "2 files".
package english

import "strconv"

// Plural counts n of a regular noun: "1 file", "2 files".
func Plural(n int, noun string) string { return HowMany(n, noun, noun+"s") }

// HowMany counts n with the words for one and for many, for what Plural
// cannot form: "1 file is", "2 files are".
func HowMany(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
