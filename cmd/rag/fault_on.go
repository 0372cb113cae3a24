//go:build faultinject && unix

package main

import (
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// faultHook, in the crash tests' build (-tags faultinject), kills the
// process with SIGKILL the Nth time it reaches the point named by
// RAG_FAULT=point:N: no deferred function, no flush, as in a power cut.
func faultHook(getenv func(string) string) func(string) {
	spec := getenv("RAG_FAULT")
	point, n, ok := strings.Cut(spec, ":")
	if !ok {
		return nil
	}
	want, err := strconv.Atoi(n)
	if err != nil || want < 1 {
		return nil
	}
	var mu sync.Mutex
	seen := 0
	return func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen == want {
			_ = syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
