package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// hidePaths shows callers without the admin right no folder of the
// server's disk: in every answer (JSON, streams, MCP), the index's folder
// and each indexed folder read as their names ("index", the collection),
// so that a citation's path stays whole while where it lies on the server
// does not show. Admins, who may re-index, see the paths as rag does on
// the command line.
func (s *server) hidePaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := caller(r)
		if c.Admin {
			next.ServeHTTP(w, r)
			return
		}
		h := &pathHider{ResponseWriter: w, folders: func() *strings.Replacer { return s.folders(r, c) }}
		next.ServeHTTP(h, r)
	})
}

// folders is the replacer of the folders the index names now, as JSON
// writes them (the answers are all JSON); nil when the index cannot be
// read, whose error answer names no folder of it.
func (s *server) folders(r *http.Request, c Caller) *strings.Replacer {
	rd, err := s.readers.get(r.Context(), c.Who)
	if err != nil {
		return nil
	}
	fs := rd.Folders()
	if err := s.readers.put(c.Who, rd); err != nil {
		return nil
	}
	var pairs []string
	for _, f := range fs {
		old, err := json.Marshal(f.Path)
		name, nerr := json.Marshal(f.Name)
		if err != nil || nerr != nil || f.Path == "" {
			continue
		}
		pairs = append(pairs, string(old[1:len(old)-1]), string(name[1:len(name)-1]))
	}
	return strings.NewReplacer(pairs...)
}

// pathHider replaces the server's folders in what a handler writes. The
// folders are read at the first write, once the handler has read the
// index as it is now: a folder a commit added since is named too.
type pathHider struct {
	http.ResponseWriter
	once    sync.Once
	folders func() *strings.Replacer
	rep     *strings.Replacer
}

func (h *pathHider) Write(b []byte) (int, error) {
	h.once.Do(func() { h.rep = h.folders() })
	if h.rep == nil {
		return h.ResponseWriter.Write(b)
	}
	if _, err := h.ResponseWriter.Write([]byte(h.rep.Replace(string(b)))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Flush sends what was written (a stream's pieces as they come).
func (h *pathHider) Flush() {
	if f, ok := h.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (h *pathHider) Unwrap() http.ResponseWriter { return h.ResponseWriter }
