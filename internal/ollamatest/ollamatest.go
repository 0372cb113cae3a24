// Package ollamatest runs an in-process stand-in for an Ollama server, for
// tests. Its embeddings are a hashed bag of words, so texts that share words
// are close and retrieval tests can assert real rankings; its chat endpoint
// streams NDJSON like Ollama's and answers from the first source it is given.
// It lists (/api/tags), shows (/api/show) and pulls (/api/pull, streaming
// progress) models, so a pulled model becomes known; what can be pulled is
// the fake registry set with Registry.
package ollamatest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/rag-cli/rag/pkg/rewrite"
)

// Server is a fake Ollama.
type Server struct {
	*httptest.Server

	// Dims is the embedding size; set it before the first request, or
	// with SetDims while requests run.
	Dims int

	mu        sync.Mutex
	models    map[string]bool
	registry  map[string]bool
	pulls     []string
	embedReqs int
	embedded  int
	chats     int
	judges    int
	failEmbed int // fail this many embed requests
	fault     Fault
	// failFrom, if above 0, fails every embed request from the one that
	// arrives as number failFrom (1-based), with fault.
	failFrom, arrivals int
	ctxLen             int // /api/show's context length; 0: 8192
	// embedCtx, if above 0, is the num_ctx embedding runs with: longer
	// inputs are truncated or refused (LimitEmbedInput).
	embedCtx int
	refused  int // inputs refused as too long
	onEmbed  func()
	respond  func(system, user string) string
	lastChat []map[string]string
	// firstDelay and tokenDelay pace the chat stream like a real model:
	// prompt evaluation before the first token, then one token at a time.
	firstDelay, tokenDelay time.Duration
	firstSent, lastSent    time.Time
}

// New starts a fake server that knows the given models; it is closed when
// the test ends.
func New(t testing.TB, models ...string) *Server {
	t.Helper()
	s := Start(models...)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake server that knows the given models; the caller closes it.
func Start(models ...string) *Server {
	s := &Server{Dims: 128, models: map[string]bool{}, registry: map[string]bool{}}
	for _, m := range models {
		s.models[normalize(m)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/embed", s.embed)
	mux.HandleFunc("POST /api/chat", s.chat)
	mux.HandleFunc("GET /api/tags", s.tags)
	mux.HandleFunc("POST /api/show", s.show)
	mux.HandleFunc("POST /api/pull", s.pull)
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"version": "0.0.0-fake"})
	})
	s.Server = httptest.NewServer(mux)
	return s
}

func normalize(model string) string {
	if !strings.Contains(model, ":") {
		return model + ":latest"
	}
	return model
}

// Registry adds models the server can pull (the fake ollama.com library).
func (s *Server) Registry(models ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range models {
		s.registry[normalize(m)] = true
	}
}

// Remove deletes models from the server, as `ollama rm` does.
func (s *Server) Remove(models ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range models {
		delete(s.models, normalize(m))
	}
}

// Pulls are the models asked for on /api/pull, in order.
func (s *Server) Pulls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.pulls...)
}

// SetResponder replaces the chat answer generator.
func (s *Server) SetResponder(f func(system, user string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = f
}

// SetChatPace makes chat answers stream at a model's pace: the first token
// after first, each next one after between. Zero (the default) streams at
// once.
func (s *Server) SetChatPace(first, between time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.firstDelay, s.tokenDelay = first, between
}

// ChatTimes returns when the first and the last token of the latest chat
// answer were emitted (just before being written and flushed to the
// client); zero times when none was.
func (s *Server) ChatTimes() (first, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstSent, s.lastSent
}

// Fault is how a failing embed request fails.
type Fault int

const (
	// Status500 answers HTTP 500 with an error body.
	Status500 Fault = iota
	// Drop closes the connection without an answer.
	Drop
	// Hang never answers; the request ends when the client gives up.
	Hang
)

// SetDims changes the embedding size, as a model re-pulled under the same
// name with another vector size would.
func (s *Server) SetDims(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Dims = n
}

// FailEmbeds makes the next n embed requests fail with HTTP 500.
func (s *Server) FailEmbeds(n int) { s.FailEmbedsWith(n, Status500) }

// FailEmbedsWith makes the next n embed requests fail with f.
func (s *Server) FailEmbedsWith(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failEmbed, s.fault = n, f
}

// FailEmbedsFrom fails every embed request from the n-th to arrive on
// (counting all so far; 0 stops), with f. Requests are numbered as they
// arrive, under the server's lock, so one that arrived before the n-th
// never fails, however the handlers interleave.
func (s *Server) FailEmbedsFrom(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFrom, s.fault = n, f
}

// SetContextLength sets the context length /api/show reports for every
// model (8192 until set).
func (s *Server) SetContextLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctxLen = n
}

func (s *Server) contextLength() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctxLen == 0 {
		return 8192
	}
	return s.ctxLen
}

// LimitEmbedInput makes the server embed at most n tokens of an input
// (Tokens counts them), as Ollama does with a model whose Modelfile sets
// PARAMETER num_ctx n: /api/show lists num_ctx n in its parameters, and
// /api/embed truncates a longer input, or, when the request says
// "truncate": false, refuses the whole request with Ollama's answer, HTTP
// 400 {"error":"the input length exceeds the context length"}. 0 lifts
// the limit.
func (s *Server) LimitEmbedInput(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedCtx = n
}

// Tokens is how many tokens the fake's tokenizer makes of text: one for
// every three bytes, and one more for the start of the sequence. It is
// coarser than rag's estimate on purpose, as small models' tokenizers are.
func Tokens(text string) int { return 1 + (len(text)+2)/3 }

// RefusedInputs is how many inputs /api/embed refused as too long.
func (s *Server) RefusedInputs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// OnEmbed sets a hook run at the start of every embed request (to block
// or cancel mid-run in tests).
func (s *Server) OnEmbed(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEmbed = f
}

// EmbedRequests is how many /api/embed calls were made.
func (s *Server) EmbedRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.embedReqs
}

// EmbeddedTexts is how many texts were embedded in all.
func (s *Server) EmbeddedTexts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.embedded
}

// ChatRequests is how many /api/chat calls were made.
func (s *Server) ChatRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chats
}

// LastChat returns the messages of the last chat request.
func (s *Server) LastChat() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastChat
}

func (s *Server) known(model string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models[normalize(model)]
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string `json:"model"`
		Input    any    `json:"input"`
		Truncate *bool  `json:"truncate"`
	}
	if !s.decode(w, r, &req, &req.Model) {
		return
	}
	s.mu.Lock()
	hook := s.onEmbed
	s.arrivals++
	failing := s.failFrom > 0 && s.arrivals >= s.failFrom
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	var inputs []string
	switch v := req.Input.(type) {
	case string:
		inputs = []string{v}
	case []any:
		for _, x := range v {
			str, _ := x.(string)
			inputs = append(inputs, str)
		}
	}
	s.mu.Lock()
	s.embedReqs++
	if failing || s.failEmbed > 0 {
		if !failing {
			s.failEmbed--
		}
		fault := s.fault
		s.mu.Unlock()
		switch fault {
		case Drop:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close() // the point is to drop it
					return
				}
			}
			panic(http.ErrAbortHandler) // aborts the response without an answer
		case Hang:
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		writeJSON(w, map[string]string{"error": "fake failure"})
		return
	}
	if limit := s.embedCtx; limit > 0 {
		for i, in := range inputs {
			if Tokens(in) <= limit {
				continue
			}
			if req.Truncate != nil && !*req.Truncate {
				// Ollama embeds the inputs of a request at once and fails
				// the whole request when one fails.
				s.refused++
				s.mu.Unlock()
				w.WriteHeader(http.StatusBadRequest)
				writeJSON(w, map[string]string{"error": "the input length exceeds the context length"})
				return
			}
			inputs[i] = in[:3*(limit-1)]
		}
	}
	s.embedded += len(inputs)
	dims := s.Dims
	s.mu.Unlock()
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		out[i] = Embed(in, dims)
	}
	writeJSON(w, map[string]any{"model": req.Model, "embeddings": out})
}

// JudgeRequests is how many chats asked for log probabilities (re-ranking).
func (s *Server) JudgeRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.judges
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string              `json:"model"`
		Messages []map[string]string `json:"messages"`
		Logprobs bool                `json:"logprobs"`
		Options  struct {
			NumPredict int `json:"num_predict"`
		} `json:"options"`
	}
	if !s.decode(w, r, &req, &req.Model) {
		return
	}
	if req.Logprobs {
		s.judge(w, req.Model, req.Messages)
		return
	}
	var system, user string
	for _, m := range req.Messages {
		switch m["role"] {
		case "system":
			system = m["content"]
		case "user":
			user = m["content"]
		}
	}
	s.mu.Lock()
	s.chats++
	s.lastChat = req.Messages
	respond := s.respond
	first, between := s.firstDelay, s.tokenDelay
	s.firstSent, s.lastSent = time.Time{}, time.Time{}
	s.mu.Unlock()
	if respond == nil {
		respond = DefaultAnswer
	}
	answer := respond(system, user)
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // the headers, as Ollama sends them before the first token
	}
	// Stream word by word, as a model would, a word a token, and stop at
	// num_predict as Ollama does.
	pieces, reason := strings.SplitAfter(answer, " "), "stop"
	if n := req.Options.NumPredict; n > 0 && len(pieces) > n {
		pieces, reason = pieces[:n], "length"
	}
	for i, piece := range pieces {
		delay := between
		if i == 0 {
			delay = first
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		now := time.Now() // when the model emits it
		if err := enc.Encode(map[string]any{
			"model": req.Model, "message": map[string]string{"role": "assistant", "content": piece}, "done": false,
		}); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		s.mu.Lock()
		if i == 0 {
			s.firstSent = now
		}
		s.lastSent = now
		s.mu.Unlock()
	}
	_ = enc.Encode(map[string]any{"model": req.Model, "message": map[string]string{"role": "assistant", "content": ""}, "done": true, "done_reason": reason})
}

// judge answers a re-ranking request: one token, "yes" or "no", with top
// log probabilities where P(yes) is the share of the query's words found in
// the passage, so re-ranking tests can assert real orders.
func (s *Server) judge(w http.ResponseWriter, model string, msgs []map[string]string) {
	s.mu.Lock()
	s.judges++
	s.mu.Unlock()
	var user string
	for _, m := range msgs {
		if m["role"] == "user" {
			user = m["content"]
		}
	}
	query, passage, _ := strings.Cut(user, "\n\nPassage")
	query = strings.TrimPrefix(query, "Query: ")
	p := overlap(query, passage)
	p = min(max(p, 0.001), 0.999)
	top := []map[string]any{{"token": "yes", "logprob": math.Log(p)}, {"token": "no", "logprob": math.Log(1 - p)}}
	if p < 0.5 {
		top[0], top[1] = top[1], top[0]
	}
	writeJSON(w, map[string]any{
		"model": model, "message": map[string]string{"role": "assistant", "content": top[0]["token"].(string)},
		"done": true, "done_reason": "length",
		"logprobs": []map[string]any{{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}},
	})
}

// overlap is the share of query's content words that text contains.
func overlap(query, text string) float64 {
	have := map[string]bool{}
	for _, w := range words(text) {
		have[w] = true
	}
	n, found := 0, 0
	for _, w := range words(query) {
		n++
		if have[w] {
			found++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(found) / float64(n)
}

func words(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if !stopwords[w] {
			out = append(out, w)
		}
	}
	return out
}

// DefaultAnswer answers with the first line of text of source [1] and cites it.
// Asked to expand a query (rewrite.ExpandPrompt), it phrases the question
// without its question mark and guesses a passage that repeats it; asked
// for a standalone question (rewrite.StandalonePrompt), it adds the words
// of the previous question to the last message.
func DefaultAnswer(system, user string) string {
	switch system {
	case rewrite.ExpandPrompt:
		q := strings.TrimSpace(strings.TrimPrefix(user, "Question:"))
		return marshal(map[string]any{
			"phrasings": []string{strings.TrimSuffix(q, "?")}, "passage": strings.TrimSuffix(q, "?") + ".",
		})
	case rewrite.StandalonePrompt:
		var prev, last string
		for _, l := range strings.Split(user, "\n") {
			if q, ok := strings.CutPrefix(l, "User: "); ok {
				prev = q
			}
			if q, ok := strings.CutPrefix(l, "Last message: "); ok {
				last = q
			}
		}
		return marshal(map[string]string{"question": strings.TrimSpace(last + " " + strings.Join(words(prev), " "))})
	}
	lines := strings.Split(user, "\n")
	for i, l := range lines {
		// rag fences each source: "<<<source 1 ID>>> [1] path", its text,
		// "<<<end 1 ID>>>".
		if strings.HasPrefix(l, "[1]") || strings.HasPrefix(l, "<<<source 1 ") {
			for _, next := range lines[i+1:] {
				if t := strings.TrimSpace(next); t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "<<<end ") {
					return fmt.Sprintf("According to the documents, %s [1].", strings.TrimSuffix(t, "."))
				}
			}
		}
	}
	return "The documents do not answer this question."
}

// marshal is v as JSON; v is always a map of strings and string slices.
func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // unreachable for those types
	}
	return string(b)
}

// digest is a stable fake sha256 digest of a model's only layer.
func digest(model string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(model))
	return fmt.Sprintf("sha256:%016x%016x%016x%016x", h.Sum64(), h.Sum64()^1, h.Sum64()^2, h.Sum64()^3)
}

// layerSize is the fake size of a model's layer in bytes.
const layerSize = 4 << 20

const modified = "2026-01-02T03:04:05.123456789Z"

func details() map[string]any {
	return map[string]any{"parent_model": "", "format": "gguf", "family": "llama", "families": []string{"llama"},
		"parameter_size": "7M", "quantization_level": "Q8_0"}
}

func (s *Server) tags(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.models))
	for m := range s.models {
		names = append(names, m)
	}
	s.mu.Unlock()
	sort.Strings(names)
	models := make([]map[string]any, 0, len(names))
	for _, m := range names {
		models = append(models, map[string]any{"name": m, "model": m, "modified_at": modified, "size": layerSize,
			"digest": strings.TrimPrefix(digest(m), "sha256:"), "details": details()})
	}
	writeJSON(w, map[string]any{"models": models})
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
		Name  string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Model == "" {
		req.Model = req.Name
	}
	if !s.known(req.Model) {
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]string{"error": fmt.Sprintf("model '%s' not found", req.Model)})
		return
	}
	params := ""
	s.mu.Lock()
	if s.embedCtx > 0 {
		params = fmt.Sprintf("%-30s %d", "num_ctx", s.embedCtx) // as Ollama formats it
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{
		"modelfile": "FROM " + req.Model + "\n", "parameters": params, "template": "{{ .Prompt }}", "details": details(),
		"model_info": map[string]any{"general.architecture": "llama", "llama.context_length": s.contextLength()}, "capabilities": []string{"completion", "embedding"},
		"modified_at": modified,
	})
}

// pull streams progress as Ollama does: the manifest, one layer in steps
// of status/digest/total/completed, verification, success; a model not in
// the registry ends the stream with an error line.
func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string `json:"model"`
		Name   string `json:"name"`
		Stream *bool  `json:"stream"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Model == "" {
		req.Model = req.Name
	}
	model := normalize(req.Model)
	s.mu.Lock()
	s.pulls = append(s.pulls, req.Model)
	inRegistry := s.registry[model]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(v any) bool {
		if req.Stream != nil && !*req.Stream {
			return true // only the last word is sent
		}
		if err := enc.Encode(v); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if !send(map[string]any{"status": "pulling manifest"}) {
		return
	}
	if !inRegistry {
		_ = enc.Encode(map[string]string{"error": "pull model manifest: file does not exist"})
		return
	}
	d := digest(model)
	for done := int64(0); done <= layerSize; done += layerSize / 4 {
		if !send(map[string]any{"status": "pulling " + strings.TrimPrefix(d, "sha256:")[:12], "digest": d, "total": layerSize, "completed": done}) {
			return
		}
	}
	for _, st := range []string{"verifying sha256 digest", "writing manifest"} {
		if !send(map[string]any{"status": st}) {
			return
		}
	}
	s.mu.Lock()
	s.models[model] = true
	s.mu.Unlock()
	_ = enc.Encode(map[string]string{"status": "success"})
}

// decode reads a request into req and checks that *model is known,
// answering the client itself when either fails.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, req any, model *string) bool {
	if err := json.NewDecoder(r.Body).Decode(req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	if !s.known(*model) {
		notFound(w, *model)
		return false
	}
	return true
}

func notFound(w http.ResponseWriter, model string) {
	w.WriteHeader(http.StatusNotFound)
	writeJSON(w, map[string]string{"error": fmt.Sprintf("model %q not found, try pulling it first", model)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

var stopwords = map[string]bool{
	"a": true, "an": true, "the": true, "and": true, "or": true, "of": true, "to": true, "in": true,
	"on": true, "is": true, "are": true, "was": true, "be": true, "it": true, "for": true, "with": true,
	"as": true, "by": true, "at": true, "this": true, "that": true, "what": true, "how": true,
	"do": true, "does": true, "i": true, "you": true, "which": true, "who": true, "from": true,
}

// Embed is the fake embedding: a normalized hashed bag of words.
func Embed(text string, dims int) []float32 {
	v := make([]float32, dims)
	for _, w := range words(text) {
		h := fnv.New64a()
		_, _ = h.Write([]byte(w))
		sum := h.Sum64()
		v[sum%uint64(dims)] += 1
	}
	var norm float64
	for _, x := range v {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		// An empty text still needs a valid vector; a constant one is far
		// from every real text.
		v[0] = 1
		return v
	}
	n := float32(math.Sqrt(norm))
	for i := range v {
		v[i] /= n
	}
	return v
}

// Overlap is the share of query's content words that text contains: the
// fake judge's P(yes), for other fakes that judge alike.
func Overlap(query, text string) float64 { return overlap(query, text) }
