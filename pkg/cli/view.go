package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/provider"
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
	// Filters are the --filter expressions, all of which must hold;
	// filter is them parsed (checkFilter).
	Filters []string
	filter  filter.Filter
}

// bindFilter adds --filter (search, ask, chat, eval, mcp, show, ls).
func bindFilter(f *pflag.FlagSet, o *ViewOptions) {
	f.StringArrayVar(&o.Filters, "filter", nil, "only the files whose fields (front matter, and path, type, format, size, modified, indexed, collection, title) match: FIELD=VALUE (a list: holds it; path: a glob), FIELD!=VALUE, FIELD<VALUE, <=, >, >= (numbers, dates), FIELD exists, FIELD missing, A|B for either; repeatable, all must hold; rag status --fields lists the fields")
}

// checkFilter parses --filter: a malformed one is a usage error that
// points at the bad character.
func (o *ViewOptions) checkFilter() error {
	f, err := filter.ParseAll(o.Filters)
	var syntax *filter.SyntaxError
	if errors.As(err, &syntax) {
		return &filterError{err: syntax}
	}
	o.filter = f
	return err
}

// filterError is a --filter that does not parse: the message shows the
// expression with a caret under the bad character.
type filterError struct{ err *filter.SyntaxError }

func (e *filterError) Error() string {
	caret := strings.ReplaceAll(e.err.Caret(), "\n", "\n    ")
	return fmt.Sprintf("--filter: %s at character %d:\n    %s", e.err.Msg, e.err.Column(), caret)
}
func (e *filterError) Unwrap() error { return e.err }

// bindView adds --as, --tenant and --collection; the first two default to
// the settings (RAG_AS, RAG_TENANT or a config file).
func bindView(f *pflag.FlagSet, o *ViewOptions, cfg *config.Settings) {
	f.StringVar(&o.As, "as", cfg.String(config.KeyAs), "who asks: user:NAME, group:NAME or public (the default); only the documents it may see are searched; $RAG_AS or as: sets the default")
	bindSetting(f, "as", config.KeyAs)
	f.StringVar(&o.Tenant, "tenant", cfg.String(config.KeyTenant), "the tenant searched (default: the default tenant); $RAG_TENANT or tenant: sets the default")
	bindSetting(f, "tenant", config.KeyTenant)
	f.StringSliceVarP(&o.Collections, "collection", "c", nil, "only the files of this collection (repeatable, or comma-separated; rag status lists them): a folder's name, or what rag index --collection named it")
}

// engine is the engine of a command that reads the index: the index
// folder (refused when it is not one) and the model server's client (nil
// where none is needed).
func (a *App) engine(g *globalOptions, models provider.Client) (*engine.Engine, error) {
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, err
	}
	cfg, err := a.engineConfig(dir, g)
	if err != nil {
		return nil, err
	}
	cfg.Models = models
	return engine.New(cfg), nil
}

// engineConfig is the engine's configuration for every command, over the
// index folder dir unchecked: the store (--store), the embedding model
// asked for, the groups file of the settings, the clock and the crash
// tests' fault points.
func (a *App) engineConfig(dir string, g *globalOptions) (engine.Config, error) {
	be, err := a.backend(g)
	if err != nil {
		return engine.Config{}, err
	}
	return engine.Config{Dir: dir, Store: be, EmbedModel: g.EmbedModel,
		GroupsFile: a.cfg.String(config.KeyGroupsFile), Now: a.Now, Fault: a.Fault}, nil
}

// who is the engine's Who of the flags.
func (o ViewOptions) who() engine.Who {
	return engine.Who{As: o.As, Tenant: o.Tenant, Collections: o.Collections, Filter: o.filter}
}

// events prints the engine's warnings and notes on stderr, escaped on a
// terminal.
func (a *App) events() engine.Events {
	return func(ev engine.Event) {
		w, ok := ev.(engine.Warning)
		switch {
		case ok && w.Note:
			fmt.Fprintf(a.IO.ErrOut, "rag: note: %s\n", a.errText(w.Text))
		case ok:
			fmt.Fprintf(a.IO.ErrOut, "rag: warning: %s\n", a.errText(w.Text))
		}
	}
}

// flagErr names the flag of a malformed part of a request: the engine's
// "as: ..." is rag's "--as: ...", a usage error.
func flagErr(err error) error {
	var re *engine.RequestError
	if errors.As(err, &re) {
		return usagef("--%s: %v", re.Field, re.Err)
	}
	return err
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

// openView opens the index read-only for who asks (show, ls): the view
// resolved once, and a tenant the index has never held or a collection it
// has not refused, as the queries refuse them.
func (a *App) openView(ctx context.Context, g *globalOptions, vo ViewOptions) (*engine.Reader, error) {
	e, err := a.engine(g, nil)
	if err != nil {
		return nil, err
	}
	// As before the engine: no warnings here (show and ls print the
	// index as it is).
	r, err := e.Open(ctx, vo.who(), nil)
	return r, flagErr(err)
}
