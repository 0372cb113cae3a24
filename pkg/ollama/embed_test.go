package ollama

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"testing"

	"github.com/ollama/ollama/api"
)

// Embed reads every answer as the library alone does: the same vectors
// for a plain answer, the same error (and so the same hint) for any other.
func TestEmbedAsLibrary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		cut    bool // the connection drops mid-body
	}{
		{"vectors", 200, string(answer(t, 2, 16, 7)), false},
		{"vectors the fast path leaves alone", 200, `{"embeddings":[[1],null]}`, false},
		{"too few vectors", 200, `{"model":"m","embeddings":[[1]]}`, false},
		{"no vectors", 200, `{"embeddings":null}`, false},
		{"an empty body", 200, ``, false},
		{"broken JSON", 200, `{"embeddings":[[1,]]}`, false},
		{"a number out of range", 200, `{"embeddings":[[1e39],[2]]}`, false},
		{"a bad field", 200, `{"embeddings":[[1],[2]],"total_duration":"soon"}`, false},
		{"cut short", 200, `{"embeddings":[[1],[2`, true},
		{"missing model", 404, `{"error":"model \"m\" not found, try pulling it first"}`, false},
		{"server error", 500, `{"error":"llama runner process has terminated"}`, false},
		{"not JSON", 502, `Bad Gateway`, false},
		{"unauthorized", 401, `{"error":"unauthorized","signin_url":"https://ollama.com/connect"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/embed" || r.Method != http.MethodPost {
					http.NotFound(w, r)
					return
				}
				if tt.cut {
					w.Header().Set("Content-Length", fmt.Sprint(len(tt.body)+100))
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			u, err := url.Parse(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			c := New(u, nil)
			ctx := context.Background()
			got, gotErr := c.Embed(ctx, "m", []string{"a", "b"})

			// The library's own reading of the same answer.
			truncate := true
			var want [][]float32
			resp, wantErr := api.NewClient(u, http.DefaultClient).Embed(ctx, &api.EmbedRequest{Model: "m", Input: []string{"a", "b"}, Truncate: &truncate})
			if wantErr != nil {
				wantErr = c.classify("m", RoleEmbed, wantErr)
			} else if len(resp.Embeddings) != 2 {
				wantErr = fmt.Errorf("ollama returned %d embeddings for 2 inputs", len(resp.Embeddings))
			} else {
				want = resp.Embeddings
			}
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || reflect.TypeOf(gotErr) != reflect.TypeOf(wantErr) {
				t.Fatalf("err = %#v\nthe library's: %#v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("vectors = %v, the library's %v", got, want)
			}
		})
	}
}

// Requests at once share the client's buffers without sharing vectors.
func TestEmbedConcurrent(t *testing.T) {
	t.Parallel()
	bodies := [][]byte{answer(t, 3, 32, 8), answer(t, 3, 32, 9)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req api.EmbedRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(bodies[len(req.Model)%2])
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := New(u, nil)
	var want [2]api.EmbedResponse
	for i, b := range bodies {
		if err := json.Unmarshal(b, &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			model := "mm"[:1+g%2]
			for range 20 {
				got, err := c.Embed(context.Background(), model, []string{"a", "b", "c"})
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(got, want[len(model)%2].Embeddings) {
					t.Errorf("model %s: vectors differ from the answer's", model)
					return
				}
				got[0][0] = 42 // the caller's own
			}
		})
	}
	wg.Wait()
}
