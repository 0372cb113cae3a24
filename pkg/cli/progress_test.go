package cli

import (
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProgressLines: with stderr not a terminal, a long run writes a
// progress line every few seconds (a log's proof of life), and --quiet
// none; the terminal's bar is not drawn there.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		args  []string
		lines bool
	}{
		{"log", nil, true},
		{"quiet", []string{"--quiet"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var tick atomic.Int64
			clock := func() time.Time { // 10 s a reading
				return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(tick.Add(1)) * 10 * time.Second)
			}
			r := h.mustRun(runOpt{now: clock}, append([]string{"index", "--embed-model", embedModel, h.docs}, tt.args...)...)
			got := regexp.MustCompile(`(?m)^rag: indexing: \d+ B of \d+ B \(\d+%\)$`).MatchString(r.stderr)
			if got != tt.lines || strings.Contains(r.stderr, "\r") {
				t.Errorf("progress lines %v, want %v; stderr:\n%s", got, tt.lines, r.stderr)
			}
		})
	}
}
