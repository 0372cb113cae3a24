//go:build unix

package filestat

import "syscall"

// openFlags open a file without blocking (a named pipe with no writer
// would block the open itself) and without making a terminal the
// process's own.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOCTTY

// noFollow refuses a symbolic link as the last element of the path.
const noFollow = syscall.O_NOFOLLOW
