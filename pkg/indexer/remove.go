package indexer

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/store"
)

// RemovePath drops the folder or file abs from the catalog m, for
// `rag index --remove`, and reports whether the index held it. A recorded
// source at or inside abs goes; a path inside a recorded folder is recorded
// as removed from that folder (Source.Removed), so that refreshing it
// leaves the path out until it is indexed again by name.
func RemovePath(m store.Manifest, abs string) (store.Manifest, bool) {
	// drop reports whether the entry of root and p goes.
	// Compared escaped, as entries record names that are not UTF-8.
	drop := func(root, p string) bool {
		return within(filestat.EscapePath(filepath.Join(root, filepath.FromSlash(p))), filestat.EscapePath(abs))
	}
	// Files count even without their source: an interrupted first run of
	// a folder records its files before the folder.
	found := slices.ContainsFunc(m.Files, func(f store.FileEntry) bool { return drop(f.Root, f.Path) })
	var sources []store.Source
	for _, src := range m.Sources {
		switch {
		case within(src.Path, abs):
			// The source itself, or one inside the folder removed.
			found = true
		case !src.File && within(abs, src.Path):
			// Inside a recorded folder: keep the folder, leave this out of
			// it, and out of every source inside it that chooses its files
			// with walk options of its own (the folder leaves those to it).
			rel := filepath.ToSlash(filestat.EscapePath(strings.TrimPrefix(abs, src.Path+string(filepath.Separator))))
			inside := slices.ContainsFunc(m.Files, func(f store.FileEntry) bool { return drop(f.Root, f.Path) })
			if inside {
				found = true
				if src.Inherit&store.InheritWalk == 0 {
					src.Removed = addRemoved(src.Removed, rel)
				}
			}
			sources = append(sources, src)
		default:
			sources = append(sources, src)
		}
	}
	if !found {
		return m, false
	}
	dropEntries(&m, drop)
	sort.Slice(sources, func(i, j int) bool { return sources[i].Path < sources[j].Path })
	m.Sources = sources
	return m, true
}

// addRemoved adds rel to a source's removed paths (a new list): once, and
// in place of those inside it, sorted.
func addRemoved(removed []string, rel string) []string {
	out := []string{rel}
	for _, r := range removed {
		switch {
		case r == rel || strings.HasPrefix(rel, r+"/"):
			return removed // already out
		case strings.HasPrefix(r, rel+"/"):
			// inside rel: rel covers it
		default:
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// removedGlobs are the removed paths of a source as globs that match them
// alone, for the walk to leave out.
func removedGlobs(src store.Source) []string {
	out := make([]string, len(src.Removed))
	for i, r := range src.Removed {
		out[i] = globEscape(r)
	}
	return out
}

// globEscape makes a path a glob that matches only itself.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]{}\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dropEntries removes the files and problems that drop names from m.
func dropEntries(m *store.Manifest, drop func(root, path string) bool) {
	files := m.Files[:0:0]
	for _, f := range m.Files {
		if !drop(f.Root, f.Path) {
			files = append(files, f)
		}
	}
	problems := m.Problems[:0:0]
	for _, p := range m.Problems {
		if !drop(p.Root, p.Path) {
			problems = append(problems, p)
		}
	}
	m.Files, m.Problems = files, problems
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}
