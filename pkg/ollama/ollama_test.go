package ollama_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/ollamatest"
)

func client(t *testing.T, raw string) *ollama.Client {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ollama.New(u, nil)
}

func TestEmbedAndChat(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "emb", "chat")
	c := client(t, srv.URL)
	vecs, err := c.Embed(context.Background(), "emb", []string{"a b", "c"})
	if err != nil || len(vecs) != 2 || len(vecs[0]) != srv.Dims {
		t.Fatalf("Embed = %d vectors, %v", len(vecs), err)
	}
	var got strings.Builder
	err = c.Chat(context.Background(), ollama.ChatRequest{Model: "chat", Messages: []ollama.Message{{Role: "user", Content: "Sources:\n\n[1] a.md:1-1\nThe sky is blue.\n"}}},
		func(s string) error { got.WriteString(s); return nil })
	if err != nil || got.String() != "According to the documents, The sky is blue [1]." {
		t.Fatalf("Chat = %q, %v", got.String(), err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "emb")
	down := ollamatest.Start()
	down.Close()
	failing := ollamatest.New(t, "emb")
	failing.FailEmbeds(1)
	tests := []struct {
		name  string
		url   string
		model string
		check func(error) bool
	}{
		{"model missing", srv.URL, "nope", func(err error) bool {
			var e *ollama.ModelNotFoundError
			return errors.As(err, &e) && e.Model == "nope"
		}},
		{"server down", down.URL, "emb", func(err error) bool {
			var e *ollama.UnreachableError
			return errors.As(err, &e) && e.Host == down.URL && strings.Contains(e.Error(), "connection refused")
		}},
		{"server error", failing.URL, "emb", func(err error) bool {
			var u *ollama.UnreachableError
			var m *ollama.ModelNotFoundError
			return err != nil && !errors.As(err, &u) && !errors.As(err, &m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client(t, tt.url).Embed(context.Background(), tt.model, []string{"x"})
			if !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestChatCutShort(t *testing.T) {
	t.Parallel()
	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		srv := ollamatest.New(t, "chat")
		srv.SetResponder(func(_, _ string) string { return "one two three four five" })
		srv.SetChatPace(0, 200*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var got strings.Builder
		err := client(t, srv.URL).Chat(ctx, ollama.ChatRequest{Model: "chat"}, func(s string) error {
			got.WriteString(s)
			cancel() // Ctrl-C after the first token
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Chat = %v after %q, want context.Canceled", err, got.String())
		}
	})
	t.Run("connection dropped", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = io.WriteString(w, `{"model":"chat","message":{"role":"assistant","content":"half "},"done":false}`+"\n")
		}))
		defer srv.Close()
		err := client(t, srv.URL).Chat(context.Background(), ollama.ChatRequest{Model: "chat"}, func(string) error { return nil })
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Chat = %v, want an unexpected EOF", err)
		}
	})
}
