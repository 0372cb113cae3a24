//go:build !unix

package cli

import "time"

// cpuTime is not known here: benchmarks report no cpu-ms/op.
func cpuTime() time.Duration { return 0 }
