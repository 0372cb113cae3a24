package cli

import "strconv"

// plural counts n of a regular noun for human output: "1 file", "2 files".
func plural(n int, noun string) string { return howMany(n, noun, noun+"s") }

// howMany counts n with the words for one and for many, for what plural
// cannot form: "1 file is", "2 files are".
func howMany(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
