// Package ollama is rag's door to an Ollama server, a provider.Client: it
// embeds batches of text, streams chat answers, lists and pulls models
// through github.com/ollama/ollama/api (reading the vectors of an
// embedding answer with its own decoder, the one hot path), and turns
// transport and API failures into package provider's typed errors (server
// unreachable, model not pulled, an error answer and whether its status
// may pass, an input longer than the model's context) that the CLI maps to
// hints and exit codes.
package ollama

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"
)

// Client talks to one Ollama server. It is safe for concurrent use.
//
// Every reply is read only as far as it can legitimately reach (see
// MaxDims, ChatRequest.MaxTokens): a longer one is a ReplyTooLargeError.
type Client struct {
	// Timeout, if above 0, bounds every call: the whole of one that
	// returns a reply (reading it included), and for a streamed one (an
	// answer, a pull) the wait for each next message. A call it stops is
	// a TimeoutError. A caller's earlier deadline is kept. Set it before
	// the first call.
	Timeout time.Duration

	host *url.URL
	http *http.Client
	// bufs holds bodies of embedding answers and the numbers read from
	// them, reused from one request to the next.
	bufs sync.Pool
}

// New returns a client for the server at host using hc for transport.
func New(host *url.URL, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{host: host, http: hc}
}

// Host is the address the client talks to, for messages.
func (c *Client) Host() string { return c.host.String() }

// Embed returns one vector per input, in order, of each input's first
// tokens if it is longer than the model's context (Ollama truncates it).
// The vectors are the caller's own.
func (c *Client) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	return c.embed(ctx, model, inputs, true)
}

// EmbedWhole is Embed refusing to truncate: an input longer than the
// model's context fails the request with an error that is ErrTooLong, so
// the caller can cut it rather than lose its end.
func (c *Client) EmbedWhole(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	return c.embed(ctx, model, inputs, false)
}

func (c *Client) embed(ctx context.Context, model string, inputs []string, truncate bool) ([][]float32, error) {
	k, hc := c.start(ctx, embedReplyLimit(len(inputs)), false)
	// The library sends the request and reads any error as it does for
	// every call; only the vectors of a successful answer are decoded by
	// decodeEmbed, as they arrive, in the transport.
	fast := &embedTransport{next: hc.Transport, bufs: &c.bufs}
	hc.Transport = fast
	resp, err := api.NewClient(c.host, hc).Embed(k.Ctx, &api.EmbedRequest{Model: model, Input: inputs, Truncate: &truncate})
	if err = k.end(c.host.String(), err); err != nil {
		return nil, c.classify(model, RoleEmbed, err)
	}
	vecs := resp.Embeddings
	if fast.vecs != nil {
		vecs = fast.vecs
	}
	if len(vecs) != len(inputs) {
		return nil, fmt.Errorf("ollama returned %d embeddings for %d inputs", len(vecs), len(inputs))
	}
	for i, v := range vecs {
		if len(v) > MaxDims {
			return nil, fmt.Errorf("ollama returned a vector of %d numbers for input %d, more than any embedding model writes (%d)", len(v), i+1, MaxDims)
		}
	}
	return vecs, nil
}

// embedTransport decodes the vectors of a successful /api/embed answer
// and hands the library an empty object in its place; any other answer,
// or one decodeEmbed does not know, reaches the library as it came.
type embedTransport struct {
	next http.RoundTripper
	bufs *sync.Pool
	vecs [][]float32
}

// embedBuffers are what one answer is read into.
type embedBuffers struct {
	body    bytes.Buffer
	numbers []float32
}

func (t *embedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, _ := t.bufs.Get().(*embedBuffers)
	if b == nil {
		b = &embedBuffers{}
	}
	b.body.Reset()
	_, rerr := b.body.ReadFrom(resp.Body)
	if cerr := resp.Body.Close(); rerr == nil {
		rerr = cerr
	}
	var tooLarge *ReplyTooLargeError
	if errors.As(rerr, &tooLarge) {
		return nil, rerr // what came is of no use: not copied for the library
	}
	if rerr != nil {
		// The library reads what came and then the same error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(bytes.Clone(b.body.Bytes())), errReader{rerr}))
		t.bufs.Put(b)
		return resp, nil
	}
	if vecs, ok := decodeEmbed(b.body.Bytes(), &b.numbers); ok {
		t.vecs = vecs
		resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
		t.bufs.Put(b)
		return resp, nil
	}
	// The library decodes it (and says what is wrong with it); the
	// buffer is the body now and is not reused.
	resp.Body, resp.ContentLength = io.NopCloser(&b.body), int64(b.body.Len())
	return resp, nil
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// errStop ends a stream the client stops reading.
var errStop = errors.New("stop reading")

// Chat streams the model's answer, calling fn with each piece of text.
// An answer that reaches req.MaxTokens ends with ErrCutOff, the pieces
// before it delivered: the server says so (done_reason "length"), or it
// sends more than that many tokens and the client stops reading.
func (c *Client) Chat(ctx context.Context, req ChatRequest, fn func(string) error) error {
	maxTokens := cmp.Or(req.MaxTokens, DefaultMaxTokens)
	opts := map[string]any{}
	for k, v := range req.Options {
		opts[k] = v
	}
	opts["num_predict"] = maxTokens
	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	stream := true
	done, cut := false, false
	k, hc := c.start(ctx, chatReplyLimit(maxTokens), true)
	var messages, pieces, size int
	err := api.NewClient(c.host, hc).Chat(k.Ctx, &api.ChatRequest{
		Model:    req.Model,
		Messages: msgs,
		Stream:   &stream,
		Options:  opts,
		Format:   req.Format,
	}, func(r api.ChatResponse) error {
		k.Progress()
		if messages++; messages > chatMessages(maxTokens) {
			cut = true
			return errStop
		}
		done = done || r.Done
		cut = cut || r.Done && r.DoneReason == "length"
		text := r.Message.Content
		if text == "" {
			return nil
		}
		// Ollama sends a token a message (or fewer, holding back part of
		// a character): more messages than tokens asked for, or more
		// text than they can hold, is a server that does not stop.
		if pieces++; pieces > maxTokens {
			cut = true
			return errStop
		}
		if room := maxTokens*tokenBytes - size; len(text) > room {
			cut = true
			text = strings.ToValidUTF8(text[:room], "")
			if err := fn(text); err != nil {
				return err
			}
			return errStop
		}
		size += len(text)
		return fn(text)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err = k.end(c.host.String(), err); err != nil {
		return c.classify(req.Model, cmp.Or(req.Role, RoleChat), err)
	}
	// The api client ends a stream whose body stopped (Ctrl-C, a dropped
	// connection) as if it were complete; only Ollama's last message,
	// done, says the answer is whole.
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case cut:
		return ErrCutOff
	case !done:
		return &DroppedError{Host: c.host.String(), Answer: true, Err: io.ErrUnexpectedEOF}
	}
	return nil
}

// classify turns transport and API errors into the typed errors above.
func (c *Client) classify(model string, role Role, err error) error {
	var tooLarge *ReplyTooLargeError
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &tooLarge) {
		return err
	}
	var status api.StatusError
	if errors.As(err, &status) {
		// Ollama answers 404 on embed and chat only for a missing model.
		if status.StatusCode == http.StatusNotFound {
			return &ModelNotFoundError{Model: model, Role: role}
		}
		return &StatusError{StatusCode: status.StatusCode, Err: err}
	}
	var auth api.AuthorizationError
	if errors.As(err, &auth) {
		return &StatusError{StatusCode: auth.StatusCode, Err: err}
	}
	// Only a failure to connect means the server is down; a connection
	// that drops mid-request is a transient failure worth a retry.
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial" {
		return &UnreachableError{Host: c.host.String(), Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return &DroppedError{Host: c.host.String(), Answer: role == RoleChat || role == RoleExpand, Err: err}
	}
	return fmt.Errorf("ollama: %w", err)
}

// NextToken asks the model for one token after the chat and returns the
// top candidates for it with their log probabilities, most likely first.
// It is how rag reads a model's yes/no judgement as a probability.
func (c *Client) NextToken(ctx context.Context, req ChatRequest, top int) ([]TokenProb, error) {
	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	opts := map[string]any{"num_predict": 1, "temperature": 0}
	for k, v := range req.Options {
		opts[k] = v
	}
	stream := false
	var out []TokenProb
	k, hc := c.start(ctx, replyBytes, false)
	err := api.NewClient(c.host, hc).Chat(k.Ctx, &api.ChatRequest{
		Model:       req.Model,
		Messages:    msgs,
		Stream:      &stream,
		Options:     opts,
		Logprobs:    true,
		TopLogprobs: top,
	}, func(r api.ChatResponse) error {
		if len(out) > 0 || len(r.Logprobs) == 0 {
			return nil
		}
		first := r.Logprobs[0]
		for _, t := range first.TopLogprobs {
			out = append(out, TokenProb{Token: t.Token, Logprob: t.Logprob})
		}
		if len(out) == 0 {
			out = append(out, TokenProb{Token: first.Token, Logprob: first.Logprob})
		}
		return nil
	})
	if err = k.end(c.host.String(), err); err != nil {
		return nil, c.classify(req.Model, RoleJudge, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ollama returned no log probabilities for %s (Ollama 0.12.11 or later is needed)", req.Model)
	}
	return out, nil
}

// Models lists the names of the models the server has ("name:tag").
func (c *Client) Models(ctx context.Context) ([]string, error) {
	k, hc := c.start(ctx, replyBytes, false)
	resp, err := api.NewClient(c.host, hc).List(k.Ctx)
	if err = k.end(c.host.String(), err); err != nil {
		return nil, c.classify("", "", err)
	}
	names := make([]string, 0, len(resp.Models))
	for _, m := range resp.Models {
		names = append(names, m.Name)
	}
	return names, nil
}

// Has reports whether the server has the model, asking /api/show.
func (c *Client) Has(ctx context.Context, model string) (bool, error) {
	_, err := c.show(ctx, model)
	if err == nil {
		return true, nil
	}
	var missing *ModelNotFoundError
	if err := c.classify(model, "", err); !errors.As(err, &missing) {
		return false, err
	}
	return false, nil
}

// ContextLength is the context length the model was trained with, as
// /api/show reports it (model_info's ARCH.context_length); 0 when the
// server does not say.
func (c *Client) ContextLength(ctx context.Context, model string) (int, error) {
	trained, _, err := c.contextLengths(ctx, model, RoleChat)
	return trained, err
}

// EmbedContextLength is the most tokens the model embeds at once when
// rag sets no num_ctx (as it does not when embedding): the smaller of the
// trained context length and the num_ctx its Modelfile sets, as /api/show
// reports them; 0 when the server says neither. The server's own default
// context (OLLAMA_CONTEXT_LENGTH) may be smaller still.
func (c *Client) EmbedContextLength(ctx context.Context, model string) (int, error) {
	trained, numCtx, err := c.contextLengths(ctx, model, RoleEmbed)
	if numCtx > 0 && (trained == 0 || numCtx < trained) {
		return numCtx, err
	}
	return trained, err
}

func (c *Client) contextLengths(ctx context.Context, model string, role Role) (trained, numCtx int, err error) {
	resp, err := c.show(ctx, model)
	if err != nil {
		return 0, 0, c.classify(model, role, err)
	}
	arch, _ := resp.ModelInfo["general.architecture"].(string)
	switch v := resp.ModelInfo[arch+".context_length"].(type) {
	case float64:
		trained = int(v)
	case int:
		trained = v
	}
	// Parameters are lines of a name and a value, as a Modelfile's
	// PARAMETER lines: "num_ctx                        512".
	for _, line := range strings.Split(resp.Parameters, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "num_ctx" {
			if n, err := strconv.ParseFloat(f[1], 64); err == nil && n >= 1 && n < math.MaxInt32 {
				numCtx = int(n)
			}
		}
	}
	return trained, numCtx, nil
}

// show asks /api/show about a model.
func (c *Client) show(ctx context.Context, model string) (*api.ShowResponse, error) {
	k, hc := c.start(ctx, replyBytes, false)
	resp, err := api.NewClient(c.host, hc).Show(k.Ctx, &api.ShowRequest{Model: model})
	return resp, k.end(c.host.String(), err)
}

// Pull downloads a model to the server, calling fn with each progress step.
func (c *Client) Pull(ctx context.Context, model string, fn func(PullProgress)) error {
	stream := true
	// A pull's messages are progress, not kept: the stream has no length
	// limit, only a line's (the library's) and the wait for the next.
	k, hc := c.start(ctx, math.MaxInt64, true)
	err := api.NewClient(c.host, hc).Pull(k.Ctx, &api.PullRequest{Model: model, Stream: &stream}, func(p api.ProgressResponse) error {
		k.Progress()
		if fn != nil {
			fn(PullProgress{Status: p.Status, Digest: p.Digest, Total: p.Total, Completed: p.Completed})
		}
		return nil
	})
	if err = k.end(c.host.String(), err); err == nil {
		if err := ctx.Err(); err != nil {
			return err // the library ends a stream cut short as if whole
		}
		return nil
	}
	var unreach *UnreachableError
	var tooLarge *ReplyTooLargeError
	if cerr := c.classify(model, "", err); errors.As(cerr, &unreach) || errors.As(cerr, &tooLarge) || errors.Is(cerr, context.Canceled) || errors.Is(cerr, context.DeadlineExceeded) {
		return cerr
	}
	// Ollama reports a name the registry does not have, or a registry it
	// cannot reach, as an error line in the stream.
	return &PullError{Model: model, Err: err}
}
