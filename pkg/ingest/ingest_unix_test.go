//go:build unix

package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/filestat"
)

// TestWalkIgnoreFilesNotRegular: an ignore file that is a link (even to a
// file in the folder), a named pipe or over the size limit contributes
// no pattern and is reported as failed, with why; the walk never blocks.
// Without the check, a .ragignore linked to an outside "*" left the folder
// out and a named pipe hung the walk.
func TestWalkIgnoreFilesNotRegular(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	dir := filepath.Join(top, "docs")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	write(filepath.Join(top, "outside.ignore"), "*\n")
	for _, p := range []string{"a.md", "pipe/c.md", "big/c.md", "in/d.md", "in/inside.ignore"} {
		write(in(p), "d.md\n")
	}
	write(in("big/.gitignore"), strings.Repeat("c.md\n", MaxIgnoreSize/5+1))
	if err := os.Symlink("../outside.ignore", in(".ragignore")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside.ignore", in("in/.ragignore")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(in("pipe/.gitignore"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Result, 1)
	go func() {
		res, err := Walk(context.Background(), filestat.DirFS(dir), Options{})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the walk did not return in 10s")
	}
	if res == nil {
		return
	}
	var files []string
	for _, f := range res.Files {
		files = append(files, f.Path)
	}
	if got, want := strings.Join(files, " "), "a.md big/c.md in/d.md in/inside.ignore pipe/c.md"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	want := map[string]string{
		".ragignore":      "ignore file not read: a symbolic link, not a regular file",
		"in/.ragignore":   "ignore file not read: a symbolic link, not a regular file",
		"pipe/.gitignore": "ignore file not read: a named pipe, not a regular file",
		"big/.gitignore":  "unreadable ignore file: larger than 1 MiB",
	}
	for _, s := range res.Skips {
		w, ok := want[s.Path]
		if !ok || !s.Failed || !strings.HasPrefix(s.Reason, w) {
			t.Errorf("skip %s: %q (failed %v)", s.Path, s.Reason, s.Failed)
		}
		delete(want, s.Path)
	}
	for p, w := range want {
		t.Errorf("no skip of %s (%s)", p, w)
	}
}
