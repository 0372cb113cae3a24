package indexer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rag-cli/rag/pkg/store"
)

// commitSome commits the catalog once enough files were stored since the
// last commit (since): opt.CommitEvery, or a tenth of the catalog when
// that is more, so that writing the catalog stays a small part of a large
// run. It reports whether it committed.
func (r *run) commitSome(ctx context.Context, since int) (bool, error) {
	if since < max(r.opt.CommitEvery, (len(r.keep)+len(r.current))/10) {
		return false, nil
	}
	return true, r.commit(ctx, false)
}

// commit writes the catalog: kept files, current files, and (when the run
// completed) nothing of removed ones. Removed files are dropped only by a
// complete run; an interrupted one keeps them, as it has not finished
// looking.
func (r *run) commit(ctx context.Context, complete bool) error {
	m := &r.m
	if complete && r.noop() {
		// Every file is its catalog entry as it was (a no-op run): the
		// catalog's files, not a sorted copy of them.
		m.Files, m.Problems, m.Sources = r.before.Files, r.problems, r.sources
		sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Path < m.Sources[j].Path })
		return r.commitCatalog(ctx, complete)
	}
	files := make([]store.FileEntry, 0, len(r.keep)+len(r.current)+len(r.old)+len(r.held))
	files = append(files, r.keep...)
	for _, f := range r.current {
		files = append(files, f)
	}
	if !complete {
		for p, f := range r.old {
			if _, ok := r.current[p]; !ok && !r.moved[p] {
				files = append(files, f)
			}
		}
		for i, f := range r.held {
			if _, ok := r.current[r.heldAs[i]]; !ok {
				files = append(files, f)
			}
		}
	} else {
		m.Problems, m.Sources = r.problems, r.sources
		sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Path < m.Sources[j].Path })
	}
	slices.SortFunc(files, byPath)
	m.Files = files
	return r.commitCatalog(ctx, complete)
}

// noop reports whether every file of the catalog is its entry as it was,
// in order.
func (r *run) noop() bool {
	return len(r.held) == 0 && r.untouched == len(r.old) && len(r.current) == len(r.old) &&
		len(r.keep)+len(r.old) == len(r.before.Files) && slices.IsSortedFunc(r.before.Files, byPath)
}

func byPath(a, b store.FileEntry) int {
	if c := strings.Compare(a.Root, b.Root); c != 0 {
		return c
	}
	return strings.Compare(a.Path, b.Path)
}

// commitCatalog commits the catalog unless the run is complete and
// changed nothing.
func (r *run) commitCatalog(ctx context.Context, complete bool) error {
	m, before := &r.m, &r.before
	m.Updated = before.Updated
	if complete && m.Equal(before) {
		return nil // nothing changed: the catalog stays as it is
	}
	m.Updated = r.opt.Now().UTC()
	if err := r.st.Commit(ctx, *m); err != nil {
		return fmt.Errorf("commit index: %w", err)
	}
	return nil
}

// stopped ends a run that stopped for err, keeping what was embedded: the
// next run resumes from there. Files it stopped in the middle of keep the
// chunks that came back: searchable, shown by status, and not embedded
// again.
func (r *run) stopped(ctx context.Context, pipe *pipeline, err error) (*Summary, error) {
	pipe.stop()
	pipe.keep()
	r.sum.FitTokens, r.sum.ContextLength = pipe.fitTokens, pipe.ctxLen
	kept, kerr := pipe.keepPartial()
	var partly []store.Problem
	for _, pk := range kept {
		r.current[pk.entry.Path] = pk.entry
		r.sum.Embedded += pk.embedded
		partly = append(partly, store.Problem{Root: r.opt.Root, Path: pk.entry.Path, Failed: true,
			Reason: fmt.Sprintf("partly indexed: %d of %d chunks were embedded when the run stopped; run rag index again to finish it", pk.done, pk.of)})
	}
	r.m.Problems = withProblems(r.m.Problems, partly)
	if cerr := r.commit(context.WithoutCancel(ctx), false); cerr != nil || kerr != nil {
		return nil, errors.Join(err, kerr, cerr)
	}
	return r.sum, err
}

// complete ends a run that read every file: files no longer there go,
// and the run's problems and sources replace those the catalog had.
func (r *run) complete(ctx context.Context) (*Summary, error) {
	opt := r.opt
	removed := 0
	for p := range r.old {
		if _, ok := r.current[p]; !ok && !r.pendingPaths[p] {
			removed++
		}
	}
	if len(r.current) == 0 && len(r.pendingPaths) == 0 && len(r.old) == 0 && len(r.sum.Failed) == 0 && opt.Only == nil && !opt.PruneOnly {
		return nil, &EmptyFolderError{Root: opt.Root, Skipped: len(r.sum.Skipped)}
	}
	r.problems = r.problemsNow()
	r.sources = r.sourcesNow()
	r.sum.Removed = removed
	if err := r.commit(ctx, true); err != nil {
		return nil, err
	}
	return r.sum, nil
}

// problemsNow are the catalog's problems once the run is complete: those
// of its files replaced by what it skipped and failed.
func (r *run) problemsNow() []store.Problem {
	opt := r.opt
	problems := r.m.Problems[:0:0]
	for _, p := range r.m.Problems {
		if opt.Only == nil && p.Root != opt.Root && store.Within(p.Root, opt.Root) {
			continue // a source inside the root, indexed alone before: held now
		}
		if p.Root != opt.Root || !r.inScope(p.Path) || opt.PruneOnly && !opt.Gone {
			problems = append(problems, p)
		}
	}
	if !opt.PruneOnly {
		for _, sk := range r.sum.Skipped {
			problems = append(problems, store.Problem{Root: opt.Root, Path: sk.Path, Reason: sk.Reason})
		}
		for _, f := range r.sum.Failed {
			problems = append(problems, store.Problem{Root: opt.Root, Path: f.Path, Reason: f.Error, Failed: true})
		}
	}
	return problems
}

// sourcesNow are the catalog's sources once the run is complete: the
// run's source, and the sources inside a folder those of the run
// (Nested).
func (r *run) sourcesNow() []store.Source {
	opt := r.opt
	sources := r.m.Sources[:0:0]
	for _, src := range r.m.Sources {
		if !src.Same(opt.Source) && (opt.Source.File || opt.Source.Path == "" || !store.Within(src.Path, opt.Source.Path)) {
			sources = append(sources, src)
		}
	}
	if !opt.Gone && opt.Source.Path != "" {
		sources = append(sources, opt.Source)
		for _, n := range r.nested {
			if !n.gone {
				sources = append(sources, n.src)
			}
		}
	}
	return sources
}
