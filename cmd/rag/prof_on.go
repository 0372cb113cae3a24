//go:build ragprof

package main

import (
	"os"
	"runtime/pprof"
)

// startProfile, in a profiling build (-tags ragprof), writes a CPU profile
// of the whole command to RAG_CPUPROFILE and a heap profile at its end to
// RAG_MEMPROFILE: how bench figures are explained (docs/performance.md).
func startProfile(getenv func(string) string) (stop func()) {
	cpu, heap := getenv("RAG_CPUPROFILE"), getenv("RAG_MEMPROFILE")
	var f *os.File
	if cpu != "" {
		var err error
		if f, err = os.Create(cpu); err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				_ = f.Close()
				f = nil
			}
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			_ = f.Close()
		}
		if heap != "" {
			if h, err := os.Create(heap); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(h, 0)
				_ = h.Close()
			}
		}
	}
}
