// Command serveload measures a running `rag serve` under load on loopback:
// for each mode and each number of concurrent clients it sends searches for
// a bounded count and time, and prints throughput, latency percentiles,
// the statuses seen and the server's resident memory over the run. With
// -index it also measures the Recall@10 of dense search against an exact
// scan of every vector of the index. bench/serve.sh runs it (see
// docs/performance.md, "rag serve under load").
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type options struct {
	addr, token   string
	modes         []string
	clients       []int
	requests      int
	warm          int
	maxTime       time.Duration
	k             int
	pid           int
	index, models string
	recallN       int
	seed          uint64
	corpus        string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var modes, clients string
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8181", "the server's HOST:PORT")
	flag.StringVar(&o.token, "token", "", "a bearer token to send")
	flag.StringVar(&modes, "modes", "lexical,dense,hybrid", "search modes, comma-separated")
	flag.StringVar(&clients, "clients", "1,8,64", "concurrent clients, comma-separated")
	flag.IntVar(&o.requests, "requests", 500, "searches measured per mode and client count")
	flag.IntVar(&o.warm, "warm", 50, "searches sent first and not measured, per mode")
	flag.DurationVar(&o.maxTime, "max-time", 30*time.Second, "time bound per mode and client count")
	flag.IntVar(&o.k, "k", 10, "results per search")
	flag.IntVar(&o.pid, "pid", 0, "the server's process id, to sample its resident memory")
	flag.StringVar(&o.index, "index", "", "the served index folder: measure dense Recall@10 against an exact scan of it")
	flag.StringVar(&o.models, "models", os.Getenv("OLLAMA_HOST"), "the model server that embeds queries for the exact scan")
	flag.IntVar(&o.recallN, "recall-queries", 100, "queries of the recall measure")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated queries")
	flag.StringVar(&o.corpus, "corpus", "", "the indexed folder, whose lines the queries are taken from (required)")
	flag.Parse()
	o.modes = strings.Split(modes, ",")
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a positive number", c)
		}
		o.clients = append(o.clients, n)
	}
	ctx := context.Background()
	gen, err := newQueries(o.corpus, o.seed)
	if err != nil {
		return err
	}
	fmt.Println("| mode | clients | requests | throughput/s | p50 ms | p95 ms | p99 ms | statuses | RSS MB start → end (max) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, m := range o.modes {
		if _, err := load(ctx, o, m, 1, o.warm, gen); err != nil {
			return err
		}
		for _, c := range o.clients {
			r, err := load(ctx, o, m, c, o.requests, gen)
			if err != nil {
				return err
			}
			fmt.Println(r.row(m, c))
		}
	}
	if o.index != "" {
		gen.r = rand.New(rand.NewPCG(o.seed+1, 7))
		return recall(ctx, o, gen)
	}
	return nil
}

// result is one run of load.
type result struct {
	lat      []time.Duration
	statuses map[int]int
	errs     int
	took     time.Duration
	rss      rssSamples
}

func (r result) row(mode string, clients int) string {
	slices.Sort(r.lat)
	pct := func(p float64) string {
		if len(r.lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))].Microseconds())/1000)
	}
	var st []string
	for _, code := range slices.Sorted(mapKeys(r.statuses)) {
		st = append(st, fmt.Sprintf("%d×%d", code, r.statuses[code]))
	}
	if r.errs > 0 {
		st = append(st, fmt.Sprintf("transport errors×%d", r.errs))
	}
	n := len(r.lat)
	return fmt.Sprintf("| %s | %d | %d | %.0f | %s | %s | %s | %s | %s |", mode, clients, n,
		float64(n)/r.took.Seconds(), pct(0.50), pct(0.95), pct(0.99), strings.Join(st, " "), r.rss)
}

func mapKeys(m map[int]int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// load sends n searches from c clients at once, each sending its next as
// soon as its last is answered, until n are sent or o.maxTime is over.
// Only answers with 200 count in the latencies.
func load(ctx context.Context, o options, mode string, c, n int, gen *queries) (result, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
	res := result{statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan string)
	stop := make(chan struct{})
	rss := sampleRSS(o.pid, stop)
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range next {
				t := time.Now()
				code, err := search(ctx, hc, o, mode, q, nil)
				d := time.Since(t)
				mu.Lock()
				switch {
				case err != nil:
					res.errs++
				case code == http.StatusOK:
					res.lat = append(res.lat, d)
					res.statuses[code]++
				default:
					res.statuses[code]++
				}
				mu.Unlock()
			}
		}()
	}
	deadline := time.After(o.maxTime)
send:
	for range n {
		select {
		case next <- gen.next():
		case <-deadline:
			break send
		}
	}
	close(next)
	wg.Wait()
	res.took = time.Since(start)
	close(stop)
	res.rss = <-rss
	hc.CloseIdleConnections()
	return res, nil
}

// hit is what the recall measure reads of a search's results.
type hit struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
}

// search sends one search; out, if set, receives the results.
func search(ctx context.Context, hc *http.Client, o options, mode, q string, out *[]hit) (int, error) {
	body, err := json.Marshal(map[string]any{"query": q, "mode": mode, "k": o.k})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+o.addr+"/v1/search", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	data, rerr := io.ReadAll(resp.Body)
	if err := errors.Join(rerr, resp.Body.Close()); err != nil {
		return 0, err
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		var r struct {
			Results []hit `json:"results"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return 0, fmt.Errorf("search answer: %w", err)
		}
		*out = r.Results
	}
	return resp.StatusCode, nil
}

// queries makes search queries as someone looking for a passage would:
// two to six words of a line of a file of the corpus, in order.
type queries struct {
	mu    sync.Mutex
	r     *rand.Rand
	lines [][]string
}

// newQueries reads the lines of at most 2,000 files of corpus that hold at
// least six words.
func newQueries(corpus string, seed uint64) (*queries, error) {
	g := &queries{r: rand.New(rand.NewPCG(seed, 7))}
	err := filepath.WalkDir(corpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(g.lines) > 200_000 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(strings.Trim(l, "#-*> ")); len(f) >= 6 {
				g.lines = append(g.lines, f)
			}
		}
		return nil
	})
	if err == nil && len(g.lines) == 0 {
		err = fmt.Errorf("no line of six words in %s", corpus)
	}
	return g, err
}

func (g *queries) next() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.lines[g.r.IntN(len(g.lines))]
	n := 2 + g.r.IntN(5)
	at := g.r.IntN(len(l) - n + 1)
	return strings.Trim(strings.Join(l[at:at+n], " "), ".,;:!?")
}

// rssSamples are the server's resident set sizes over a run, in MB.
type rssSamples []float64

func (s rssSamples) String() string {
	if len(s) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f → %.0f (%.0f)", s[0], s[len(s)-1], slices.Max(s))
}

// sampleRSS reads pid's VmRSS every 100 ms until stop is closed, then
// sends the samples.
func sampleRSS(pid int, stop chan struct{}) chan rssSamples {
	out := make(chan rssSamples, 1)
	go func() {
		var s rssSamples
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if mb, ok := readRSS(pid); ok {
				s = append(s, mb)
			}
			select {
			case <-stop:
				if mb, ok := readRSS(pid); ok {
					s = append(s, mb)
				}
				out <- s
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func readRSS(pid int) (float64, bool) {
	if pid == 0 {
		return 0, false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}
