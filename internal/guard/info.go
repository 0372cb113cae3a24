package guard

import (
	"context"
	"sync"
)

// reqInfo is what routes tell the guard about a request while serving it. Context values flow only
// inward, so the guard puts this mutable slot in the context and the routes fill it.
type reqInfo struct {
	mu       sync.Mutex
	query    string
	hasQuery bool
	who      string
	reason   string
	pattern  string // the mux pattern matched; read on the serving goroutine only
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(infoKey{}).(*reqInfo) // absent outside the chain
	return info
}

// WithQuery records q as the query text of the request the chain is serving, for the access log
// (written only with logQueries). Outside the chain it does nothing. It returns ctx for chaining.
func WithQuery(ctx context.Context, q string) context.Context {
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		info.query, info.hasQuery = q, true
		info.mu.Unlock()
	}
	return ctx
}

// WithPrincipal records who is calling, once the route has authenticated the request, for the
// access log (it wins over Chain's principal func, which sees the request before authentication).
func WithPrincipal(ctx context.Context, principal string) context.Context {
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		info.who = principal
		info.mu.Unlock()
	}
	return ctx
}

func (i *reqInfo) queryText() (string, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.query, i.hasQuery
}

func (i *reqInfo) principal() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.who
}

func (i *reqInfo) setRejected(reason string) {
	i.mu.Lock()
	i.reason = reason
	i.mu.Unlock()
}

func (i *reqInfo) rejectedReason() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.reason
}
