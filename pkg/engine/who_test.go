package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/store"
)

// TestGroupsCache: the groups file is parsed again only when its stat
// changes (an edit of the same size included), and always while a change
// is too recent for the stat to tell two writes apart.
func TestGroupsCache(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "groups.yaml")
	write(t, p, "alice: [eng]\n")
	var c groupsCache
	ctx := context.Background()
	later := time.Now().Add(time.Hour) // the file's changes are long past
	step := func(what string, now time.Time, parses int, groups ...string) {
		t.Helper()
		m, err := c.read(ctx, p, now)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.Equal(m["alice"], groups) || c.parses != parses {
			t.Errorf("%s: alice in %v after %d parses; want %v after %d", what, m["alice"], c.parses, groups, parses)
		}
	}
	step("first", later, 1, "eng")
	step("unchanged", later, 1, "eng")
	step("unchanged again", later, 1, "eng")
	time.Sleep(20 * time.Millisecond) // past the file system's clock tick
	write(t, p, "alice: [ops]\n")     // the same size
	step("edited", later, 2, "ops")
	step("unchanged after the edit", later, 2, "ops")
	time.Sleep(20 * time.Millisecond)
	if err := os.Rename(writeTemp(t, filepath.Dir(p), "alice: [hr, ops]\n"), p); err != nil {
		t.Fatal(err)
	}
	step("replaced", later, 3, "hr", "ops")
	time.Sleep(20 * time.Millisecond)
	write(t, p, "alice: [hr, qa]\n")
	step("just changed: parsed at every question", time.Now(), 4, "hr", "qa")
	step("still too recent", time.Now(), 5, "hr", "qa")
	step("older", later, 6, "hr", "qa")
	step("older, unchanged", later, 6, "hr", "qa")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := c.read(ctx, p, later); err == nil {
		t.Error("removed: no error")
	}
}

func writeTemp(t *testing.T, dir, s string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// BenchmarkViewGroups100k is the cost of resolving who asks, as rag chat
// and rag mcp do at every question, with a groups file of 100,000 users:
// parsed before and then only stat'ed ("unchanged"), and parsed at every
// question ("changed": the file is touched before each), which is what
// every question cost before the cache.
func BenchmarkViewGroups100k(b *testing.B) {
	var sb strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&sb, "user%d: [team%d, dept%d]\n", i, i%500, i%20)
	}
	p := filepath.Join(b.TempDir(), "groups.yaml")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		b.Fatal(err)
	}
	vo := Who{As: "user:user99999"}
	ctx := context.Background()
	check := func(b *testing.B, v store.View) {
		if !slices.Contains(v.Principals, "group:team499") {
			b.Fatalf("view %v", v.Principals)
		}
	}
	b.Run("unchanged", func(b *testing.B) {
		// The file's change is long past (racyWindow) once the clock is
		// an hour ahead.
		a := New(Config{GroupsFile: p, Now: func() time.Time { return time.Now().Add(time.Hour) }})
		if _, err := a.Resolve(ctx, vo); err != nil { // the one parse
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			v, err := a.Resolve(ctx, vo)
			if err != nil {
				b.Fatal(err)
			}
			check(b, v.View)
		}
	})
	b.Run("changed", func(b *testing.B) {
		a := New(Config{GroupsFile: p})
		b.ReportAllocs()
		for b.Loop() {
			t := time.Now()
			if err := os.Chtimes(p, t, t); err != nil {
				b.Fatal(err)
			}
			v, err := a.Resolve(ctx, vo)
			if err != nil {
				b.Fatal(err)
			}
			check(b, v.View)
		}
	})
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
