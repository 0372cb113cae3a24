// Package filestat says what the file system knows of a file without
// reading it: size, modification and status-change times and inode. Any
// write or replacement changes one of them, which is how `rag index` tells
// an unchanged document (as git's index does) and a damaged object without
// reading either. ReadFile and ReadFileFS read the small files rag is told
// what to do by (config, ignore, access and groups files) only when they
// are regular files, bounded and cancellable: a link to /dev/zero or a
// named pipe in their place is refused at once. Atomic.WriteFile and
// WriteFileAtomic replace a file whole or not at all (the index's catalog
// and objects, rag chat's sessions).
package filestat

// Stat is a file's size, modification and status-change times (Unix
// nanoseconds; CTime 0 where the system does not say) and inode (0 where
// unknown).
type Stat struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"`
	CTime int64  `json:"ctime,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
}
