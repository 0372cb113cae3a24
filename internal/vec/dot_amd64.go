package vec

import "golang.org/x/sys/cpu"

// hasAVX2 is read once: a CPU does not change under a running process.
var hasAVX2 = cpu.X86.HasAVX2

// dotInt8AVX2 is the dot product of n int8 values at a and b; n is a
// positive multiple of 32.
//
//go:noescape
func dotInt8AVX2(a, b *int8, n int) int32
