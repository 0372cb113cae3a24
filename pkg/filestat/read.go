package filestat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// NotRegularError is a file rag reads only when it is a regular file (a
// config, ignore, access or groups file) that is something else: a
// symbolic link where links are not followed, a named pipe, which would
// block forever, a device such as /dev/zero, which never ends, a folder
// or a socket. Nothing of it was read. ReadFile and ReadFileFS return it
// in an *fs.PathError that names the file.
type NotRegularError struct {
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s, not a regular file", Kind(e.Mode))
}

// Kind names the type of a file that is not a regular one.
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// TooLargeError is a file larger than its reader's limit. Nothing of it is
// returned. ReadFile and ReadFileFS return it in an *fs.PathError.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than %s", Bytes(e.Limit))
}

// Bytes is a size as people write it: 1 MiB, 64 KiB, 100 bytes.
func Bytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// chunk is how much is read between two looks at the context.
const chunk = 64 << 10

// ReadFile reads the file at name (symbolic links followed) if it is a
// regular file of at most max bytes: anything else is a *NotRegularError
// and nothing is opened but to check it (with O_NONBLOCK, so that a named
// pipe put in place after the first check cannot block the open), a
// larger file a *TooLargeError. The read stops when ctx is done.
func ReadFile(ctx context.Context, name string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A device is not even opened: opening some has effects.
	info, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: &NotRegularError{Mode: info.Mode()}}
	}
	f, err := os.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	return readOpen(ctx, f, name, info, max)
}

// ReadFileFS is ReadFile of name in fsys, where links are not followed: a
// link is a *NotRegularError even when it leads to a regular file, so
// that what a folder's own files say comes from the folder. In a DirFS the
// file is opened as ReadFile opens it (without following a link either);
// in another fs.FS it is checked before and after it is opened.
func ReadFileFS(ctx context.Context, fsys fs.FS, name string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, err := fs.Lstat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: &NotRegularError{Mode: info.Mode()}}
	}
	if d, ok := fsys.(dirFS); ok && fs.ValidPath(name) {
		f, err := os.OpenFile(filepath.Join(d.dir, filepath.FromSlash(name)), os.O_RDONLY|openFlags|noFollow, 0)
		if err != nil {
			return nil, err
		}
		return readOpen(ctx, f, name, info, max)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return readOpen(ctx, f, name, info, max)
}

// readOpen checks that the open file f is still the regular file of
// info (it may have been replaced since), then reads it and closes it.
func readOpen(ctx context.Context, f fs.File, name string, info fs.FileInfo, max int64) (data []byte, err error) {
	defer func() { err = errors.Join(err, f.Close()) }()
	now, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !now.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: &NotRegularError{Mode: now.Mode()}}
	}
	if !sameFile(info, now) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("replaced while being opened")}
	}
	if now.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: &TooLargeError{Limit: max}}
	}
	data, err = readAll(ctx, f, max, now.Size())
	var tl *TooLargeError
	if errors.As(err, &tl) {
		err = &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, err
}

// sameFile reports whether a and b are one file, where the system says;
// in an fs.FS without Sys information, whether they look alike.
func sameFile(a, b fs.FileInfo) bool {
	if a.Sys() != nil && b.Sys() != nil {
		return os.SameFile(a, b)
	}
	return a.Mode().Type() == b.Mode().Type()
}

// readAll reads r to its end, at most max bytes (more is a
// *TooLargeError: the file grew), size being what it is expected to hold,
// and looks at ctx between pieces.
func readAll(ctx context.Context, r io.Reader, max, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(max, size)+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+chunk)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, &TooLargeError{Limit: max}
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
