package server

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/rag-cli/rag/pkg/engine"
)

// DefaultIdleReaders is how many open readers a server keeps between
// requests when Config.IdleReaders is 0.
const DefaultIdleReaders = 4

// readers keeps the readers of finished requests, by who asked, for the
// next request of the same caller: opening the index and loading its
// caches again for every request would cost more than the search. A
// reader taken from here is refreshed first (Reader.Refresh: who asks
// resolved again, so a changed groups file counts at once, and the index
// opened again when rag index has committed since), and serves one
// request at a time: a Reader is not safe for concurrent use. Each idle
// reader holds the index's caches and its readers lock (as rag mcp's
// does), hence the bound.
type readers struct {
	e   *engine.Engine
	max int

	mu     sync.Mutex
	idle   map[string][]*engine.Reader
	n      int
	closed bool
}

func whoKey(w engine.Who) string {
	return w.As + "\x00" + w.Tenant + "\x00" + strings.Join(w.Collections, "\x00") + "\x00" + w.Filter.String()
}

// get returns a reader of the index as it is now, for w.
func (p *readers) get(ctx context.Context, w engine.Who) (*engine.Reader, error) {
	k := whoKey(w)
	p.mu.Lock()
	var rd *engine.Reader
	if list := p.idle[k]; len(list) > 0 {
		rd, p.idle[k] = list[len(list)-1], list[:len(list)-1]
		p.n--
		if len(p.idle[k]) == 0 {
			delete(p.idle, k)
		}
	}
	p.mu.Unlock()
	if rd == nil {
		return p.e.Open(ctx, w, nil)
	}
	if err := rd.Refresh(ctx, w); err != nil {
		return nil, errors.Join(err, rd.Close())
	}
	return rd, nil
}

// put keeps rd for w's next request, or closes it when enough are kept.
func (p *readers) put(w engine.Who, rd *engine.Reader) error {
	p.mu.Lock()
	if p.closed || p.n >= p.max {
		p.mu.Unlock()
		return rd.Close()
	}
	k := whoKey(w)
	p.idle[k] = append(p.idle[k], rd)
	p.n++
	p.mu.Unlock()
	return nil
}

// close closes the idle readers; later ones are closed when put.
func (p *readers) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for k, list := range p.idle {
		for _, rd := range list {
			errs = append(errs, rd.Close())
		}
		delete(p.idle, k)
	}
	p.n = 0
	return errors.Join(errs...)
}
