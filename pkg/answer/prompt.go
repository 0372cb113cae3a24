package answer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
func (p Prompt) Fit(question string, sources []Source, budget int, count func(string) int) (kept, dropped []Source) {
	kept = sources
	for len(kept) > 0 {
		n := 0
		for _, m := range p.Messages(question, kept) {
			n += count(m.Content) + 4 // the chat template's own tokens per turn
		}
		if n <= budget {
			break
		}
		kept, dropped = kept[:len(kept)-1], append([]Source{kept[len(kept)-1]}, dropped...)
	}
	return kept, dropped
}
