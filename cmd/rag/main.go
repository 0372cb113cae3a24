// Command rag answers questions from your own documents, with sources.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/pkg/cli"
)

// version, if set at build time with -ldflags "-X main.version=...",
// replaces the module version read from the build info.
var version string

func main() {
	// A ballast: 16 MiB the collector counts but nobody touches (no page
	// of it is ever resident), so that it waits for a heap of 32 MiB rather
	// than 4 before collecting. Most commands finish before that; a no-op
	// `rag index` of 7,750 files collected five times and spent a third of
	// its CPU doing so (123 ms of CPU before, 81 ms after, peak RSS +3 MB),
	// and a longer run's heap grows by at most these 16 MiB.
	ballast := make([]byte, 16<<20)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dir, err := os.Getwd()
	if err != nil {
		dir = "" // no working directory: no project config to find
	}
	app := &cli.App{
		IO:      iostreams.System(os.Getenv),
		Env:     os.Getenv,
		HTTP:    cli.NewHTTPClient(),
		Now:     time.Now,
		Dir:     dir,
		Version: version,
		Fault:   faultHook(os.Getenv),
	}
	stopProfile := startProfile(os.Getenv)
	code := app.Run(ctx, os.Args[1:])
	stopProfile()
	runtime.KeepAlive(ballast)
	stop()
	os.Exit(code)
}
