// Package server answers widget requests.
package server

import "net/http"

// Handler serves widgets.
type Handler struct {
	Size int
}

// ServeHTTP writes the widget.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Size == 0 {
		http.Error(w, "no widgets", http.StatusNotFound)
		return
	}

	w.WriteHeader(http.StatusOK)
}

func helper() int {
	return 42
}
