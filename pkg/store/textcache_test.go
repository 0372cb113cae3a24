package store

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestTextCache: the least recently used object goes first once the cache
// is full.
func TestTextCache(t *testing.T) {
	t.Parallel()
	c := newTextCache(textCacheSize, 0)
	for i := range textCacheSize {
		c.put(key(i), objectText{dims: i})
	}
	if _, ok := c.get(key(0)); !ok { // 0 is now the most recent
		t.Fatal("a kept object is missing")
	}
	c.put(key(textCacheSize), objectText{})
	if _, ok := c.get(key(1)); ok {
		t.Error("the least recently used object was kept")
	}
	for _, i := range []int{0, 2, textCacheSize} {
		if obj, ok := c.get(key(i)); !ok || i < textCacheSize && obj.dims != i {
			t.Errorf("object %d: %v, %+v", i, ok, obj)
		}
	}
}

// TestSearchReadsObjectOnce: a store's searches read an object's file
// once; later ones, lexical or dense, take its text from the cache.
func TestSearchReadsObjectOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, dir := newStore(t)
	if err := w.PutObject(ctx, key(1), []Chunk{{StartLine: 1, EndLine: 1, Text: "alpha wombat", Vector: vec(4, 0)}}); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, w, FileEntry{Root: "/r", Path: "a.md", Key: key(1), Chunks: 1})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openRead(t, dir)
	if hits, err := r.SearchText(ctx, View{}, "wombat", 1); err != nil || len(hits) != 1 {
		t.Fatalf("first search: %v, %v", hits, err)
	}
	// Were the file read again, the search would now find it missing.
	if err := os.Remove(r.objectPath(key(1))); err != nil {
		t.Fatal(err)
	}
	for name, search := range map[string]func() ([]Hit, error){
		"lexical": func() ([]Hit, error) { return r.SearchText(ctx, View{}, "wombat", 1) },
		"dense":   func() ([]Hit, error) { return r.Search(ctx, View{}, vec(4, 0), 1) },
	} {
		hits, err := search()
		if err != nil || len(hits) != 1 || hits[0].Text != "alpha wombat" {
			t.Errorf("%s: %v, %v", name, hits, err)
		}
	}
	if d := r.Damaged(); len(d) != 0 {
		t.Errorf("damage noted: %v", fmt.Sprint(d))
	}
}
