package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunBatchesAndFollowsNewFolders(t *testing.T) {
	t.Parallel()
	docs, other := t.TempDir(), t.TempDir()
	single := filepath.Join(other, "one.md")
	write(t, single, "one")
	targets := []Target{{Path: docs}, {Path: single, File: true}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	passes := make(chan []int, 10)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, targets, Options{Quiet: 100 * time.Millisecond, Ready: func() { close(ready) }},
			func(_ context.Context, changed []int) error {
				passes <- changed
				return nil
			})
	}()
	<-ready

	next := func(step string) []int {
		t.Helper()
		select {
		case c := <-passes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no pass", step)
			return nil
		}
	}
	none := func(step string) {
		t.Helper()
		select {
		case c := <-passes:
			t.Fatalf("%s: unexpected pass %v", step, c)
		case <-time.After(400 * time.Millisecond):
		}
	}

	// A burst of writes is one pass.
	for i := 0; i < 20; i++ {
		write(t, filepath.Join(docs, "f"+string(rune('a'+i))+".md"), "x")
	}
	if got := next("burst"); !reflect.DeepEqual(got, []int{0}) {
		t.Fatalf("burst: pass for %v", got)
	}
	none("after burst")

	// A folder created after the start is watched too.
	sub := filepath.Join(docs, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	next("mkdir")
	time.Sleep(50 * time.Millisecond)
	write(t, filepath.Join(sub, "deep.md"), "deep")
	if got := next("new folder"); !reflect.DeepEqual(got, []int{0}) {
		t.Fatalf("new folder: pass for %v", got)
	}

	// Only the single file counts in its folder; hidden files never do.
	write(t, filepath.Join(other, "unrelated.md"), "x")
	write(t, filepath.Join(docs, ".swap"), "x")
	none("unrelated and hidden files")
	if err := os.Remove(single); err != nil {
		t.Fatal(err)
	}
	if got := next("single file removed"); !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("single file: pass for %v", got)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

func TestRunStopsOnPassError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	boom := errors.New("boom")
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), []Target{{Path: dir}}, Options{Quiet: 10 * time.Millisecond, Ready: func() { close(ready) }},
			func(context.Context, []int) error { return boom })
	}()
	<-ready
	write(t, filepath.Join(dir, "a.md"), "a")
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("Run = %v", err)
	}
}

// TestRunRuleFiles: an edit of a rules or ignore file (hidden, as other
// hidden files that never count) starts a pass of its target, a folder's
// at any depth, a single file's in its folder.
func TestRunRuleFiles(t *testing.T) {
	t.Parallel()
	docs, other := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(docs, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(other, "one.md")
	write(t, single, "one")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	passes := make(chan []int, 10)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []Target{{Path: docs}, {Path: single, File: true}},
			Options{Quiet: 50 * time.Millisecond, Ready: func() { close(ready) }, Rules: []string{".ragaccess", ".ragignore"}},
			func(_ context.Context, changed []int) error {
				passes <- changed
				return nil
			})
	}()
	<-ready
	for _, tt := range []struct {
		file string
		want []int
	}{
		{filepath.Join(docs, ".ragaccess"), []int{0}},
		{filepath.Join(docs, "sub", ".ragignore"), []int{0}},
		{filepath.Join(other, ".ragaccess"), []int{1}},
		{filepath.Join(docs, ".other"), nil},
	} {
		write(t, tt.file, "* user:alice\n")
		select {
		case got := <-passes:
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: pass for %v, want %v", tt.file, got, tt.want)
			}
		case <-time.After(map[bool]time.Duration{true: 10 * time.Second, false: 400 * time.Millisecond}[tt.want != nil]):
			if tt.want != nil {
				t.Errorf("%s: no pass", tt.file)
			}
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}
