package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/openaitest"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/rewrite"
)

const secret = "sk-test-0123456789abcdef"

// client is a client of raw (the API's root) whose waits are recorded,
// not slept.
func client(t *testing.T, raw string, cfg Config) (*Client, *[]time.Duration) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = u
	c := New(cfg, nil)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		*waits = append(*waits, d)
		return ctx.Err()
	}
	return c, waits
}

func chatText(t *testing.T, c *Client, req provider.ChatRequest) (string, []string, error) {
	t.Helper()
	var pieces []string
	err := c.Chat(context.Background(), req, func(s string) error {
		pieces = append(pieces, s)
		return nil
	})
	return strings.Join(pieces, ""), pieces, err
}

func TestEmbedChatModels(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, "emb", "chat")
	c, _ := client(t, srv.URL, Config{})
	ctx := context.Background()
	vecs, err := c.Embed(ctx, "emb", []string{"a red ball", "a duck"})
	if err != nil || len(vecs) != 2 || len(vecs[0]) != 128 {
		t.Fatalf("Embed = %d vectors, %v", len(vecs), err)
	}
	if want := ollamatest.Embed("a duck", 128); fmt.Sprint(vecs[1]) != fmt.Sprint(want) {
		t.Fatalf("second vector is not the second input's")
	}
	text, pieces, err := chatText(t, c, provider.ChatRequest{Model: "chat", Messages: []provider.Message{{Role: "user", Content: "Sources:\n\n[1] a.md:1-1\nThe sky is blue.\n"}}})
	if err != nil || text != "According to the documents, The sky is blue [1]." || len(pieces) < 2 {
		t.Fatalf("Chat = %q in %d pieces, %v", text, len(pieces), err)
	}
	names, err := c.Models(ctx)
	if err != nil || len(names) != 2 {
		t.Fatalf("Models = %v, %v", names, err)
	}
	if has, err := c.Has(ctx, "chat"); !has || err != nil {
		t.Fatalf("Has(chat) = %v, %v", has, err)
	}
	if has, err := c.Has(ctx, "nope"); has || err != nil {
		t.Fatalf("Has(nope) = %v, %v", has, err)
	}
}

// stream serves one streamed completion of the given events (each a
// data: line's JSON, or raw lines starting with ":" or "data:").
func stream(t *testing.T, lines ...string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, l := range lines {
			if !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "data:") {
				l = "data: " + l
			}
			fmt.Fprintf(w, "%s\n\n", l)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func piece(text string) string {
	return fmt.Sprintf(`{"choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`, text)
}

func finish(reason string) string {
	return fmt.Sprintf(`{"choices":[{"index":0,"delta":{},"finish_reason":%q}]}`, reason)
}

func TestStreamPieces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		lines     []string
		maxTokens int
		want      []string
		check     func(error) bool
	}{
		{"whole", []string{`{"choices":[{"delta":{"role":"assistant"}}]}`, piece("Hel"), ": a comment", piece("lo"), piece(" world"), finish("stop"), "data: [DONE]"}, 0,
			[]string{"Hel", "lo", " world"}, func(err error) bool { return err == nil }},
		{"no [DONE] after finish", []string{piece("a"), finish("stop")}, 0, []string{"a"}, func(err error) bool { return err == nil }},
		{"cut by the server", []string{piece("a "), piece("b"), finish("length"), "data: [DONE]"}, 0, []string{"a ", "b"},
			func(err error) bool { return errors.Is(err, provider.ErrCutOff) }},
		{"cut by the client", []string{piece("a "), piece("b "), piece("c "), piece("d"), finish("stop"), "data: [DONE]"}, 2, []string{"a ", "b "},
			func(err error) bool { return errors.Is(err, provider.ErrCutOff) }},
		{"dropped", []string{piece("a "), piece("b")}, 0, []string{"a ", "b"}, func(err error) bool {
			var d *provider.DroppedError
			return errors.As(err, &d) && d.Answer
		}},
		{"error mid-answer", []string{piece("a "), `{"error":{"message":"out of memory"}}`}, 0, []string{"a "}, func(err error) bool {
			var s *provider.StatusError
			return errors.As(err, &s) && strings.Contains(err.Error(), "out of memory")
		}},
		{"not JSON", []string{piece("a"), "data: {oops"}, 0, []string{"a"}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "not the JSON") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := client(t, stream(t, tt.lines...), Config{})
			_, pieces, err := chatText(t, c, provider.ChatRequest{Model: "m", MaxTokens: tt.maxTokens})
			if !tt.check(err) || fmt.Sprint(pieces) != fmt.Sprint(tt.want) {
				t.Fatalf("pieces %q, err %v", pieces, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, "emb")
	srv.RequireKey(secret)
	srv.SetContextLength(5)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/v1"
	down.Close()
	tests := []struct {
		name  string
		url   string
		key   string
		model string
		input string
		check func(error) bool
	}{
		{"wrong key", srv.URL, "sk-wrong", "emb", "x", func(err error) bool {
			var s *provider.StatusError
			return errors.As(err, &s) && s.StatusCode == 401 && s.KeyEnv == "TEST_KEY" && s.KeySet && !s.Temporary()
		}},
		{"no key", srv.URL, "", "emb", "x", func(err error) bool {
			var s *provider.StatusError
			return errors.As(err, &s) && s.StatusCode == 401 && !s.KeySet
		}},
		{"unknown model", srv.URL, secret, "nope", "x", func(err error) bool {
			var m *provider.ModelNotFoundError
			return errors.As(err, &m) && m.Model == "nope" && m.Role == provider.RoleEmbed && m.NoPull
		}},
		{"unreachable", downURL, secret, "emb", "x", func(err error) bool {
			var u *provider.UnreachableError
			return errors.As(err, &u) && strings.Contains(err.Error(), "connection refused")
		}},
		{"too long", srv.URL, secret, "emb", "one two three four five six", func(err error) bool {
			var s *provider.StatusError
			return errors.Is(err, provider.ErrTooLong) && errors.As(err, &s) && s.StatusCode == 400
		}},
		{"wrong base URL", strings.TrimSuffix(srv.URL, "/v1"), secret, "emb", "x", func(err error) bool {
			var s *provider.StatusError
			var m *provider.ModelNotFoundError
			return errors.As(err, &s) && s.StatusCode == 404 && !errors.As(err, &m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := client(t, tt.url, Config{APIKey: tt.key, KeyEnv: "TEST_KEY"})
			_, err := c.Embed(context.Background(), tt.model, []string{tt.input})
			if !tt.check(err) {
				t.Fatalf("err = %#v (%v)", err, err)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		limited   int
		after     string
		wantWaits []time.Duration
		wantErr   bool
	}{
		{"Retry-After seconds", 2, "7", []time.Duration{7 * time.Second, 7 * time.Second}, false},
		{"Retry-After capped", 1, "3600", []time.Duration{time.Minute}, false},
		{"Retry-After zero", 1, "0", []time.Duration{0}, false},
		{"doubling without Retry-After", 3, "", []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, false},
		{"gives up", 9, "1", []time.Duration{time.Second, time.Second, time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New(t, "emb")
			srv.RateLimit(tt.limited, tt.after)
			c, waits := client(t, srv.URL, Config{})
			_, err := c.Embed(context.Background(), "emb", []string{"x"})
			var s *provider.StatusError
			if tt.wantErr != (errors.As(err, &s) && s.StatusCode == 429 && s.Temporary()) || !tt.wantErr && err != nil {
				t.Fatalf("err = %v", err)
			}
			if fmt.Sprint(*waits) != fmt.Sprint(tt.wantWaits) {
				t.Fatalf("waits %v, want %v", *waits, tt.wantWaits)
			}
			if n := srv.Requests("/v1/embeddings"); n != len(tt.wantWaits)+1 {
				t.Fatalf("%d requests", n)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		if d, ok := retryAfter(tt.value, now); d != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v", tt.value, d, ok)
		}
	}
}

func TestSchemaFallback(t *testing.T) {
	t.Parallel()
	schema := json.RawMessage(`{"type":"object","properties":{"question":{"type":"string"}}}`)
	req := provider.ChatRequest{Model: "chat", Format: schema, Messages: []provider.Message{
		{Role: "system", Content: rewrite.StandalonePrompt}, {Role: "user", Content: "User: owls?\nLast message: and where?"},
	}}
	t.Run("supported", func(t *testing.T) {
		t.Parallel()
		srv := openaitest.New(t, "chat")
		c, _ := client(t, srv.URL, Config{})
		if _, _, err := chatText(t, c, req); err != nil {
			t.Fatal(err)
		}
		rf, _ := srv.Bodies()[0]["response_format"].(map[string]any)
		if rf["type"] != "json_schema" || rf["json_schema"].(map[string]any)["schema"] == nil {
			t.Fatalf("response_format = %v", rf)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		srv := openaitest.New(t, "chat")
		srv.RejectSchema()
		c, _ := client(t, srv.URL, Config{})
		for range 2 {
			text, pieces, err := chatText(t, c, req)
			// The fake writes its JSON in a code fence when not held to
			// a format: the client takes the fence off.
			if err != nil || len(pieces) != 1 || !json.Valid([]byte(text)) {
				t.Fatalf("Chat = %q in %d pieces, %v", text, len(pieces), err)
			}
		}
		var sent []any
		for _, b := range srv.Bodies() {
			rf, _ := b["response_format"].(map[string]any)
			sent = append(sent, rf["type"])
		}
		// The second call goes straight to what the server takes.
		if fmt.Sprint(sent) != "[json_schema json_object <nil> <nil>]" {
			t.Fatalf("response_format sent: %v", sent)
		}
	})
}

func TestNextTokenAndRank(t *testing.T) {
	t.Parallel()
	query := "duck pond"
	docs := []string{"A cat sleeps.", "A duck swims in the pond."}
	srv := openaitest.New(t, "judge")
	c, _ := client(t, srv.URL, Config{})
	ctx := context.Background()
	toks, err := c.NextToken(ctx, provider.ChatRequest{Model: "judge", Messages: []provider.Message{{Role: "user", Content: "Query: duck pond\n\nPassage:\nA duck swims in the pond."}}}, 10)
	if err != nil || len(toks) != 2 || toks[0].Token != "yes" {
		t.Fatalf("NextToken = %v, %v", toks, err)
	}
	// No /v1/rerank: ErrNoRank, asked once.
	for range 2 {
		if _, err := c.Rank(ctx, "judge", query, docs); !errors.Is(err, provider.ErrNoRank) {
			t.Fatalf("Rank without endpoint: %v", err)
		}
	}
	if n := srv.Requests("/v1/rerank"); n != 1 {
		t.Fatalf("%d rerank requests", n)
	}
	withRank := openaitest.New(t, "judge")
	withRank.EnableRerank()
	c2, _ := client(t, withRank.URL, Config{})
	scores, err := c2.Rank(ctx, "judge", query, docs)
	if err != nil || len(scores) != 2 || scores[1] < 0.9 || scores[0] > 0.1 {
		t.Fatalf("Rank = %v, %v", scores, err)
	}
	chatOnly, _ := client(t, withRank.URL, Config{Rerank: RerankChat})
	if _, err := chatOnly.Rank(ctx, "judge", query, docs); !errors.Is(err, provider.ErrNoRank) {
		t.Fatalf("rerank: chat: %v", err)
	}
}

func TestContextLength(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, "m")
	srv.SetContextLength(4096)
	bare := openaitest.New(t, "m")
	tests := []struct {
		name   string
		url    string
		config int
		want   int
	}{
		{"server", srv.URL, 0, 4096},
		{"config smaller", srv.URL, 2048, 2048},
		{"config larger", srv.URL, 8192, 4096},
		{"config alone", bare.URL, 2048, 2048},
		{"neither", bare.URL, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := client(t, tt.url, Config{ContextLength: tt.config})
			if n, err := c.ContextLength(context.Background(), "m"); n != tt.want || err != nil {
				t.Fatalf("ContextLength = %d, %v", n, err)
			}
		})
	}
}

// TestKeyNeverShown: a server that repeats the key in its errors does not
// get it into rag's error text; the key goes only into the request's
// Authorization header.
func TestKeyNeverShown(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, "m")
	srv.RequireKey("sk-right")
	srv.EchoKey()
	c, _ := client(t, srv.URL, Config{APIKey: secret, KeyEnv: "TEST_KEY"})
	ctx := context.Background()
	var errs []error
	_, err := c.Embed(ctx, "m", []string{"x"})
	errs = append(errs, err)
	_, _, err = chatText(t, c, provider.ChatRequest{Model: "m"})
	errs = append(errs, err)
	_, err = c.NextToken(ctx, provider.ChatRequest{Model: "m"}, 5)
	errs = append(errs, err)
	_, err = c.Models(ctx)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%#v", err), secret) {
			t.Fatalf("call %d: error %v", i, err)
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Fatalf("call %d: the echoed key is not marked: %v", i, err)
		}
	}
}

// FuzzReadStream: any body of a streamed answer ends the answer without
// a panic, within its limits: at most maxTokens pieces of text, of at
// most 64 bytes a token.
func FuzzReadStream(f *testing.F) {
	for _, s := range []string{
		"data: " + piece("a") + "\n\ndata: " + finish("stop") + "\n\ndata: [DONE]\n\n",
		"data: {\"error\":{\"message\":\"x\"}}\n", ": c\n\nevent: x\ndata:\n\n", "data: {\"choices\":[{\"delta\":{\"content\":1}}]}\n",
		"data: " + piece(strings.Repeat("é", 200)) + "\n", "",
	} {
		f.Add([]byte(s))
	}
	u, _ := url.Parse("http://h/v1")
	f.Fuzz(func(t *testing.T, body []byte) {
		c := New(Config{BaseURL: u}, nil)
		req, _ := http.NewRequest(http.MethodPost, "http://h/v1/chat/completions", nil)
		resp := &http.Response{StatusCode: 200, Request: req, Body: &boundBody{rc: io.NopCloser(bytes.NewReader(body)), limit: 1 << 20}}
		const maxTokens = 4
		var pieces, size int
		_, _, _ = c.readStream(c.start(context.Background(), true), resp, maxTokens, 2*maxTokens+64, func(s string) error {
			pieces++
			size += len(s)
			return nil
		})
		if pieces > maxTokens || size > maxTokens*tokenBytes {
			t.Fatalf("%d pieces, %d bytes", pieces, size)
		}
	})
}

// FuzzErrorText: any error body reads as a message without a panic.
func FuzzErrorText(f *testing.F) {
	for _, s := range []string{`{"error":{"message":"m","code":"c"}}`, `{"error":"m"}`, `{"detail":[{"loc":1}]}`, `{"message":"m"}`, `oops`, `{"error":{"code":404}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = errorText(body)
	})
}

// TestAdapt: a server that wants max_completion_tokens and takes no
// temperature (OpenAI's reasoning models) is asked again as it wants, and
// the client remembers.
func TestAdapt(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case body["max_tokens"] != nil:
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","code":"unsupported_parameter"}}`)
		case body["temperature"] != nil:
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"message":"Unsupported value: 'temperature' does not support 0 with this model.","code":"unsupported_value"}}`)
		default:
			fmt.Fprint(w, `{"choices":[{"logprobs":{"content":[{"token":"yes","logprob":-0.1,"top_logprobs":[{"token":"yes","logprob":-0.1}]}]}}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	c, _ := client(t, srv.URL+"/v1", Config{})
	for range 2 {
		if toks, err := c.NextToken(context.Background(), provider.ChatRequest{Model: "o"}, 5); err != nil || len(toks) != 1 {
			t.Fatalf("NextToken = %v, %v", toks, err)
		}
	}
	if len(bodies) != 4 {
		t.Fatalf("%d requests, want 3 for the first call and 1 for the second", len(bodies))
	}
}
