//go:build !amd64

package vec

const hasAVX2 = false

func dotInt8AVX2(a, b *int8, n int) int32 { panic("vec: no AVX2 on this architecture") }
