package guard

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds the rate limiters held at once, so callers cycling through keys (made-up tokens,
// many addresses) cannot grow memory without end; about 200 bytes each.
const maxKeys = 10000

// limiters is one token bucket per key, least recently used first out. A bucket idle long enough
// to have refilled is the same as a new one, so it is dropped first and nothing is lost; only
// when all maxKeys buckets are in use does the least recent active one go (its key starts afresh).
type limiters struct {
	limit rate.Limit
	burst int
	max   int
	idle  time.Duration // time for an empty bucket to refill

	mu    sync.Mutex
	byKey map[string]*list.Element
	lru   *list.List // of *bucket, most recent at the front
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

func newLimiters(perMin, burst, maxKeys int) *limiters {
	limit := rate.Limit(float64(perMin) / 60)
	idle := time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	return &limiters{limit: limit, burst: burst, max: maxKeys, idle: idle,
		byKey: make(map[string]*list.Element), lru: list.New()}
}

// allow takes a token from key's bucket at now; when there is none it reports how long to wait.
func (l *limiters) allow(key string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(key, now)
	res := b.lim.ReserveN(now, 1)
	if !res.OK() { // burst < 1 cannot happen: Chain makes it at least 1
		return time.Minute, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now) // a refused request costs nothing
		return d, false
	}
	return 0, true
}

// get finds or makes key's bucket and marks it used; l.mu is held.
func (l *limiters) get(key string, now time.Time) *bucket {
	if e, ok := l.byKey[key]; ok {
		l.lru.MoveToFront(e)
		b := e.Value.(*bucket) // the list holds only buckets
		b.last = now
		return b
	}
	l.evict(now)
	b := &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst), last: now}
	l.byKey[key] = l.lru.PushFront(b)
	return b
}

// evict drops refilled buckets from the back, then the least recent ones while there is no room.
func (l *limiters) evict(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		b := e.Value.(*bucket) // the list holds only buckets
		if now.Sub(b.last) < l.idle && l.lru.Len() < l.max {
			return
		}
		l.lru.Remove(e)
		delete(l.byKey, b.key)
	}
}

func (l *limiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
