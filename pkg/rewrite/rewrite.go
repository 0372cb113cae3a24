// Package rewrite turns what a user typed into the queries retrieval runs,
// with a chat model: other ways to ask a question and a passage that would
// answer it (query expansion, for search and ask), and a follow-up in a
// chat made into a question that stands on its own (for rag chat). What
// the model writes here only chooses which chunks are found: answers still
// come from the chunks alone, and a reply that is not usable is set aside
// (UnusableError) rather than searched for.
package rewrite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rag-cli/rag/pkg/lexical"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// Completer gets one reply from a chat model.
type Completer interface {
	Complete(ctx context.Context, req Request) (string, error)
}

// Request is one system prompt and one user message.
type Request struct {
	System, User string
	// Format, if set, is a JSON schema the reply must follow.
	Format json.RawMessage
}

// UnusableError is a reply that cannot be used: not the JSON asked for, or
// nothing in it. Callers search with what the user typed instead.
type UnusableError struct {
	Reply  string
	Reason string
}

func (e *UnusableError) Error() string {
	return fmt.Sprintf("the model's reply is not usable (%s)", e.Reason)
}

// Phrasings is how many other ways of asking Expand requests.
const Phrasings = 3

// Longest texts kept from a reply: a query, and a passage.
const (
	maxPhrasing = 300
	maxPassage  = 2000
)

// ExpandPrompt is the system prompt of Expand.
const ExpandPrompt = `You help a search engine find passages in a user's own documents.

Given a question, write:
- "phrasings": 3 other ways to ask the same question, each with different words: synonyms, related terms, the names and terms a document about it would use. Keep every name, number and term of the question that matters.
- "passage": 2 to 4 sentences that could be the answer, written as a document would state it.

The passage is a guess at the wording only: nobody reads it, it is never shown as an answer, and it need not be true. Write in the question's language. Reply with JSON only.`

var expandSchema = json.RawMessage(`{"type":"object","properties":{"phrasings":{"type":"array","items":{"type":"string"}},"passage":{"type":"string"}},"required":["phrasings","passage"]}`)

// Expand asks the model for other phrasings of question and a hypothetical
// answer passage. A reply without any usable text is an *UnusableError.
func Expand(ctx context.Context, c Completer, question string) (retrieve.Expansion, error) {
	reply, err := c.Complete(ctx, Request{System: ExpandPrompt, User: "Question: " + strings.TrimSpace(question), Format: expandSchema})
	if err != nil {
		return retrieve.Expansion{}, err
	}
	return ParseExpansion(question, reply)
}

// ParseExpansion reads Expand's reply: phrasings one line each, at most
// Phrasings of them, none a copy of the question or of another.
func ParseExpansion(question, reply string) (retrieve.Expansion, error) {
	var got struct {
		Phrasings []string `json:"phrasings"`
		Passage   string   `json:"passage"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(reply)), &got); err != nil {
		return retrieve.Expansion{}, &UnusableError{Reply: reply, Reason: "not the JSON asked for"}
	}
	x := retrieve.Expansion{Phrasings: []string{}, Passage: clip(oneLine(got.Passage), maxPassage)}
	q := oneLine(question)
	for _, p := range got.Phrasings {
		p = clip(oneLine(p), maxPhrasing)
		if p == "" || strings.EqualFold(p, q) || len(x.Phrasings) == Phrasings ||
			slices.ContainsFunc(x.Phrasings, func(k string) bool { return strings.EqualFold(k, p) }) {
			continue
		}
		x.Phrasings = append(x.Phrasings, p)
	}
	if len(x.Phrasings) == 0 && x.Passage == "" {
		return retrieve.Expansion{}, &UnusableError{Reply: reply, Reason: "no phrasing and no passage"}
	}
	return x, nil
}

// Turn is one exchange of a chat: what was asked (as searched) and the
// answer.
type Turn struct {
	Question, Answer string
}

// historyTurns is how many of the latest turns a rewrite reads: a
// follow-up refers to what was just said.
const historyTurns = 3

// maxAnswer is how much of each earlier answer a rewrite reads.
const maxAnswer = 600

// StandalonePrompt is the system prompt of Standalone.
const StandalonePrompt = `You rewrite the last message of a conversation as one question that can be understood without the conversation, for a search engine over the user's documents.

Replace every word that points back into the conversation ("it", "that", "they", "the second one", "what about ...") with what it refers to, using the exact names and terms of the conversation. Keep the user's intent and language. Do not answer the question and do not add anything the conversation does not say. If the message already stands on its own, return it unchanged. Reply with JSON only: {"question": "..."}`

var standaloneSchema = json.RawMessage(`{"type":"object","properties":{"question":{"type":"string"}},"required":["question"]}`)

// Standalone rewrites followUp, the latest message of a chat after the
// turns of history, into a question that stands on its own. A reply that
// is not a question drawn from the conversation (most of its words must
// come from it, so a model's story or answer is never searched for) is an
// *UnusableError.
func Standalone(ctx context.Context, c Completer, history []Turn, followUp string) (string, error) {
	followUp = strings.TrimSpace(followUp)
	if len(history) > historyTurns {
		history = history[len(history)-historyTurns:]
	}
	var b strings.Builder
	b.WriteString("Conversation:\n")
	for _, t := range history {
		fmt.Fprintf(&b, "\nUser: %s\nAssistant: %s\n", oneLine(t.Question), clip(oneLine(t.Answer), maxAnswer))
	}
	fmt.Fprintf(&b, "\nLast message: %s\n", oneLine(followUp))
	reply, err := c.Complete(ctx, Request{System: StandalonePrompt, User: b.String(), Format: standaloneSchema})
	if err != nil {
		return "", err
	}
	return ParseStandalone(b.String(), reply)
}

// ParseStandalone reads Standalone's reply to the conversation it was
// shown: one line, most of whose words come from the conversation.
func ParseStandalone(conversation, reply string) (string, error) {
	var got struct {
		Question string `json:"question"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(reply)), &got); err != nil {
		return "", &UnusableError{Reply: reply, Reason: "not the JSON asked for"}
	}
	q := clip(oneLine(got.Question), maxPhrasing)
	if q == "" {
		return "", &UnusableError{Reply: reply, Reason: "no question"}
	}
	if !drawnFrom(q, conversation) {
		return "", &UnusableError{Reply: reply, Reason: "its words are not the conversation's"}
	}
	return q, nil
}

// drawnFrom reports whether at least half of q's words (stemmed, stop
// words aside) occur in conversation.
func drawnFrom(q, conversation string) bool {
	an := lexical.For(q) // the conversation is analysed as the question's language
	have := map[string]bool{}
	for _, t := range an.Terms(conversation) {
		have[t] = true
	}
	n, found := 0, 0
	for _, t := range an.Terms(q) {
		n++
		if have[t] {
			found++
		}
	}
	return n > 0 && 2*found >= n
}

// oneLine is s trimmed, its runs of white space (newlines too) made one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n])
}
