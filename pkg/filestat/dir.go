package filestat

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Dir is an open folder whose files are statted relative to it where the
// system allows (fstatat), so that the folder's path is not resolved again
// for each of thousands of files: the no-op `rag index` stats every
// document and every object.
type Dir struct {
	f    *os.File
	path string
}

// OpenDir opens the folder at path for Stat.
func OpenDir(path string) (*Dir, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f, path: path}, nil
}

// Close closes the folder.
func (d *Dir) Close() error { return d.f.Close() }

// DirFS is os.DirFS(dir) whose ReadDir takes the lstat of each entry that
// is not a folder relative to the open folder, while reading it: a walk
// asks every file's Info, and each one was a lookup of its whole path.
// Entries' Info then says what it said when the folder was read.
func DirFS(dir string) fs.FS {
	return dirFS{FS: os.DirFS(dir), dir: dir}
}

type dirFS struct {
	fs.FS
	dir string
}

func (d dirFS) ReadFile(name string) ([]byte, error)   { return fs.ReadFile(d.FS, name) }
func (d dirFS) Stat(name string) (fs.FileInfo, error)  { return fs.Stat(d.FS, name) }
func (d dirFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(d.FS, name) }
func (d dirFS) ReadLink(name string) (string, error)   { return fs.ReadLink(d.FS, name) }

// Sub keeps ReadDir's stats in the sub-folder.
func (d dirFS) Sub(name string) (fs.FS, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "sub", Path: name, Err: fs.ErrInvalid}
	}
	return DirFS(filepath.Join(d.dir, filepath.FromSlash(name))), nil
}

func (d dirFS) ReadDir(name string) (_ []fs.DirEntry, err error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	f, err := os.Open(filepath.Join(d.dir, filepath.FromSlash(name)))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = name
		}
		return nil, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	ents, err := f.ReadDir(-1)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = name
		}
		return nil, err
	}
	statEntries(f, ents)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}
