// Package vec holds the dot product of int8 rows that rag's vector scan
// spends its time in: AVX2 where the CPU has it, plain Go elsewhere, with
// the same result to the last bit (integer sums are exact).
package vec

// DotInt8 is the dot product of a and b[:len(a)].
func DotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	n := 0
	var s int32
	if hasAVX2 {
		n = len(a) &^ 31
		if n > 0 {
			s = dotInt8AVX2(&a[0], &b[0], n)
		}
	}
	return s + dotInt8Go(a[n:], b[n:])
}

// dotInt8Go is the portable dot product; four sums let the CPU overlap
// the multiplications.
func dotInt8Go(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
