package weaviate

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is where and how rag keeps an index in Weaviate, as a store URL
// says it: weaviate://HOST:PORT[?index=NAME&consistency=LEVEL&replicas=N&tls=1&timeout=DURATION].
type Config struct {
	// Host is HOST:PORT of the server's REST API.
	Host string
	// Scheme is http, or https with tls=1.
	Scheme string
	// Index names the index: its collections are INDEXChunks and
	// INDEXCatalog. It starts with a capital letter (Weaviate's rule for
	// collection names); default "Rag".
	Index string
	// Consistency is the consistency level of writes: ONE, QUORUM (the
	// default) or ALL. The catalog is read at QUORUM.
	Consistency string
	// Replicas is the replication factor of collections rag creates (0:
	// the server's default). An existing collection keeps its own.
	Replicas int
	// Timeout bounds each request to the server (0: a minute).
	Timeout time.Duration
	// APIKey, if set, is sent as a bearer token. The CLI reads it from the
	// environment; this package never does.
	APIKey string
}

// URLError is a store URL rag cannot use.
type URLError struct {
	URL    string
	Reason string
}

func (e *URLError) Error() string { return fmt.Sprintf("bad store URL %q: %s", e.URL, e.Reason) }

// Scheme is the URL scheme of a Weaviate store.
const Scheme = "weaviate"

// IsURL reports whether s names a Weaviate store (weaviate://...).
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme+"://") }

// ParseURL reads a store URL (weaviate://HOST:PORT[?options]).
func ParseURL(s string) (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, &URLError{URL: s, Reason: fmt.Sprintf(format, a...)}
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("%v", err)
	}
	if u.Scheme != Scheme {
		return bad("the scheme is not %s://", Scheme)
	}
	if u.User != nil {
		return bad("no credentials in the URL: give an API key in RAG_WEAVIATE_API_KEY")
	}
	if u.Path != "" && u.Path != "/" {
		return bad("a path is not used (name the index with ?index=NAME)")
	}
	if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Hostname() == "" {
		return bad("give the host and port of Weaviate's REST API (weaviate://HOST:PORT)")
	}
	c := Config{Host: u.Host, Scheme: "http", Index: "Rag", Consistency: "QUORUM"}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "index":
			if !validIndex(v) {
				return bad("index %q: a capital letter, then letters and digits (at most 40)", v)
			}
			c.Index = v
		case "consistency":
			v = strings.ToUpper(v)
			if v != "ONE" && v != "QUORUM" && v != "ALL" {
				return bad("consistency %q: ONE, QUORUM or ALL", v)
			}
			c.Consistency = v
		case "replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 {
				return bad("replicas %q: a number from 1 to 64", v)
			}
			c.Replicas = n
		case "tls":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return bad("tls %q: true or false", v)
			}
			if on {
				c.Scheme = "https"
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return bad("timeout %q: a duration such as 30s", v)
			}
			c.Timeout = d
		default:
			return bad("unknown option %q (index, consistency, replicas, tls, timeout)", k)
		}
	}
	return c, nil
}

// String is the store URL of c, with its options but never its API key.
func (c Config) String() string {
	q := url.Values{}
	if c.Index != "Rag" {
		q.Set("index", c.Index)
	}
	if c.Consistency != "QUORUM" {
		q.Set("consistency", c.Consistency)
	}
	if c.Replicas > 0 {
		q.Set("replicas", strconv.Itoa(c.Replicas))
	}
	if c.Scheme == "https" {
		q.Set("tls", "true")
	}
	if c.Timeout > 0 {
		q.Set("timeout", c.Timeout.String())
	}
	s := Scheme + "://" + c.Host
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// validIndex reports whether s can prefix Weaviate collection names: a
// capital letter, then letters and digits.
func validIndex(s string) bool {
	if s == "" || len(s) > 40 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
