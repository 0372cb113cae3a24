package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/store"
)

// ViewOptions say whose share of the index a query sees: --as names who
// asks (the caller names itself: rag trusts it, as it trusts whoever can
// run it), --tenant the namespace.
type ViewOptions struct {
	As     string
	Tenant string
}

// bindView adds --as and --tenant; their defaults are the settings (RAG_AS,
// RAG_TENANT or a config file).
func bindView(f *pflag.FlagSet, o *ViewOptions, cfg *config.Settings) {
	f.StringVar(&o.As, "as", cfg.String(config.KeyAs), "who asks: user:NAME, group:NAME or public (the default); only the documents it may see are searched; $RAG_AS or as: sets the default")
	bindSetting(f, "as", config.KeyAs)
	f.StringVar(&o.Tenant, "tenant", cfg.String(config.KeyTenant), "the tenant searched (default: the default tenant); $RAG_TENANT or tenant: sets the default")
	bindSetting(f, "tenant", config.KeyTenant)
}

// errNoGroups is a groups file that cannot be read.
var errNoGroups = errors.New("groups file")

// view resolves who asks: the principals of --as (public without it), a
// user with the groups the groups file gives it, in the tenant.
func (a *App) view(o ViewOptions) (store.View, error) {
	as := o.As
	if as == "" {
		as = access.Public
	}
	if err := access.CheckPrincipal(as); err != nil {
		return store.View{}, usagef("--as: %v", err)
	}
	if o.Tenant != "" {
		if err := access.CheckTenant(o.Tenant); err != nil {
			return store.View{}, usagef("--tenant: %v", err)
		}
	}
	m := access.Membership{}
	if p := a.cfg.String(config.KeyGroupsFile); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return store.View{}, &hintedError{err: fmt.Errorf("%w: %w", errNoGroups, err),
				hint: "groups_file: in the config (or RAG_GROUPS_FILE) names a YAML file of user: [groups]; fix the path or unset it"}
		}
		if m, err = access.ParseMembership(bytes.NewReader(data)); err != nil {
			return store.View{}, &hintedError{err: fmt.Errorf("%w %s: %w", errNoGroups, p, err),
				hint: "each line is NAME: [group, group] (see README, \"Access control\")"}
		}
	}
	who, err := m.Principals(as)
	if err != nil {
		return store.View{}, usagef("--as: %v", err)
	}
	return store.View{Tenant: o.Tenant, Principals: who}, nil
}
