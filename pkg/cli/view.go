package cli

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
	"unicode"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/store"
)

// ViewOptions say whose share of the index a query sees: --as names who
// asks (the caller names itself: rag trusts it, as it trusts whoever can
// run it), --tenant the namespace.
type ViewOptions struct {
	As     string
	Tenant string
	// Collections narrow it to the files of those collections (all when
	// empty).
	Collections []string
}

// bindView adds --as, --tenant and --collection; the first two default to
// the settings (RAG_AS, RAG_TENANT or a config file).
func bindView(f *pflag.FlagSet, o *ViewOptions, cfg *config.Settings) {
	f.StringVar(&o.As, "as", cfg.String(config.KeyAs), "who asks: user:NAME, group:NAME or public (the default); only the documents it may see are searched; $RAG_AS or as: sets the default")
	bindSetting(f, "as", config.KeyAs)
	f.StringVar(&o.Tenant, "tenant", cfg.String(config.KeyTenant), "the tenant searched (default: the default tenant); $RAG_TENANT or tenant: sets the default")
	bindSetting(f, "tenant", config.KeyTenant)
	f.StringSliceVarP(&o.Collections, "collection", "c", nil, "only the files of this collection (repeatable, or comma-separated; rag status lists them): a folder's name, or what rag index --collection named it")
}

// errNoGroups is a groups file that cannot be read.
var errNoGroups = errors.New("groups file")

// view resolves who asks: the principals of --as (public without it), a
// user with the groups the groups file gives it, in the tenant.
func (a *App) view(ctx context.Context, o ViewOptions) (store.View, error) {
	v, _, err := a.resolveView(ctx, o)
	return v, err
}

// resolveView is view, with a note when a user's groups could not be
// known (no groups file, or one that does not list the user): the user is
// then searched as itself and public alone, which must not pass in
// silence (warnWho says it where access control makes it matter).
func (a *App) resolveView(ctx context.Context, o ViewOptions) (_ store.View, note string, _ error) {
	as := o.As
	if as == "" {
		as = access.Public
	}
	if err := access.CheckPrincipal(as); err != nil {
		return store.View{}, "", usagef("--as: %v", err)
	}
	if o.Tenant != "" {
		if err := access.CheckTenant(o.Tenant); err != nil {
			return store.View{}, "", usagef("--tenant: %v", err)
		}
	}
	m := access.Membership{}
	user, isUser := strings.CutPrefix(as, access.UserPrefix)
	if p := a.cfg.String(config.KeyGroupsFile); p != "" {
		var err error
		if m, err = a.groups.read(ctx, p, a.Now()); err != nil {
			return store.View{}, "", err
		}
		if _, listed := m[user]; isUser && !listed {
			note = fmt.Sprintf("%s is not in the groups file %s, so it is in no group: it sees only what is allowed to %s or public (list it there, as %s: [] for no group)", as, p, as, user)
		}
	} else if isUser {
		note = fmt.Sprintf("no groups file is set (groups_file: in the config, or RAG_GROUPS_FILE), so %s is in no group: it sees only what is allowed to %s or public", as, as)
	}
	who, err := m.Principals(as)
	if err != nil {
		return store.View{}, "", usagef("--as: %v", err)
	}
	var cols []string
	for _, c := range o.Collections {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return store.View{Tenant: o.Tenant, Principals: who, Collections: cols}, note, nil
}

// warnWho prints the note of resolveView when the index controls access:
// without access control every file is public and groups change nothing.
func (a *App) warnWho(note string, m *store.Manifest) {
	if note != "" && m.AccessControl {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: %s\n", a.errText(note))
	}
}

// checkTenant refuses a view of a tenant the index holds nothing of (no
// folder was ever indexed into it): a mistyped --tenant must not read as
// an empty index or as "no results". The index's tenants are not named:
// tenants never share names, results or errors.
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
	return &hintedError{err: usagef("tenant %q holds no documents", v.Tenant),
		hint: "check the name given by --tenant (or RAG_TENANT, tenant: in a config file); `rag index --tenant NAME DIR` puts a folder in a tenant"}
}

// emptyViewError is a query whose asker sees no document of an index
// that holds some: nothing was searched, and the index is not empty.
type emptyViewError struct {
	as, tenant string
}

func (e *emptyViewError) Error() string {
	return fmt.Sprintf("%s sees no document in %s", cmp.Or(e.as, access.Public), tenantName(e.tenant))
}

// visibleCollections are the collections of the files v sees (whatever
// collections v names), sorted: the only ones a hint or a completion names.
func visibleCollections(m store.Manifest, v store.View) []string {
	v.Collections = nil
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

// checkName checks a name for --collection or --session: a word a shell,
// a comma-separated list and a file name keep whole.
func checkName(name string) error {
	switch {
	case len(name) > 100:
		return errors.New("a name is at most 100 bytes")
	case strings.ContainsFunc(name, func(r rune) bool { return r == ',' || r == '/' || unicode.IsControl(r) || unicode.IsSpace(r) }):
		return fmt.Errorf("%q: a name has no commas, slashes, spaces or control characters", name)
	}
	return nil
}

// checkCollections refuses a view of a collection the asker sees no file
// of, naming those it does: a typo must not read as "the
// documents do not answer".
func checkCollections(m store.Manifest, v store.View) error {
	if len(v.Collections) == 0 {
		return nil
	}
	have := visibleCollections(m, v)
	for _, c := range v.Collections {
		if !slices.Contains(have, c) {
			hint := "the index has no collection yet: `rag index --collection NAME DIR` names one"
			if len(have) > 0 {
				hint = "the index has " + strings.Join(have, ", ") + " (rag status lists them with their folders)"
			}
			return &hintedError{err: usagef("no collection %q in the index", c), hint: hint}
		}
	}
	return nil
}

// groupsCache keeps the groups file last parsed, by its path and what its
// stat says (size, modification and change times, inode: any write or
// replacement changes one), so that rag chat and rag mcp, which resolve
// who asks at every question, parse it only when it changes: 100,000
// users took seconds to parse.
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
		return nil, &hintedError{err: fmt.Errorf("%w: %w", errNoGroups, err),
			hint: fmt.Sprintf("groups_file: in the config (or RAG_GROUPS_FILE) names a YAML file of user: [groups], a regular file of at most %s; fix the path or unset it", filestat.Bytes(access.MaxMembershipSize))}
	}
	c.parses++
	m, err := access.ParseMembership(bytes.NewReader(data))
	if err != nil {
		return nil, &hintedError{err: fmt.Errorf("%w %s: %w", errNoGroups, p, err),
			hint: "each line is NAME: [group, group] (see README, \"Access control\")"}
	}
	changed := time.Unix(0, max(st.MTime, st.CTime))
	if statErr == nil && changed.Before(now.Add(-racyWindow)) {
		c.path, c.stat, c.m = p, st, m
	}
	return m, nil
}

// openView opens the index read-only for who asks (show, ls): the view
// resolved once, and a tenant the index has never held or a collection it
// has not refused, as the queries refuse them.
func (a *App) openView(ctx context.Context, g *globalOptions, vo ViewOptions) (*store.Local, store.View, error) {
	view, err := a.view(ctx, vo)
	if err != nil {
		return nil, view, err
	}
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, view, err
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return nil, view, err
	}
	m := st.Manifest()
	if err := errors.Join(checkTenant(&m, view), checkCollections(m, view)); err != nil {
		return nil, view, errors.Join(err, st.Close())
	}
	return st, view, nil
}
