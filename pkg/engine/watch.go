package engine

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/watch"
)

// ErrNothingToWatch is a watch whose folders and files are all gone.
var ErrNothingToWatch = errors.New("nothing to watch: every folder is gone")

// Watching says that a watch has begun: the run keeps the index current
// until its context ends.
type Watching struct{}

func (Watching) event() {}

// WatchOptions tune a watch.
type WatchOptions struct {
	// Quiet is how long files must be still before a pass (0: 500ms).
	Quiet time.Duration
	// Ready, if set, is called once every folder is watched.
	Ready func()
}

// Watch keeps the index current after Run: every burst of changes is one
// pass over the sources it touched, which saves the caches and collects
// garbage (a watch holds the index for hours). Each pass's report, or
// its error, goes to each; an error each returns ends the watch (a pass
// that fails for a reason the next one may not have, Ollama restarting
// or a file being written, need not). The end of ctx ends it, with nil:
// a pass in progress has kept its work.
func (r *IndexRun) Watch(ctx context.Context, opt WatchOptions, each func(*IndexReport, error) error) error {
	var wts []watch.Target
	var live []target
	for _, t := range r.targets {
		if !t.gone {
			wts = append(wts, watch.Target{Path: t.src.Path, File: t.src.File})
			live = append(live, t)
		}
	}
	if len(wts) == 0 {
		return ErrNothingToWatch
	}
	r.req.Watch = true
	r.events.emit(Watching{})
	rules := append(slices.Clone(ingest.IgnoreFiles), access.RulesFile) // an edit applies at the next pass
	err := watch.Run(ctx, wts, watch.Options{Quiet: opt.Quiet, Ready: opt.Ready, Rules: rules}, func(ctx context.Context, changed []int) error {
		var ts []target
		for _, i := range changed {
			t := targetOf(live[i].src)
			t.given = live[i].given
			ts = append(ts, t)
		}
		rep, err := r.pass(ctx, ts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return each(rep, err)
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}
