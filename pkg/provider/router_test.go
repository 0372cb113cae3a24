package provider_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/openaitest"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/openai"
	"github.com/rag-cli/rag/pkg/provider"
)

func router(t *testing.T) (*provider.Router, *ollamatest.Server, *openaitest.Server) {
	t.Helper()
	oll := ollamatest.New(t, "llama3.2:3b", "emb")
	oai := openaitest.New(t, "qwen3", "emb")
	ou, _ := url.Parse(oll.URL)
	au, _ := url.Parse(oai.URL)
	return &provider.Router{
		Default: ollama.New(ou, nil),
		Named:   map[string]provider.Named{"local": {Client: openai.New(openai.Config{BaseURL: au}, nil), Type: "openai"}},
	}, oll, oai
}

func TestRoute(t *testing.T) {
	t.Parallel()
	r, oll, oai := router(t)
	tests := []struct {
		model, name, provider string
	}{
		{"local:qwen3", "qwen3", "local"},
		{"local:org/model:q4", "org/model:q4", "local"},
		{"llama3.2:3b", "llama3.2:3b", ""}, // llama3.2 is no provider
		{"emb", "emb", ""},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			_, name, p := r.Route(tt.model)
			if name != tt.name || p != tt.provider {
				t.Fatalf("Route(%q) = %q, %q", tt.model, name, p)
			}
		})
	}
	ctx := context.Background()
	if _, err := r.Embed(ctx, "local:emb", []string{"x"}); err != nil || oai.Requests("/v1/embeddings") != 1 || oll.EmbedRequests() != 0 {
		t.Fatalf("local:emb went elsewhere: %v", err)
	}
	if _, err := r.Embed(ctx, "emb", []string{"x"}); err != nil || oll.EmbedRequests() != 1 {
		t.Fatalf("emb went elsewhere: %v", err)
	}
}

func TestRouterNamesErrors(t *testing.T) {
	t.Parallel()
	r, _, _ := router(t)
	ctx := context.Background()
	_, err := r.Embed(ctx, "local:nope", []string{"x"})
	var missing *provider.ModelNotFoundError
	if !errors.As(err, &missing) || missing.Model != "local:nope" || missing.Provider != "local" || !missing.NoPull {
		t.Fatalf("err = %#v", err)
	}
	_, err = r.Embed(ctx, "nope", []string{"x"})
	if !errors.As(err, &missing) || missing.Model != "nope" || missing.Provider != "" || missing.NoPull {
		t.Fatalf("err = %#v", err)
	}
	if err.Error() != `model "nope" is not available on the Ollama server` {
		t.Fatalf("Ollama's message changed: %v", err)
	}
	var noPull *provider.NoPullError
	if err := r.Pull(ctx, "local:qwen3", nil); !errors.As(err, &noPull) || noPull.Provider != "local" {
		t.Fatalf("Pull = %v", err)
	}
	if _, err := r.Rank(ctx, "emb", "q", []string{"d"}); !errors.Is(err, provider.ErrNoRank) {
		t.Fatalf("Rank on Ollama = %v", err)
	}
	names, err := r.Models(ctx)
	if err != nil || len(names) != 4 {
		t.Fatalf("Models = %v, %v", names, err)
	}
}
