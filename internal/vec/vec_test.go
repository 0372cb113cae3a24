package vec

import (
	"math/rand/v2"
	"testing"
)

func randRow(r *rand.Rand, n int) []int8 {
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(r.IntN(256) - 128)
	}
	return v
}

// TestDotInt8 checks the fast path against the portable one on lengths
// around the 32-byte steps, and on the extremes of int8.
func TestDotInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 31, 32, 33, 63, 64, 65, 96, 384, 767, 768, 1024, 4099} {
		a, b := randRow(r, n), randRow(r, n+3)
		if got, want := DotInt8(a, b), dotInt8Go(a, b); got != want {
			t.Errorf("n=%d: DotInt8 = %d, want %d", n, got, want)
		}
	}
	for _, tt := range []struct {
		name string
		a, b int8
	}{{"min by min", -128, -128}, {"max by max", 127, 127}, {"min by max", -128, 127}} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := make([]int8, 4096), make([]int8, 4096)
			for i := range a {
				a[i], b[i] = tt.a, tt.b
			}
			want := int32(tt.a) * int32(tt.b) * 4096
			if got := DotInt8(a, b); got != want {
				t.Errorf("DotInt8 = %d, want %d", got, want)
			}
		})
	}
}

func FuzzDotInt8(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{4, 5, 6})
	f.Fuzz(func(t *testing.T, x, y []byte) {
		n := min(len(x), len(y))
		a, b := make([]int8, n), make([]int8, n)
		for i := range n {
			a[i], b[i] = int8(x[i]), int8(y[i])
		}
		if got, want := DotInt8(a, b), dotInt8Go(a, b); got != want {
			t.Fatalf("n=%d: DotInt8 = %d, want %d", n, got, want)
		}
	})
}

func BenchmarkDotInt8(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randRow(r, 768), randRow(r, 768)
	b.Run("avx2", func(b *testing.B) {
		for b.Loop() {
			DotInt8(x, y)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			dotInt8Go(x, y)
		}
	})
}
