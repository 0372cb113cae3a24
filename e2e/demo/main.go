// Command demo is `make demo`: rag's main job, end to end, on a machine that
// may have nothing but Go. It uses the Ollama that answers at OLLAMA_HOST, or
// else installs the pinned Ollama (.ci/install-ollama) and starts it on a
// private loopback port with a private models folder; it indexes a folder
// into a throwaway index, asks a question, prints the cited answer, and
// stops and removes whatever it started or created.
//
// With the user's server it uses their models when they have them
// (RAG_EMBED_MODEL and RAG_MODEL, else nomic-embed-text and llama3.2), and
// otherwise the tiny model shipped in testdata/models, which proves the path
// works but writes children's stories rather than answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/rag-cli/rag/e2e/ollamaserver"
	"github.com/rag-cli/rag/pkg/config"
)

// tinyModel is the name the shipped model gets on the server.
const tinyModel = "rag-demo-stories"

type options struct {
	rag, docs, question, gguf, install string
}

func main() {
	var o options
	flag.StringVar(&o.rag, "rag", "bin/rag", "the rag binary")
	flag.StringVar(&o.docs, "docs", "docs", "the folder to index")
	flag.StringVar(&o.question, "question", "How is the catalog written so that a reader never sees a mix of old and new?", "the question to ask")
	flag.StringVar(&o.gguf, "gguf", "testdata/models/stories260K.gguf", "the tiny model used when the server has no real one")
	flag.StringVar(&o.install, "install", ".ci/install-ollama", "the script that installs the pinned Ollama")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	sum, err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: error: %v\n", err)
		fmt.Fprintf(os.Stderr, "demo: FAILED after %s\n", time.Since(start).Round(time.Second))
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "demo: OK in %s: rag indexed %s with %s and answered with %s (its sources are listed above); %s\n",
		time.Since(start).Round(time.Second), o.docs, sum.embedModel, sum.chatModel, sum.cleanup)
}

// summary is what the demo used, for its last line.
type summary struct {
	embedModel, chatModel, cleanup string
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...) }

func run(ctx context.Context, o options) (sum summary, err error) {
	host, err := config.OllamaHost(os.Getenv("OLLAMA_HOST"))
	if err != nil {
		return sum, err
	}
	work, err := os.MkdirTemp("", "rag-demo-")
	if err != nil {
		return sum, err
	}
	sum.cleanup = "its throwaway index is removed"
	defer func() { err = errors.Join(err, os.RemoveAll(work)) }()

	client := api.NewClient(host, http.DefaultClient)
	embedModel, chatModel := envOr("RAG_EMBED_MODEL", config.DefaultEmbedModel), envOr("RAG_MODEL", config.DefaultChatModel)
	if ollamaserver.Answers(ctx, client) {
		logf("using the Ollama server at %s", host)
		if !has(ctx, client, embedModel) || !has(ctx, client, chatModel) {
			logf("it lacks %s or %s: using the tiny shipped model instead (answers are children's stories, not facts;", embedModel, chatModel)
			logf("`ollama pull %s && ollama pull %s` for real answers)", embedModel, chatModel)
			if err := ollamaserver.CreateTiny(ctx, client, o.gguf, tinyModel); err != nil {
				return sum, err
			}
			sum.cleanup += ", and the tiny model deleted from your server"
			defer func() {
				err = errors.Join(err, client.Delete(context.WithoutCancel(ctx), &api.DeleteRequest{Model: tinyModel}))
			}()
			embedModel, chatModel = tinyModel, tinyModel
		}
	} else {
		logf("no Ollama answers at %s: starting the pinned one", host)
		srv, err := ollamaserver.Start(ctx, o.install, work, logf)
		if err != nil {
			return sum, err
		}
		defer func() { err = errors.Join(err, srv.Stop()) }()
		sum.cleanup += ", and the Ollama it started stopped (the built binary is kept for next time)"
		host, client = srv.Host, api.NewClient(srv.Host, http.DefaultClient)
		if err := ollamaserver.CreateTiny(ctx, client, o.gguf, tinyModel); err != nil {
			return sum, err
		}
		embedModel, chatModel = tinyModel, tinyModel
	}

	env := append(os.Environ(), "OLLAMA_HOST="+host.String(), "RAG_INDEX="+filepath.Join(work, "index"))
	logf("$ rag index --embed-model %s %s", embedModel, o.docs)
	if err := rag(ctx, env, o.rag, os.Stderr, "index", "--embed-model", embedModel, o.docs); err != nil {
		return sum, err
	}
	logf("$ rag ask --model %s %q", chatModel, o.question)
	args := []string{"ask", "--model", chatModel, o.question}
	if chatModel == tinyModel {
		args = append(args[:3], "--max-tokens", "60", o.question)
	}
	sum.embedModel, sum.chatModel = embedModel, chatModel
	return sum, rag(ctx, env, o.rag, os.Stdout, args...)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func has(ctx context.Context, c *api.Client, model string) bool {
	_, err := c.Show(ctx, &api.ShowRequest{Model: model})
	return err == nil
}

// rag runs the rag binary with the demo's environment; its stdout goes to
// out, its stderr to ours.
func rag(ctx context.Context, env []string, bin string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, nil, out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rag %s: %w", args[0], err)
	}
	return nil
}
