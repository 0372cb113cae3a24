// Package openai is rag's door to an OpenAI-compatible server (llama.cpp's
// llama-server, LM Studio, vLLM, LocalAI, Ollama's /v1, a hosted API): a
// provider.Client over /v1/embeddings, streamed /v1/chat/completions,
// /v1/models and, where the server has one, /v1/rerank. It speaks HTTP
// and JSON with the standard library alone: the official SDK
// (github.com/openai/openai-go/v3) made the binary 29 MB larger for the
// same calls (see the README, "Other model servers"). Failures
// are provider's typed errors, as Ollama's are: unreachable, a model the
// server does not have, an error answer (a 401 or 403 naming the API key's
// variable, never the key), an input longer than the context, a reply cut
// off or too long. A 429 is retried after the server's Retry-After (or a
// doubling wait), a bounded number of times.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rag-cli/rag/pkg/provider"
)

// Config is what a client needs of its provider's configuration.
type Config struct {
	// BaseURL is the API's root, with its version: http://127.0.0.1:8080/v1.
	BaseURL *url.URL
	// APIKey is sent as a bearer token when set. It is never written in
	// an error: a server's message that repeats it has it replaced.
	APIKey string
	// KeyEnv names the variable the key came from, for hints.
	KeyEnv string
	// Headers are sent with every request.
	Headers map[string]string
	// ContextLength, if above 0, is the models' context length: the
	// smaller of it and what the server reports is used.
	ContextLength int
	// Rerank is how re-ranking is done: RerankAuto (the server's
	// /rerank, else the chat judgement), RerankEndpoint or RerankChat.
	Rerank string
}

// The ways to re-rank.
const (
	RerankAuto     = "auto"
	RerankEndpoint = "endpoint"
	RerankChat     = "chat"
)

// Client talks to one OpenAI-compatible server. It is safe for concurrent
// use.
type Client struct {
	// Timeout, if above 0, bounds every call: the whole of one that
	// returns a reply, and for a streamed answer the wait for each next
	// event. A call it stops is a provider.TimeoutError. Set it before
	// the first call.
	Timeout time.Duration
	// Attempts is how many times a request the server rate-limits (429)
	// is sent; 0 means 4.
	Attempts int
	// Backoff is the first wait after a 429 without Retry-After, doubled
	// each time; 0 means 1s. MaxWait caps any wait, Retry-After's too; 0
	// means 60s.
	Backoff, MaxWait time.Duration

	cfg  Config
	http *http.Client
	// sleep waits d or until ctx is done (a test makes it instant).
	sleep func(ctx context.Context, d time.Duration) error

	// format is how far the server's support of response_format goes,
	// learnt from its refusals: formatSchema, formatObject, formatNone.
	format atomic.Int32
	// maxCompletion is set once the server asked for
	// max_completion_tokens in place of max_tokens (OpenAI's newer models).
	maxCompletion atomic.Bool
	// noTemperature is set once the server refused a temperature.
	noTemperature atomic.Bool
	// noRank is set once the server showed it has no /rerank.
	noRank atomic.Bool

	mu     sync.Mutex
	models []modelInfo // /models, once read
}

// New returns a client for cfg using hc for transport.
func New(cfg Config, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{cfg: cfg, http: hc, sleep: sleepCtx}
}

// Host is the server's address, for messages (without any user info).
func (c *Client) Host() string { return c.cfg.BaseURL.Redacted() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Bounds of replies: a reply is read only as far as it can legitimately
// reach, as Ollama's are.
const (
	maxDims     = 16384   // numbers of one vector
	numberBytes = 32      // one number as JSON
	replyBytes  = 8 << 20 // a reply without vectors or answer
	errorBytes  = 1 << 20 // an error reply
	tokenBytes  = 64      // text of one token
	eventBytes  = 4 << 10 // one streamed event beside its text
)

// request is one call to make.
type request struct {
	method, path string
	body         any
	model        string
	role         provider.Role
	limit        int64
	stream       bool
}

// call is a request's deadline (provider.Deadline).
type call struct{ *provider.Deadline }

func (c *Client) start(ctx context.Context, stream bool) call {
	return call{provider.StartDeadline(ctx, c.Timeout, stream)}
}

// end releases the call; a call its Timeout stopped is a TimeoutError.
func (k call) end(host string, err error) error {
	if te := k.Stop(host); te != nil && err != nil {
		return te
	}
	return err
}

// send makes the request, again after a 429 as the server asks, and
// returns the response of a 2xx with its body bounded to r.limit; any
// other answer is its typed error.
func (c *Client) send(k call, r request) (*http.Response, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("encode the request: %w", err)
		}
	}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	wait := c.Backoff
	if wait <= 0 {
		wait = time.Second
	}
	for i := 1; ; i++ {
		resp, err := c.roundTrip(k.Ctx, r, payload)
		if err != nil {
			return nil, c.transportError(err, r.role)
		}
		if resp.StatusCode/100 == 2 {
			resp.Body = &boundBody{rc: resp.Body, limit: r.limit, host: c.Host(), path: resp.Request.URL.Path}
			if resp.ContentLength > r.limit {
				return nil, errors.Join(&provider.ReplyTooLargeError{Host: c.Host(), Path: resp.Request.URL.Path, Limit: r.limit, Announced: resp.ContentLength}, resp.Body.Close())
			}
			return resp, nil
		}
		err = c.statusError(resp, r)
		if resp.StatusCode != http.StatusTooManyRequests || i >= attempts {
			return nil, err
		}
		d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			d = wait
			wait *= 2
		}
		if err := c.sleep(k.Ctx, min(d, c.maxWait())); err != nil {
			return nil, err
		}
	}
}

func (c *Client) maxWait() time.Duration {
	if c.MaxWait > 0 {
		return c.MaxWait
	}
	return time.Minute
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date; ok
// is false when there is none or it cannot be read.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func (c *Client) roundTrip(ctx context.Context, r request, payload []byte) (*http.Response, error) {
	u := c.cfg.BaseURL.JoinPath(r.path)
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if r.stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	return c.http.Do(req)
}

// transportError classifies a request that got no answer.
func (c *Client) transportError(err error, role provider.Role) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial" {
		return &provider.UnreachableError{Host: c.Host(), Err: c.clean(err)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return &provider.DroppedError{Host: c.Host(), Answer: role == provider.RoleChat || role == provider.RoleExpand, Err: c.clean(err)}
	}
	return c.clean(err)
}

// clean is err with the API key taken out of its text, should anything
// have put it there; the error's type is kept for a plain error only.
func (c *Client) clean(err error) error {
	if err == nil || c.cfg.APIKey == "" || !strings.Contains(err.Error(), c.cfg.APIKey) {
		return err
	}
	return errors.New(c.scrub(err.Error()))
}

// scrub takes the API key out of text from the server.
func (c *Client) scrub(s string) string {
	if c.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.APIKey, "[redacted]")
}

// apiError is the error body of OpenAI and the servers that copy it, and
// the shapes of those that do not: {"error": "..."}, {"detail": "..."},
// {"message": "..."}.
type apiError struct {
	Error   json.RawMessage `json:"error"`
	Detail  json.RawMessage `json:"detail"`
	Message string          `json:"message"`
}

type apiErrorObject struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// errorText reads an error body: its message and code ("" when it has
// none).
func errorText(body []byte) (msg, code string) {
	var e apiError
	if json.Unmarshal(body, &e) == nil {
		var obj apiErrorObject
		var s string
		switch {
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			var cs string
			if json.Unmarshal(obj.Code, &cs) == nil {
				code = cs
			}
			return obj.Message, cmpOr(code, obj.Type)
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return s, ""
		case json.Unmarshal(e.Detail, &s) == nil && s != "":
			return s, ""
		case len(e.Detail) > 0 && string(e.Detail) != "null":
			return string(e.Detail), ""
		case e.Message != "":
			return e.Message, ""
		}
	}
	return strings.TrimSpace(string(body)), ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// statusError reads an error answer (bounded) and makes it the typed
// error: a missing model, an input too long, or a StatusError.
func (c *Client) statusError(resp *http.Response, r request) error {
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, errorBytes))
	if cerr := resp.Body.Close(); rerr == nil {
		rerr = cerr
	}
	msg, code := errorText(body)
	msg = c.scrub(msg)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	if rerr != nil {
		msg += fmt.Sprintf(" (reading the reply: %v)", c.clean(rerr))
	}
	if r.model != "" && notFound(resp.StatusCode, msg, code) {
		return &provider.ModelNotFoundError{Model: r.model, Role: r.role, NoPull: true}
	}
	return &provider.StatusError{
		StatusCode: resp.StatusCode,
		Err:        fmt.Errorf("HTTP %d from %s: %s", resp.StatusCode, resp.Request.URL.Path, msg),
		KeyEnv:     c.cfg.KeyEnv,
		KeySet:     c.cfg.APIKey != "",
		TooLong:    code == "context_length_exceeded",
	}
}

// notFound reports whether an error answer says the model is unknown:
// OpenAI's code model_not_found, vLLM's "The model `x` does not exist",
// Ollama's "model \"x\" not found". A 404 that does not name a model is
// a wrong address (a base URL without /v1), not a missing model.
func notFound(status int, msg, code string) bool {
	if code == "model_not_found" {
		return true
	}
	m := strings.ToLower(msg)
	if !strings.Contains(m, "model") {
		return false
	}
	return status == http.StatusNotFound || strings.Contains(m, "not found") || strings.Contains(m, "does not exist")
}

// boundBody reads up to limit bytes; a byte more is a ReplyTooLargeError.
type boundBody struct {
	rc         io.ReadCloser
	limit, n   int64
	host, path string
}

func (b *boundBody) Read(p []byte) (int, error) {
	left := b.limit - b.n
	if left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, &provider.ReplyTooLargeError{Host: b.host, Path: b.path, Limit: b.limit, Announced: -1}
		}
		return 0, err
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *boundBody) Close() error { return b.rc.Close() }

// readJSON decodes a whole reply into v and closes it.
func (c *Client) readJSON(resp *http.Response, v any, role provider.Role) error {
	data, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	var tooLarge *provider.ReplyTooLargeError
	if errors.As(err, &tooLarge) {
		return tooLarge
	}
	if err != nil {
		return c.transportError(err, role)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("the model server at %s sent a reply to %s that is not the JSON expected: %w", c.Host(), resp.Request.URL.Path, err)
	}
	return nil
}
