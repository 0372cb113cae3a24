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

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/ollama"
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

func TestModelsHasPull(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "emb", "chat:7b")
	srv.Registry("new")
	c := client(t, srv.URL)
	ctx := context.Background()
	names, err := c.Models(ctx)
	if err != nil || strings.Join(names, ",") != "chat:7b,emb:latest" {
		t.Fatalf("Models = %q, %v", names, err)
	}
	tests := []struct {
		model string
		want  bool
	}{{"emb", true}, {"emb:latest", true}, {"chat:7b", true}, {"chat", false}, {"new", false}}
	for _, tt := range tests {
		t.Run("has "+tt.model, func(t *testing.T) {
			if got, err := c.Has(ctx, tt.model); err != nil || got != tt.want {
				t.Errorf("Has(%s) = %v, %v; want %v", tt.model, got, err, tt.want)
			}
		})
	}

	t.Run("pull streams progress and the model becomes known", func(t *testing.T) {
		var steps []ollama.PullProgress
		if err := c.Pull(ctx, "new", func(p ollama.PullProgress) { steps = append(steps, p) }); err != nil {
			t.Fatal(err)
		}
		if len(steps) < 4 || steps[0].Status != "pulling manifest" || steps[len(steps)-1].Status != "success" {
			t.Errorf("steps = %+v", steps)
		}
		var layer bool
		for _, s := range steps {
			if s.Total > 0 && s.Completed == s.Total && strings.HasPrefix(s.Digest, "sha256:") && strings.HasPrefix(s.Status, "pulling ") {
				layer = true
			}
		}
		if !layer {
			t.Errorf("no completed layer in %+v", steps)
		}
		if ok, err := c.Has(ctx, "new"); !ok || err != nil {
			t.Errorf("after the pull Has = %v, %v", ok, err)
		}
	})
	t.Run("pull of a model the registry lacks", func(t *testing.T) {
		err := c.Pull(ctx, "nope", nil)
		var pe *ollama.PullError
		if !errors.As(err, &pe) || pe.Model != "nope" || !strings.Contains(err.Error(), "file does not exist") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		down := ollamatest.Start()
		down.Close()
		d := client(t, down.URL)
		var unreach *ollama.UnreachableError
		if _, err := d.Models(ctx); !errors.As(err, &unreach) {
			t.Errorf("Models: %v", err)
		}
		if _, err := d.Has(ctx, "x"); !errors.As(err, &unreach) {
			t.Errorf("Has: %v", err)
		}
		if err := d.Pull(ctx, "x", nil); !errors.As(err, &unreach) {
			t.Errorf("Pull: %v", err)
		}
	})
}

// A missing model names the role it was asked for, so the hint can name
// the flag that chose it.
func TestMissingModelRole(t *testing.T) {
	t.Parallel()
	c := client(t, ollamatest.New(t, "emb").URL)
	ctx := context.Background()
	req := ollama.ChatRequest{Model: "nope", Messages: []ollama.Message{{Role: "user", Content: "x"}}}
	tests := []struct {
		name string
		call func() error
		role ollama.Role
	}{
		{"embed", func() error { _, err := c.Embed(ctx, "nope", []string{"x"}); return err }, ollama.RoleEmbed},
		{"chat", func() error { return c.Chat(ctx, req, func(string) error { return nil }) }, ollama.RoleChat},
		{"next token", func() error { _, err := c.NextToken(ctx, req, 5); return err }, ollama.RoleJudge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e *ollama.ModelNotFoundError
			if err := tt.call(); !errors.As(err, &e) || e.Model != "nope" || e.Role != tt.role {
				t.Fatalf("err = %#v, want a missing %s model", err, tt.role)
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

// Which error answers may pass if asked again, and which say an input is
// too long for the model: Ollama's own answers (v0.17.4's messages).
func TestStatusErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		temporary bool
		tooLong   bool
	}{
		{"runner: too long", 400, `{"error":"the input length exceeds the context length"}`, false, true},
		{"server: cannot truncate", 400, `{"error":"input exceeds maximum context length and cannot be truncated further"}`, false, true},
		{"server: still too long", 400, `{"error":"input after truncation exceeds maximum context length"}`, false, true},
		{"bad input", 400, `{"error":"invalid input type"}`, false, false},
		{"unauthorized", 401, `{"error":"unauthorized"}`, false, false},
		{"request timeout", 408, `{"error":"timeout"}`, true, false},
		{"too many requests", 429, `{"error":"server busy"}`, true, false},
		{"server error", 500, `{"error":"llama runner process has terminated"}`, true, false},
		{"busy", 503, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`, true, false},
		{"gateway", 502, `Bad Gateway`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := client(t, srv.URL).EmbedWhole(context.Background(), "m", []string{"x"})
			var status *ollama.StatusError
			if !errors.As(err, &status) || status.StatusCode != tt.status {
				t.Fatalf("err = %#v, want a StatusError %d", err, tt.status)
			}
			if status.Temporary() != tt.temporary || errors.Is(err, ollama.ErrTooLong) != tt.tooLong {
				t.Errorf("%v: temporary %v, too long %v", err, status.Temporary(), errors.Is(err, ollama.ErrTooLong))
			}
			if !strings.HasPrefix(err.Error(), "ollama: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// EmbedWhole refuses an input longer than the context where Embed has it
// truncated; EmbedContextLength reads the context from /api/show.
func TestEmbedWholeAndContextLength(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "emb")
	c := client(t, srv.URL)
	ctx := context.Background()
	if n, err := c.EmbedContextLength(ctx, "emb"); err != nil || n != 8192 {
		t.Fatalf("EmbedContextLength = %d, %v; want the trained 8192", n, err)
	}
	srv.LimitEmbedInput(20)
	if n, err := c.EmbedContextLength(ctx, "emb"); err != nil || n != 20 {
		t.Fatalf("EmbedContextLength = %d, %v; want num_ctx 20", n, err)
	}
	if n, err := c.ContextLength(ctx, "emb"); err != nil || n != 8192 {
		t.Fatalf("ContextLength = %d, %v; want the trained 8192 (chat sets its own num_ctx)", n, err)
	}
	long := strings.Repeat("word ", 20)
	if _, err := c.Embed(ctx, "emb", []string{"short", long}); err != nil {
		t.Fatalf("Embed truncates: %v", err)
	}
	_, err := c.EmbedWhole(ctx, "emb", []string{"short", long})
	if !errors.Is(err, ollama.ErrTooLong) || err.Error() != "ollama: the input length exceeds the context length" {
		t.Fatalf("EmbedWhole: err = %v", err)
	}
	if vecs, err := c.EmbedWhole(ctx, "emb", []string{"short"}); err != nil || len(vecs) != 1 {
		t.Fatalf("EmbedWhole of a short input = %d vectors, %v", len(vecs), err)
	}
	if _, err := c.EmbedContextLength(ctx, "nope"); err == nil {
		t.Fatal("a missing model has a context length")
	}
}
