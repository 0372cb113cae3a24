package filestat

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// TestAtomicWriteFile: the file is the new one whole, or, whatever failed
// (the write, creating the temporary file, the rename), still the old one,
// with no temporary file left beside it.
func TestAtomicWriteFile(t *testing.T) {
	t.Parallel()
	errWrite := errors.New("disk full")
	errCreate := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}
	tests := []struct {
		name  string
		a     Atomic
		write func(io.Writer) error
		// dirAtPath puts a non-empty folder where the file goes: the rename fails.
		dirAtPath bool
		wantErr   error // nil: success; else errors.Is
		anyErr    bool  // an error, whichever
		wantMode  fs.FileMode
		wantTemps []string // temporary names left (none, unless a test says)
	}{
		{name: "new file", write: text("new"), wantMode: 0o600},
		{name: "mode", a: Atomic{Perm: 0o644}, write: text("new"), wantMode: 0o644},
		{name: "no sync", a: Atomic{NoSync: true, Temp: ".tmp-*"}, write: text("new"), wantMode: 0o600},
		{name: "empty", write: text(""), wantMode: 0o600},
		{name: "write fails at once", write: func(io.Writer) error { return errWrite }, wantErr: errWrite},
		{name: "write fails half way", write: func(w io.Writer) error {
			if err := text("ne")(w); err != nil {
				return err
			}
			return errWrite
		}, wantErr: errWrite},
		{name: "write fails, own temporary name", a: Atomic{Temp: ".tmp-*"}, write: func(io.Writer) error { return errWrite }, wantErr: errWrite},
		{name: "temporary file refused", a: Atomic{CreateTemp: func(string, string) (*os.File, error) { return nil, errCreate }},
			write: text("new"), wantErr: fs.ErrPermission},
		{name: "rename fails", write: text("new"), dirAtPath: true, anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "session.json")
			old := "old"
			if tt.dirAtPath {
				if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			written := false
			a := tt.a
			a.Written = func() {
				written = true
				// Not yet renamed: readers still see the old file.
				if b, err := os.ReadFile(path); !tt.dirAtPath && (err != nil || string(b) != old) {
					t.Errorf("before the rename, the file is %q, %v", b, err)
				}
			}
			var got []byte
			err := a.WriteFile(path, func(w io.Writer) error {
				err := tt.write(&recorder{w: w, got: &got})
				return err
			})
			failed := tt.wantErr != nil || tt.anyErr
			switch {
			case !failed && err != nil:
				t.Fatalf("WriteFile: %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("WriteFile = %v, want %v", err, tt.wantErr)
			case tt.anyErr && err == nil:
				t.Fatal("WriteFile succeeded")
			}
			if names := entries(t, dir); !slices.Equal(names, []string{"session.json"}) {
				t.Errorf("left in the folder: %q", names)
			}
			if tt.dirAtPath {
				return
			}
			want := old
			if !failed {
				want = string(got)
				if !written {
					t.Error("Written not called")
				}
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != want {
				t.Errorf("file = %q, %v; want %q", b, err, want)
			}
			if !failed && runtime.GOOS != "windows" {
				fi, err := os.Stat(path)
				if err != nil || fi.Mode().Perm() != tt.wantMode {
					t.Errorf("mode = %v, %v; want %v", fi.Mode().Perm(), err, tt.wantMode)
				}
			}
		})
	}
}

// TestWriteFileAtomic: the bytes, of the mode asked, over an old file or
// none; a folder that is not there is an error and leaves nothing.
func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.md")
	for _, data := range []string{"first\n", "second, longer\n", ""} {
		if err := WriteFileAtomic(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != data {
			t.Errorf("file = %q, %v; want %q", b, err, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("stat: %v, %v", fi, err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("into a missing folder: %v", err)
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"chat.md"}) {
		t.Errorf("left in the folder: %q", names)
	}
}

func text(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// recorder keeps what was written through it.
type recorder struct {
	w   io.Writer
	got *[]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	*r.got = append(*r.got, p...)
	return r.w.Write(p)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
