package ollama

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/rag-cli/rag/pkg/provider"
)

// A reply is read only as far as it can legitimately reach: a server that
// announces or streams more (a bug, a proxy gone wrong, a hostile host
// behind OLLAMA_HOST) is an error at once, not memory grown without end.
const (
	// MaxDims is the longest vector an embedding reply may hold per
	// input: four times the widest embedding models (4,096).
	MaxDims = 16384
	// numberBytes is room for one number of a vector as JSON text: Go
	// writes a float32 in at most 15 characters ("-1.2345678e-05"), and a
	// comma and spaces follow.
	numberBytes = 32
	// replyBytes bounds a reply that carries no vectors or answer
	// (/api/show with a long license, /api/tags with many models, a
	// re-ranking judgement), and the rest of those that do.
	replyBytes = 8 << 20
	// errorBytes bounds the body of an error reply ({"error": "..."}).
	errorBytes = 1 << 20
	// tokenBytes is the most text one token of an answer is taken to
	// carry (a run of spaces or dashes is one token; most are 4 bytes).
	tokenBytes = 64
	// messageBytes is the most one streamed message may take beside its
	// text: the model's name, times, and the statistics of the last.
	messageBytes = 4 << 10
)

// embedReplyLimit is the most an /api/embed reply for n inputs may hold.
func embedReplyLimit(n int) int64 {
	return replyBytes + int64(n)*MaxDims*numberBytes
}

// chatMessages is the most messages a stream of an answer of maxTokens
// may hold: one a token (of the answer or of the model's thinking), and
// a few more.
func chatMessages(maxTokens int) int { return 2*maxTokens + 64 }

// chatReplyLimit is the most a stream of chatMessages may hold.
func chatReplyLimit(maxTokens int) int64 {
	return replyBytes + int64(chatMessages(maxTokens))*messageBytes
}

// call is one request's bounds: its deadline (provider.Deadline) and the
// transport that stops reading at the limit.
type call struct {
	*provider.Deadline

	mu       sync.Mutex
	tooLarge *ReplyTooLargeError
}

// start bounds a call to limit bytes of reply and the client's Timeout:
// the whole call, or with stream the wait for each next message.
func (c *Client) start(ctx context.Context, limit int64, stream bool) (*call, *http.Client) {
	k := &call{Deadline: provider.StartDeadline(ctx, c.Timeout, stream)}
	next := c.http.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc := *c.http
	hc.Transport = &boundTransport{next: next, limit: limit, call: k, host: c.host.String()}
	return k, &hc
}

// end releases the call and turns what stopped it into its error: the
// reply was too long, or the time ran out. Otherwise err is returned as
// it is (nil for a call that went well).
func (k *call) end(host string, err error) error {
	timedOut := k.Stop(host)
	k.mu.Lock()
	tooLarge := k.tooLarge
	k.mu.Unlock()
	switch {
	case tooLarge != nil:
		return tooLarge
	case timedOut != nil:
		return timedOut
	}
	return err
}

func (k *call) fail(e *ReplyTooLargeError) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tooLarge == nil {
		k.tooLarge = e
	}
	return k.tooLarge
}

// boundTransport refuses a reply that announces more than limit bytes
// and ends one that sends more. The error is noted in the call too: the
// api library ends a stream at the first read error as if it were whole.
type boundTransport struct {
	next  http.RoundTripper
	limit int64
	call  *call
	host  string
}

func (t *boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	limit := t.limit
	if resp.StatusCode != http.StatusOK {
		limit = min(limit, errorBytes)
	}
	if resp.ContentLength > limit {
		e := &ReplyTooLargeError{Host: t.host, Path: req.URL.Path, Limit: limit, Announced: resp.ContentLength}
		if cerr := resp.Body.Close(); cerr != nil {
			return nil, errors.Join(t.call.fail(e), cerr)
		}
		return nil, t.call.fail(e)
	}
	resp.Body = &boundBody{rc: resp.Body, limit: limit, fail: func() error {
		return t.call.fail(&ReplyTooLargeError{Host: t.host, Path: req.URL.Path, Limit: limit, Announced: -1})
	}}
	return resp, nil
}

// boundBody reads up to limit bytes; a byte more is an error.
type boundBody struct {
	rc    io.ReadCloser
	limit int64
	n     int64
	fail  func() error
}

func (b *boundBody) Read(p []byte) (int, error) {
	left := b.limit - b.n
	if left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.fail()
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
