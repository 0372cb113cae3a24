// Command embedrate measures issue 11's target 6: `rag index` beside the
// time a real Ollama server itself needs to embed the same chunks. It starts
// the pinned Ollama (e2e/ollamaserver) with the tiny model shipped in
// testdata/models, indexes a folder with rag (timed, a fresh index), reads
// the chunks rag stored, then embeds exactly those texts straight through
// the Ollama API at several batch sizes and concurrencies and takes the
// fastest: the server's own limit. It prints both times and their ratio.
//
//	go run ./bench/embedrate -rag bin/rag -docs DIR
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/rag-cli/rag/e2e/ollamaserver"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/store"
)

const model = "rag-bench-stories"

func main() {
	rag := flag.String("rag", "bin/rag", "the rag binary")
	docs := flag.String("docs", "", "the folder to index")
	gguf := flag.String("gguf", "testdata/models/stories260K.gguf", "the model")
	install := flag.String("install", ".ci/install-ollama", "the script that installs the pinned Ollama")
	runs := flag.Int("runs", 2, "runs of each measurement (the fastest counts)")
	flag.Parse()
	if *docs == "" {
		fmt.Fprintln(os.Stderr, "embedrate: -docs DIR is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *rag, *docs, *gguf, *install, *runs)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "embedrate: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rag, docs, gguf, install string, runs int) (err error) {
	work, err := os.MkdirTemp("", "rag-embedrate-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(work)) }()
	srv, err := ollamaserver.Start(ctx, install, work, func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "embedrate: "+format+"\n", args...)
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Stop()) }()
	client := api.NewClient(srv.Host, http.DefaultClient)
	if err := ollamaserver.CreateTiny(ctx, client, gguf, model); err != nil {
		return err
	}
	if _, err := embed(ctx, client, []string{"warm up"}); err != nil { // loads the model
		return err
	}

	// rag index, each run into a fresh index.
	var ragTime time.Duration
	index := filepath.Join(work, "index")
	for i := range runs {
		if err := os.RemoveAll(index); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, rag, "index", "--embed-model", model, docs)
		cmd.Env = append(os.Environ(), "OLLAMA_HOST="+srv.Host.String(), "RAG_INDEX="+index)
		cmd.Stderr = os.Stderr
		start := time.Now()
		if out, err := cmd.Output(); err != nil {
			return fmt.Errorf("rag index: %w", err)
		} else if i == 0 {
			fmt.Fprint(os.Stderr, string(out))
		}
		if d := time.Since(start); i == 0 || d < ragTime {
			ragTime = d
		}
	}
	texts, err := chunkTexts(ctx, index)
	if err != nil {
		return err
	}

	// The server's own best, the same texts.
	fmt.Printf("| batch | concurrent requests | seconds | chunks/s |\n|---:|---:|---:|---:|\n")
	best := time.Duration(0)
	var bestAt string
	for _, batch := range []int{8, 16, 32, 64} {
		for _, conc := range []int{1, 2} {
			var d time.Duration
			for i := range runs {
				t, err := embedAll(ctx, client, texts, batch, conc)
				if err != nil {
					return err
				}
				if i == 0 || t < d {
					d = t
				}
			}
			fmt.Printf("| %d | %d | %.3f | %.1f |\n", batch, conc, d.Seconds(), float64(len(texts))/d.Seconds())
			if best == 0 || d < best {
				best, bestAt = d, fmt.Sprintf("batch %d, %d at once", batch, conc)
			}
		}
	}
	fmt.Printf("\n%d chunks. rag index (whole command, batch 16): %.3f s. Ollama alone at its best (%s): %.3f s. Ratio %.3f (target: at most 1.05).\n",
		len(texts), ragTime.Seconds(), bestAt, best.Seconds(), ragTime.Seconds()/best.Seconds())
	return nil
}

// chunkTexts reads what rag embedded for each chunk of the index.
func chunkTexts(ctx context.Context, dir string) (_ []string, err error) {
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	var texts []string
	for _, f := range st.Manifest().Files {
		chunks, err := st.FileChunks(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, c := range chunks {
			texts = append(texts, indexer.EmbedText(c))
		}
	}
	return texts, nil
}

// embedAll embeds texts in batches, conc requests at a time.
func embedAll(ctx context.Context, c *api.Client, texts []string, batch, conc int) (time.Duration, error) {
	start := time.Now()
	work := make(chan []string)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if _, err := embed(ctx, c, b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := 0; i < len(texts); i += batch {
		select {
		case work <- texts[i:min(i+batch, len(texts))]:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	for e := range errs {
		err = errors.Join(err, e)
	}
	return time.Since(start), err
}

func embed(ctx context.Context, c *api.Client, texts []string) ([][]float32, error) {
	truncate := true
	resp, err := c.Embed(ctx, &api.EmbedRequest{Model: model, Input: texts, Truncate: &truncate})
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	return resp.Embeddings, nil
}
