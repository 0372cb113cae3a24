package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// Router is the Client of every model role: it sends each call to the
// client of the model name's provider ("local:qwen3" to the provider
// named local, as "qwen3") and any other name ("llama3.2:3b", whose part
// before the colon names no provider) to Default, as it is. Errors name
// the model as the user gave it and the provider that served it.
type Router struct {
	Default Client
	Named   map[string]Named
}

// Named is a configured provider's client.
type Named struct {
	Client Client
	// Type is the provider's type (ollama, openai), for messages.
	Type string
}

// Route is the client that serves model, the name that client knows it
// by, and the provider's name ("" for Default).
func (r *Router) Route(model string) (c Client, name, provider string) {
	if p, rest, ok := strings.Cut(model, ":"); ok {
		if n, ok := r.Named[p]; ok {
			return n.Client, rest, p
		}
	}
	return r.Default, model, ""
}

// Provider is the name of model's provider, "" for Default.
func (r *Router) Provider(model string) string {
	_, _, p := r.Route(model)
	return p
}

// name errors of a provider's call: the model as the user gave it and the
// provider, so that messages and hints name what to change.
func (r *Router) name(err error, model, provider string) error {
	if err == nil || provider == "" {
		return err
	}
	var (
		missing *ModelNotFoundError
		unreach *UnreachableError
		status  *StatusError
		pull    *PullError
	)
	if errors.As(err, &missing) {
		missing.Model, missing.Provider = model, provider
		_, isPuller := r.Named[provider].Client.(Puller)
		missing.NoPull = !isPuller
	}
	if errors.As(err, &unreach) {
		unreach.Provider = provider
	}
	if errors.As(err, &status) {
		status.Provider = provider
	}
	if errors.As(err, &pull) {
		pull.Model = model
	}
	return err
}

func (r *Router) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	c, name, p := r.Route(model)
	vecs, err := c.Embed(ctx, name, inputs)
	return vecs, r.name(err, model, p)
}

// EmbedWhole is Embed refusing to truncate where the provider's client
// can; elsewhere it is Embed.
func (r *Router) EmbedWhole(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	c, name, p := r.Route(model)
	embed := c.Embed
	if w, ok := c.(WholeEmbedder); ok {
		embed = w.EmbedWhole
	}
	vecs, err := embed(ctx, name, inputs)
	return vecs, r.name(err, model, p)
}

func (r *Router) EmbedContextLength(ctx context.Context, model string) (int, error) {
	c, name, p := r.Route(model)
	n, err := c.EmbedContextLength(ctx, name)
	return n, r.name(err, model, p)
}

func (r *Router) Chat(ctx context.Context, req ChatRequest, fn func(string) error) error {
	c, name, p := r.Route(req.Model)
	model := req.Model
	req.Model = name
	return r.name(c.Chat(ctx, req, fn), model, p)
}

func (r *Router) NextToken(ctx context.Context, req ChatRequest, top int) ([]TokenProb, error) {
	c, name, p := r.Route(req.Model)
	model := req.Model
	req.Model = name
	toks, err := c.NextToken(ctx, req, top)
	return toks, r.name(err, model, p)
}

// Rank scores docs against query where the provider's server has a
// re-ranking endpoint; ErrNoRank elsewhere (Ollama has none).
func (r *Router) Rank(ctx context.Context, model, query string, docs []string) ([]float32, error) {
	c, name, p := r.Route(model)
	rk, ok := c.(Ranker)
	if !ok {
		return nil, ErrNoRank
	}
	scores, err := rk.Rank(ctx, name, query, docs)
	return scores, r.name(err, model, p)
}

func (r *Router) ContextLength(ctx context.Context, model string) (int, error) {
	c, name, p := r.Route(model)
	n, err := c.ContextLength(ctx, name)
	return n, r.name(err, model, p)
}

// Models lists Default's models and every provider's, each of those
// with its prefix, sorted within each server. A server that does not
// answer is left out, unless none does.
func (r *Router) Models(ctx context.Context) ([]string, error) {
	out, err := r.Default.Models(ctx)
	names := make([]string, 0, len(r.Named))
	for n := range r.Named {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ms, perr := r.Named[n].Client.Models(ctx)
		if perr != nil {
			err = errors.Join(err, r.name(perr, "", n))
			continue
		}
		for _, m := range ms {
			out = append(out, n+":"+m)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, err
}

func (r *Router) Has(ctx context.Context, model string) (bool, error) {
	c, name, p := r.Route(model)
	ok, err := c.Has(ctx, name)
	return ok, r.name(err, model, p)
}

// Pull pulls model where its provider's server can; a NoPullError
// elsewhere.
func (r *Router) Pull(ctx context.Context, model string, fn func(PullProgress)) error {
	c, name, p := r.Route(model)
	pl, ok := c.(Puller)
	if !ok {
		typ := "openai"
		if p != "" {
			typ = r.Named[p].Type
		}
		return &NoPullError{Model: model, Provider: p, Type: typ}
	}
	return r.name(pl.Pull(ctx, name, fn), model, p)
}

// CanPull reports whether model's server can pull it.
func (r *Router) CanPull(model string) bool {
	c, _, _ := r.Route(model)
	_, ok := c.(Puller)
	return ok
}

var (
	_ Client        = (*Router)(nil)
	_ WholeEmbedder = (*Router)(nil)
	_ Puller        = (*Router)(nil)
	_ Ranker        = (*Router)(nil)
)
