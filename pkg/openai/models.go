package openai

import (
	"context"
	"errors"
	"net/http"

	"github.com/rag-cli/rag/pkg/provider"
)

// modelInfo is one model of /models, with the context length the servers
// that say it write in their own fields: vLLM's max_model_len, LM
// Studio's max_context_length, OpenRouter's context_length, llama.cpp's
// meta.n_ctx_train.
type modelInfo struct {
	ID               string `json:"id"`
	MaxModelLen      int    `json:"max_model_len"`
	MaxContextLength int    `json:"max_context_length"`
	ContextLength    int    `json:"context_length"`
	ContextWindow    int    `json:"context_window"`
	Meta             struct {
		NCtxTrain int `json:"n_ctx_train"`
	} `json:"meta"`
}

func (m modelInfo) contextLength() int {
	for _, n := range []int{m.MaxModelLen, m.MaxContextLength, m.ContextLength, m.ContextWindow, m.Meta.NCtxTrain} {
		if n > 0 {
			return n
		}
	}
	return 0
}

// list reads /models once; a failure is not kept, so a later call asks
// again.
func (c *Client) list(ctx context.Context) ([]modelInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.models != nil {
		return c.models, nil
	}
	k := c.start(ctx, false)
	resp, err := c.send(k, request{method: http.MethodGet, path: "models", limit: replyBytes})
	var reply struct {
		Data []modelInfo `json:"data"`
	}
	if err == nil {
		err = c.readJSON(resp, &reply, "")
	}
	if err = k.end(c.Host(), err); err != nil {
		return nil, err
	}
	c.models = append([]modelInfo{}, reply.Data...)
	return c.models, nil
}

// Models lists the ids of /models.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	ms, err := c.list(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.ID
	}
	return names, nil
}

// Has reports whether /models lists the model (Ollama's /v1 lists
// "name:latest" for "name").
func (c *Client) Has(ctx context.Context, model string) (bool, error) {
	ms, err := c.list(ctx)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.ID == model || m.ID == model+":latest" {
			return true, nil
		}
	}
	return false, nil
}

// ContextLength is the smaller of the context length /models reports for
// the model and the provider's context_length setting (a server such as
// llama.cpp reports the trained length, and runs with the one it was
// started with); either alone when the other is unknown, 0 when neither
// is. A server without /models (a 404) says nothing.
func (c *Client) ContextLength(ctx context.Context, model string) (int, error) {
	ms, err := c.list(ctx)
	var status *provider.StatusError
	if errors.As(err, &status) && status.StatusCode == http.StatusNotFound {
		ms, err = nil, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.ID == model || m.ID == model+":latest" {
			n = m.contextLength()
		}
	}
	switch set := c.cfg.ContextLength; {
	case set > 0 && (n == 0 || set < n):
		return set, nil
	}
	return n, nil
}

// EmbedContextLength is ContextLength: the API has no other for
// embedding.
func (c *Client) EmbedContextLength(ctx context.Context, model string) (int, error) {
	return c.ContextLength(ctx, model)
}

var (
	_ provider.Client = (*Client)(nil)
	_ provider.Ranker = (*Client)(nil)
)
