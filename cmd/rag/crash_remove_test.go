//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestKillDuringRemove kills `rag index --remove` at each point of its one
// commit: the index is whole after it (the catalog before or after the
// removal), and running the removal again ends where a clean one does.
func TestKillDuringRemove(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	plain, fault := binaries(t)
	docs := corpus(t, 150)
	part1 := filepath.Join(docs, "part1")
	clean := newProc(t)
	clean.mustRun(plain, "index", "--embed-model", model, docs)
	clean.mustRun(plain, "index", "--remove", part1)
	checkClean(t, clean.index)
	want := clean.contents(plain)
	if !strings.HasPrefix(want, "files 100, chunks 100, read back 100, damaged []\n") {
		t.Fatalf("clean removal: %s", want[:min(len(want), 200)])
	}

	for _, point := range []string{"catalog-half-written:1", "catalog-written:1", "catalog-committed:1", "gc:1"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			p := newProc(t)
			p.mustRun(plain, "index", "--embed-model", model, docs)
			_, stderr, code := p.run(fault, []string{"RAG_FAULT=" + point}, "index", "--remove", part1)
			killed(t, code, stderr)
			if got := p.contents(plain); got != want && !strings.HasPrefix(got, "files 150, chunks 150, read back 150, damaged []\n") {
				t.Fatalf("after the kill the index is neither before nor after the removal:\n%s", got[:min(len(got), 400)])
			}
			// Again: it finishes the removal, or finds nothing left to remove.
			if _, stderr, code := p.run(plain, nil, "index", "--remove", part1); code != 0 && !(code == 2 && strings.Contains(stderr, "is not in the index")) {
				t.Fatalf("second removal: exit %d: %s", code, stderr)
			}
			checkClean(t, p.index)
			if got := p.contents(plain); got != want {
				t.Errorf("after the kill and a rerun the index differs from a clean removal:\n%s", diff(got, want))
			}
		})
	}
}
