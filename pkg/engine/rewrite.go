package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/rewrite"
)

// Rewrite makes a follow-up of a conversation (history, the earlier
// turns) a question that stands on its own, with o's chat model: "and
// how long does it take?" after a question about a kettle becomes "How
// long does the kettle take to boil water?". With no history, or a
// rewrite not drawn from the conversation (a Note says so), the question
// is kept as typed; rewritten says whether it changed.
func (r *Reader) Rewrite(ctx context.Context, history []rewrite.Turn, question string, o AskOptions) (_ string, rewritten bool, _ error) {
	if len(history) == 0 {
		return question, false, nil
	}
	c := &Completer{Client: r.e.cfg.Models, Model: o.Model, Role: ollama.RoleChat, MaxTokens: 128,
		Options: map[string]any{"temperature": 0, "num_ctx": o.NumCtx}}
	r.events.emit(Stage{Step: StepRewrite})
	q, err := rewrite.Standalone(ctx, c, history, question)
	r.events.emit(Stage{Step: StepDone})
	var unusable *rewrite.UnusableError
	switch {
	case errors.As(err, &unusable):
		r.events.emit(Warning{Kind: NoteRewriteUnusable, Text: fmt.Sprintf("%v; searching for the question as typed", err), Note: true})
		return question, false, nil
	case err != nil:
		return "", false, fmt.Errorf("rewrite the question: %w", err)
	}
	return q, q != question, nil
}
