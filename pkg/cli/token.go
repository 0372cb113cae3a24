package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/tokens"
	"github.com/rag-cli/rag/pkg/config"
)

// TokenOptions are the settings of `rag token`.
type TokenOptions struct {
	*globalOptions
	// File is the tokens file (--tokens, RAG_TOKENS_FILE, tokens_file:).
	File    string
	Tenant  string
	Admin   bool
	Expires string
}

// errNoTokensFile is a `rag token` with no tokens file named anywhere.
var errNoTokensFile = errors.New("no tokens file is set")

const hintNoTokensFile = "set --tokens FILE, RAG_TOKENS_FILE or tokens_file: in a config file (rag serve reads the same file)"

func newTokenCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &TokenOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Add, list and revoke the tokens rag serve's callers present",
		Long: `Token manages the bearer tokens of rag serve, kept in the tokens file
(--tokens, $RAG_TOKENS_FILE or tokens_file: in a config file). A token speaks
for one principal (user:NAME or group:NAME) in one tenant, with or without the
admin right; the server takes these from the token, never from the request.

The file holds only a hash of each token: rag token add prints the token once,
on the last line of its output, and it cannot be shown again.`,
		Example: `  rag token add user:ann --expires 90d
  TOKEN=$(rag token add group:eng --tenant acme | tail -n1)
  rag token list
  rag token revoke 3f9a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.File, "tokens", a.cfg.String(config.KeyTokensFile), "tokens file; $RAG_TOKENS_FILE or tokens_file: in a config file sets the default")
	bindSetting(pf, "tokens", config.KeyTokensFile)

	add := &cobra.Command{
		Use:   "add PRINCIPAL",
		Short: "Make a token for a principal and print it once",
		Long: `Add makes a token for PRINCIPAL (user:NAME or group:NAME), stores its hash in
the tokens file and prints it once: the token is the last line of standard
output (--json: the "token" field). --expires takes a duration such as 720h
or 90d.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return tokenAddRun(a, opts, args[0]) },
	}
	add.Flags().StringVar(&opts.Tenant, "tenant", "", "the tenant the token reads (default: the default tenant)")
	add.Flags().BoolVar(&opts.Admin, "admin", false, "allow the token to re-index (POST /v1/index)")
	add.Flags().StringVar(&opts.Expires, "expires", "", "how long the token works, e.g. 720h or 90d (default: until revoked)")
	cmd.AddCommand(add, &cobra.Command{
		Use:   "list",
		Short: "List the tokens, without their secrets",
		Long: `List lists the tokens of the tokens file, revoked and expired ones included;
never their secrets. On a terminal it is a table; piped, one token a line of
tab-separated fields ID PRINCIPAL TENANT ADMIN CREATED EXPIRES STATUS ("-" for
none); --json gives every field.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return tokenListRun(a, opts) },
	}, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: rag serve refuses it at its next request",
		Long: `Revoke marks the token whose ID (or the start of it) is ID revoked; a running
rag serve re-reads the tokens file and refuses it from its next request.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return tokenRevokeRun(a, opts, args[0]) },
	})
	return cmd
}

func (o *TokenOptions) file() (*tokens.File, error) {
	if strings.TrimSpace(o.File) == "" {
		return nil, &hintedError{err: &usageError{err: errNoTokensFile}, hint: hintNoTokensFile}
	}
	return tokens.Open(o.File), nil
}

// parseExpiry takes a Go duration or a number of days ("90d").
func parseExpiry(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, usagef("--expires %q: want a duration such as 720h or 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usagef("--expires %q: want a duration such as 720h or 90d", s)
	}
	return d, nil
}

// tokenEntry is a token as rag token prints it: its fields, its status at
// the time, and the secret only when it was just made.
type tokenEntry struct {
	tokens.Token
	Status string `json:"status"`
	Secret string `json:"token,omitempty"`
}

func entryOf(t tokens.Token, now time.Time) tokenEntry {
	e := tokenEntry{Token: t, Status: "active"}
	switch {
	case t.Revoked:
		e.Status = "revoked"
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		e.Status = "expired"
	}
	return e
}

func tokenAddRun(a *App, opts *TokenOptions, principal string) error {
	f, err := opts.file()
	if err != nil {
		return err
	}
	now := a.Now()
	var expires time.Time
	if opts.Expires != "" {
		d, err := parseExpiry(opts.Expires)
		if err != nil {
			return err
		}
		expires = now.Add(d)
	}
	secret, t, err := f.Add(principal, opts.Tenant, opts.Admin, expires, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.IO.ErrOut, "rag: the token is shown once: the tokens file keeps only its hash (%s)\n", f.Path())
	if opts.JSON {
		e := entryOf(t, now)
		e.Secret = secret
		return writeJSON(a, e)
	}
	_, err = fmt.Fprintf(a.IO.Out, "Added token %s for %s\n%s\n", t.ID, describeToken(t), secret)
	return err
}

// describeToken says what a token speaks for, in words.
func describeToken(t tokens.Token) string {
	s := t.Principal
	if t.Tenant != "" {
		s += " in tenant " + t.Tenant
	}
	if t.Admin {
		s += ", admin"
	}
	if !t.Expires.IsZero() {
		s += ", expires " + t.Expires.Format(time.RFC3339)
	}
	return s
}

type tokenList struct {
	Tokens []tokenEntry `json:"tokens"`
}

func tokenListRun(a *App, opts *TokenOptions) error {
	f, err := opts.file()
	if err != nil {
		return err
	}
	list, err := f.List()
	if err != nil {
		return err
	}
	now := a.Now()
	rep := tokenList{Tokens: make([]tokenEntry, len(list))}
	for i, t := range list {
		rep.Tokens[i] = entryOf(t, now)
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	var b strings.Builder
	tty := a.IO.IsStdoutTTY()
	if tty && len(list) == 0 {
		fmt.Fprintf(&b, "No tokens in %s: rag token add PRINCIPAL makes one.\n", f.Path())
	}
	// Principals and tenants are NAMEs (checked when read): no control
	// character can reach the terminal or break a line.
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if tty && len(list) > 0 {
		fmt.Fprintf(tw, "ID\tPRINCIPAL\tTENANT\tADMIN\tCREATED\tEXPIRES\tSTATUS\n")
	}
	for _, e := range rep.Tokens {
		line := fmt.Sprintf("%s\t%s\t%s\t%t\t%s\t%s\t%s\n", e.ID, e.Principal, orDash(e.Tenant), e.Admin,
			e.Created.Format(time.RFC3339), orDash(formatTime(e.Expires)), e.Status)
		if tty {
			fmt.Fprint(tw, line)
		} else {
			b.WriteString(line)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprint(a.IO.Out, b.String())
	return err
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func tokenRevokeRun(a *App, opts *TokenOptions, id string) error {
	f, err := opts.file()
	if err != nil {
		return err
	}
	t, err := f.Revoke(id)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(a, entryOf(t, a.Now()))
	}
	_, err = fmt.Fprintf(a.IO.Out, "Revoked token %s for %s\n", t.ID, describeToken(t))
	return err
}
