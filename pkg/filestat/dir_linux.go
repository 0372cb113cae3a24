package filestat

import (
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Stat is what Path says of the file name in the folder (links followed).
func (d *Dir) Stat(name string) (Stat, error) {
	var st unix.Stat_t
	if err := d.statAt(name, &st, 0); err != nil {
		return Stat{}, &fs.PathError{Op: "stat", Path: d.path + string(os.PathSeparator) + name, Err: err}
	}
	return ofUnix(&st), nil
}

func (d *Dir) statAt(name string, st *unix.Stat_t, flags int) error {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = fstatat(int(fd), name, st, flags) }); err != nil {
		return err
	}
	return serr
}

func fstatat(fd int, name string, st *unix.Stat_t, flags int) error {
	for {
		err := unix.Fstatat(fd, name, st, flags)
		if err != unix.EINTR {
			return err
		}
	}
}

func ofUnix(st *unix.Stat_t) Stat {
	ms, mns := st.Mtim.Unix()
	cs, cns := st.Ctim.Unix()
	return Stat{Size: st.Size, MTime: ms*1e9 + mns, CTime: cs*1e9 + cns, Inode: uint64(st.Ino)}
}

// statEntries replaces each entry that is not a folder by one whose Info
// was taken now, relative to the folder f.
func statEntries(f *os.File, ents []fs.DirEntry) {
	rc, err := f.SyscallConn()
	if err != nil {
		return // the entries stat themselves
	}
	_ = rc.Control(func(fd uintptr) { // its only error is a closed file: the entries stat themselves
		for i, e := range ents {
			if e.IsDir() {
				continue
			}
			fi := &fileInfo{name: e.Name()}
			se := statEntry{DirEntry: e, info: fi}
			if err := fstatat(int(fd), e.Name(), &fi.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				se.info, se.err = nil, &fs.PathError{Op: "lstat", Path: e.Name(), Err: err}
			}
			ents[i] = se
		}
	})
}

type statEntry struct {
	fs.DirEntry
	info fs.FileInfo
	err  error
}

func (e statEntry) Info() (fs.FileInfo, error) { return e.info, e.err }

// fileInfo is an fs.FileInfo of a unix.Stat_t, as os makes of its own.
type fileInfo struct {
	name string
	st   unix.Stat_t
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.st.Size }
func (fi *fileInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.st }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *fileInfo) stat() Stat         { return ofUnix(&fi.st) }

func (fi *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
