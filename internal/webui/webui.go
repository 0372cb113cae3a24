// Package webui is rag serve's page for people without a terminal: one
// HTML file embedded in the binary (inline CSS and JavaScript, no build
// step, no external assets) that searches, asks with the answer streaming
// in, opens the cited lines, picks collections and sends a token kept for
// the tab only. It calls the server's /v1 routes; it holds no logic of its
// own beyond drawing their JSON.
package webui

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

//go:embed index.html
var page []byte

// csp allows nothing but the page's own inline script and style (by their
// hashes, so no 'unsafe-inline') and fetches to the same origin: a
// document's text that slipped into the DOM as markup still could not run.
var csp = buildCSP(page)

// Handler serves the page at "/" (GET and HEAD); every other path is 404,
// so that it can be mounted at "/" beside the API.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Length", strconv.Itoa(len(page)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(page) // the client went away: nothing to tell it
	})
}

// buildCSP hashes the page's <script> and <style> elements. It panics when
// the page lacks either: that is a mistake in the embedded file, caught by
// any test that loads the package.
func buildCSP(p []byte) string {
	return "default-src 'none'; " +
		"script-src " + hashOf(p, "script") + "; " +
		"style-src " + hashOf(p, "style") + "; " +
		"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// hashOf is the CSP source of the first <tag> element's text: its SHA-256
// over exactly the bytes between the tags, as browsers compute it.
func hashOf(p []byte, tag string) string {
	_, rest, ok := bytes.Cut(p, []byte("<"+tag+">"))
	body, _, ok2 := bytes.Cut(rest, []byte("</"+tag+">"))
	if !ok || !ok2 {
		panic(fmt.Sprintf("webui: index.html has no <%s> element", tag))
	}
	if bytes.Contains(bytes.ToLower(rest[len(body):]), []byte("<"+tag)) {
		panic(fmt.Sprintf("webui: index.html has more than one <%s> element; the CSP hashes one", tag))
	}
	sum := sha256.Sum256(body)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
