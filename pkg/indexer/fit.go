package indexer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/store"
)

// minPiece is the smallest piece, in estimated tokens, a chunk is cut into
// to fit the model's context: a smaller one says too little to be found by.
const minPiece = 16

// TooLongError is a chunk too long for the model's context that could not
// be cut into pieces that fit: its file is not indexed.
type TooLongError struct {
	Model              string
	StartLine, EndLine int
	// Context is the model's context length in tokens, 0 if unknown.
	Context int
	// Heading is set when the chunk's heading path alone (embedded with
	// every piece) is too long.
	Heading bool
}

func (e *TooLongError) Error() string {
	what := fmt.Sprintf("lines %d-%d are", e.StartLine, e.EndLine)
	if e.Heading {
		what = fmt.Sprintf("the heading of lines %d-%d is", e.StartLine, e.EndLine)
	}
	limit := ""
	if e.Context > 0 {
		limit = fmt.Sprintf(" of %d tokens", e.Context)
	}
	if e.Heading {
		return fmt.Sprintf("%s too long for the context%s of %s", what, limit, e.Model)
	}
	return fmt.Sprintf("%s too long for the context%s of %s, even cut in pieces of %d tokens", what, limit, e.Model, minPiece)
}

// Unwrap makes it embed.ErrTooLong.
func (e *TooLongError) Unwrap() error { return embed.ErrTooLong }

// contextLengther is an Embedder that can say how many tokens its model
// embeds at once (embed.Model).
type contextLengther interface {
	ContextLength(ctx context.Context) (int, error)
}

// fit makes what can be embedded of a chunk the model refused for why:
// the chunk cut into pieces that fit its context, each embedded and
// citing its own lines; or, when it cannot be (refused for another
// reason, or no cut fits), the failure of its file. err is an error that
// stops the run (the server went away).
func (pl *pipeline) fit(ctx context.Context, c store.Chunk, lines []int, why error) (pieces []store.Chunk, failure, err error) {
	if !errors.Is(why, embed.ErrTooLong) {
		return nil, fmt.Errorf("lines %d-%d cannot be embedded: %w", c.StartLine, c.EndLine, why), nil
	}
	pl.refusedAt(chunk.EstimateTokens(EmbedText(c)))
	ctxLen, err := pl.contextLength(ctx)
	if err != nil {
		return nil, nil, err
	}
	// The model counts its own tokens, rag only estimates them: halve the
	// chunk, or cut it to well within the context, or to the size that fit
	// before, if smaller, and halve again any piece still refused.
	target := chunk.EstimateTokens(c.Text) / 2
	if ctxLen > 0 {
		target = min(target, ctxLen*3/4-chunk.EstimateTokens(c.Heading))
	}
	if fit := pl.fitSize(); fit > 0 {
		target = min(target, fit)
	}
	return pl.cut(ctx, c, lines, target)
}

// cut cuts c into pieces of target estimated tokens and embeds them,
// cutting again those refused as too long, down to minPiece.
func (pl *pipeline) cut(ctx context.Context, c store.Chunk, lines []int, target int) (pieces []store.Chunk, failure, err error) {
	if head := chunk.EstimateTokens(c.Heading); target < max(minPiece, head) {
		return nil, &TooLongError{Model: pl.opt.Model, StartLine: c.StartLine, EndLine: c.EndLine, Context: pl.ctxLen, Heading: head >= minPiece && target < head}, nil
	}
	cuts := chunk.Cut(c.Text, lines, target)
	out := make([]store.Chunk, len(cuts))
	texts := make([]string, len(cuts))
	for i, p := range cuts {
		out[i] = store.Chunk{StartLine: p.StartLine(), EndLine: p.EndLine(), Page: c.Page, Heading: c.Heading, Text: p.Text}
		texts[i] = EmbedText(out[i])
	}
	vecs, refused, err := pl.embedBatch(ctx, texts, nil)
	if err != nil {
		return nil, nil, err
	}
	for i := range out {
		if refused[i] == nil {
			out[i].Vector = vecs[i]
			pieces = append(pieces, out[i])
			pl.fitted(target)
			continue
		}
		if !errors.Is(refused[i], embed.ErrTooLong) {
			return nil, fmt.Errorf("lines %d-%d cannot be embedded: %w", out[i].StartLine, out[i].EndLine, refused[i]), nil
		}
		more, failure, err := pl.cut(ctx, out[i], cuts[i].Lines, chunk.EstimateTokens(cuts[i].Text)/2)
		if failure != nil || err != nil {
			return nil, failure, err
		}
		pieces = append(pieces, more...)
	}
	return pieces, nil, nil
}

// contextLength asks the embedder once a run for its model's context
// length. A server that cannot say (an error other than the run's end)
// leaves it unknown: halving what is refused finds what fits.
func (pl *pipeline) contextLength(ctx context.Context) (int, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.ctxAsked {
		return pl.ctxLen, nil
	}
	cl, ok := pl.emb.(contextLengther)
	if !ok {
		pl.ctxAsked = true
		return 0, nil
	}
	n, err := cl.ContextLength(ctx)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	pl.ctxAsked = true
	if err == nil {
		pl.ctxLen = n
	}
	return pl.ctxLen, nil
}

// fitted notes that pieces of target estimated tokens fit the model.
func (pl *pipeline) fitted(target int) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.fitTokens = max(pl.fitTokens, target)
}

// fitSize is the largest cut that fit the model so far, 0 if none.
func (pl *pipeline) fitSize() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.fitTokens
}

// embedBatch embeds texts but those of long (known to be too long), and
// says why the model refused each text it has no vector for (ErrTooLong
// for those of long); err is an error that stops the run.
func (pl *pipeline) embedBatch(ctx context.Context, texts []string, long []int) (vecs [][]float32, refused []error, err error) {
	vecs, refused = make([][]float32, len(texts)), make([]error, len(texts))
	send, at := texts, []int(nil)
	if len(long) > 0 {
		send = nil
		for i, t := range texts {
			if slices.Contains(long, i) {
				refused[i] = embed.ErrTooLong
				continue
			}
			send, at = append(send, t), append(at, i)
		}
	}
	if len(send) == 0 {
		return vecs, refused, nil
	}
	got, err := pl.emb.Embed(ctx, send)
	var rej *embed.RefusedError
	if errors.As(err, &rej) {
		got, err = rej.Vectors, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if len(got) != len(send) {
		return nil, nil, fmt.Errorf("embedder returned %d vectors for %d texts", len(got), len(send))
	}
	for j, v := range got {
		i := j
		if at != nil {
			i = at[j]
		}
		vecs[i] = v
		if rej != nil {
			refused[i] = rej.Errs[j]
		}
	}
	return vecs, refused, nil
}

// refusedAt notes that the model refused a text of n estimated tokens as
// too long for its context.
func (pl *pipeline) refusedAt(n int) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.minRefused == 0 || n < pl.minRefused {
		pl.minRefused = n
	}
}

// tooLong is the size, in estimated tokens, from which a text is taken to
// be too long for the model without asking it: the smallest it refused
// as too long (0 until it refused one). Asking costs a request per
// halving of a batch; a text cut that would have fit only loses some
// length per chunk, never text or citations.
func (pl *pipeline) tooLong() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.minRefused
}
