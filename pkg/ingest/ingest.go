// Package ingest decides which files of a folder rag reads: it walks an
// fs.FS, skips hidden files and folders (.git among them), files over a size
// limit and files that are not text, and reports every skip with a reason so
// that `rag index` can count them.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// DefaultMaxSize is the largest file read by default.
const DefaultMaxSize = 10 << 20

// File is a candidate for indexing.
type File struct {
	// Path is slash-separated and relative to the walked root.
	Path string
	Size int64
}

// Skip is a file that was passed over, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Options controls the walk.
type Options struct {
	MaxSize int64
}

// Walk lists the files under fsys that may be indexed, in lexical order.
// Hidden folders are not entered and are not counted as skipped files; hidden
// files are reported as skipped.
func Walk(ctx context.Context, fsys fs.FS, opt Options) ([]File, []Skip, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = DefaultMaxSize
	}
	var files []File
	var skips []Skip
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			if p == "." {
				return err
			}
			skips = append(skips, Skip{Path: p, Reason: fmt.Sprintf("unreadable: %v", unwrapPath(err))})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		hidden := p != "." && strings.HasPrefix(path.Base(p), ".")
		if d.IsDir() {
			if hidden {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case hidden:
			skips = append(skips, Skip{Path: p, Reason: "hidden"})
			return nil
		case !d.Type().IsRegular():
			skips = append(skips, Skip{Path: p, Reason: "not a regular file"})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			skips = append(skips, Skip{Path: p, Reason: fmt.Sprintf("unreadable: %v", unwrapPath(err))})
			return nil
		}
		if info.Size() > opt.MaxSize {
			skips = append(skips, Skip{Path: p, Reason: fmt.Sprintf("larger than %d bytes", opt.MaxSize)})
			return nil
		}
		files = append(files, File{Path: p, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return files, skips, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ErrNotText marks content that is not text rag can index.
var ErrNotText = errors.New("not a text file")

// sniffLen is how much of a file decides whether it is text, as in git.
const sniffLen = 8000

// Read reads a file and checks that it is text: no NUL byte in the first 8000
// bytes and valid UTF-8 throughout (a UTF-8 byte-order mark is dropped).
func Read(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := CheckText(data); err != nil {
		return nil, err
	}
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), nil
}

// CheckText reports ErrNotText for binary or non-UTF-8 content.
func CheckText(data []byte) error {
	head := data
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return fmt.Errorf("%w: binary content", ErrNotText)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: invalid UTF-8", ErrNotText)
	}
	return nil
}
