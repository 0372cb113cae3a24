package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/rag-cli/rag/pkg/filestat"
)

func walkPaths(t *testing.T, fsys fs.FS, opt Options) (files, skips []string, ignored int) {
	t.Helper()
	res, err := Walk(context.Background(), fsys, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		files = append(files, f.Path)
	}
	for _, s := range res.Skips {
		skips = append(skips, s.Path+": "+s.Reason)
	}
	return files, skips, res.Ignored
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestWalk(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"README.md":          file("# Hello\n"),
		"src/main.go":        file("package main\n"),
		".git/config":        file("[core]\n"),
		".hidden/notes.md":   file("secret\n"),
		"docs/.draft.md":     file("draft\n"),
		"docs/guide.txt":     file("guide\n"),
		"big.txt":            {Data: make([]byte, 2048)},
		"docs/sub/deep.md":   file("deep\n"),
		"docs/sub/image.png": file("\x89PNG\x00\x00"),
		// ignore files, nested ones apply below their folder
		".gitignore":         file("*.log\nbuild/\n!keep.log\n"),
		".ragignore":         file("docs/sub/image.png\n"),
		"docs/.gitignore":    file("private.md\n"),
		"docs/private.md":    file("no\n"),
		"private.md":         file("yes: the docs/.gitignore does not reach here\n"),
		"app.log":            file("log\n"),
		"keep.log":           file("kept by !keep.log\n"),
		"build/out.txt":      file("built\n"),
		"notes/a.md":         file("a\n"),
		"notes/link-to-a.md": {Data: []byte("a.md"), Mode: fs.ModeSymlink},
		"notes/up":           {Data: []byte(".."), Mode: fs.ModeSymlink},
		"notes/out":          {Data: []byte("../../etc/passwd"), Mode: fs.ModeSymlink},
		"notes/abs":          {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink},
		"notes/broken":       {Data: []byte("nowhere.md"), Mode: fs.ModeSymlink},
		"alias":              {Data: []byte("src"), Mode: fs.ModeSymlink},
	}
	tests := []struct {
		name    string
		opt     Options
		files   string
		skips   []string
		ignored int
	}{
		{"defaults", Options{MaxSize: 1024},
			"README.md docs/guide.txt docs/sub/deep.md keep.log notes/a.md notes/link-to-a.md private.md src/main.go",
			[]string{
				"big.txt: larger than --max-size (2048 > 1024 bytes)",
				"docs/.draft.md: hidden (--hidden includes it)",
				"notes/abs: link to outside the folder (not followed)",
				"notes/broken: broken link",
				"notes/out: link to outside the folder (not followed)",
				"notes/up: symbolic link loop",
				"alias: link to a folder indexed as src",
			}, 4},
		{"include and exclude", Options{Include: []string{"**/*.md"}, Exclude: []string{"notes/**"}},
			"README.md docs/sub/deep.md private.md", nil, 0},
		{"hidden, no ignore files", Options{Hidden: true, NoIgnoreFiles: true, Exclude: []string{"notes", "alias"}},
			"", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, skips, ignored := walkPaths(t, fsys, tt.opt)
			if tt.files != "" && strings.Join(files, " ") != tt.files {
				t.Errorf("files:\n%s\nwant\n%s", strings.Join(files, " "), tt.files)
			}
			if tt.skips != nil && strings.Join(skips, "\n") != strings.Join(tt.skips, "\n") {
				t.Errorf("skips:\n%s\nwant\n%s", strings.Join(skips, "\n"), strings.Join(tt.skips, "\n"))
			}
			if tt.name == "defaults" && ignored != tt.ignored {
				t.Errorf("ignored %d, want %d", ignored, tt.ignored)
			}
			if tt.name == "include and exclude" {
				for _, s := range skips {
					if !strings.Contains(s, "hidden") && !strings.Contains(s, "larger") && !strings.Contains(s, "link") {
						t.Errorf("unexpected skip %s", s)
					}
				}
			}
			if tt.name == "hidden, no ignore files" {
				all := " " + strings.Join(files, " ") + " "
				for _, want := range []string{".hidden/notes.md", "docs/.draft.md", "app.log", "build/out.txt", "docs/private.md", "docs/sub/image.png"} {
					if !strings.Contains(all, " "+want+" ") {
						t.Errorf("%s missing from %s", want, all)
					}
				}
				if strings.Contains(all, ".git/") {
					t.Errorf(".git walked: %s", all)
				}
			}
		})
	}
}

// TestWalkOS runs the walk on a real folder: links, a loop, an unreadable
// folder, names with spaces, newlines and non-ASCII characters.
func TestWalkOS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a b.md", "spaces")
	write("line\nbreak.md", "newline")
	write("日本語/résumé.md", "non-ASCII")
	write("real/x.md", "x")
	for _, l := range []struct{ target, name string }{{".", "real/loop"}, {"real", "link"}, {"../../outside", "out"}, {"self", "self"}} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, fsys := range map[string]fs.FS{"os.DirFS": os.DirFS(dir), "filestat.DirFS": filestat.DirFS(dir)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files, skips, _ := walkPaths(t, fsys, Options{})
			want := []string{"a b.md", "line\nbreak.md", "real/x.md", "日本語/résumé.md"}
			if strings.Join(files, "|") != strings.Join(want, "|") {
				t.Errorf("files %q, want %q", files, want)
			}
			joined := strings.Join(skips, "\n")
			for _, s := range []string{"out: link to outside the folder", "link: link to a folder indexed as real", "real/loop: symbolic link loop", "self: symbolic link loop"} {
				if !strings.Contains(joined, s) {
					t.Errorf("no skip %q in:\n%s", s, joined)
				}
			}
		})
	}
}

// cancelFS cancels its walk's context at its n-th folder read.
type cancelFS struct {
	fs.FS
	n      atomic.Int32
	cancel context.CancelFunc
}

func (c *cancelFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return fs.ReadDir(c.FS, name)
}

// TestWalkCancelled: a walk cancelled while folders are read ahead returns
// the context's error, not a partial list, whichever folder it is at.
func TestWalkCancelled(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{}
	for d := range 20 {
		for f := range 3 {
			fsys[fmt.Sprintf("d%02d/e%d/f%d.md", d, f%2, f)] = file("text\n")
		}
	}
	for _, at := range []int32{1, 2, 5, 17, 40} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &cancelFS{FS: fsys, cancel: cancel}
			c.n.Store(at)
			res, err := Walk(ctx, c, Options{})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Walk = %v, %v; want context.Canceled", res, err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"a": file("12345")}
	if _, err := Read(fsys, "a", 4); err == nil {
		t.Error("a file over the limit was read")
	}
	if b, err := Read(fsys, "a", 5); err != nil || string(b) != "12345" {
		t.Errorf("Read = %q, %v", b, err)
	}
}

// BenchmarkWalk walks 100 folders of 100 files, as os.DirFS and as
// filestat.DirFS (entries statted relative to their open folder), both
// read ahead on every core.
func BenchmarkWalk(b *testing.B) {
	root := b.TempDir()
	for d := range 100 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.md", f)), []byte("text"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, bc := range []struct {
		name string
		fsys fs.FS
	}{{"os.DirFS", os.DirFS(root)}, {"filestat.DirFS", filestat.DirFS(root)}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := Walk(context.Background(), bc.fsys, Options{})
				if err != nil || len(res.Files) != 10_000 {
					b.Fatalf("%d files, %v", len(res.Files), err)
				}
			}
		})
	}
}
