package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/store"
)

// row is one chunk of the exact scan: where it is, and its vector.
type row struct {
	at  hit
	vec []float32
}

// recall compares the server's dense top k with an exact scan of every
// vector of the index, for o.recallN queries, and prints Recall@k.
func recall(ctx context.Context, o options, gen *queries) (err error) {
	st, err := store.Open(ctx, o.index, store.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	man := st.Manifest()
	var rows []row
	for _, f := range man.Files {
		chunks, err := st.FileChunks(ctx, f)
		if err != nil {
			return err
		}
		for _, c := range chunks {
			rows = append(rows, row{hit{f.Path, c.StartLine, c.EndLine}, c.Vector})
		}
	}
	host, err := url.Parse("http://" + o.models)
	if err != nil {
		return fmt.Errorf("-models: %w", err)
	}
	models := ollama.New(host, nil)
	hc := &http.Client{}
	found, total := 0, 0
	for range o.recallN {
		q := gen.next()
		vecs, err := models.Embed(ctx, man.EmbedModel, []string{q})
		if err != nil {
			return fmt.Errorf("embed the query: %w", err)
		}
		want := exactTop(rows, vecs[0], o.k)
		var got []hit
		if code, err := search(ctx, hc, o, "dense", q, &got); err != nil || code != http.StatusOK {
			return fmt.Errorf("dense search %q: status %d, %v", q, code, err)
		}
		for _, h := range got {
			if slices.Contains(want, h) {
				found++
			}
		}
		total += len(want)
	}
	fmt.Printf("\nDense Recall@%d against an exact scan of all %d vectors: %.4f (%d of %d, %d queries)\n",
		o.k, len(rows), float64(found)/float64(max(total, 1)), found, total, o.recallN)
	return nil
}

// exactTop is the k rows of the highest dot product with q (the stored
// vectors are unit vectors: cosine order).
func exactTop(rows []row, q []float32, k int) []hit {
	type scored struct {
		at    hit
		score float32
	}
	all := make([]scored, len(rows))
	for i, r := range rows {
		var s float32
		for j, x := range r.vec {
			s += x * q[j]
		}
		all[i] = scored{r.at, s}
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	out := make([]hit, 0, k)
	for _, s := range all[:min(k, len(all))] {
		out = append(out, s.at)
	}
	return out
}
