// Package openaitest runs an in-process stand-in for an OpenAI-compatible
// server (llama.cpp's, vLLM's, a hosted API), for tests: /v1/embeddings
// with ollamatest's hashed bag-of-words vectors, /v1/chat/completions
// streamed as server-sent events (answers from ollamatest.DefaultAnswer)
// or with log probabilities for a judgement, /v1/models and, when
// enabled, /v1/rerank. It can demand an API key, rate-limit (429 with
// Retry-After), refuse response_format, refuse inputs longer than a
// context, and repeat the key in its error messages, as a careless
// server might.
package openaitest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
)

// Server is a fake OpenAI-compatible server.
type Server struct {
	*httptest.Server
	// URL is the API's root: the server's address and /v1.
	URL string

	mu       sync.Mutex
	dims     int
	models   map[string]bool
	key      string // demanded when set
	echoKey  bool
	limited  int    // answer this many requests 429
	after    string // their Retry-After
	noSchema bool
	rerank   bool
	ctxLen   int // /v1/models' context_length, and inputs longer are refused
	requests map[string]int
	bodies   []map[string]any
}

// New starts a fake server that serves models; it is closed when the
// test ends.
func New(t testing.TB, models ...string) *Server {
	t.Helper()
	s := Start(models...)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake server that serves models; the caller closes it.
func Start(models ...string) *Server {
	s := &Server{dims: 128, models: map[string]bool{}, requests: map[string]int{}}
	for _, m := range models {
		s.models[m] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/embeddings", s.guard(s.embeddings))
	mux.HandleFunc("POST /v1/chat/completions", s.guard(s.chat))
	mux.HandleFunc("GET /v1/models", s.guard(s.list))
	mux.HandleFunc("POST /v1/rerank", s.guard(s.rerankHandler))
	s.Server = httptest.NewServer(mux)
	s.URL = s.Server.URL + "/v1"
	return s
}

// RequireKey makes every request need "Authorization: Bearer key".
func (s *Server) RequireKey(key string) { s.set(func() { s.key = key }) }

// EchoKey makes the server repeat the key it was sent in its 401's
// message.
func (s *Server) EchoKey() { s.set(func() { s.echoKey = true }) }

// RateLimit answers the next n requests 429 with Retry-After after
// ("" for none).
func (s *Server) RateLimit(n int, after string) { s.set(func() { s.limited, s.after = n, after }) }

// RejectSchema makes the server refuse response_format json_schema (and
// json_object) as unsupported.
func (s *Server) RejectSchema() { s.set(func() { s.noSchema = true }) }

// EnableRerank serves /v1/rerank (404 otherwise).
func (s *Server) EnableRerank() { s.set(func() { s.rerank = true }) }

// SetContextLength makes /v1/models report n and refuses longer inputs
// (one token a word).
func (s *Server) SetContextLength(n int) { s.set(func() { s.ctxLen = n }) }

// Requests is how many requests reached path (/v1/embeddings), 429s too.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Bodies are the JSON bodies of the POST requests, in order.
func (s *Server) Bodies() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

func (s *Server) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func fail(w http.ResponseWriter, status int, msg, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": code}})
}

// guard counts a request, checks its key and rate-limits it, and reads
// its body for the handler.
func (s *Server) guard(h func(http.ResponseWriter, map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				fail(w, http.StatusBadRequest, err.Error(), "")
				return
			}
		}
		s.mu.Lock()
		s.requests[r.URL.Path]++
		if body != nil {
			s.bodies = append(s.bodies, body)
		}
		key, echo := s.key, s.echoKey
		limited, after := s.limited > 0, s.after
		if limited {
			s.limited--
		}
		s.mu.Unlock()
		if got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); key != "" && got != key {
			msg := "Incorrect API key provided."
			if echo {
				msg = fmt.Sprintf("Incorrect API key provided: %s.", got)
			}
			fail(w, http.StatusUnauthorized, msg, "invalid_api_key")
			return
		}
		if limited {
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
			fail(w, http.StatusTooManyRequests, "Rate limit reached.", "rate_limit_exceeded")
			return
		}
		if m, ok := body["model"].(string); ok && !s.has(m) {
			fail(w, http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist.", m), "model_not_found")
			return
		}
		h(w, body)
	}
}

func (s *Server) has(model string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models[model]
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			str, _ := e.(string)
			out = append(out, str)
		}
		return out
	}
	return nil
}

func (s *Server) tooLong(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctxLen > 0 && len(strings.Fields(text)) > s.ctxLen
}

func (s *Server) embeddings(w http.ResponseWriter, body map[string]any) {
	var data []map[string]any
	for i, in := range strs(body["input"]) {
		if s.tooLong(in) {
			fail(w, http.StatusBadRequest, fmt.Sprintf("This model's maximum context length is %d tokens, however you requested more.", s.ctxLen), "context_length_exceeded")
			return
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": ollamatest.Embed(in, s.dims)})
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "model": body["model"]})
}

func (s *Server) list(w http.ResponseWriter, _ map[string]any) {
	s.mu.Lock()
	var data []map[string]any
	for m := range s.models {
		e := map[string]any{"id": m, "object": "model"}
		if s.ctxLen > 0 {
			e["context_length"] = s.ctxLen
		}
		data = append(data, e)
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

// chat answers a streamed completion word by word, a judgement (logprobs)
// in one reply.
func (s *Server) chat(w http.ResponseWriter, body map[string]any) {
	if rf, ok := body["response_format"].(map[string]any); ok && s.rejectsSchema() {
		fail(w, http.StatusBadRequest, fmt.Sprintf("response_format type %v is not supported", rf["type"]), "")
		return
	}
	var system, user string
	msgs, _ := body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		content, _ := mm["content"].(string)
		switch mm["role"] {
		case "system":
			system = content
		case "user":
			user = content
		}
	}
	if s.tooLong(system + " " + user) {
		fail(w, http.StatusBadRequest, "This model's maximum context length is exceeded.", "context_length_exceeded")
		return
	}
	if lp, _ := body["logprobs"].(bool); lp {
		s.judge(w, body, user)
		return
	}
	answer := ollamatest.DefaultAnswer(system, user)
	if _, ok := body["response_format"]; !ok && system != "" && strings.Contains(system, "JSON") {
		answer = "```json\n" + answer + "\n```" // as a model not held to a format writes it
	}
	limit, _ := body["max_tokens"].(float64)
	pieces, reason := strings.SplitAfter(answer, " "), "stop"
	if n := int(limit); n > 0 && len(pieces) > n {
		pieces, reason = pieces[:n], "length"
	}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher, _ := w.(http.Flusher)
	for _, p := range pieces {
		event(w, map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": p}, "finish_reason": nil}}})
		if flusher != nil {
			flusher.Flush()
		}
	}
	event(w, map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]string{}, "finish_reason": reason}}})
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (s *Server) rejectsSchema() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.noSchema
}

func event(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and numbers
	}
	fmt.Fprintf(w, "data: %s\n\n", b)
}

// judge answers yes or no with P(yes) the share of the query's words in
// the passage, as ollamatest's judge does.
func (s *Server) judge(w http.ResponseWriter, body map[string]any, user string) {
	query, passage, _ := strings.Cut(user, "\n\nPassage")
	p := min(max(ollamatest.Overlap(strings.TrimPrefix(query, "Query: "), passage), 0.001), 0.999)
	top := []map[string]any{{"token": "yes", "logprob": math.Log(p)}, {"token": "no", "logprob": math.Log(1 - p)}}
	if p < 0.5 {
		top[0], top[1] = top[1], top[0]
	}
	writeJSON(w, map[string]any{"model": body["model"], "choices": []any{map[string]any{
		"index": 0, "finish_reason": "length",
		"message":  map[string]string{"role": "assistant", "content": top[0]["token"].(string)},
		"logprobs": map[string]any{"content": []any{map[string]any{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}}},
	}}})
}

func (s *Server) rerankHandler(w http.ResponseWriter, body map[string]any) {
	s.mu.Lock()
	on := s.rerank
	s.mu.Unlock()
	if !on {
		fail(w, http.StatusNotFound, "File Not Found", "")
		return
	}
	query, _ := body["query"].(string)
	var results []map[string]any
	for i, d := range strs(body["documents"]) {
		// Logits, as llama.cpp's: the client makes them probabilities.
		p := min(max(ollamatest.Overlap(query, d), 0.001), 0.999)
		results = append(results, map[string]any{"index": i, "relevance_score": math.Log(p / (1 - p))})
	}
	writeJSON(w, map[string]any{"results": results})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
