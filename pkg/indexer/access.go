package indexer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/store"
)

// frontMatterError is the metadata key pkg/extract sets for front matter
// it could not parse.
const frontMatterError = "front_matter_error"

// RulesError is a source's .ragaccess file that cannot be used: the run
// stops before it changes anything, rather than decide access without it.
type RulesError struct {
	Path string
	Err  error
}

func (e *RulesError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *RulesError) Unwrap() error { return e.Err }

// decider decides, for every file of a run, its tenant and who may see it
// (access.Resolve): from its front matter, else the .ragaccess files of
// the sources holding it (the most specific first), else the --allow of
// the most specific source holding it, whose tenant it gets too. Every run
// decides every file again, read or not, so that a changed rule or
// --allow takes effect without embedding anything.
type decider struct {
	root  string
	outer setting   // the run's source
	inner []setting // sources inside it (Options.Nested), the deepest first
}

// setting is what one source decides for the files it holds (those no
// source inside it holds).
type setting struct {
	rel    string // of the source, relative to the root; "" for the root
	file   bool
	tenant string
	allow  []string // normalised once: most files get this very slice
	rules  *access.Rules
	// unread says why a .ragaccess that is there was not read (it is not
	// a regular file): the source's files are then visible to nobody but
	// by their front matter, never by a wider rule.
	unread string
}

// holds reports whether the setting's source holds the file at p.
func (s *setting) holds(p string) bool {
	if s.file {
		return p == s.rel
	}
	return s.rel == "" || strings.HasPrefix(p, s.rel+"/")
}

func newDecider(ctx context.Context, opt Options) (*decider, error) {
	all := append([]store.Source{opt.Source}, opt.Nested...)
	d := &decider{root: opt.Root}
	var err error
	if d.outer, err = newSetting(ctx, opt, all, opt.Source); err != nil {
		return nil, err
	}
	for _, n := range opt.Nested {
		s, err := newSetting(ctx, opt, all, n)
		if err != nil {
			return nil, err
		}
		d.inner = append(d.inner, s)
	}
	// The deepest first; a file source before the folder it is in.
	slices.SortStableFunc(d.inner, func(a, b setting) int {
		if c := strings.Count(b.rel, "/") - strings.Count(a.rel, "/"); c != 0 {
			return c
		}
		if a.file != b.file {
			if a.file {
				return -1
			}
			return 1
		}
		return strings.Compare(a.rel, b.rel)
	})
	return d, nil
}

// newSetting reads what source src (the run's or one inside it) decides:
// its settings as inherited from the sources around it, and its folder's
// .ragaccess.
func newSetting(ctx context.Context, opt Options, all []store.Source, src store.Source) (setting, error) {
	eff := store.Effective(all, src)
	s := setting{file: src.File, tenant: eff.Tenant, allow: access.Normalize(eff.Allow)}
	if src.Path != opt.Source.Path {
		rel, err := filepath.Rel(opt.Root, src.Path)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			return s, fmt.Errorf("%s is not inside %s", src.Path, opt.Root)
		}
		s.rel = filepath.ToSlash(rel)
	} else if src.File {
		s.rel = path.Base(filepath.ToSlash(src.Path))
	}
	for _, p := range s.allow {
		if err := access.CheckPrincipal(p); err != nil {
			return s, fmt.Errorf("--allow: %w", err)
		}
	}
	if opt.Gone || opt.FS == nil || src.File {
		return s, nil
	}
	name := path.Join(s.rel, access.RulesFile)
	// Rules come only from a regular file in the folder: a link (to
	// outside it, or anywhere) or a named pipe is never read.
	data, err := filestat.ReadFileFS(ctx, opt.FS, name, access.MaxRulesSize)
	var notRegular *filestat.NotRegularError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case ctx.Err() != nil:
		return s, ctx.Err()
	case errors.As(err, &notRegular):
		s.unread = fmt.Sprintf("rules not read: %v (rag reads rules only from a regular file in the folder); until it is one, the folder's files are visible to nobody but by their front matter", notRegular)
		return s, nil
	case err != nil:
		return s, &RulesError{Path: path.Join(filepath.ToSlash(opt.Root), name), Err: err}
	}
	if s.rules, err = access.ParseRules(bytes.NewReader(data)); err != nil {
		return s, &RulesError{Path: path.Join(filepath.ToSlash(opt.Root), name), Err: err}
	}
	return s, nil
}

// control reports whether a source of the run asks for access control:
// an --allow or a rules file (front matter turns it on file by file, in
// decide).
func (d *decider) control() bool {
	for _, s := range append([]setting{d.outer}, d.inner...) {
		if len(s.allow) > 0 || s.rules != nil || s.unread != "" {
			return true
		}
	}
	return false
}

// of is the setting of the most specific source holding the file at p.
func (d *decider) of(p string) *setting {
	for i := range d.inner {
		if d.inner[i].holds(p) {
			return &d.inner[i]
		}
	}
	return &d.outer
}

// unreadFor reports whether a source holding the file at p has a rules
// file rag would not read: no wider rule may then decide for the file.
func (d *decider) unreadFor(p string) bool {
	for i := range d.inner {
		if d.inner[i].unread != "" && d.inner[i].holds(p) {
			return true
		}
	}
	return d.outer.unread != ""
}

// unread lists the rules files rag would not read, and why, by path
// relative to the root.
func (d *decider) unread() []Failure {
	var out []Failure
	for _, s := range append([]setting{d.outer}, d.inner...) {
		if s.unread != "" {
			out = append(out, Failure{Path: path.Join(s.rel, access.RulesFile), Error: s.unread})
		}
	}
	return out
}

// rule is the principals of the .ragaccess line that decides for the file
// at p, of the most specific source holding it whose rules have one.
func (d *decider) rule(p string) ([]string, bool) {
	for i := range d.inner {
		s := &d.inner[i]
		if s.rules != nil && s.holds(p) {
			if ps, ok := s.rules.Match(strings.TrimPrefix(p, s.rel+"/")); ok {
				return ps, true
			}
		}
	}
	return d.outer.rules.Match(p)
}

// decide sets e's tenant and access and reports whether either changed.
// Access named in front matter turns the catalog's access control on. A
// file whose front matter names access badly is visible to nobody and
// reported as failed, never left to a wider rule.
func (d *decider) decide(e *store.FileEntry, sum *Summary, m *store.Manifest) bool {
	set := d.of(e.Path)
	var acl []string
	fromMeta := access.HasMeta(e.Meta) // also a key in another case, or almost "access"
	why, badMeta := e.Meta[frontMatterError]
	ruled, byRule := d.rule(e.Path)
	switch {
	case badMeta && (m.AccessControl || d.control()):
		// Its front matter, which may restrict it, could not be read: no
		// wider rule may decide for it.
		sum.Failed = append(sum.Failed, Failure{Path: e.Path, Error: fmt.Sprintf("front matter unreadable (%v): visible to nobody until fixed", why)})
	case !fromMeta && d.unreadFor(e.Path):
		acl = nil // reported once, for the rules file
	case fromMeta:
		var err error
		if acl, _, err = access.Resolve(e.Meta, nil, e.Path, set.allow); err != nil {
			acl = nil
			sum.Failed = append(sum.Failed, Failure{Path: e.Path, Error: fmt.Sprintf("%v (visible to nobody until fixed)", err)})
		}
		m.AccessControl = true
	case byRule:
		acl = ruled // sorted and deduplicated by ParseRules
	default:
		acl = set.allow
	}
	if e.Tenant == set.tenant && slices.Equal(e.Access, acl) {
		return false
	}
	e.Tenant, e.Access = set.tenant, acl
	return true
}
