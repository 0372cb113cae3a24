package store

import (
	"container/list"
	"sync"
)

// textCacheSize bounds how many objects' texts a store keeps: about 20 KB
// each (10 chunks of text, no vectors), a few MB in all.
const textCacheSize = 256

// textCache keeps the texts of the objects searches read lately, most
// recent first. Objects never change (a key names one content chunked one
// way, indexer's keyer), so what it holds is never stale, and an object
// from it has the chunk count every catalog entry of its key records. A query that searches several times (hybrid's two
// channels, an expansion's phrasings) and a long-lived reader (rag chat,
// rag mcp) read each object's file once.
type textCache struct {
	mu    sync.Mutex
	order *list.List // of *textEntry, most recent first
	byKey map[string]*list.Element
	// maxEntries and maxBytes bound it (0: no bound of that kind); bytes
	// is what the texts it holds take.
	maxEntries     int
	maxBytes, size int64
}

type textEntry struct {
	key  string
	obj  objectText
	size int64
}

func newTextCache(maxEntries int, maxBytes int64) *textCache {
	return &textCache{order: list.New(), byKey: map[string]*list.Element{}, maxEntries: maxEntries, maxBytes: maxBytes}
}

// textSize is about what obj takes in memory.
func textSize(obj objectText) int64 {
	n := int64(64)
	for _, c := range obj.chunks {
		n += int64(len(c.Text)+len(c.Heading)) + 128
	}
	return n
}

func (c *textCache) get(key string) (objectText, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return objectText{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*textEntry).obj, true
}

func (c *textCache) put(key string, obj objectText) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return
	}
	e := &textEntry{key: key, obj: obj, size: textSize(obj)}
	c.byKey[key] = c.order.PushFront(e)
	c.size += e.size
	for c.order.Len() > 1 && (c.maxEntries > 0 && c.order.Len() > c.maxEntries || c.maxBytes > 0 && c.size > c.maxBytes) {
		last := c.order.Back()
		c.order.Remove(last)
		old := last.Value.(*textEntry)
		delete(c.byKey, old.key)
		c.size -= old.size
	}
}
