package filestat

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestOf(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f.txt")
	stat := func() Stat {
		t.Helper()
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return Of(info)
	}
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	first := stat()
	if first.Size != 3 || first.MTime == 0 {
		t.Fatalf("stat = %+v", first)
	}
	if runtime.GOOS == "linux" && (first.CTime == 0 || first.Inode == 0) {
		t.Fatalf("no ctime or inode on Linux: %+v", first)
	}
	if again := stat(); again != first {
		t.Errorf("unchanged file: %+v, then %+v", first, again)
	}
	tests := []struct {
		name   string
		change func() error
	}{
		{"same size, new content", func() error { return os.WriteFile(p, []byte("two"), 0o644) }},
		{"times set back", func() error { return os.Chtimes(p, time.Unix(0, first.MTime), time.Unix(0, first.MTime)) }},
		{"replaced by rename", func() error {
			q := p + ".new"
			if err := os.WriteFile(q, []byte("one"), 0o644); err != nil {
				return err
			}
			return os.Rename(q, p)
		}},
	}
	for _, tt := range tests {
		time.Sleep(20 * time.Millisecond) // past the file system's clock tick
		if err := tt.change(); err != nil {
			t.Fatal(err)
		}
		if got := stat(); got == first {
			t.Errorf("%s: stat did not change: %+v", tt.name, got)
		}
	}
}

// TestPath: Path says what Of says of the same file, and a missing file
// is fs.ErrNotExist.
func TestPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(p, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Path(p); err != nil || got != Of(info) {
		t.Errorf("Path = %+v, %v; Of says %+v", got, err, Of(info))
	}
	if _, err := Path(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Path of a missing file: %v", err)
	}
}

// TestDirFS: DirFS is a conforming fs.FS whose ReadDir entries say what
// os.DirFS's say, for files, links, folders and a missing link target.
func TestDirFS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for p, data := range map[string]string{"a.md": "alpha", "sub/b.txt": "beta", "sub/deeper/c.md": "gamma"} {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fsys := DirFS(dir)
	if err := fstest.TestFS(fsys, "a.md", "sub/b.txt", "sub/deeper/c.md"); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" { // after TestFS, which opens every entry
		for link, target := range map[string]string{"link.md": "a.md", "broken.md": "missing.md", "sublink": "sub"} {
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range []string{".", "sub", "sub/deeper"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := fs.ReadDir(fsys, name)
			if err != nil {
				t.Fatal(err)
			}
			want, err := fs.ReadDir(os.DirFS(dir), name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
			for i, g := range got {
				w := want[i]
				gi, gerr := g.Info()
				wi, werr := w.Info()
				if g.Name() != w.Name() || g.Type() != w.Type() || (gerr == nil) != (werr == nil) {
					t.Fatalf("entry %d: %s %v %v, want %s %v %v", i, g.Name(), g.Type(), gerr, w.Name(), w.Type(), werr)
				}
				if gi.Name() != wi.Name() || gi.Size() != wi.Size() || gi.Mode() != wi.Mode() ||
					!gi.ModTime().Equal(wi.ModTime()) || gi.IsDir() != wi.IsDir() || Of(gi) != Of(wi) {
					t.Errorf("%s: info %v %d %v %v %+v, want %v %d %v %v %+v", g.Name(),
						gi.Name(), gi.Size(), gi.Mode(), gi.ModTime(), Of(gi), wi.Name(), wi.Size(), wi.Mode(), wi.ModTime(), Of(wi))
				}
			}
		})
	}
	if _, err := fs.ReadDir(fsys, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir of a missing folder: %v", err)
	}
	if _, err := fs.ReadDir(fsys, "../x"); err == nil {
		t.Error("ReadDir of a path outside: no error")
	}
}

// TestDirStat: Dir.Stat says what Path says, links followed, and a
// missing file is fs.ErrNotExist.
func TestDirStat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f.chk")
	if err := os.WriteFile(p, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}()
	want, err := Path(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.Stat("f.chk"); err != nil || got != want {
		t.Errorf("Stat = %+v, %v; Path says %+v", got, err, want)
	}
	if runtime.GOOS != "windows" {
		if err := os.Symlink("f.chk", filepath.Join(dir, "l.chk")); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Stat("l.chk"); err != nil || got != want {
			t.Errorf("Stat of a link = %+v, %v; want its target's %+v", got, err, want)
		}
	}
	if _, err := d.Stat("missing.chk"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file: %v", err)
	}
}

func TestEscapeName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ raw, esc string }{
		{"plain.md", "plain.md"},
		{"100%.md", "100%.md"},     // UTF-8: itself
		{"caf%E9.md", "caf%E9.md"}, // itself, though it reads as an escape: DirFS tells
		{"caf\xe9.md", "caf%E9.md"},
		{"50%\xff", "50%25%FF"},
		{"日本\xe6\x97.txt", "日本%E6%97.txt"}, // a character cut short
		{"\x80", "%80"},
	} {
		if got := EscapeName(tt.raw); got != tt.esc {
			t.Errorf("EscapeName(%q) = %q, want %q", tt.raw, got, tt.esc)
		}
		if raw, ok := unescapeName(tt.esc); tt.raw != tt.esc && (!ok || raw != tt.raw) {
			t.Errorf("unescapeName(%q) = %q, %v", tt.esc, raw, ok)
		}
	}
	// Not escapes: what EscapeName never writes.
	for _, s := range []string{"caf%e9.md", "a%2F..%FF", "%2E%2E", "%GG", "%", "a%F"} {
		if raw, ok := unescapeName(s); ok {
			t.Errorf("unescapeName(%q) = %q", s, raw)
		}
	}
}

// TestDirFSNotUTF8: names that are not UTF-8 are listed and opened under
// their escapes, in folders of such names too; a file named as another's
// escape keeps its name, and the other says why it cannot be read.
func TestDirFSNotUTF8(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("the file system keeps names in UTF-8")
	}
	dir := t.TempDir()
	for p, data := range map[string]string{"caf\xe9.md": "coffee", "d\xff/x.md": "in a folder", "100%.md": "percent",
		"dup\xe9.md": "raw", "dup%E9.md": "literal"} {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("caf\xe9.md", filepath.Join(dir, "link.md")); err != nil {
		t.Fatal(err)
	}
	fsys := DirFS(dir)
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		info, err := e.Info()
		switch {
		case e.Name() == "dup%E9.md" && err != nil && strings.Contains(err.Error(), "escaped name dup%E9.md is another file's"):
			// the raw one, refused
		case err != nil:
			t.Errorf("%s: %v", e.Name(), err)
		case info.Name() != e.Name():
			t.Errorf("%s: info named %q", e.Name(), info.Name())
		}
	}
	if got := strings.Join(names, ","); got != "100%.md,caf%E9.md,d%FF,dup%E9.md,dup%E9.md,link.md" {
		t.Errorf("names %s", got)
	}
	for name, want := range map[string]string{"caf%E9.md": "coffee", "d%FF/x.md": "in a folder", "100%.md": "percent", "dup%E9.md": "literal", "link.md": "coffee"} {
		data, err := fs.ReadFile(fsys, name)
		if err != nil || string(data) != want {
			t.Errorf("ReadFile(%s) = %q, %v", name, data, err)
		}
		f, err := fsys.Open(name)
		if err != nil {
			t.Errorf("Open(%s): %v", name, err)
			continue
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
		if info, err := fs.Stat(fsys, name); err != nil || info.Name() != path.Base(name) || info.Size() != int64(len(want)) {
			t.Errorf("Stat(%s) = %v, %v", name, info, err)
		}
	}
	if info, err := fs.Lstat(fsys, "caf%E9.md"); err != nil || Of(info).Inode == 0 {
		t.Errorf("Lstat: %v, %+v", err, info)
	}
	if target, err := fs.ReadLink(fsys, "link.md"); err != nil || target != "caf%E9.md" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	if ents, err := fs.ReadDir(fsys, "d%FF"); err != nil || len(ents) != 1 || ents[0].Name() != "x.md" {
		t.Errorf("ReadDir(d%%FF) = %v, %v", ents, err)
	}
	if _, err := fs.ReadFile(fsys, "caf%e9.md"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a lower-case escape opened: %v", err)
	}
	if got := HostPath(dir, "d%FF/x.md"); got != filepath.Join(dir, "d\xff", "x.md") {
		t.Errorf("HostPath = %q", got)
	}
}
