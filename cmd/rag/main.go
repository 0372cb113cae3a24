// Command rag answers questions from your own documents, with sources.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rag-cli/rag/pkg/cli"
	"github.com/rag-cli/rag/pkg/iostreams"
)

// version, if set at build time with -ldflags "-X main.version=...",
// replaces the module version read from the build info.
var version string

func main() {
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
	code := app.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
