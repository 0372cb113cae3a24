package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
)

// registerCompletions offers values for the flags that take one of a few
// words, the server's models for the model flags and the index's
// collections for --collection. Cobra's own `rag completion
// bash|zsh|fish|powershell` prints the shell scripts.
func registerCompletions(a *App, root *cobra.Command, g *globalOptions) {
	strictCompletionCmd(root)
	words := func(ws ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(ws, cobra.ShellCompDirectiveNoFileComp)
	}
	models := func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return a.modelNames(cmd.Context(), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	// Flags are looked up per command: each binds its own copy.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for flag, fn := range map[string]cobra.CompletionFunc{
			"mode":         words(config.Modes...),
			"fusion":       words(config.Fusions...),
			"model":        models,
			"rerank-model": models,
			"expand-model": models,
			"collection": func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return a.collectionNames(cmd, g), cobra.ShellCompDirectiveNoFileComp
			},
			"filter": func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return a.fieldNames(cmd, g, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
			},
		} {
			if c.LocalNonPersistentFlags().Lookup(flag) != nil {
				// Registering twice is the only error, and each flag is
				// registered once here.
				if err := c.RegisterFlagCompletionFunc(flag, fn); err != nil {
					panic(err)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if err := root.RegisterFlagCompletionFunc("embed-model", models); err != nil {
		panic(err)
	}
}

// collectionNames lists the collections of the files the asker sees (the
// command's --as and --tenant, else the settings'), as the hint of a
// mistyped --collection does: a completion names no other's collection.
// Without a readable index or a valid asker there is nothing to offer.
func (a *App) collectionNames(cmd *cobra.Command, g *globalOptions) []cobra.Completion {
	e, who, ok := a.completionEngine(cmd, g)
	if !ok {
		return nil
	}
	names, err := e.Collections(cmd.Context(), who)
	if err != nil {
		return nil
	}
	return names
}

// completionEngine is the engine and the asker a completion offers for:
// the command's --as and --tenant, else the settings'. ok is false without
// a readable index setting or a valid store.
func (a *App) completionEngine(cmd *cobra.Command, g *globalOptions) (_ *engine.Engine, _ engine.Who, ok bool) {
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, engine.Who{}, false
	}
	o := ViewOptions{As: a.cfg.String(config.KeyAs), Tenant: a.cfg.String(config.KeyTenant)}
	if f := cmd.Flags().Lookup("as"); f != nil {
		o.As = f.Value.String()
	}
	if f := cmd.Flags().Lookup("tenant"); f != nil {
		o.Tenant = f.Value.String()
	}
	cfg, err := a.engineConfig(dir, g)
	if err != nil {
		return nil, engine.Who{}, false
	}
	return engine.New(cfg), o.who(), true
}

// fieldNames completes the field of --filter's last condition (after the
// last |): the built-in fields and the front matter keys of the files the
// asker sees, as rag status --fields lists them. Once an operator is
// typed there is nothing to offer.
func (a *App) fieldNames(cmd *cobra.Command, g *globalOptions, toComplete string) []cobra.Completion {
	head, tail := "", toComplete
	if i := strings.LastIndexByte(toComplete, '|'); i >= 0 {
		head, tail = toComplete[:i+1], toComplete[i+1:]
	}
	if strings.ContainsAny(tail, "=<>!\" ") {
		return nil
	}
	e, who, ok := a.completionEngine(cmd, g)
	if !ok {
		return nil
	}
	names, err := e.Fields(cmd.Context(), who)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, tail) {
			out = append(out, head+n)
		}
	}
	return out
}

// modelNames lists the server's models that start with prefix; when the
// server does not answer, there is nothing to offer and nothing to say.
func (a *App) modelNames(ctx context.Context, prefix string) []cobra.Completion {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	client, err := a.models(defaultModelTimeout)
	if err != nil {
		return nil
	}
	names, err := client.Models(ctx)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
			// "llama3.2" names "llama3.2:latest" too.
			if base, ok := strings.CutSuffix(n, ":latest"); ok && strings.HasPrefix(base, prefix) {
				out = append(out, base)
			}
		}
	}
	return out
}

// strictCompletionCmd makes `rag completion SHELL` of a shell rag has no
// script for a usage error: cobra's command prints its help and exits 0,
// which a setup script would take for success.
func strictCompletionCmd(root *cobra.Command) {
	c, _, err := root.Find([]string{"completion"})
	if err != nil || c == root {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		var shells []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				shells = append(shells, sub.Name())
			}
		}
		return usagef("no completion script for %q: rag writes them for %s", args[0], strings.Join(shells, ", "))
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
}
