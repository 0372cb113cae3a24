package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/store"
)

// benchIndex runs `rag index` in-process against the fake Ollama.
func benchIndex(b *testing.B, srv *ollamatest.Server, index string, args ...string) {
	b.Helper()
	ios, _, _, errOut := iostreams.Test()
	env := map[string]string{"OLLAMA_HOST": srv.URL, "RAG_INDEX": index}
	app := &App{IO: ios, Env: func(k string) string { return env[k] }, HTTP: NewHTTPClient(), Now: time.Now, Version: "bench"}
	if code := app.Run(context.Background(), append([]string{"index"}, args...)); code != 0 {
		b.Fatalf("rag index: exit %d: %s", code, errOut)
	}
}

// BenchmarkReindex10k measures `rag index` on a folder of 10,000 small
// files (100 folders of 100 files of about 300 bytes) that was indexed
// before: with nothing changed, and with one file edited. The whole
// command runs, catalog and lock included, with the fake Ollama standing in
// for the embedder; embed-calls/op is what reaches it.
func BenchmarkReindex10k(b *testing.B) {
	docs := b.TempDir()
	const n = 10_000
	for i := 0; i < n; i++ {
		dir := filepath.Join(docs, fmt.Sprintf("d%02d", i/100))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		text := fmt.Sprintf("# Note %d\n\n%s\n", i, strings.Repeat(fmt.Sprintf("word%d topic%d ", i, i%97), 20))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.md", i)), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// Files changed within two seconds of being read are read again by the
	// next run (racily clean, as git says): wait that out, so that no-op
	// is one.
	time.Sleep(2100 * time.Millisecond)
	srv := ollamatest.Start(embedModel)
	defer srv.Close()
	index := filepath.Join(b.TempDir(), "index")
	start := time.Now()
	benchIndex(b, srv, index, "--embed-model", embedModel, docs)
	b.Logf("first index of %d files: %s, %d embed calls", n, time.Since(start), srv.EmbedRequests())

	b.Run("no-op", func(b *testing.B) {
		before := srv.EmbedRequests()
		cpu0 := cpuTime()
		for b.Loop() {
			benchIndex(b, srv, index, docs)
		}
		// On two cores the run is bound by its CPU (stats, mostly), which
		// wall time alone hides.
		if cpu0 > 0 {
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		}
		b.ReportMetric(float64(srv.EmbedRequests()-before)/float64(b.N), "embed-calls/op")
	})
	// What a run pays to find damaged objects (part of no-op above): every
	// object read and its checksum compared.
	b.Run("check-objects", func(b *testing.B) {
		st, err := store.Open(context.Background(), index, store.Options{Write: true})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				b.Error(err)
			}
		}()
		for b.Loop() {
			if ds, err := st.CheckObjects(context.Background()); err != nil || len(ds) > 0 {
				b.Fatalf("CheckObjects = %v, %v", ds, err)
			}
		}
	})
	b.Run("one-edit", func(b *testing.B) {
		before, texts := srv.EmbedRequests(), srv.EmbeddedTexts()
		i := 0
		for b.Loop() {
			i++
			p := filepath.Join(docs, "d42", "f4217.md")
			if err := os.WriteFile(p, []byte(fmt.Sprintf("# Edited %d\n\nNew text for edit %d.\n", i, i)), 0o644); err != nil {
				b.Fatal(err)
			}
			benchIndex(b, srv, index, docs)
		}
		b.ReportMetric(float64(srv.EmbedRequests()-before)/float64(b.N), "embed-calls/op")
		b.ReportMetric(float64(srv.EmbeddedTexts()-texts)/float64(b.N), "chunks-embedded/op")
	})
}
