package main

import (
	"os"
	"runtime/pprof"
	"strings"
)

func startProf() func() {
	p := os.Getenv("RAG_CPUPROFILE")
	if p == "" {
		return func() {}
	}
	f, _ := os.Create(p)
	pprof.StartCPUProfile(f)
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func memStat() {
	if os.Getenv("RAG_MEMSTAT") == "" {
		return
	}
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Rss") || strings.HasPrefix(l, "VmHWM") {
			os.Stderr.WriteString(l + "\n")
		}
	}
}
