package filestat

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
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
// Entries' Info then says what it said when the folder was read. Names
// that are not UTF-8 are listed, and opened, under their escapes
// (EscapeName): os.DirFS refused them, and every run failed on them.
func DirFS(dir string) fs.FS {
	return dirFS{FS: os.DirFS(dir), dir: dir}
}

type dirFS struct {
	fs.FS
	dir string
}

// host is the path on disk of name, and whether it differs from what
// os.DirFS would open (an escape was undone); name is valid.
func (d dirFS) host(op, name string) (string, bool, error) {
	if !fs.ValidPath(name) {
		return "", false, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	plain := filepath.Join(d.dir, filepath.FromSlash(name))
	if !strings.Contains(name, "%") || name == "." {
		return plain, false, nil
	}
	p := HostPath(d.dir, name)
	return p, p != plain, nil
}

// named names err's path as the FS's caller did.
func named(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = name
	}
	return err
}

func (d dirFS) Open(name string) (fs.File, error) {
	p, escaped, err := d.host("open", name)
	if err != nil || !escaped {
		return d.FS.Open(name)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, named(err, name)
	}
	return f, nil
}

func (d dirFS) ReadFile(name string) ([]byte, error) {
	p, escaped, err := d.host("open", name)
	if err != nil || !escaped {
		return fs.ReadFile(d.FS, name)
	}
	data, err := os.ReadFile(p)
	return data, named(err, name)
}

func (d dirFS) Stat(name string) (fs.FileInfo, error) {
	return d.stat("stat", name, os.Stat, func(n string) (fs.FileInfo, error) { return fs.Stat(d.FS, n) })
}

func (d dirFS) Lstat(name string) (fs.FileInfo, error) {
	return d.stat("lstat", name, os.Lstat, func(n string) (fs.FileInfo, error) { return fs.Lstat(d.FS, n) })
}

func (d dirFS) stat(op, name string, osStat, fsStat func(string) (fs.FileInfo, error)) (fs.FileInfo, error) {
	p, escaped, err := d.host(op, name)
	if err != nil || !escaped {
		return fsStat(name)
	}
	info, err := osStat(p)
	if err != nil {
		return nil, named(err, name)
	}
	return namedInfo{FileInfo: info, name: path.Base(name)}, nil
}

// ReadLink gives the target escaped as names are.
func (d dirFS) ReadLink(name string) (string, error) {
	p, escaped, err := d.host("readlink", name)
	var target string
	switch {
	case err != nil || !escaped:
		target, err = fs.ReadLink(d.FS, name)
	default:
		target, err = os.Readlink(p)
		err = named(err, name)
	}
	if err != nil || utf8.ValidString(target) {
		return target, err
	}
	elems := strings.Split(target, "/")
	for i, e := range elems {
		elems[i] = EscapeName(e)
	}
	return strings.Join(elems, "/"), nil
}

// Sub keeps ReadDir's stats in the sub-folder.
func (d dirFS) Sub(name string) (fs.FS, error) {
	p, _, err := d.host("sub", name)
	if err != nil {
		return nil, err
	}
	return DirFS(p), nil
}

func (d dirFS) ReadDir(name string) (_ []fs.DirEntry, err error) {
	p, _, err := d.host("readdir", name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
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
	escapeEntries(ents)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}
