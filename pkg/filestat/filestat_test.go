package filestat

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
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
