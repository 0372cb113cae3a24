//go:build unix

package filestat

import (
	"io/fs"
	"syscall"
)

// Of is what the file system says of a file that changes when its
// content may have: size, modification and change times, inode.
func Of(info fs.FileInfo) Stat {
	if fi, ok := info.(interface{ stat() Stat }); ok {
		return fi.stat() // DirFS's
	}
	st := Stat{Size: info.Size(), MTime: info.ModTime().UnixNano()}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		st.CTime = ctime(sys)
		st.Inode = uint64(sys.Ino)
	}
	return st
}
