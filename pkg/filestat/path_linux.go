package filestat

import (
	"io/fs"
	"syscall"
)

// Path is what Of says of the file at p (symbolic links followed), from
// one stat system call and no FileInfo: the check of an index stats
// thousands of objects, and each FileInfo was fresh memory to fault in and
// to collect.
func Path(p string) (Stat, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(p, &st)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return Stat{}, &fs.PathError{Op: "stat", Path: p, Err: err}
		}
	}
	ms, mns := st.Mtim.Unix()
	cs, cns := st.Ctim.Unix()
	return Stat{Size: st.Size, MTime: ms*1e9 + mns, CTime: cs*1e9 + cns, Inode: uint64(st.Ino)}, nil
}
