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

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := &cli.App{
		IO:      iostreams.System(os.Getenv),
		Env:     os.Getenv,
		HTTP:    cli.NewHTTPClient(),
		Now:     time.Now,
		Version: version,
		Fault:   faultHook(os.Getenv),
	}
	code := app.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
