package guard

import (
	"fmt"
	"unicode/utf8"
)

// CheckQuery reports a query longer than MaxQuery runes, for the routes to answer 400 bad_request.
func (l Limits) CheckQuery(q string) error {
	if l.MaxQuery > 0 && utf8.RuneCountInString(q) > l.MaxQuery {
		return fmt.Errorf("the query is longer than %d characters", l.MaxQuery)
	}
	return nil
}

// CheckK reports k above MaxK (or negative), for the routes to answer 400 bad_request.
func (l Limits) CheckK(k int) error {
	if k < 0 {
		return fmt.Errorf("k must not be negative, got %d", k)
	}
	if l.MaxK > 0 && k > l.MaxK {
		return fmt.Errorf("k is at most %d, got %d", l.MaxK, k)
	}
	return nil
}
