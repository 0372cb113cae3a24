package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/store"
)

// Who says who asks and what of the index they ask about: the principal
// (user:NAME, group:NAME or public, the default), the tenant, and the
// collections to narrow to (all when empty). Whoever builds a Who vouches
// for As: the CLI trusts its caller, a server the token.
type Who struct {
	As          string
	Tenant      string
	Collections []string
	// Filter narrows what is asked about to the files whose fields match
	// it (the zero Filter: every file).
	Filter filter.Filter
}

// Asker is a Who resolved: the store's view of it (principals with the
// groups of the groups file), and a note when the user's groups could
// not be known.
type Asker struct {
	View store.View
	// As is who asks as Who named it ("" public), for messages.
	As string
	// Note, if set, says that a user's groups could not be known (no
	// groups file, or one that does not list the user): the user is then
	// searched as itself and public alone.
	Note string
}

// RequestError is a malformed part of a request: Field names it (as,
// tenant).
type RequestError struct {
	Field string
	Err   error
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// GroupsFileError is a groups file that cannot be read (Parse false) or
// parsed.
type GroupsFileError struct {
	Path  string
	Parse bool
	Err   error
}

func (e *GroupsFileError) Error() string {
	if e.Parse {
		return fmt.Sprintf("groups file %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("groups file: %v", e.Err)
}
func (e *GroupsFileError) Unwrap() error { return e.Err }

// UnknownTenantError is a view of a tenant the index holds nothing of (no
// folder was ever indexed into it): a mistyped tenant must not read as an
// empty index or as "no results".
type UnknownTenantError struct{ Tenant string }

func (e *UnknownTenantError) Error() string {
	return fmt.Sprintf("tenant %q holds no documents", e.Tenant)
}

// UnknownCollectionError is a view of a collection the asker sees no file
// of; Have are those it does see.
type UnknownCollectionError struct {
	Name string
	Have []string
}

func (e *UnknownCollectionError) Error() string {
	return fmt.Sprintf("no collection %q in the index", e.Name)
}

// EmptyViewError is a query whose asker sees no document of an index that
// holds some: nothing was searched, and the index is not empty.
type EmptyViewError struct {
	As, Tenant string
}

func (e *EmptyViewError) Error() string {
	return fmt.Sprintf("%s sees no document in %s", cmp.Or(e.As, access.Public), TenantName(e.Tenant))
}

// ErrEmptyIndex is an index that exists but holds no chunks: there is
// nothing to answer from.
var ErrEmptyIndex = errors.New("the index is empty: it holds no documents")

// TenantName is how messages name a tenant.
func TenantName(t string) string {
	if t == "" {
		return "the default tenant"
	}
	return "tenant " + t
}

// Resolve resolves who asks: the principals of w.As (public without it),
// a user with the groups the groups file gives it, in the tenant. It is
// the one place that does; a face resolves once per request.
func (e *Engine) Resolve(ctx context.Context, w Who) (Asker, error) {
	as := cmp.Or(w.As, access.Public)
	if err := access.CheckPrincipal(as); err != nil {
		return Asker{}, &RequestError{Field: "as", Err: err}
	}
	if w.Tenant != "" {
		if err := access.CheckTenant(w.Tenant); err != nil {
			return Asker{}, &RequestError{Field: "tenant", Err: err}
		}
	}
	m := access.Membership{}
	var note string
	user, isUser := strings.CutPrefix(as, access.UserPrefix)
	if p := e.cfg.GroupsFile; p != "" {
		var err error
		if m, err = e.groups.read(ctx, p, e.cfg.Now()); err != nil {
			return Asker{}, err
		}
		if _, listed := m[user]; isUser && !listed {
			note = fmt.Sprintf("%s is not in the groups file %s, so it is in no group: it sees only what is allowed to %s or public (list it there, as %s: [] for no group)", as, p, as, user)
		}
	} else if isUser {
		note = fmt.Sprintf("no groups file is set (groups_file: in the config, or RAG_GROUPS_FILE), so %s is in no group: it sees only what is allowed to %s or public", as, as)
	}
	who, err := m.Principals(as)
	if err != nil {
		return Asker{}, &RequestError{Field: "as", Err: err}
	}
	var cols []string
	for _, c := range w.Collections {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return Asker{View: store.View{Tenant: w.Tenant, Principals: who, Collections: cols, Filter: w.Filter}, As: w.As, Note: note}, nil
}

// CheckView refuses a view of a tenant the index has never held or of a
// collection the asker sees no file of, as every query does.
func CheckView(m *store.Manifest, v store.View) error {
	if err := checkTenant(m, v); err != nil {
		return err
	}
	return CheckCollections(m, v)
}

func checkTenant(m *store.Manifest, v store.View) error {
	if v.Tenant == "" {
		return nil
	}
	for i := range m.Sources {
		if m.Sources[i].Tenant == v.Tenant {
			return nil
		}
	}
	for i := range m.Files {
		if m.Files[i].Tenant == v.Tenant {
			return nil
		}
	}
	return &UnknownTenantError{Tenant: v.Tenant}
}

// CheckCollections refuses a view of a collection the asker sees no file
// of (UnknownCollectionError): a typo must not read as "the documents do
// not answer".
func CheckCollections(m *store.Manifest, v store.View) error {
	if len(v.Collections) == 0 {
		return nil
	}
	have := VisibleCollections(m, v)
	for _, c := range v.Collections {
		if !slices.Contains(have, c) {
			return &UnknownCollectionError{Name: c, Have: have}
		}
	}
	return nil
}

// Collections are the collections of the files w sees in the index, sorted,
// read from the catalog alone (no lock, nothing opened): what a shell
// completion may offer.
func (e *Engine) Collections(ctx context.Context, w Who) ([]string, error) {
	asker, err := e.Resolve(ctx, w)
	if err != nil {
		return nil, err
	}
	m, err := e.readManifest(ctx)
	if err != nil {
		return nil, err
	}
	return VisibleCollections(&m, asker.View), nil
}

// VisibleCollections are the collections of the files v sees (whatever
// collections v names), sorted: the only ones a hint or a completion names.
func VisibleCollections(m *store.Manifest, v store.View) []string {
	v.Collections, v.Filter = nil, filter.Filter{} // a collection no file of which matches is still one
	var have []string
	for i := range m.Files {
		f := &m.Files[i]
		if !m.Sees(v, f) {
			continue
		}
		if c := m.CollectionOf(f); !slices.Contains(have, c) {
			have = append(have, c)
		}
	}
	slices.Sort(have)
	return have
}

// groupsCache keeps the groups file last parsed, by its path and what its
// stat says (size, modification and change times, inode: any write or
// replacement changes one), so that long-lived faces (chat, mcp, a
// server), which resolve who asks at every question, parse it only when
// it changes: 100,000 users took seconds to parse.
type groupsCache struct {
	mu     sync.Mutex
	path   string
	stat   filestat.Stat
	m      access.Membership
	parses int // for tests
}

// racyWindow is how recent a change may be for the file to be parsed
// again at the next question, whatever its stat says: two writes within
// one tick of the file system's clock, of one size, look alike (git's
// "racy" entries).
const racyWindow = 2 * time.Second

// read returns the membership of the groups file at p: regular files of
// at most access.MaxMembershipSize only, parsed again when its stat
// differs from the last one's.
func (c *groupsCache) read(ctx context.Context, p string, now time.Time) (access.Membership, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Stat first: a change between the stat and the read is seen at the
	// next question, whose stat differs.
	st, statErr := filestat.Path(p)
	if statErr == nil && c.m != nil && c.path == p && c.stat == st {
		return c.m, nil
	}
	c.m = nil
	data, err := filestat.ReadFile(ctx, p, access.MaxMembershipSize)
	if err != nil {
		return nil, &GroupsFileError{Path: p, Err: err}
	}
	c.parses++
	m, err := access.ParseMembership(bytes.NewReader(data))
	if err != nil {
		return nil, &GroupsFileError{Path: p, Parse: true, Err: err}
	}
	changed := time.Unix(0, max(st.MTime, st.CTime))
	if statErr == nil && changed.Before(now.Add(-racyWindow)) {
		c.path, c.stat, c.m = p, st, m
	}
	return m, nil
}
