package filestat

import (
	"cmp"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Atomic says how WriteFile replaces a file; the zero value syncs, names
// the temporary file "."+name+".tmp-*" and leaves it os.CreateTemp's mode
// (0600).
type Atomic struct {
	// Perm, if not 0, is the file's mode (not changed by the umask).
	Perm fs.FileMode
	// Temp is the temporary file's name in os.CreateTemp's form: a folder
	// that removes its stray temporary files by name sets it.
	Temp string
	// NoSync skips syncing the file and its folder: for files that a later
	// synced write makes durable, or that are rebuilt when lost.
	NoSync bool
	// CreateTemp, if set, replaces os.CreateTemp (tests inject failures).
	CreateTemp func(dir, pattern string) (*os.File, error)
	// Written, if set, is called once the temporary file is written and
	// closed, before it is renamed over the file (tests crash there).
	Written func()
}

// WriteFile replaces the file at path with what write writes, whole or not
// at all: write fills a temporary file beside path, which is synced,
// closed and renamed over path, and then the folder is synced so that the
// rename lasts. A crash leaves the old file or the new one, never a torn
// one; a failure anywhere (write's error included) leaves the old file and
// no temporary file.
func (a Atomic) WriteFile(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	createTemp := os.CreateTemp
	if a.CreateTemp != nil {
		createTemp = a.CreateTemp
	}
	f, err := createTemp(dir, cmp.Or(a.Temp, "."+filepath.Base(path)+".tmp-*"))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name()) // best effort: err is the error that matters
		}
	}()
	if err = write(f); err != nil {
		return errors.Join(err, f.Close())
	}
	if a.Perm != 0 {
		if err = f.Chmod(a.Perm); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	if !a.NoSync {
		if err = f.Sync(); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if a.Written != nil {
		a.Written()
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if a.NoSync {
		return nil
	}
	return SyncDir(dir)
}

// WriteFileAtomic replaces the file at path with data, of mode perm, whole
// or not at all, synced (Atomic.WriteFile).
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return Atomic{Perm: perm}.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir syncs the folder dir, so that the files created, renamed or
// removed in it last through a crash. Windows cannot sync a folder: there
// it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
