package server

import (
	"encoding/json"
	"net/http"
)

// stream writes an answer as it comes: NDJSON lines, or server-sent
// events whose data are the same objects.
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	sse     bool
	started bool
	// err is the first failed write: the client is gone, and the answer
	// stops (token returns it).
	err error
}

func newStream(w http.ResponseWriter, kind string) *stream {
	return &stream{w: w, rc: http.NewResponseController(w), sse: kind == "sse"}
}

// token sends a piece of the answer (Reader.Ask's onToken).
func (s *stream) token(text string) error {
	s.send("token", streamToken{Type: "token", Text: text})
	return s.err
}

// send writes one object as a line or an event, and flushes it.
func (s *stream) send(event string, v any) {
	if s.err != nil {
		return
	}
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "application/x-ndjson")
		if s.sse {
			h.Set("Content-Type", "text/event-stream")
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Accel-Buffering", "no") // a proxy must not hold the pieces back
		s.w.WriteHeader(http.StatusOK)
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	if s.sse {
		b = append(append([]byte("event: "+event+"\ndata: "), b...), "\n\n"...)
	} else {
		b = append(b, '\n')
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return
	}
	// A writer that cannot flush (a middleware hiding it) still answers,
	// in one piece at the end.
	if err := s.rc.Flush(); err != nil && err != http.ErrNotSupported {
		s.err = err
	}
}
