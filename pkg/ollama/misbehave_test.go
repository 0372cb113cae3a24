package ollama_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/ollama"
)

// A misbehaving server must cost a call no more than its bounds: each
// case would hang (or grow memory) for the test's whole deadline without
// them, so each also checks that it failed well before that.

// testDeadline stands in for a user who gives up: a call must end long
// before it.
const testDeadline = 10 * time.Second

// timeout is the client's Timeout where a case tests it: short, yet long
// enough for a machine under load.
const timeout = 500 * time.Millisecond

// serve runs handler on a test server and returns a client with timeout.
func serve(t *testing.T, timeout time.Duration, handler http.HandlerFunc) *ollama.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c := client(t, srv.URL)
	c.Timeout = timeout
	return c
}

// flood writes s again and again until the client goes away, at most about
// 50 MB a second, so that a client that does not stop (the bug) grows to a
// few hundred MB in a test, not to the machine's memory.
func flood(w http.ResponseWriter, r *http.Request, s string) {
	flusher, _ := w.(http.Flusher)
	block := strings.Repeat(s, max(1, (1<<20)/len(s)))
	for {
		if _, err := io.WriteString(w, block); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// trickle writes s one byte at a time every pause: a slow loris.
func trickle(w http.ResponseWriter, r *http.Request, s string, pause time.Duration) {
	flusher, _ := w.(http.Flusher)
	for i := 0; ; i++ {
		if _, err := io.WriteString(w, s[i%len(s):i%len(s)+1]); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(pause):
		}
	}
}

// hang never answers. It reads the request first: the server notices a
// client gone only then.
func hang(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// chatLine is one message of a streamed answer.
func chatLine(content string, done bool, reason string) string {
	return fmt.Sprintf(`{"model":"chat","message":{"role":"assistant","content":%q},"done":%v,"done_reason":%q}`+"\n", content, done, reason)
}

// drop closes the connection at once, mid-reply.
func drop(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func TestMisbehavingEmbed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
		within  time.Duration
	}{
		{"announces 10 GB", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(int64(10)<<30))
			_, _ = io.WriteString(w, `{"model":"emb","embeddings":[[`)
			flood(w, r, "0.125,")
		}, func(err error) bool {
			var e *ollama.ReplyTooLargeError
			return errors.As(err, &e) && e.Announced == 10<<30 && strings.Contains(err.Error(), "announced a reply of 10.0 GiB")
		}, 0},
		{"sends without end", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"model":"emb","embeddings":[[`)
			flood(w, r, "0.125,")
		}, func(err error) bool {
			var e *ollama.ReplyTooLargeError
			return errors.As(err, &e) && e.Announced == -1 && e.Path == "/api/embed"
		}, 0},
		{"an endless error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"`)
			flood(w, r, "x")
		}, func(err error) bool {
			var e *ollama.ReplyTooLargeError
			return errors.As(err, &e) && e.Limit == 1<<20
		}, 0},
		{"slow loris", func(w http.ResponseWriter, r *http.Request) {
			trickle(w, r, `{"model":"emb","embeddings":[[0.5, 0.5]]}                `, 20*time.Millisecond)
		}, func(err error) bool {
			var e *ollama.TimeoutError
			return errors.As(err, &e) && !e.Stream && errors.Is(err, context.DeadlineExceeded)
		}, 3 * time.Second},
		{"never answers", func(w http.ResponseWriter, r *http.Request) {
			hang(r)
		}, func(err error) bool {
			var e *ollama.TimeoutError
			return errors.As(err, &e) && strings.Contains(err.Error(), "did not answer within 500ms")
		}, 3 * time.Second},
		{"closes the connection mid-reply", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, `{"model":"emb","embeddings":[[0.5,`)
			drop(w)
		}, func(err error) bool {
			var e *ollama.DroppedError
			return errors.As(err, &e) && !e.Answer
		}, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, timeout, tt.handler)
			if tt.within == 0 {
				// Not what it tests; without the bound the call ends at
				// testDeadline, with another error.
				c.Timeout, tt.within = time.Minute, testDeadline
			}
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			start := time.Now()
			_, err := c.Embed(ctx, "emb", []string{"x"})
			if took := time.Since(start); !tt.check(err) || took > tt.within {
				t.Fatalf("Embed = %v after %s; want the bound's error within %s", err, took.Round(time.Millisecond), tt.within)
			}
		})
	}
}

func TestMisbehavingChat(t *testing.T) {
	t.Parallel()
	req := ollama.ChatRequest{Model: "chat", MaxTokens: 50, Messages: []ollama.Message{{Role: "user", Content: "q"}}}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(err error, got string) bool
		timed   bool // it tests the client's timeout
	}{
		{"never says done", func(w http.ResponseWriter, r *http.Request) {
			flood(w, r, chatLine("word ", false, ""))
		}, func(err error, got string) bool {
			return errors.Is(err, ollama.ErrCutOff) && got == strings.Repeat("word ", 50)
		}, false},
		{"never says done, in long pieces", func(w http.ResponseWriter, r *http.Request) {
			flood(w, r, chatLine(strings.Repeat("long ", 1000), false, ""))
		}, func(err error, got string) bool {
			return errors.Is(err, ollama.ErrCutOff) && len(got) <= 50*64 && len(got) > 50*60
		}, false},
		{"thinks without end", func(w http.ResponseWriter, r *http.Request) {
			flood(w, r, `{"model":"chat","message":{"role":"assistant","content":"","thinking":"hmm "},"done":false}`+"\n")
		}, func(err error, got string) bool {
			return errors.Is(err, ollama.ErrCutOff) && got == ""
		}, false},
		{"stops at the limit", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, chatLine("half ", false, "")+chatLine("an answer", false, "")+chatLine("", true, "length"))
		}, func(err error, got string) bool {
			return errors.Is(err, ollama.ErrCutOff) && got == "half an answer"
		}, false},
		{"slow loris", func(w http.ResponseWriter, r *http.Request) {
			trickle(w, r, chatLine("word ", false, ""), 20*time.Millisecond)
		}, func(err error, got string) bool {
			var e *ollama.TimeoutError
			return errors.As(err, &e) && e.Stream && strings.Contains(err.Error(), "sent nothing more for 500ms")
		}, true},
		{"never answers", func(w http.ResponseWriter, r *http.Request) {
			hang(r)
		}, func(err error, got string) bool {
			var e *ollama.TimeoutError
			return errors.As(err, &e) && e.Stream
		}, true},
		{"closes the connection mid-answer", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, chatLine("half ", false, ""))
			drop(w)
		}, func(err error, got string) bool {
			var e *ollama.DroppedError
			return errors.As(err, &e) && e.Answer && got == "half " && strings.Contains(err.Error(), "closed the connection mid-answer")
		}, false},
		{"ends without done", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, chatLine("half ", false, ""))
		}, func(err error, got string) bool {
			var e *ollama.DroppedError
			return errors.As(err, &e) && e.Answer && errors.Is(err, io.ErrUnexpectedEOF)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, time.Minute, tt.handler)
			if tt.timed {
				c.Timeout = timeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			start := time.Now()
			var got strings.Builder
			err := c.Chat(ctx, req, func(s string) error { got.WriteString(s); return nil })
			if took := time.Since(start); !tt.check(err, got.String()) || took > testDeadline/2 {
				t.Fatalf("Chat = %v after %s, %d bytes: %.80q", err, took.Round(time.Millisecond), got.Len(), got.String())
			}
		})
	}
}

// TestChatTimeoutIsPerMessage: --timeout bounds the wait for each next
// piece of an answer, not the whole answer, which may take minutes.
func TestChatTimeoutIsPerMessage(t *testing.T) {
	t.Parallel()
	c := serve(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		for range 8 {
			_, _ = io.WriteString(w, chatLine("word ", false, ""))
			w.(http.Flusher).Flush()
			time.Sleep(200 * time.Millisecond)
		}
		_, _ = io.WriteString(w, chatLine("", true, "stop"))
	})
	var got strings.Builder
	err := c.Chat(context.Background(), ollama.ChatRequest{Model: "chat"}, func(s string) error { got.WriteString(s); return nil })
	if err != nil || got.String() != strings.Repeat("word ", 8) {
		t.Fatalf("Chat = %q, %v", got.String(), err)
	}
}

// TestShowBounded: /api/show and the other small replies have a limit too.
func TestShowBounded(t *testing.T) {
	t.Parallel()
	c := serve(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"license":"`)
		flood(w, r, "x")
	})
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	var e *ollama.ReplyTooLargeError
	if _, err := c.ContextLength(ctx, "m"); !errors.As(err, &e) || e.Path != "/api/show" {
		t.Fatalf("ContextLength = %v", err)
	}
	if _, err := c.Models(ctx); !errors.As(err, &e) || e.Path != "/api/tags" {
		t.Fatalf("Models = %v", err)
	}
}
