package weaviate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/rag-cli/rag/pkg/lexical"
	"github.com/rag-cli/rag/pkg/store"
)

// The chunk properties. terms holds rag's own analysis of the heading and
// text (lexical.Analyzer: lower-cased Snowball stems, no stopwords),
// split on white space by Weaviate, so that BM25 there weighs the same
// terms as rag's embedded keyword index does.
const (
	propKey         = "key"
	propN           = "n"
	propText        = "text"
	propTerms       = "terms"
	propHeading     = "heading"
	propStart       = "start_line"
	propEnd         = "end_line"
	propPage        = "page"
	propAccess      = "access"
	propCollections = "collections"
)

// The catalog properties.
const (
	propKind   = "kind"
	propCommit = "commit"
	propPart   = "part"
	propParts  = "parts"
	propData   = "data"
	propSchema = "schema"
	propFormat = "format"
)

// description marks a collection made by rag, with its schema version.
func description(what string) string {
	return fmt.Sprintf("rag %s (schema %d)", what, SchemaVersion)
}

var describedVersion = regexp.MustCompile(`^rag [a-z]+ \(schema ([0-9]+)\)$`)

func boolp(b bool) *bool { return &b }

func textProp(name, tokenization string, searchable, filterable bool) *models.Property {
	return &models.Property{Name: name, DataType: []string{"text"}, Tokenization: tokenization,
		IndexSearchable: boolp(searchable), IndexFilterable: boolp(filterable)}
}

func listProp(name string) *models.Property {
	return &models.Property{Name: name, DataType: []string{"text[]"}, Tokenization: "field",
		IndexSearchable: boolp(false), IndexFilterable: boolp(true)}
}

func intProp(name string, filterable bool) *models.Property {
	return &models.Property{Name: name, DataType: []string{"int"}, IndexFilterable: boolp(filterable), IndexRangeFilters: boolp(false)}
}

// classes are the collections of the index as rag creates them.
func (s *Store) classes() []*models.Class {
	var repl *models.ReplicationConfig
	if s.cfg.Replicas > 0 {
		// Async replication brings a replica that was down back up to
		// date on its own, not only when a read repairs an object.
		repl = &models.ReplicationConfig{Factor: int64(s.cfg.Replicas), AsyncEnabled: s.cfg.Replicas > 1}
	}
	chunks := &models.Class{
		Class: s.chunkClass(), Description: description("chunks"), Vectorizer: "none",
		VectorIndexType: "hnsw", VectorIndexConfig: map[string]any{"distance": "cosine"},
		MultiTenancyConfig: &models.MultiTenancyConfig{Enabled: true},
		InvertedIndexConfig: &models.InvertedIndexConfig{
			Bm25:      &models.BM25Config{K1: lexical.K1, B: lexical.B},
			Stopwords: &models.StopwordConfig{Preset: "none"},
		},
		ReplicationConfig: repl,
		Properties: []*models.Property{
			textProp(propKey, "field", false, true), intProp(propN, false),
			textProp(propText, "word", false, false), textProp(propTerms, "whitespace", true, false),
			textProp(propHeading, "word", false, false),
			intProp(propStart, false), intProp(propEnd, false), intProp(propPage, false),
			listProp(propAccess), listProp(propCollections),
		},
	}
	catalog := &models.Class{
		Class: s.catalogClass(), Description: description("catalog"), Vectorizer: "none",
		ReplicationConfig: repl,
		Properties: []*models.Property{
			textProp(propKind, "field", false, true), textProp(propCommit, "field", false, true),
			intProp(propPart, false), intProp(propParts, false),
			{Name: propData, DataType: []string{"blob"}},
			intProp(propSchema, false), intProp(propFormat, false),
		},
	}
	return []*models.Class{chunks, catalog}
}

// checkSchema reports whether the index's collections exist, and refuses
// ones rag did not make or of a newer schema (store.SchemaError). One of
// the two alone is an index whose creation was cut short: created again.
func (s *Store) checkSchema(ctx context.Context) (bool, error) {
	found := 0
	for _, want := range s.classes() {
		got, err := s.client.Schema().ClassGetter().WithClassName(want.Class).Do(ctx)
		var we *fault.WeaviateClientError
		if errors.As(err, &we) && we.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return false, s.fail("read the schema", err)
		}
		if got == nil || got.Class == "" {
			continue // Weaviate answers a missing class with 200 and null
		}
		if err := s.compatible(want, got); err != nil {
			return false, err
		}
		found++
	}
	return found == 2, nil
}

// compatible checks a collection found against the one rag would create.
func (s *Store) compatible(want, got *models.Class) error {
	bad := func(v int, format string, a ...any) error {
		return &store.SchemaError{Addr: s.cfg.Host, Class: want.Class, Reason: fmt.Sprintf(format, a...), Got: v, Want: SchemaVersion}
	}
	mm := describedVersion.FindStringSubmatch(got.Description)
	if mm == nil {
		return bad(0, "the collection was not made by rag (no schema version in its description); name another index with ?index=NAME")
	}
	v, err := strconv.Atoi(mm[1])
	if err != nil || v > SchemaVersion {
		return bad(v, "its schema version %s is newer than this rag's %d; upgrade rag", mm[1], SchemaVersion)
	}
	// Older versions would be migrated here; version 1 is the first.
	mt := got.MultiTenancyConfig != nil && got.MultiTenancyConfig.Enabled
	if want.MultiTenancyConfig != nil && !mt {
		return bad(v, "multi-tenancy is off")
	}
	have := map[string][]string{}
	for _, p := range got.Properties {
		have[p.Name] = p.DataType
	}
	for _, p := range want.Properties {
		if dt, ok := have[p.Name]; !ok || !slices.Equal(dt, p.DataType) {
			return bad(v, "property %s is missing or not of type %v", p.Name, p.DataType)
		}
	}
	return nil
}

// createSchema creates the collections missing.
func (s *Store) createSchema(ctx context.Context) error {
	for _, c := range s.classes() {
		got, err := s.client.Schema().ClassGetter().WithClassName(c.Class).Do(ctx)
		if err == nil && got != nil && got.Class != "" {
			continue
		}
		if err := s.client.Schema().ClassCreator().WithClass(c).Do(ctx); err != nil {
			return s.fail("create collection "+c.Class, err)
		}
	}
	return nil
}

// tenantName is the Weaviate tenant of rag tenant t. Weaviate allows
// 1-64 of A-Z a-z 0-9 _ -; rag's names allow . @ + too and are longer:
// such a name is its hash, the others kept readable. The prefixes keep
// the mapping one-to-one ("d" is rag's default tenant).
func tenantName(t string) string {
	if t == "" {
		return "d"
	}
	if len(t) <= 60 && plainTenant.MatchString(t) {
		return "t-" + t
	}
	sum := sha256.Sum256([]byte(t))
	return "h-" + hex.EncodeToString(sum[:24])
}

var plainTenant = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// loadTenants reads the tenants that exist.
func (s *Store) loadTenants(ctx context.Context) error {
	ts, err := s.client.Schema().TenantsGetter().WithClassName(s.chunkClass()).Do(ctx)
	if err != nil {
		return s.fail("list tenants", err)
	}
	s.tenants = make(map[string]bool, len(ts))
	for _, t := range ts {
		s.tenants[t.Name] = true
	}
	return nil
}

// ensureTenants creates the Weaviate tenants of rag tenants that lack one.
func (s *Store) ensureTenants(ctx context.Context, tenants map[string]bool) error {
	var add []models.Tenant
	for t := range tenants {
		if n := tenantName(t); !s.tenants[n] {
			add = append(add, models.Tenant{Name: n})
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := s.client.Schema().TenantsCreator().WithClassName(s.chunkClass()).WithTenants(add...).Do(ctx); err != nil {
		return s.fail("create tenants", err)
	}
	for _, t := range add {
		s.tenants[t.Name] = true
	}
	return nil
}
