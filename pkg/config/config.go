// Package config resolves rag's settings (index location, Ollama address,
// models, retrieval defaults) from the environment, the project's .rag.yaml
// and the user's config.yaml, over built-in defaults; the CLI lays its flags
// on top. Every setting remembers where it came from, for `rag config`. It
// never reads the environment itself: callers pass a lookup function, so
// every command can be tested with its own environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Defaults a user gets without flags. The models are the ones most Ollama
// users already have or can pull in one command.
const (
	DefaultEmbedModel = "nomic-embed-text"
	DefaultChatModel  = "llama3.2"
	DefaultAskK       = 4
	// DefaultMode is the retrieval mode: hybrid measured best on the
	// SQuAD 2.0 subset (README, "Retrieval quality").
	DefaultMode = "hybrid"
	// DefaultFusion is how hybrid mode fuses its rankings.
	DefaultFusion  = "weighted"
	DefaultSearchK = 5
	// DefaultMinScore is the cosine similarity below which a chunk is not
	// considered evidence for an answer.
	DefaultMinScore = 0.3
	// DefaultMinRelevance is the re-ranker's probability of relevance
	// below which a chunk is not evidence.
	DefaultMinRelevance = 0.5
	// DefaultMinCoverage is the share of a query's attainable BM25 the
	// best chunk must reach: calibrated on SQuAD 2.0 (see README, "When rag
	// abstains") so that at most 5% of answerable questions are refused.
	DefaultMinCoverage = 0.23
	DefaultOllama      = "http://127.0.0.1:11434"
)

// Env looks up an environment variable.
type Env func(key string) string

// IndexDir is the default index folder: $XDG_DATA_HOME/rag/index, else
// ~/.local/share/rag/index; "" when neither variable is set.
func IndexDir(env Env) string {
	if v := env("XDG_DATA_HOME"); v != "" {
		return filepath.Join(v, "rag", "index")
	}
	if home := env("HOME"); home != "" {
		return filepath.Join(home, ".local", "share", "rag", "index")
	}
	return ""
}

// StateDir is where rag keeps what it carries from one run to the next
// (chat sessions): $XDG_STATE_HOME/rag, else ~/.local/state/rag; "" when
// neither variable is set.
func StateDir(env Env) string {
	if v := env("XDG_STATE_HOME"); v != "" {
		return filepath.Join(v, "rag")
	}
	if home := env("HOME"); home != "" {
		return filepath.Join(home, ".local", "state", "rag")
	}
	return ""
}

// ErrNoIndexDir means no index folder was set and none could be derived.
var ErrNoIndexDir = errors.New("no index location: set --index, RAG_INDEX, index: in a config file, or HOME")

// OllamaHost parses OLLAMA_HOST the way Ollama's own tools do: a bare
// host, host:port or a full URL; the default is 127.0.0.1:11434.
func OllamaHost(value string) (*url.URL, error) {
	s := strings.TrimSpace(value)
	if s == "" {
		return url.Parse(DefaultOllama)
	}
	defaultPort := "11434"
	scheme, hostport, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		defaultPort = "80"
	case scheme == "https":
		defaultPort = "443"
	default:
		return nil, fmt.Errorf("OLLAMA_HOST %q: unsupported scheme %q", value, scheme)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = "127.0.0.1", defaultPort
		if ip := net.ParseIP(strings.Trim(hostport, "[]")); ip != nil {
			host = ip.String()
		} else if hostport != "" {
			host = hostport
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, fmt.Errorf("OLLAMA_HOST %q: invalid port %q", value, port)
	}
	if host == "0.0.0.0" || host == "::" {
		// A server bound to every address is reached on loopback.
		host = "127.0.0.1"
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: path}, nil
}
