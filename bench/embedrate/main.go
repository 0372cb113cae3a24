// Command embedrate measures issue 11's target 6: `rag index` beside the
// time a real Ollama server itself needs to embed the same chunks. It starts
// the pinned Ollama (e2e/ollamaserver) with the tiny model shipped in
// testdata/models, indexes a folder with rag (timed, a fresh index), reads
// the chunks rag stored, then embeds exactly those texts straight through
// the Ollama API at several batch sizes and concurrencies and takes the
// fastest: the server's own limit. It prints both times and their ratio.
//
// Each run is a round: rag, then every batch size and concurrency once, so
// that load from other work on the machine falls on all of them alike;
// the fastest of the rounds counts for each.
//
// The server's own times vary far more from run to run on a shared CPU
// than rag adds to them, so rag reaches the server through a proxy that
// notes when each of its embedding requests was out: the server's busy
// time within rag's own run is what Ollama needed for those chunks then,
// and rag's wall time beside it (with the wait before the first request,
// the gaps between requests and the time after the last answer) is what
// rag added.
//
//	go run ./bench/embedrate -rag bin/rag -docs DIR -runs 3
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
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
	runs := flag.Int("runs", 2, "rounds of every measurement (the fastest of each counts)")
	batch := flag.Int("batch-size", 16, "rag index --batch-size")
	parallel := flag.Int("parallel", 2, "rag index --parallel")
	flag.Parse()
	if *docs == "" {
		fmt.Fprintln(os.Stderr, "embedrate: -docs DIR is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *rag, *docs, *gguf, *install, *runs, setting{*batch, *parallel})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "embedrate: %v\n", err)
		os.Exit(1)
	}
}

// setting is a batch size and how many requests are out at once.
type setting struct{ batch, conc int }

func run(ctx context.Context, rag, docs, gguf, install string, runs int, ragSetting setting) (err error) {
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

	m, err := startMeter(srv.Host)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()

	var settings []setting
	for _, batch := range []int{8, 16, 32, 64} {
		for _, conc := range []int{1, 2} {
			settings = append(settings, setting{batch, conc})
		}
	}
	if !slices.Contains(settings, ragSetting) {
		settings = append(settings, ragSetting)
	}
	index := filepath.Join(work, "index")
	var texts []string
	ragTimes := make([]time.Duration, runs)
	ragRuns := make([]usage, runs)
	times := make(map[setting][]time.Duration)
	for i := range runs {
		// rag index into a fresh index.
		if err := os.RemoveAll(index); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, rag, "index", "--embed-model", model,
			"--batch-size", fmt.Sprint(ragSetting.batch), "--parallel", fmt.Sprint(ragSetting.conc), docs)
		cmd.Env = append(os.Environ(), "OLLAMA_HOST="+m.URL(), "RAG_INDEX="+index)
		cmd.Stderr = os.Stderr
		m.reset()
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("rag index: %w", err)
		}
		ragRuns[i] = m.usage()
		ragTimes[i] = ragRuns[i].wall
		if i == 0 {
			fmt.Fprint(os.Stderr, string(out))
			if texts, err = chunkTexts(ctx, index); err != nil {
				return err
			}
		}
		// The server's own rate, the same texts.
		for _, st := range settings {
			t, err := embedAll(ctx, client, texts, st.batch, st.conc)
			if err != nil {
				return err
			}
			times[st] = append(times[st], t)
		}
		fmt.Fprintf(os.Stderr, "embedrate: round %d of %d done\n", i+1, runs)
	}

	fmt.Printf("| batch | concurrent requests | fastest s | median s | chunks/s |\n|---:|---:|---:|---:|---:|\n")
	var best setting
	for _, st := range settings {
		fast, mid := fastest(times[st]), median(times[st])
		fmt.Printf("| %d | %d | %.3f | %.3f | %.1f |\n", st.batch, st.conc, fast.Seconds(), mid.Seconds(), float64(len(texts))/fast.Seconds())
		if best.batch == 0 || fast < fastest(times[best]) {
			best = st
		}
	}
	ragFast := fastest(ragTimes)
	fmt.Printf("| rag index, the whole command (batch %d, %d at once) | | %.3f | %.3f | %.1f |\n",
		ragSetting.batch, ragSetting.conc, ragFast.Seconds(), median(ragTimes).Seconds(), float64(len(texts))/ragFast.Seconds())
	fmt.Printf("\nrag's own runs, the server's busy time in each (a request of rag's out):\n\n")
	fmt.Printf("| round | rag index s | server busy s | before the first request s | server idle between requests s | after the last answer s | rag / busy |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	ratios := make([]float64, runs)
	for i, u := range ragRuns {
		ratios[i] = u.wall.Seconds() / u.busy.Seconds()
		fmt.Printf("| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.4f |\n", i+1, u.wall.Seconds(), u.busy.Seconds(),
			u.first.Seconds(), u.idle.Seconds(), u.tail.Seconds(), ratios[i])
	}
	slices.Sort(ratios)
	fmt.Printf("\nrag index took %.4f times the server's busy time (median of %d runs; %.4f to %.4f).\n", (ratios[(runs-1)/2]+ratios[runs/2])/2, runs, ratios[0], ratios[runs-1])
	fmt.Printf("\n%d chunks, fastest of %d rounds. rag index: %.3f s. Ollama alone at rag's batch size and concurrency: %.3f s (ratio %.3f). At its best (batch %d, %d at once): %.3f s. Ratio %.3f (target: at most 1.05).\n",
		len(texts), runs, ragFast.Seconds(), fastest(times[ragSetting]).Seconds(), ragFast.Seconds()/fastest(times[ragSetting]).Seconds(),
		best.batch, best.conc, fastest(times[best]).Seconds(), ragFast.Seconds()/fastest(times[best]).Seconds())
	return nil
}

// meter is a proxy in front of the server that notes when each embedding
// request through it was out.
type meter struct {
	srv   *http.Server
	ln    net.Listener
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	start time.Time
	out   [][2]time.Duration // since start
}

func startMeter(target *url.URL) (*meter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &meter{ln: ln, proxy: httputil.NewSingleHostReverseProxy(target)}
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: time.Minute}
	go func() { _ = m.srv.Serve(ln) }() // ends with Close
	return m, nil
}

// URL is the proxy's address, for OLLAMA_HOST.
func (m *meter) URL() string { return "http://" + m.ln.Addr().String() }

func (m *meter) Close() error { return m.srv.Close() }

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	from := time.Since(m.start)
	m.mu.Unlock()
	m.proxy.ServeHTTP(w, r)
	if r.URL.Path != "/api/embed" {
		return
	}
	m.mu.Lock()
	m.out = append(m.out, [2]time.Duration{from, time.Since(m.start)})
	m.mu.Unlock()
}

// reset starts a run.
func (m *meter) reset() {
	m.mu.Lock()
	m.start, m.out = time.Now(), nil
	m.mu.Unlock()
}

// usage is how a run used the server.
type usage struct {
	wall  time.Duration // the whole run
	busy  time.Duration // with a request out
	first time.Duration // until the first request
	idle  time.Duration // between the first request and the last answer, none out
	tail  time.Duration // after the last answer
}

// usage ends a run.
func (m *meter) usage() usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := usage{wall: time.Since(m.start)}
	if len(m.out) == 0 {
		return u
	}
	slices.SortFunc(m.out, func(a, b [2]time.Duration) int { return cmp.Compare(a[0], b[0]) })
	u.first = m.out[0][0]
	from, to := m.out[0][0], m.out[0][1]
	for _, iv := range m.out[1:] {
		if iv[0] > to {
			u.busy += to - from
			u.idle += iv[0] - to
			from = iv[0]
		}
		to = max(to, iv[1])
	}
	u.busy += to - from
	u.tail = u.wall - to
	return u
}

func fastest(ts []time.Duration) time.Duration { return slices.Min(ts) }

func median(ts []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ts))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
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
