package openai

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/rag-cli/rag/pkg/provider"
)

// Embed returns one vector per input, in order (POST /embeddings).
func (c *Client) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	k := c.start(ctx, false)
	vecs, err := c.embed(k, model, inputs)
	return vecs, k.end(c.Host(), err)
}

func (c *Client) embed(k call, model string, inputs []string) ([][]float32, error) {
	resp, err := c.send(k, request{method: http.MethodPost, path: "embeddings", model: model, role: provider.RoleEmbed,
		limit: replyBytes + int64(len(inputs))*maxDims*numberBytes,
		body:  map[string]any{"model": model, "input": inputs, "encoding_format": "float"}})
	if err != nil {
		return nil, err
	}
	var reply struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := c.readJSON(resp, &reply, provider.RoleEmbed); err != nil {
		return nil, err
	}
	if len(reply.Data) != len(inputs) {
		return nil, fmt.Errorf("the model server at %s returned %d embeddings for %d inputs", c.Host(), len(reply.Data), len(inputs))
	}
	vecs := make([][]float32, len(inputs))
	for i, d := range reply.Data {
		at := d.Index
		if at < 0 || at >= len(vecs) || vecs[at] != nil {
			at = i // a server that numbers them oddly: their order
		}
		if len(d.Embedding) > maxDims {
			return nil, fmt.Errorf("the model server at %s returned a vector of %d numbers for input %d, more than any embedding model writes (%d)", c.Host(), len(d.Embedding), i+1, maxDims)
		}
		vecs[at] = d.Embedding
	}
	for i, v := range vecs {
		if v == nil {
			return nil, fmt.Errorf("the model server at %s returned no embedding for input %d", c.Host(), i+1)
		}
	}
	return vecs, nil
}

// The levels of response_format a server takes, learnt from refusals.
const (
	formatSchema = iota // {"type": "json_schema", ...}
	formatObject        // {"type": "json_object"}
	formatNone          // none: the prompt asks for JSON
)

// chatBody is the JSON of a chat completion request.
func (c *Client) chatBody(req provider.ChatRequest, maxTokens int, stream bool) map[string]any {
	msgs := make([]map[string]string, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = map[string]string{"role": m.Role, "content": m.Content}
	}
	body := map[string]any{"model": req.Model, "messages": msgs, "stream": stream}
	if c.maxCompletion.Load() {
		body["max_completion_tokens"] = maxTokens
	} else {
		body["max_tokens"] = maxTokens
	}
	// Ollama's options that the API has; num_ctx has no counterpart (the
	// server's context is its own).
	for _, k := range []string{"temperature", "top_p", "seed", "stop"} {
		if v, ok := req.Options[k]; ok && (k != "temperature" || !c.noTemperature.Load()) {
			body[k] = v
		}
	}
	if len(req.Format) > 0 {
		switch c.format.Load() {
		case formatSchema:
			body["response_format"] = map[string]any{"type": "json_schema",
				"json_schema": map[string]any{"name": "reply", "schema": req.Format}}
		case formatObject:
			body["response_format"] = map[string]any{"type": "json_object"}
		}
	}
	return body
}

// adapt learns from a refused request what to send instead: a
// response_format the server takes, max_completion_tokens in place of
// max_tokens, no temperature. It reports whether the request is worth
// sending again.
func (c *Client) adapt(err error, req provider.ChatRequest) bool {
	var status *provider.StatusError
	if !errors.As(err, &status) || status.StatusCode != http.StatusBadRequest && status.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	msg := strings.ToLower(status.Err.Error())
	if strings.Contains(msg, "max_completion_tokens") && !c.maxCompletion.Load() {
		c.maxCompletion.Store(true)
		return true
	}
	// OpenAI's reasoning models take only their own temperature.
	if strings.Contains(msg, "temperature") && strings.Contains(msg, "unsupported") && !c.noTemperature.Load() {
		c.noTemperature.Store(true)
		return true
	}
	if level := c.format.Load(); len(req.Format) > 0 && level < formatNone &&
		(strings.Contains(msg, "response_format") || strings.Contains(msg, "json_schema") || strings.Contains(msg, "json_object") || strings.Contains(msg, "schema")) {
		c.format.CompareAndSwap(level, level+1)
		return true
	}
	return false
}

// Chat streams the model's answer (POST /chat/completions with stream),
// calling fn with each piece of text. An answer the server ends for its
// length (finish_reason "length"), or that goes past req.MaxTokens, ends
// with ErrCutOff, the pieces before it delivered. A request with a Format
// asks for it as response_format json_schema; a server that refuses that
// is asked for json_object, then for nothing (the prompt asks for JSON),
// and such a reply is passed whole, any Markdown code fence taken off.
func (c *Client) Chat(ctx context.Context, req provider.ChatRequest, fn func(string) error) error {
	role := cmp.Or(req.Role, provider.RoleChat)
	for {
		level := c.format.Load()
		err := c.chat(ctx, req, role, level, fn)
		if err == nil || !c.adapt(err, req) {
			return err
		}
	}
}

func (c *Client) chat(ctx context.Context, req provider.ChatRequest, role provider.Role, level int32, fn func(string) error) error {
	maxTokens := cmp.Or(req.MaxTokens, provider.DefaultMaxTokens)
	unconstrained := len(req.Format) > 0 && level > formatSchema
	var whole strings.Builder
	out := fn
	if unconstrained {
		out = func(s string) error { whole.WriteString(s); return nil }
	}
	k := c.start(ctx, true)
	events := 2*maxTokens + 64
	resp, err := c.send(k, request{method: http.MethodPost, path: "chat/completions", model: req.Model, role: role, stream: true,
		limit: replyBytes + int64(events)*eventBytes, body: c.chatBody(req, maxTokens, true)})
	var cut, done bool
	if err == nil {
		cut, done, err = c.readStream(k, resp, maxTokens, events, out)
	}
	if err = k.end(c.Host(), err); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if unconstrained && (done || cut) {
		if err := fn(unfence(whole.String())); err != nil {
			return err
		}
	}
	switch {
	case cut:
		return provider.ErrCutOff
	case !done:
		return &provider.DroppedError{Host: c.Host(), Answer: true, Err: io.ErrUnexpectedEOF}
	}
	return nil
}

// streamEvent is one server-sent event of a streamed completion.
type streamEvent struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Error json.RawMessage `json:"error"`
}

// readStream reads the server-sent events of an answer: "data: {...}"
// lines up to "data: [DONE]". done says the server finished the answer,
// cut that it reached its limit.
func (c *Client) readStream(k call, resp *http.Response, maxTokens, maxEvents int, fn func(string) error) (cut, done bool, err error) {
	defer func() {
		if cerr := resp.Body.Close(); err == nil && !done && !cut {
			err = cerr
		}
	}()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), eventBytes+maxTokens*tokenBytes)
	var events, pieces, size int
	for sc.Scan() {
		k.Progress()
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:"))
		if !ok {
			continue // comments, event names, blank lines between events
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			return cut, true, nil
		}
		if events++; events > maxEvents {
			return true, done, nil
		}
		var ev streamEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return false, false, fmt.Errorf("the model server at %s sent an event that is not the JSON expected: %w", c.Host(), err)
		}
		if len(ev.Error) > 0 && string(ev.Error) != "null" {
			msg, _ := errorText(append(append([]byte(`{"error":`), ev.Error...), '}'))
			return false, false, &provider.StatusError{StatusCode: http.StatusInternalServerError, Err: fmt.Errorf("error mid-answer: %s", c.scrub(msg)), KeyEnv: c.cfg.KeyEnv, KeySet: c.cfg.APIKey != ""}
		}
		for _, ch := range ev.Choices {
			if r := ch.FinishReason; r != nil && *r != "" {
				done = true
				cut = cut || *r == "length"
			}
			text := ch.Delta.Content
			if text == "" {
				continue
			}
			if pieces++; pieces > maxTokens {
				return true, done, nil
			}
			if room := maxTokens*tokenBytes - size; len(text) > room {
				if err := fn(strings.ToValidUTF8(text[:room], "")); err != nil {
					return false, false, err
				}
				return true, done, nil
			}
			size += len(text)
			if err := fn(text); err != nil {
				return false, false, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		var tooLarge *provider.ReplyTooLargeError
		if errors.As(err, &tooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return false, false, err
		}
		return false, false, c.transportError(err, provider.RoleChat)
	}
	// Some servers end the stream after the last event without [DONE].
	return cut, done, nil
}

// unfence takes a Markdown code fence off a reply (```json ... ```), as a
// model not held to a format often writes one.
func unfence(s string) string {
	t := strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(t, "```")
	if !ok {
		return s
	}
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
		rest = rest[nl+1:]
	}
	rest, _ = strings.CutSuffix(strings.TrimSpace(rest), "```")
	return strings.TrimSpace(rest)
}

// NextToken asks for one token after the chat with its top candidates'
// log probabilities (logprobs, top_logprobs: at most 20, the API's
// limit): how rag reads a yes/no judgement as a probability.
func (c *Client) NextToken(ctx context.Context, req provider.ChatRequest, top int) ([]provider.TokenProb, error) {
	for {
		toks, err := c.nextToken(ctx, req, top)
		if err == nil || !c.adapt(err, provider.ChatRequest{}) {
			return toks, err
		}
	}
}

func (c *Client) nextToken(ctx context.Context, req provider.ChatRequest, top int) ([]provider.TokenProb, error) {
	req.Format = nil
	body := c.chatBody(req, 1, false)
	if !c.noTemperature.Load() {
		body["temperature"] = 0
	}
	body["logprobs"] = true
	body["top_logprobs"] = min(max(top, 1), 20)
	k := c.start(ctx, false)
	resp, err := c.send(k, request{method: http.MethodPost, path: "chat/completions", model: req.Model, role: provider.RoleJudge, limit: replyBytes, body: body})
	var reply struct {
		Choices []struct {
			Logprobs *struct {
				Content []struct {
					Token       string  `json:"token"`
					Logprob     float64 `json:"logprob"`
					TopLogprobs []struct {
						Token   string  `json:"token"`
						Logprob float64 `json:"logprob"`
					} `json:"top_logprobs"`
				} `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	if err == nil {
		err = c.readJSON(resp, &reply, provider.RoleJudge)
	}
	if err = k.end(c.Host(), err); err != nil {
		return nil, err
	}
	var out []provider.TokenProb
	if len(reply.Choices) > 0 && reply.Choices[0].Logprobs != nil && len(reply.Choices[0].Logprobs.Content) > 0 {
		first := reply.Choices[0].Logprobs.Content[0]
		for _, t := range first.TopLogprobs {
			out = append(out, provider.TokenProb{Token: t.Token, Logprob: t.Logprob})
		}
		if len(out) == 0 {
			out = append(out, provider.TokenProb{Token: first.Token, Logprob: first.Logprob})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the model server at %s returned no log probabilities for %s: re-ranking needs a server that gives them (logprobs) or has /v1/rerank", c.Host(), req.Model)
	}
	slices.SortStableFunc(out, func(a, b provider.TokenProb) int { return cmp.Compare(b.Logprob, a.Logprob) })
	return out, nil
}

// Rank scores docs against query with the server's /rerank (the shape
// llama.cpp, vLLM, Jina and Cohere share). A server without one (a 404,
// 405 or 501 that names no model) is ErrNoRank, remembered, unless the
// provider's rerank setting says it has one. Scores outside 0..1 are
// logits (llama.cpp's): they are made probabilities.
func (c *Client) Rank(ctx context.Context, model, query string, docs []string) ([]float32, error) {
	if c.cfg.Rerank == RerankChat || c.cfg.Rerank != RerankEndpoint && c.noRank.Load() {
		return nil, provider.ErrNoRank
	}
	k := c.start(ctx, false)
	resp, err := c.send(k, request{method: http.MethodPost, path: "rerank", model: model, role: provider.RoleJudge, limit: replyBytes + int64(len(docs))*256,
		body: map[string]any{"model": model, "query": query, "documents": docs, "top_n": len(docs)}})
	var reply struct {
		Results []struct {
			Index          int      `json:"index"`
			RelevanceScore *float64 `json:"relevance_score"`
			Score          *float64 `json:"score"`
		} `json:"results"`
	}
	if err == nil {
		err = c.readJSON(resp, &reply, provider.RoleJudge)
	}
	if err = k.end(c.Host(), err); err != nil {
		var status *provider.StatusError
		if c.cfg.Rerank != RerankEndpoint && errors.As(err, &status) &&
			(status.StatusCode == http.StatusNotFound || status.StatusCode == http.StatusMethodNotAllowed || status.StatusCode == http.StatusNotImplemented) {
			c.noRank.Store(true)
			return nil, provider.ErrNoRank
		}
		return nil, err
	}
	scores := make([]float64, len(docs))
	seen := make([]bool, len(docs))
	logits := false
	for _, r := range reply.Results {
		s := r.RelevanceScore
		if s == nil {
			s = r.Score
		}
		if r.Index < 0 || r.Index >= len(docs) || s == nil || seen[r.Index] {
			return nil, fmt.Errorf("the model server at %s sent a re-ranking result that is not the JSON expected (index %d)", c.Host(), r.Index)
		}
		seen[r.Index], scores[r.Index] = true, *s
		logits = logits || *s < 0 || *s > 1
	}
	if slices.Contains(seen, false) {
		return nil, fmt.Errorf("the model server at %s scored %d of %d passages", c.Host(), len(reply.Results), len(docs))
	}
	out := make([]float32, len(docs))
	for i, s := range scores {
		if logits {
			s = 1 / (1 + math.Exp(-s))
		}
		out[i] = float32(s)
	}
	return out, nil
}
