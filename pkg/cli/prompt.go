package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/filestat"
)

// maxPromptFile is the largest system prompt or examples file read: far
// more than any model's context, and a config file naming /dev/zero is
// refused rather than read.
const maxPromptFile = 1 << 20

// prompt is the prompt of an ask: rag's own, or the files that replace
// its system prompt and few-shot block (regular files only, as config).
func (o *AskOptions) prompt(ctx context.Context) (answer.Prompt, error) {
	p := answer.DefaultPrompt()
	if o.SystemPrompt != "" {
		data, err := filestat.ReadFile(ctx, o.SystemPrompt, maxPromptFile)
		if err != nil {
			return p, &hintedError{err: usagef("--system-prompt: %v", err), hint: "name a text file, or unset system_prompt: to use rag's own prompt"}
		}
		if strings.TrimSpace(string(data)) == "" {
			return p, usagef("--system-prompt: %s is empty", o.SystemPrompt)
		}
		p.System = string(data)
	}
	switch o.Examples {
	case "":
	case "none":
		p.Examples = nil
	default:
		data, err := filestat.ReadFile(ctx, o.Examples, maxPromptFile)
		if err != nil {
			return p, &hintedError{err: usagef("--examples: %v", err), hint: "name a YAML file of turns, or none"}
		}
		if p.Examples, err = answer.ParseExamples(bytes.NewReader(data)); err != nil {
			return p, &hintedError{err: usagef("--examples: %s: %v", o.Examples, err), hint: "each turn is - role: user (or assistant) and content: text, users and assistants in turn (see README, \"Prompts\")"}
		}
	}
	return p, nil
}

// noRoomError is a question whose best source alone does not fit in the
// model's context.
type noRoomError struct{ budget int }

func (e *noRoomError) Error() string {
	return fmt.Sprintf("the question and its best source do not fit in the %d tokens left for them", e.budget)
}

// fit keeps the sources that fit in the model's context: the smaller of
// --num-ctx and the context length the server reports for the model, less
// --max-tokens for the answer. Sources are dropped whole, the lowest
// ranked first. It sets the chat's num_ctx to the context used.
func (p *askPipeline) fit(ctx context.Context, question string, sources []answer.Source) (kept, dropped []answer.Source, err error) {
	numCtx := p.numCtx
	if n, err := p.q.Models().ContextLength(ctx, p.chat.model); err != nil {
		return nil, nil, err
	} else if n > 0 && n < numCtx {
		numCtx = n
	}
	p.chat.options["num_ctx"] = numCtx
	budget := numCtx - p.maxTokens
	if budget <= 0 {
		// --num-ctx was checked against --max-tokens: the server's own
		// context length is the smaller.
		return nil, nil, &hintedError{err: fmt.Errorf("--max-tokens %d leaves no room for the sources: %s's context holds %d tokens", p.maxTokens, p.chat.model, numCtx),
			hint: fmt.Sprintf("lower --max-tokens below %d", numCtx)}
	}
	kept, dropped = p.prompt.Fit(question, sources, budget, chunk.EstimateTokens)
	if len(kept) == 0 && len(sources) > 0 {
		return nil, nil, &hintedError{err: &noRoomError{budget: budget}, hint: "raise --num-ctx (if the model allows it) or lower --max-tokens or --chunk-tokens"}
	}
	return kept, dropped, nil
}

// writePrompt prints messages as they are sent, a header line each.
func writePrompt(w *strings.Builder, msgs []answer.Message) {
	for _, m := range msgs {
		fmt.Fprintf(w, "--- %s ---\n%s\n", m.Role, strings.TrimRight(m.Content, "\n"))
	}
}
