package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
)

const configHelp = `Config prints the settings in effect and where each one comes from: a flag,
an environment variable, a config file (with its line) or rag's default.

Settings come, strongest first, from flags, the environment, the project's
.rag.yaml (found in the working directory or the nearest folder above), the
user's $XDG_CONFIG_HOME/rag/config.yaml (else ~/.config/rag/config.yaml), and
the defaults. A config file holds "key: value" lines:

  index: ./ragidx            # relative to the file's folder
  ollama_host: 127.0.0.1:11434
  embed_model: nomic-embed-text
  model: llama3.2            # chat model of ask
  mode: hybrid               # dense, lexical or hybrid
  fusion: weighted           # weighted or rrf
  rerank: false
  rerank_model: llama3.2
  search_k: 5
  ask_k: 4
  min_score: 0.3
  min_relevance: 0.5
  fallback: true             # hybrid: keywords alone when dense is unavailable

fallback: when the dense ranking of a hybrid search cannot run (Ollama not
reachable or failing, the embedding model missing, or not the index's), search,
ask, chat and mcp rank by keywords alone with a warning on stderr (--json:
"degraded"). fallback: false (or --fallback=false, RAG_FALLBACK=0) makes that
an error instead, for scripts that must not degrade silently.

Other model servers (llama.cpp, LM Studio, vLLM, a hosted OpenAI-compatible
API, another Ollama) are named providers, and a model PROVIDER:MODEL is
served by one (any other name by Ollama at OLLAMA_HOST):

  providers:
    local:
      type: openai           # or ollama
      base_url: http://127.0.0.1:8080/v1
      api_key_env: LOCAL_API_KEY   # the key's variable, never the key

  model: local:qwen3

rag config then lists the providers and which one serves each model role.

A key rag does not know is an error naming the file and line, so a typo is
never silently ignored. The environment variables are:
`

func newConfigCmd(a *App, g *globalOptions, files config.Files, cfgErr error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the settings in effect and where each comes from",
		Long:  configHelp + wrapList(config.EnvVars(), 76, "  "),
		Example: `  rag config
  rag config --json | jq -r .settings.model.value
  rag config path`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return configRun(a, g, files)
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "path",
		Short: "Print where rag looks for config files",
		Long: `Path prints the user's config file and the project's .rag.yaml that applies
in this folder, and whether each exists. It works even when a file has a
mistake, so that it can be found and fixed.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return configPathRun(a, g, files, cfgErr)
		},
	})
	return cmd
}

type configFile struct {
	Path  string `json:"path"`
	Found bool   `json:"found"`
}

type configFiles struct {
	User    configFile `json:"user"`
	Project configFile `json:"project"`
}

func describeFiles(a *App, files config.Files) configFiles {
	found := func(p string) bool {
		return p != "" && slices.Contains(a.cfg.Files, p)
	}
	return configFiles{
		User:    configFile{Path: files.User, Found: found(files.User)},
		Project: configFile{Path: files.Project, Found: files.Project != ""},
	}
}

type configEntry struct {
	Value string `json:"value"`
	// Source is flag, env, file or default; Origin says which one.
	Source string `json:"source"`
	Origin string `json:"origin"`
	Env    string `json:"env,omitempty"`
}

type configReport struct {
	Settings map[string]configEntry `json:"settings"`
	Files    configFiles            `json:"files"`
	// Providers and Roles are there only when providers are configured.
	Providers map[string]configProvider `json:"providers,omitempty"`
	Roles     map[string]configRole     `json:"roles,omitempty"`
}

func configRun(a *App, g *globalOptions, files config.Files) error {
	all := a.cfg.All()
	if g.JSON {
		rep := configReport{Settings: map[string]configEntry{}, Files: describeFiles(a, files)}
		for _, s := range all {
			rep.Settings[string(s.Key)] = configEntry{Value: s.Value, Source: string(s.Origin.Kind), Origin: s.Origin.String(), Env: config.EnvVar(s.Key)}
		}
		rep.Providers, rep.Roles = describeProviders(a, g)
		return writeJSON(a, rep)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, orDash(s.Value), s.Origin)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeProviders(&b, a, g)
	_, err := fmt.Fprint(a.IO.Out, b.String())
	return err
}

func configPathRun(a *App, g *globalOptions, files config.Files, cfgErr error) error {
	d := describeFiles(a, files)
	if cfgErr != nil {
		// The settings were not read: say what exists on disk instead.
		d.User.Found = files.User != "" && fileExists(files.User)
	}
	if g.JSON {
		return writeJSON(a, d)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, f := range []struct {
		name string
		f    configFile
	}{{"user", d.User}, {"project", d.Project}} {
		switch {
		case f.f.Path == "":
			fmt.Fprintf(tw, "%s\t-\t(none)\n", f.name)
		case f.f.Found:
			fmt.Fprintf(tw, "%s\t%s\t\n", f.name, f.f.Path)
		default:
			fmt.Fprintf(tw, "%s\t%s\t(not found)\n", f.name, f.f.Path)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(a.IO.Out, b.String())
	return err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// wrapList joins words with ", " into lines of at most width columns, each
// starting with indent.
func wrapList(words []string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	return b.String() + line
}
