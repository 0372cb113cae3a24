//go:build !unix

package filestat

// openFlags: this system has no named pipes to block the open.
const openFlags = 0

// noFollow: links are refused by the Lstat before the open.
const noFollow = 0
