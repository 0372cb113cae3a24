package answer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseExamples reads a few-shot block: a YAML list of turns, each with a
// role (user or assistant) and its content, users and assistants in turn,
// from a user's to an assistant's, e.g.
//
//   - role: user
//     content: |
//     Sources:
//     [1] guide.md:1-3
//     Install with make install.
//     Question: How do I install it?
//   - role: assistant
//     content: Run make install [1].
//
// An empty file is no examples at all.
func ParseExamples(r io.Reader) ([]Message, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return []Message{}, nil
	}
	var turns []struct {
		Role    string `yaml:"role"`
		Content string `yaml:"content"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&turns); err != nil {
		return nil, fmt.Errorf("want a list of role/content turns: %w", err)
	}
	out := make([]Message, 0, len(turns))
	for i, t := range turns {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		switch {
		case t.Role != want:
			return nil, fmt.Errorf("turn %d: role %q, want %s (users and assistants take turns, a user first)", i+1, t.Role, want)
		case strings.TrimSpace(t.Content) == "":
			return nil, fmt.Errorf("turn %d: empty content", i+1)
		}
		out = append(out, Message{Role: t.Role, Content: t.Content})
	}
	if len(out)%2 == 1 {
		return nil, errors.New("the last turn is a user's: end with the assistant's answer")
	}
	return out, nil
}

// Fit keeps the sources whose messages fit in budget tokens (count
// estimates a text's), dropping the lowest ranked first and never cutting
// one: a source is whole or absent. Sources are numbered by rank, so the
// kept ones stay 1..len(kept). With none left, kept is empty.
//
// It is linear in the sources: the prompt is counted whole a few times,
// never once a dropped source. Each source is counted once on its own,
// which places the cut for a count that adds up over lines (as
// chunk.EstimateTokens does); the whole prompt is then counted at the cut
// and beside it to place it exactly for any count that grows with the
// text.
func (p Prompt) Fit(question string, sources []Source, budget int, count func(string) int) (kept, dropped []Source) {
	total := func(m int) int {
		n := 0
		for _, msg := range p.Messages(question, sources[:m]) {
			n += count(msg.Content) + 4 // the chat template's own tokens per turn
		}
		return n
	}
	all := total(len(sources))
	if all <= budget {
		return sources, nil
	}
	// fits(m) holds for m up to the answer and not after it.
	fits := func(m int) bool { return total(m) <= budget }
	base := total(0)
	if base > budget {
		return sources[:0], slices.Clone(sources)
	}
	// Each source counted on its own; counted together they may come to a
	// little less (a count rounds each text up), by about as much for
	// each: the shortfall over all of them is shared out evenly.
	costs := make([]int, len(sources))
	sum := base
	id := fenceID(question, sources)
	var b strings.Builder
	for i, s := range sources {
		b.Reset()
		writeSource(&b, id, s, "")
		costs[i] = count(b.String())
		sum += costs[i]
	}
	over := float64(sum-all) / float64(len(sources))
	guess, n := 0, float64(base)
	for i, c := range costs {
		if n += float64(c) - over; n > float64(budget) {
			break
		}
		guess = i + 1
	}
	m := lastTrue(fits, guess, len(sources))
	return sources[:m], slices.Clone(sources[m:])
}

// lastTrue is the largest m in [0, n) for which f holds, f(0) holding,
// f(n) not, f true up to some m and false after it, searched from guess:
// outward in doubling steps, then by halves (a few calls when the guess
// is right or close).
func lastTrue(f func(int) bool, guess, n int) int {
	lo, hi := 0, n // f(lo) holds, f(hi) does not
	guess = min(max(guess, 0), n-1)
	if f(guess) {
		lo = guess
		for step := 1; lo+step < hi; step *= 2 {
			if !f(lo + step) {
				hi = lo + step
				break
			}
			lo += step
		}
	} else {
		hi = guess
		for step := 1; hi-step > lo; step *= 2 {
			if f(hi - step) {
				lo = hi - step
				break
			}
			hi -= step
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if f(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
