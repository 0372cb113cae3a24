package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/provider"
)

// maxPromptFile is the largest system prompt or examples file read: far
// more than any model's context, and a config file naming /dev/zero is
// refused rather than read.
const maxPromptFile = 1 << 20

// PromptFile names which file of a prompt an error is about.
type PromptFile string

// The files a prompt is read from.
const (
	SystemPromptFile PromptFile = "system-prompt"
	ExamplesFile     PromptFile = "examples"
)

// PromptProblem is what is wrong with a prompt file.
type PromptProblem int

// The problems of a prompt file.
const (
	// PromptUnreadable: the file cannot be read (missing, not a regular
	// file, too large).
	PromptUnreadable PromptProblem = iota
	// PromptEmpty: a system prompt of spaces alone.
	PromptEmpty
	// PromptMalformed: examples that are not turns of users and
	// assistants.
	PromptMalformed
)

// PromptFileError is a system prompt or examples file that cannot be
// used. Its text names the file as rag's flags do.
type PromptFileError struct {
	File    PromptFile
	Path    string
	Problem PromptProblem
	Err     error
}

func (e *PromptFileError) Error() string {
	switch e.Problem {
	case PromptEmpty:
		return fmt.Sprintf("--%s: %s is empty", e.File, e.Path)
	case PromptMalformed:
		return fmt.Sprintf("--%s: %s: %v", e.File, e.Path, e.Err)
	}
	return fmt.Sprintf("--%s: %v", e.File, e.Err)
}
func (e *PromptFileError) Unwrap() error { return e.Err }

// LoadPrompt is the prompt of an ask: rag's own, or the files that replace
// its system prompt and few-shot block (regular files only, as config).
// examples "none" is no examples; "" keeps rag's own of either.
func LoadPrompt(ctx context.Context, systemPrompt, examples string) (answer.Prompt, error) {
	p := answer.DefaultPrompt()
	if systemPrompt != "" {
		data, err := filestat.ReadFile(ctx, systemPrompt, maxPromptFile)
		if err != nil {
			return p, &PromptFileError{File: SystemPromptFile, Path: systemPrompt, Err: err}
		}
		if strings.TrimSpace(string(data)) == "" {
			return p, &PromptFileError{File: SystemPromptFile, Path: systemPrompt, Problem: PromptEmpty}
		}
		p.System = string(data)
	}
	switch examples {
	case "":
	case "none":
		p.Examples = nil
	default:
		data, err := filestat.ReadFile(ctx, examples, maxPromptFile)
		if err != nil {
			return p, &PromptFileError{File: ExamplesFile, Path: examples, Err: err}
		}
		if p.Examples, err = answer.ParseExamples(bytes.NewReader(data)); err != nil {
			return p, &PromptFileError{File: ExamplesFile, Path: examples, Problem: PromptMalformed, Err: err}
		}
	}
	return p, nil
}

// NoRoomError is a question whose best source alone does not fit in the
// model's context.
type NoRoomError struct{ Budget int }

func (e *NoRoomError) Error() string {
	return fmt.Sprintf("the question and its best source do not fit in the %d tokens left for them", e.Budget)
}

// AnswerRoomError is an answer as long as the model's whole context (as
// the model server reports it): nothing is left for the sources.
type AnswerRoomError struct {
	MaxTokens int
	Model     string
	// NumCtx is the context the model holds.
	NumCtx int
}

func (e *AnswerRoomError) Error() string {
	return fmt.Sprintf("--max-tokens %d leaves no room for the sources: %s's context holds %d tokens", e.MaxTokens, e.Model, e.NumCtx)
}

// chatter adapts the model server's client to answer.Chatter.
type chatter struct {
	client    provider.Client
	model     string
	maxTokens int
	options   map[string]any
}

func newChatter(client provider.Client, o *AskOptions) *chatter {
	return &chatter{client: client, model: o.Model, maxTokens: o.MaxTokens, options: map[string]any{
		"temperature": o.Temperature, "num_ctx": o.NumCtx,
	}}
}

func (c *chatter) Chat(ctx context.Context, msgs []answer.Message, fn func(string) error) error {
	req := ollama.ChatRequest{Model: c.model, Options: c.options, MaxTokens: c.maxTokens}
	for _, m := range msgs {
		req.Messages = append(req.Messages, ollama.Message{Role: m.Role, Content: m.Content})
	}
	err := c.client.Chat(ctx, req, fn)
	if errors.Is(err, ollama.ErrCutOff) {
		return answer.ErrCutOff
	}
	return err
}

// fit keeps the sources that fit in the model's context: the smaller of
// NumCtx and the context length the server reports for the model, less
// MaxTokens for the answer. Sources are dropped whole, the lowest ranked
// first. It sets the chat's num_ctx to the context used.
func (p *pipeline) fit(ctx context.Context, question string, sources []answer.Source) (kept, dropped []answer.Source, err error) {
	numCtx := p.o.NumCtx
	if n, err := p.chat.client.ContextLength(ctx, p.chat.model); err != nil {
		return nil, nil, err
	} else if n > 0 && n < numCtx {
		numCtx = n
	}
	p.chat.options["num_ctx"] = numCtx
	budget := numCtx - p.o.MaxTokens
	if budget <= 0 {
		// NumCtx is larger than MaxTokens (the faces check it): the
		// server's own context length is the smaller.
		return nil, nil, &AnswerRoomError{MaxTokens: p.o.MaxTokens, Model: p.chat.model, NumCtx: numCtx}
	}
	kept, dropped = p.o.Prompt.Fit(question, sources, budget, chunk.EstimateTokens)
	if len(kept) == 0 && len(sources) > 0 {
		return nil, nil, &NoRoomError{Budget: budget}
	}
	return kept, dropped, nil
}
