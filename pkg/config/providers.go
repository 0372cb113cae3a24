package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// KeyProviders is the config files' section of named model servers:
//
//	providers:
//	  local:
//	    type: openai
//	    base_url: http://127.0.0.1:8080/v1
//	    api_key_env: LOCAL_API_KEY
//
// A model setting (or flag) of PROVIDER:MODEL is served by that provider;
// any other name, "llama3.2:3b" too, by Ollama at OLLAMA_HOST.
const KeyProviders = "providers"

// The types of providers.
const (
	ProviderOllama = "ollama"
	ProviderOpenAI = "openai"
)

// Provider is one named model server of a config file.
type Provider struct {
	Name string
	// Type is ProviderOllama or ProviderOpenAI.
	Type string
	// BaseURL is the server's address: for openai the API's root with
	// its version (http://127.0.0.1:8080/v1), for ollama as OLLAMA_HOST.
	BaseURL string
	// APIKeyEnv names the environment variable that holds the API key
	// (the key itself is never in a config file).
	APIKeyEnv string
	// Headers are sent with every request (their values are never
	// shown: they may hold credentials).
	Headers map[string]string
	// ContextLength, if above 0, is the models' context length where the
	// server says none, or a smaller one.
	ContextLength int
	// Rerank is how an openai provider re-ranks: auto (its /rerank,
	// else the chat judgement), endpoint or chat.
	Rerank string
	// BatchSize and Parallel, if above 0, are rag index's defaults for
	// an embedding model of this provider (--batch-size, --parallel).
	BatchSize, Parallel int
	// Origin is the file and line that define it.
	Origin Origin
}

// providerFields are the fields a provider may set, in the order the
// help lists them.
var providerFields = []string{"type", "base_url", "api_key_env", "headers", "context_length", "rerank", "batch_size", "parallel"}

var (
	providerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parseProviders reads the providers: section of a config file.
func parseProviders(path string, node *yaml.Node) (map[string]Provider, error) {
	fail := func(n *yaml.Node, format string, args ...any) error {
		return &FileError{Path: path, Line: n.Line, Err: fmt.Errorf("providers: "+format, args...)}
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return map[string]Provider{}, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, fail(node, "want a NAME: with type: and base_url: under it for each provider")
	}
	out := map[string]Provider{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		name := k.Value
		if !providerName.MatchString(name) {
			return nil, fail(k, "name %q: use letters, digits and . _ - (no colon: a model is named PROVIDER:MODEL)", name)
		}
		if _, dup := out[name]; dup {
			return nil, fail(k, "%s is set twice", name)
		}
		p, err := parseProvider(name, v, fail)
		if err != nil {
			return nil, err
		}
		p.Origin = Origin{Kind: FromFile, Name: path, Line: k.Line}
		out[name] = p
	}
	return out, nil
}

func parseProvider(name string, node *yaml.Node, fail func(*yaml.Node, string, ...any) error) (Provider, error) {
	p := Provider{Name: name}
	if node.Kind != yaml.MappingNode {
		return p, fail(node, "%s: want type:, base_url: and the other fields under it", name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		field := k.Value
		if !slices.Contains(providerFields, field) {
			return p, fail(k, "%s: unknown field %q (a provider takes %s)", name, field, strings.Join(providerFields, ", "))
		}
		if seen[field] {
			return p, fail(k, "%s: %s is set twice", name, field)
		}
		seen[field] = true
		if field == "headers" {
			h, err := parseHeaders(v)
			if err != nil {
				return p, fail(v, "%s: headers: %v", name, err)
			}
			p.Headers = h
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
			return p, fail(v, "%s: %s: want a value", name, field)
		}
		if err := p.set(field, v.Value); err != nil {
			return p, fail(v, "%s: %s: %v", name, field, err)
		}
	}
	switch {
	case p.Type == "":
		return p, fail(node, "%s: type: is missing (ollama or openai)", name)
	case p.BaseURL == "":
		return p, fail(node, "%s: base_url: is missing", name)
	case p.Rerank != "" && p.Type != ProviderOpenAI:
		return p, fail(node, "%s: rerank: is for a provider of type openai", name)
	}
	return p, nil
}

func (p *Provider) set(field, value string) error {
	switch field {
	case "type":
		if value != ProviderOllama && value != ProviderOpenAI {
			return fmt.Errorf("unknown type %q (want ollama or openai)", value)
		}
		p.Type = value
	case "base_url":
		u, err := url.Parse(value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("want an http:// or https:// URL, not %q", value)
		}
		if u.User != nil {
			return errors.New("put no user or password in the URL: name a variable with api_key_env")
		}
		p.BaseURL = value
	case "api_key_env":
		if !envName.MatchString(value) {
			return fmt.Errorf("want the name of an environment variable (such as OPENAI_API_KEY), not the key")
		}
		p.APIKeyEnv = value
	case "rerank":
		if value != "auto" && value != "endpoint" && value != "chat" {
			return fmt.Errorf("unknown value %q (want auto, endpoint or chat)", value)
		}
		p.Rerank = value
	default: // context_length, batch_size, parallel
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("want a whole number of at least 1, not %q", value)
		}
		switch field {
		case "context_length":
			p.ContextLength = n
		case "batch_size":
			p.BatchSize = n
		case "parallel":
			p.Parallel = n
		}
	}
	return nil
}

func parseHeaders(node *yaml.Node) (map[string]string, error) {
	if node.Kind != yaml.MappingNode {
		return nil, errors.New("want Name: value lines")
	}
	h := map[string]string{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if v.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, fmt.Errorf("%s: want a text value", k.Value)
		}
		h[k.Value] = v.Value
	}
	return h, nil
}

// Providers are the configured providers by name: the project's file's
// over the user's, a whole provider at a time.
func (s *Settings) Providers() map[string]Provider { return s.providers }

// ProviderNames are the configured providers' names, sorted.
func (s *Settings) ProviderNames() []string {
	names := make([]string, 0, len(s.providers))
	for n := range s.providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ProviderOf is the configured provider that serves model (PROVIDER:MODEL),
// and false for a model of Ollama at OLLAMA_HOST.
func (s *Settings) ProviderOf(model string) (Provider, bool) {
	name, _, ok := strings.Cut(model, ":")
	if !ok {
		return Provider{}, false
	}
	p, ok := s.providers[name]
	return p, ok
}
