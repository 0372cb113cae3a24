//go:build unix

package filestat

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// TestReadFile: only regular files of at most max bytes are read; a named
// pipe, /dev/zero behind a link, a folder and an oversize file are refused
// at once with their own error, both by path and in a DirFS (where a link
// is refused even to a regular file).
func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(in("ok.yaml"), []byte("a: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("big"), bytes.Repeat([]byte("x"), 1001), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(in("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"zero": "/dev/zero", "link.yaml": "ok.yaml", "fifolink": "fifo"} {
		if err := os.Symlink(target, in(link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(in("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var notRegular *NotRegularError
	var tooLarge *TooLargeError
	isNotRegular := func(kind string) func(error) bool {
		return func(err error) bool { return errors.As(err, &notRegular) && Kind(notRegular.Mode) == kind }
	}
	isTooLarge := func(err error) bool { return errors.As(err, &tooLarge) && tooLarge.Limit == 1000 }
	tests := []struct {
		name     string
		byPath   func(error) bool // nil: read, "a: b\n"
		inDirFS  func(error) bool
		inMapFS  bool // checked in an fstest.MapFS too (no links, pipes or devices there)
		mapFSErr func(error) bool
	}{
		{name: "ok.yaml"},
		{name: "link.yaml", inDirFS: isNotRegular("a symbolic link")},
		{name: "fifo", byPath: isNotRegular("a named pipe"), inDirFS: isNotRegular("a named pipe")},
		{name: "fifolink", byPath: isNotRegular("a named pipe"), inDirFS: isNotRegular("a symbolic link")},
		{name: "zero", byPath: isNotRegular("a character device"), inDirFS: isNotRegular("a symbolic link")},
		{name: "sub", byPath: isNotRegular("a folder"), inDirFS: isNotRegular("a folder")},
		{name: "big", byPath: isTooLarge, inDirFS: isTooLarge},
		{name: "missing", byPath: func(err error) bool { return errors.Is(err, fs.ErrNotExist) }, inDirFS: func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
	}
	fsys := DirFS(dir)
	mapFS := fstest.MapFS{"ok.yaml": {Data: []byte("a: b\n")}, "big": {Data: bytes.Repeat([]byte("x"), 1001)}, "sub": {Mode: fs.ModeDir},
		"fifo": {Mode: fs.ModeNamedPipe}, "link.yaml": {Data: []byte("ok.yaml"), Mode: fs.ModeSymlink}}
	ctx := context.Background()
	check := func(t *testing.T, how string, data []byte, err error, want func(error) bool) {
		t.Helper()
		switch {
		case want == nil && (err != nil || string(data) != "a: b\n"):
			t.Errorf("%s: %q, %v; want the file", how, data, err)
		case want != nil && (err == nil || !want(err)):
			t.Errorf("%s: %q, %v (%T)", how, data, err, err)
		case want != nil && data != nil:
			t.Errorf("%s: %d bytes returned beside the error", how, len(data))
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := within(t, func() ([]byte, error) { return ReadFile(ctx, in(tt.name), 1000) })
			check(t, "ReadFile", data, err, tt.byPath)
			data, err = within(t, func() ([]byte, error) { return ReadFileFS(ctx, fsys, tt.name, 1000) })
			check(t, "ReadFileFS(DirFS)", data, err, tt.inDirFS)
			data, err = within(t, func() ([]byte, error) { return ReadFileFS(ctx, os.DirFS(dir), tt.name, 1000) })
			check(t, "ReadFileFS(os.DirFS)", data, err, tt.inDirFS)
			if _, ok := mapFS[tt.name]; ok {
				data, err = ReadFileFS(ctx, mapFS, tt.name, 1000)
				check(t, "ReadFileFS(MapFS)", data, err, tt.inDirFS)
			}
		})
	}
	t.Run("exactly max", func(t *testing.T) {
		t.Parallel()
		if data, err := ReadFile(ctx, in("big"), 1001); err != nil || len(data) != 1001 {
			t.Errorf("ReadFile of 1001 bytes, max 1001: %d bytes, %v", len(data), err)
		}
	})
	t.Run("error names the file", func(t *testing.T) {
		t.Parallel()
		_, err := ReadFile(ctx, in("zero"), 1000)
		if err == nil || !strings.Contains(err.Error(), in("zero")) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("error %v", err)
		}
	})
}
