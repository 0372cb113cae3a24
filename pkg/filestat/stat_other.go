//go:build !unix

package filestat

import "io/fs"

// Of is what the file system says of a file that changes when its
// content may have; here only size and modification time are known.
func Of(info fs.FileInfo) Stat {
	return Stat{Size: info.Size(), MTime: info.ModTime().UnixNano()}
}
