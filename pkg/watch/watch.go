// Package watch tells `rag index --watch` when indexed folders change. It
// watches every folder of each target with fsnotify (adding folders as they
// appear) and batches bursts of events: a pass starts once the tree has
// been quiet for a moment, or after a bounded delay while events keep
// coming, so a checkout of a thousand files costs one pass, not a thousand.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Target is what one pass re-indexes: a folder, watched with all its
// subfolders, or a single file.
type Target struct {
	Path string
	File bool
}

// Options tunes the batching.
type Options struct {
	// Quiet is how long the tree must be still before a pass; 0 means 500ms.
	Quiet time.Duration
	// MaxDelay bounds how long events are held back while they keep
	// coming; 0 means 5s.
	MaxDelay time.Duration
	// Ready, if set, is called once every folder is watched.
	Ready func()
	// Rules names the hidden files that count as changes, as other hidden
	// files do not: the rules and ignore files a pass reads (.ragaccess,
	// .gitignore, .ragignore), in any folder of a target and in the folder
	// of a single file, so that an edit of one takes effect at the next
	// pass without any document changing.
	Rules []string
}

// Run watches targets until ctx is done and calls pass with the indexes of
// the targets that changed. An error from pass ends Run; so does ctx, with
// ctx.Err().
func Run(ctx context.Context, targets []Target, opt Options, pass func(ctx context.Context, changed []int) error) (err error) {
	if opt.Quiet <= 0 {
		opt.Quiet = 500 * time.Millisecond
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = 5 * time.Second
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	for _, t := range targets {
		if t.File {
			err = w.Add(filepath.Dir(t.Path))
		} else {
			err = addTree(w, t.Path)
		}
		if err != nil {
			return fmt.Errorf("watch %s: %w", t.Path, err)
		}
	}
	if opt.Ready != nil {
		opt.Ready()
	}

	changed := map[int]bool{}
	var first time.Time
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch: event stream closed")
			}
			rule := slices.Contains(opt.Rules, filepath.Base(ev.Name))
			if ev.Op == fsnotify.Chmod || hidden(ev.Name) && !rule {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					if err := addTree(w, ev.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("watch %s: %w", ev.Name, err)
					}
				}
			}
			hit := false
			for i, t := range targets {
				if owns(t, ev.Name) || rule && t.File && filepath.Dir(ev.Name) == filepath.Dir(t.Path) {
					changed[i], hit = true, true
				}
			}
			if !hit {
				continue
			}
			if first.IsZero() {
				first = time.Now()
			}
			wait := min(opt.Quiet, time.Until(first.Add(opt.MaxDelay)))
			quiet.Reset(max(wait, 0))
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch: event stream closed")
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				return fmt.Errorf("watch: %w", err)
			}
			// Events were lost: every target may have changed.
			for i := range targets {
				changed[i] = true
			}
			quiet.Reset(opt.Quiet)
		case <-quiet.C:
			idx := make([]int, 0, len(changed))
			for i := range targets {
				if changed[i] {
					idx = append(idx, i)
				}
			}
			clear(changed)
			first = time.Time{}
			if err := pass(ctx, idx); err != nil {
				return err
			}
		}
	}
}

// addTree watches dir and every folder under it that is not hidden, as
// the index skips those.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && (errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist)) {
				return nil // what cannot be read is reported by the index run
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

func hidden(name string) bool {
	return strings.HasPrefix(filepath.Base(name), ".")
}

func owns(t Target, name string) bool {
	if t.File {
		return name == t.Path
	}
	rel, err := filepath.Rel(t.Path, name)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
