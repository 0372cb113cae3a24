package indexer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

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
// (access.Resolve): from its front matter, else the source's .ragaccess,
// else the source's --allow. Every run decides every file again, read or
// not, so that a changed rule or --allow takes effect without embedding
// anything.
type decider struct {
	tenant string
	rules  *access.Rules
	allow  []string // normalised once: most files get this very slice
	root   string
	// unread says why a .ragaccess that is there was not read (it is not
	// a regular file): the source's files are then visible to nobody but
	// by their front matter, never by a wider rule.
	unread string
}

func newDecider(ctx context.Context, opt Options) (*decider, error) {
	d := &decider{tenant: opt.Source.Tenant, allow: access.Normalize(opt.Source.Allow), root: opt.Root}
	for _, p := range d.allow {
		if err := access.CheckPrincipal(p); err != nil {
			return nil, fmt.Errorf("--allow: %w", err)
		}
	}
	if opt.Gone || opt.FS == nil {
		return d, nil
	}
	// Rules come only from a regular file in the folder: a link (to
	// outside it, or anywhere) or a named pipe is never read.
	data, err := filestat.ReadFileFS(ctx, opt.FS, access.RulesFile, access.MaxRulesSize)
	var notRegular *filestat.NotRegularError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &notRegular):
		d.unread = fmt.Sprintf("rules not read: %v (rag reads rules only from a regular file in the folder); until it is one, the folder's files are visible to nobody but by their front matter", notRegular)
		return d, nil
	case err != nil:
		return nil, &RulesError{Path: path.Join(opt.Root, access.RulesFile), Err: err}
	}
	if d.rules, err = access.ParseRules(bytes.NewReader(data)); err != nil {
		return nil, &RulesError{Path: path.Join(opt.Root, access.RulesFile), Err: err}
	}
	return d, nil
}

// control reports whether the source asks for access control: an --allow
// or a rules file (front matter turns it on file by file, in decide).
func (d *decider) control() bool { return len(d.allow) > 0 || d.rules != nil || d.unread != "" }

// decide sets e's tenant and access and reports whether either changed.
// Access named in front matter turns the catalog's access control on. A
// file whose front matter names access badly is visible to nobody and
// reported as failed, never left to a wider rule.
func (d *decider) decide(e *store.FileEntry, sum *Summary, m *store.Manifest) bool {
	var acl []string
	fromMeta := access.HasMeta(e.Meta) // also a key in another case, or almost "access"
	why, badMeta := e.Meta[frontMatterError]
	switch {
	case badMeta && (m.AccessControl || d.control()):
		// Its front matter, which may restrict it, could not be read: no
		// wider rule may decide for it.
		sum.Failed = append(sum.Failed, Failure{Path: e.Path, Error: fmt.Sprintf("front matter unreadable (%v): visible to nobody until fixed", why)})
	case !fromMeta && d.unread != "":
		acl = nil // reported once, for the rules file
	case !fromMeta && d.rules == nil:
		acl = d.allow
	default:
		var err error
		if acl, _, err = access.Resolve(e.Meta, d.rules, e.Path, d.allow); err != nil {
			acl = nil
			sum.Failed = append(sum.Failed, Failure{Path: e.Path, Error: fmt.Sprintf("%v (visible to nobody until fixed)", err)})
		}
		if fromMeta {
			m.AccessControl = true
		}
	}
	if e.Tenant == d.tenant && slices.Equal(e.Access, acl) {
		return false
	}
	e.Tenant, e.Access = d.tenant, acl
	return true
}
