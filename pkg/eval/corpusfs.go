package eval

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
	"time"
)

// CorpusFS is a read-only folder, in memory, with one file a document
// (docPath, docText): what `rag eval` indexes, so that a corpus is indexed
// by the same walker, readers and chunker as a user's folder, without
// writing it out.
func CorpusFS(docs []Doc) fs.FS {
	c := corpusFS{files: map[string][]byte{}}
	for _, d := range docs {
		name := docPath(d.ID)
		if _, dup := c.files[name]; !dup {
			c.names = append(c.names, name)
		}
		c.files[name] = []byte(docText(d))
	}
	slices.Sort(c.names)
	return c
}

type corpusFS struct {
	files map[string][]byte
	names []string // sorted, as ReadDir returns them
}

func (c corpusFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &memDir{info: memInfo{name: ".", dir: true}, c: c}, nil
	}
	data, ok := c.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{Reader: bytes.NewReader(data), info: memInfo{name: name, size: int64(len(data))}}, nil
}

// ReadDir implements fs.ReadDirFS for the one folder there is.
func (c corpusFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		if _, ok := c.files[name]; ok {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
		}
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, len(c.names))
	for i, n := range c.names {
		out[i] = fs.FileInfoToDirEntry(memInfo{name: n, size: int64(len(c.files[n]))})
	}
	return out, nil
}

type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

type memDir struct {
	info memInfo
	c    corpusFS
	read int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *memDir) Close() error               { return nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}

// ReadDir implements fs.ReadDirFile.
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	all, err := d.c.ReadDir(".")
	if err != nil {
		return nil, err
	}
	rest := all[d.read:]
	if n > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(n, len(rest))]
	}
	d.read += len(rest)
	return rest, nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return path.Base(i.name) }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
