//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
)

// mapFile maps the file at p read-only, so that a search reads only the
// pages it touches; release unmaps it. An empty file maps to nothing.
func mapFile(p string) (data []byte, release func() error, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer func() { err = errors.Join(err, f.Close()) }() // the mapping outlives the descriptor
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := info.Size()
	if size == 0 || int64(int(size)) != size {
		return nil, func() error { return nil }, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
