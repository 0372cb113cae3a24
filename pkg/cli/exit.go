package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/rag-cli/rag/internal/tokens"
	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// Exit codes are part of rag's interface: scripts depend on them, so they
// never change meaning. They are listed in `rag help exit-codes` and README.md.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitPartial     = 3
	ExitNoAnswer    = 4
	ExitOllama      = 5
	ExitModel       = 6
	ExitIndex       = 7
	ExitBusy        = 8
	ExitBelow       = 9
	ExitUncited     = 10
	ExitInterrupted = 130
)

const exitCodesHelp = `rag exits with one of these codes; scripts may rely on them.

  0    success
  1    error not covered below
  2    usage: unknown command or flag, missing or bad argument, path not found
       or not in the index, nothing to index, --index names a file or a
       folder that is not an index
  3    partial success: some files could not be indexed (the rest were),
       such as text too long for the embedding model even cut in pieces
  4    no answer: the documents do not answer the question (rag ask)
  5    Ollama is not reachable at OLLAMA_HOST, or kept failing (rag index
       retries a failed request 3 times; finished work is kept), did not
       answer within --timeout, closed the connection mid-answer, sent
       a reply longer than it can be, or
       refused a request for good (a 4xx, never retried); hybrid search
       falls back to keywords instead unless --fallback=false
  6    a model is not available on the Ollama server (rag pull it, or run
       again with --pull), or could not be pulled
  7    index problem: no index yet, an empty index (rag ask), the index
       deleted or replaced while it was read, built with another embedding
       model, damaged (rag status; rag search and ask when nothing was
       found and damaged files were left out), not writable (rag index),
       or written by another version of rag; with --store, its server
       unreachable, refusing rag's API key, or holding an incompatible schema
  8    the index is busy: another rag index is writing to it (use --wait)
  9    rag eval finished but a metric is below its --min-* threshold
  10   rag ask --strict: the answer cites no source (it was printed)
  130  interrupted (Ctrl-C or SIGTERM); rag index keeps the work it
       finished, the hint says what each command kept
`

// usageError is a mistake in how rag was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// silentError carries an exit code for an outcome that was already
// reported on stdout, such as an abstained answer.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// hintedError adds a hint to an error that has none by its type.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }

// interruptedError says what a command kept when it was interrupted, for
// the hint: only some commands keep work (rag index does, rag eval's
// temporary corpus index is deleted, search and ask have nothing to keep).
type interruptedError struct {
	err  error
	hint string
}

func (e *interruptedError) Error() string { return e.err.Error() }
func (e *interruptedError) Unwrap() error { return e.err }

// onInterrupt gives err the hint to print if the command was interrupted.
func onInterrupt(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &interruptedError{err: err, hint: hint}
}

// Interrupted hints of the commands that keep work.
const (
	hintInterruptedIndex   = "the files embedded so far are kept; run the same command again to continue"
	hintInterruptedNothing = "nothing was changed; run the same command again"
)

// missingModelHint names the flag that chose the missing model.
func missingModelHint(e *ollama.ModelNotFoundError) string {
	pull := fmt.Sprintf("pull it with `rag pull %s` (or `ollama pull %s`), or run again with --pull", e.Model, e.Model)
	if e.NoPull {
		// An OpenAI-compatible server serves the models it was started
		// with, under the names its /v1/models lists.
		pull = fmt.Sprintf("check the name after %s: (the server's /v1/models lists the models it serves), or load the model on that server", e.Provider)
	}
	switch e.Role {
	case ollama.RoleEmbed:
		return pull + ", or choose another embedding model with --embed-model"
	case ollama.RoleChat:
		return pull + ", or choose another chat model with --model"
	case ollama.RoleJudge:
		return pull + ", or choose another re-ranking model with --rerank-model (or $RAG_RERANK_MODEL)"
	case ollama.RoleExpand:
		return pull + ", or choose another query expansion model with --expand-model (or $RAG_EXPAND_MODEL)"
	}
	return pull + ", or choose another with --embed-model, --model, --rerank-model or --expand-model"
}

// hintUsage is the hint of a usage error; report names the help of the
// command that failed in its place.
const hintUsage = "run `rag --help` for usage"

// tooLargeHint is the hint for a reply longer than it can be.
func tooLargeHint(e *ollama.ReplyTooLargeError) string {
	return fmt.Sprintf("check that OLLAMA_HOST (%s) is an Ollama server and that nothing between rag and it (a proxy) changes its replies; its log may say why", e.Host)
}

// targetHints are the hints of the paths rag index cannot take.
var targetHints = map[engine.TargetReason]string{
	engine.TargetMissing: "check the path; rag index takes folders and files",
	engine.TargetInIndex: "index the folders of your documents; keep the index (--index) outside them or let rag skip it",
	engine.TargetIsIndex: "index the folders of your documents, with --index naming a folder of its own",
}

// classify is the one place that maps an error to an exit code and a hint.
func classify(err error) (code int, hint string) {
	var (
		usage      *usageError
		syntax     *filter.SyntaxError
		silent     *silentError
		hinted     *hintedError
		interrupt  *interruptedError
		missing    *ollama.ModelNotFoundError
		mismatch   *store.ModelMismatchError
		corrupt    *store.CorruptError
		version    *store.VersionError
		emptyFloor *indexer.EmptyFolderError
		locked     *store.LockedError
		notIndex   *store.NotIndexError
		gone       *store.GoneError
		emptyView  *engine.EmptyViewError
		unknownTen *engine.UnknownTenantError
		unknownCol *engine.UnknownCollectionError
		groupsFile *engine.GroupsFileError
		readOnly   *store.NotWritableError
		damaged    *engine.DamagedError
		below      *engine.BelowThresholdError
		noDataset  *engine.NoDatasetError
		foreign    *engine.ForeignCorpusError
		pull       *ollama.PullError
		noPull     *provider.NoPullError
		promptFile *engine.PromptFileError
		answerRoom *engine.AnswerRoomError
		noRoom     *engine.NoRoomError
	)
	// Usage errors of a kind: the hint says which.
	settings, lookup := settingsHint(err), lookupHint(err)
	switch {
	case errors.As(err, &silent):
		return silent.code, ""
	case errors.Is(err, context.Canceled) && errors.As(err, &interrupt):
		return ExitInterrupted, interrupt.hint
	case errors.Is(err, context.Canceled):
		return ExitInterrupted, hintInterruptedNothing
	}
	if code, hint, ok := classifyIndex(err); ok {
		return code, hint
	}
	if code, hint, ok := classifyStore(err); ok {
		return code, hint
	}
	if code, hint, ok := classifyServer(err); ok {
		return code, hint
	}
	if code, hint, ok := classifyTokens(err); ok {
		return code, hint
	}
	switch {
	case settings != "":
		return ExitUsage, settings
	case errors.As(err, &noPull):
		return ExitModel, fmt.Sprintf("provider %s's server cannot pull: start it with the model (llama-server -m, lms load, vllm serve), then run again", noPull.Provider)
	case errors.As(err, &pull):
		return ExitModel, fmt.Sprintf("check the name %q (ollama.com/library lists the models), and that the Ollama server can reach the registry", pull.Model)
	case errors.As(err, &missing):
		return ExitModel, missingModelHint(missing)
	case errors.As(err, &mismatch) && mismatch.Model == mismatch.IndexModel:
		return ExitIndex, "the model was replaced by one with another vector size: re-embed everything with `rag index --rebuild`"
	case errors.As(err, &mismatch):
		return ExitIndex, fmt.Sprintf("use --embed-model %s to match the index; to switch models, re-embed everything with `rag index --rebuild --embed-model NEW`", mismatch.IndexModel)
	case errors.As(err, &gone) && gone.Replaced:
		return ExitIndex, "run the command again: it reads the index as it is now"
	case errors.As(err, &gone):
		return ExitIndex, "build it again with `rag index DIR` (or point --index or RAG_INDEX at an existing index), then run the command again"
	case errors.As(err, &damaged) && damaged.Recovered != nil:
		return ExitIndex, "run `rag index` to write a new catalog: it checks every stored file and indexes again what the last run added"
	case errors.As(err, &damaged):
		return ExitIndex, "run `rag index` to embed the damaged files again (only those); `rag status --verify` checks every stored chunk"
	case errors.As(err, &corrupt) && corrupt.Catalog:
		return ExitIndex, "the catalog has no intact previous copy: rebuild the index with `rag index --rebuild DIR...`, naming the folders and files to index"
	case errors.As(err, &corrupt):
		return ExitIndex, "run `rag index` to embed the damaged files again; `rag status --verify` lists what is damaged"
	case errors.As(err, &notIndex) && notIndex.File:
		return ExitUsage, "point --index (or RAG_INDEX) at a folder: an existing index, or a new or empty folder for a new one"
	case errors.As(err, &notIndex):
		return ExitUsage, "rag writes its index into its own folder: point --index (or RAG_INDEX) at an existing index, or at a new or empty folder"
	case errors.As(err, &readOnly):
		return ExitIndex, fmt.Sprintf("rag index must write to the index folder %s: make it writable (chmod -R u+w, or chattr -i when lsattr shows it immutable), or build an index elsewhere with --index DIR; search, ask and status only read it", readOnly.Dir)
	case errors.As(err, &version):
		return ExitIndex, "run `rag index --rebuild DIR...` to rebuild it with this version of rag, or use the version that wrote it"
	case errors.As(err, &locked):
		return ExitBusy, "wait for it to finish, or run with --wait to start when it does"
	case errors.As(err, &unknownTen):
		return ExitUsage, "check the name given by --tenant (or RAG_TENANT, tenant: in a config file); `rag index --tenant NAME DIR` puts a folder in a tenant"
	case errors.As(err, &unknownCol) && len(unknownCol.Have) > 0:
		return ExitUsage, "the index has " + strings.Join(unknownCol.Have, ", ") + " (rag status lists them with their folders)"
	case errors.As(err, &unknownCol):
		return ExitUsage, "the index has no collection yet: `rag index --collection NAME DIR` names one"
	case errors.As(err, &groupsFile) && groupsFile.Parse:
		code, _ := classify(groupsFile.Err)
		return code, "each line is NAME: [group, group] (see README, \"Access control\")"
	case errors.As(err, &groupsFile):
		code, _ := classify(groupsFile.Err)
		return code, fmt.Sprintf("groups_file: in the config (or RAG_GROUPS_FILE) names a YAML file of user: [groups], a regular file of at most %s; fix the path or unset it", filestat.Bytes(access.MaxMembershipSize))
	case errors.As(err, &emptyView):
		return ExitIndex, "--as names who asks (user:NAME, with the groups of groups_file:), --tenant the tenant; `rag status --all` shows what the index holds"
	case errors.Is(err, engine.ErrEmptyIndex):
		return ExitIndex, "add documents with `rag index DIR`, or point --index or RAG_INDEX at another index"
	case errors.Is(err, store.ErrNoIndex):
		return ExitIndex, "build one first with `rag index DIR`, or point --index or RAG_INDEX at an existing index"
	case lookup != "":
		return ExitUsage, lookup
	case errors.As(err, &emptyFloor):
		return ExitUsage, "point rag index at a folder of text, Markdown or source files"
	case errors.As(err, &below):
		return ExitBelow, ""
	case errors.As(err, &noDataset):
		return ExitUsage, hintUsage
	case errors.As(err, &foreign):
		return ExitUsage, "give --corpus-index an empty folder, or the one an earlier rag eval of this set used"
	case errors.As(err, &promptFile):
		return ExitUsage, promptFileHint(promptFile)
	case errors.As(err, &answerRoom):
		// --num-ctx was checked against --max-tokens: the server's own
		// context length is the smaller.
		return ExitError, fmt.Sprintf("lower --max-tokens below %d", answerRoom.NumCtx)
	case errors.As(err, &noRoom):
		return ExitError, "raise --num-ctx (if the model allows it) or lower --max-tokens or --chunk-tokens"
	case errors.As(err, &hinted):
		code, _ := classify(hinted.err)
		return code, hinted.hint
	case errors.As(err, &syntax):
		return ExitUsage, "a filter is FIELD=VALUE, FIELD!=VALUE, FIELD<VALUE (also <=, >, >=: numbers and dates), FIELD exists or FIELD missing, several joined by | for either; quote a value with \"...\"; `rag status --fields` lists the fields"
	case errors.As(err, &usage):
		return ExitUsage, hintUsage
	default:
		return ExitError, ""
	}
}

// classifyTokens maps the errors of the tokens file (rag token, rag
// serve); ok is false for any other error.
func classifyTokens(err error) (code int, hint string, ok bool) {
	var (
		input    *tokens.InputError
		notFound *tokens.NotFoundError
		file     *tokens.FileError
	)
	switch {
	case errors.As(err, &input) && input.Field == "expires":
		return ExitUsage, "--expires takes how long the token works, such as 720h or 90d", true
	case errors.As(err, &input) && input.Field == "tenant":
		return ExitUsage, "a tenant is a NAME of letters, digits and . _ - @ +", true
	case errors.As(err, &input):
		return ExitUsage, "a token speaks for user:NAME or group:NAME; callers without a token are public already", true
	case errors.As(err, &notFound) && len(notFound.Matches) > 0:
		return ExitUsage, "give more of the ID", true
	case errors.As(err, &notFound):
		return ExitUsage, "`rag token list` shows the tokens' IDs", true
	case errors.As(err, &file) && file.Version != 0:
		return ExitError, "a newer rag wrote the tokens file: use that version, or point --tokens (RAG_TOKENS_FILE, tokens_file:) at another file", true
	case errors.As(err, &file) && file.Parse:
		return ExitError, "the file is not a tokens file rag wrote whole: point --tokens (RAG_TOKENS_FILE, tokens_file:) at the right file, or restore it from a backup", true
	case errors.As(err, &file):
		code, _ := classify(file.Err)
		return code, "--tokens (RAG_TOKENS_FILE, tokens_file:) names a file rag reads and writes (mode 0600) in an existing folder: check the path and the folder's permissions", true
	}
	return 0, "", false
}

// promptFileHint is the hint of a prompt file rag cannot use.
func promptFileHint(e *engine.PromptFileError) string {
	switch {
	case e.Problem == engine.PromptEmpty:
		return hintUsage
	case e.File == engine.SystemPromptFile:
		return "name a text file, or unset system_prompt: to use rag's own prompt"
	case e.Problem == engine.PromptMalformed:
		return "each turn is - role: user (or assistant) and content: text, users and assistants in turn (see README, \"Prompts\")"
	}
	return "name a YAML file of turns, or none"
}

// lookupHint is the hint of a get that found nothing to show (a usage
// error): "" for any other error.
func lookupHint(err error) string {
	var (
		notIndexed *engine.NotIndexedError
		ambiguous  *engine.AmbiguousPathError
		paged      *engine.PagedError
		noText     *engine.NoTextError
		outside    *engine.OutsideError
		noMatch    *engine.NoMatchError
	)
	switch {
	case errors.As(err, &notIndexed) && notIndexed.Folder:
		return "name a file in it, e.g. rag show " + shellQuote(filepath.Join(notIndexed.Path, "README.md"))
	case errors.As(err, &notIndexed):
		return fmt.Sprintf("index it with `rag index %s`; `rag status` lists what the index holds", shellQuote(notIndexed.Path))
	case errors.As(err, &ambiguous):
		cmd := "get" // the MCP tool
		if ambiguous.Host {
			cmd = showCmd
		}
		return fmt.Sprintf("name one by its absolute path, e.g. %s %s", cmd, shellQuote(ambiguous.Files[0]+ambiguous.Rest))
	case errors.As(err, &paged):
		return fmt.Sprintf("give a page, as citations do: rag show %s", shellQuote(paged.Path+" p.1"))
	case errors.As(err, &noText):
		return "`rag status` lists why files were skipped"
	case errors.As(err, &outside):
		return fmt.Sprintf("rag show %s prints all of it", shellQuote(outside.Path))
	case errors.As(err, &noMatch) && noMatch.Invalid:
		return "a glob takes * and ? within a folder, [abc], {a,b}, and ** for any folders"
	case errors.As(err, &noMatch):
		return "a glob matches the paths as citations show them (docs/**/*.md); `rag ls` lists them"
	}
	return ""
}

// settingsHint is the hint of a config file, a variable or a rules file
// that rag cannot use (a usage error): "" for any other error.
func settingsHint(err error) string {
	var (
		cfgFile      *config.FileError
		cfgEnv       *config.EnvError
		rules        *indexer.RulesError
		notRegular   *filestat.NotRegularError
		fileTooLarge *filestat.TooLargeError
	)
	switch {
	case errors.As(err, &cfgFile) && (errors.As(err, &notRegular) || errors.As(err, &fileTooLarge)):
		return fmt.Sprintf("rag reads a config file only when it is a regular file of at most %s: replace or remove %s", filestat.Bytes(config.MaxFileSize), cfgFile.Path)
	case errors.As(err, &cfgFile) && errors.Is(err, config.ErrUnknownKey):
		return fmt.Sprintf("fix or remove that line of %s; the settings are %s (see `rag help config`)", cfgFile.Path, strings.Join(cfgFile.Known, ", "))
	case errors.As(err, &cfgFile):
		return fmt.Sprintf("fix or remove that line of %s; `rag help config` describes the settings", cfgFile.Path)
	case errors.As(err, &cfgEnv):
		return fmt.Sprintf("fix or unset %s; `rag help config` describes the settings", cfgEnv.Var)
	case errors.As(err, &rules) && errors.As(err, &fileTooLarge):
		return fmt.Sprintf("a rules file is a few lines: rag reads one of at most %s; its folder was left as it was", filestat.Bytes(access.MaxRulesSize))
	case errors.As(err, &rules):
		return fmt.Sprintf("fix that line of %s (PATTERN PRINCIPAL..., principals public, user:NAME or group:NAME; see README, \"Access control and tenants\"); its folder was left as it was", rules.Path)
	}
	return ""
}

// classifyIndex is classify for the failures of an index run.
// classifyStore maps the errors of an index a server holds (--store).
func classifyStore(err error) (code int, hint string, ok bool) {
	var (
		down   *store.UnavailableError
		denied *store.UnauthorizedError
		schema *store.SchemaError
	)
	switch {
	case errors.As(err, &down):
		return ExitIndex, fmt.Sprintf("check that the Weaviate server at %s is up (its /v1/.well-known/ready answers) and that --store (RAG_STORE, store:) names its REST port", down.Addr), true
	case errors.As(err, &denied) && denied.KeySet:
		return ExitIndex, "check the API key in RAG_WEAVIATE_API_KEY: the server does not accept it, or gives it no right to the index", true
	case errors.As(err, &denied):
		return ExitIndex, "the server wants an API key: set RAG_WEAVIATE_API_KEY", true
	case errors.As(err, &schema) && schema.Got > schema.Want:
		return ExitIndex, "a newer rag wrote this index: upgrade rag, or name another index with ?index=NAME in --store", true
	case errors.As(err, &schema):
		return ExitIndex, "name another index with ?index=NAME in --store, or remove the server's collections " + schema.Class + " (and its pair) to build it again", true
	case errors.Is(err, store.ErrUnsupported):
		return ExitUsage, "on a Weaviate store, remove the index's collections and run rag index again instead", true
	}
	return 0, "", false
}

func classifyIndex(err error) (code int, hint string, ok bool) {
	var (
		partial    *engine.PartialError
		badTarget  *engine.TargetError
		sources    *engine.SourcesError
		notIndexed *engine.NotHeldError
	)
	switch {
	case errors.As(err, &badTarget):
		return ExitUsage, targetHints[badTarget.Reason], true
	case errors.As(err, &sources):
		return ExitUsage, "name them: rag index --rebuild DIR...", true
	case errors.As(err, &notIndexed):
		return ExitUsage, "`rag status` lists the folders and files the index holds; give one of them, or a folder or file inside one", true
	case errors.Is(err, engine.ErrNoTargets), errors.Is(err, engine.ErrNothingToWatch):
		return ExitUsage, hintUsage, true
	case errors.Is(err, config.ErrNoIndexDir):
		return ExitUsage, "set --index, RAG_INDEX or index: in a config file (see `rag config`)", true
	case errors.As(err, &partial) && len(partial.TooLong) > 0:
		holds, them := "holds", "it"
		if len(partial.TooLong) > 1 {
			holds, them = "hold", "them"
		}
		return ExitPartial, fmt.Sprintf("%s %s text too long for the embedding model even cut in pieces (the other files were indexed): lower --chunk-tokens, use an embedding model with a longer context (--embed-model), or leave %s out with a line in .ragignore or with --exclude GLOB",
			strings.Join(partial.TooLong, ", "), holds, them), true
	case errors.As(err, &partial) && len(partial.Again) > 0:
		return ExitPartial, fmt.Sprintf("the files above were not indexed; %s failed on the last run too: fix it, or leave it out with a line in .ragignore or with --exclude GLOB", strings.Join(partial.Again, ", ")), true
	case errors.As(err, &partial):
		return ExitPartial, "the files above were not indexed; fix them and run rag index again", true
	}
	return 0, "", false
}

// classifyServer is classify for the failures of the model server: down,
// failing, refusing, too slow, cut off, or a dense ranking that needs it.
func classifyServer(err error) (code int, hint string, ok bool) {
	var (
		dense    *engine.DenseError
		unreach  *ollama.UnreachableError
		retries  *embed.RetryError
		refused  *ollama.StatusError
		tooLarge *ollama.ReplyTooLargeError
		timeout  *ollama.TimeoutError
		dropped  *ollama.DroppedError
	)
	switch {
	case errors.As(err, &dense):
		code, hint := classify(dense.Err)
		return code, hint + "; or rank by keywords alone with --mode lexical, which needs no embedding model (rag search --mode lexical needs no Ollama at all)", true
	}
	if code, hint, ok := classifyProvider(err); ok {
		return code, hint, true
	}
	switch {
	case errors.As(err, &unreach):
		return ExitOllama, fmt.Sprintf("start Ollama with `ollama serve`, or set OLLAMA_HOST to the address it listens on (tried %s)", unreach.Host), true
	case errors.As(err, &retries):
		if errors.Is(err, embed.ErrTimeout) {
			return ExitOllama, "Ollama is too slow or stuck: raise --timeout or lower --batch-size; what was embedded is kept: run the same command again to resume", true
		}
		if errors.As(err, &tooLarge) {
			return ExitOllama, tooLargeHint(tooLarge) + "; what was embedded is kept", true
		}
		return ExitOllama, "Ollama kept failing (its log says why); what was embedded is kept: run the same command again to resume", true
	case errors.As(err, &refused) && (refused.StatusCode == http.StatusUnauthorized || refused.StatusCode == http.StatusForbidden):
		return ExitOllama, "the server at OLLAMA_HOST asks for authorization rag cannot give: point OLLAMA_HOST at a local Ollama server", true
	case errors.As(err, &refused) && !refused.Temporary():
		return ExitOllama, fmt.Sprintf("Ollama refused the request (HTTP %d), which asking again would not change; its log says why", refused.StatusCode), true
	case errors.As(err, &tooLarge):
		return ExitOllama, tooLargeHint(tooLarge), true
	case errors.As(err, &timeout):
		return ExitOllama, fmt.Sprintf("the model server is stuck or too slow (its log says why): raise --timeout (it was %s), or use a smaller model; rag search --mode lexical needs no model server", timeout.After), true
	case errors.Is(err, retrieve.ErrNoDenseSignal):
		return ExitOllama, "the embedding model is broken or not an embedding model: check it (`ollama show MODEL`), or search with --mode hybrid or lexical, which rank by keywords too", true
	case errors.As(err, &dropped):
		return ExitOllama, "the model server may have crashed, run out of memory or been restarted (its log says why); run the same command again once it is up", true
	}
	return 0, "", false
}

// classifyProvider is classify for the failures of a configured
// provider's server (Ollama at OLLAMA_HOST has its own words above): the
// same exit codes, with hints that name the provider, its base_url and
// its API key's variable (never the key).
func classifyProvider(err error) (code int, hint string, ok bool) {
	var (
		unreach *provider.UnreachableError
		status  *provider.StatusError
		retries *embed.RetryError
	)
	switch {
	case errors.As(err, &unreach) && unreach.Provider != "":
		return ExitOllama, fmt.Sprintf("start the server of provider %s, or fix its base_url: in the config (tried %s)", unreach.Provider, unreach.Host), true
	case !errors.As(err, &status) || status.Provider == "":
		return 0, "", false
	case status.StatusCode == http.StatusUnauthorized || status.StatusCode == http.StatusForbidden:
		return ExitOllama, keyHint(status), true
	case status.StatusCode == http.StatusTooManyRequests:
		return ExitOllama, fmt.Sprintf("provider %s kept rate-limiting rag (HTTP 429, retried with back-off): wait and run again, or lower --parallel; what was embedded is kept", status.Provider), true
	case errors.As(err, &retries):
		return ExitOllama, fmt.Sprintf("provider %s kept failing (its server's log says why); what was embedded is kept: run the same command again to resume", status.Provider), true
	case status.StatusCode == http.StatusNotFound:
		return ExitOllama, fmt.Sprintf("provider %s's server has no such endpoint: its base_url: should be the API's root with its version, such as http://127.0.0.1:8080/v1", status.Provider), true
	case !status.Temporary():
		return ExitOllama, fmt.Sprintf("provider %s refused the request (HTTP %d), which asking again would not change; its server's log says why", status.Provider, status.StatusCode), true
	}
	return ExitOllama, fmt.Sprintf("provider %s failed (HTTP %d; its server's log says why): run the same command again once it is up", status.Provider, status.StatusCode), true
}

// keyHint is the hint of a provider that refused rag's authorization: it
// names the variable of the key, never the key.
func keyHint(e *provider.StatusError) string {
	switch {
	case e.KeyEnv == "":
		return fmt.Sprintf("provider %s wants an API key: put it in an environment variable and name that variable with api_key_env: in the provider's config", e.Provider)
	case !e.KeySet:
		return fmt.Sprintf("%s is not set: set it to the API key of provider %s", e.KeyEnv, e.Provider)
	case e.StatusCode == http.StatusForbidden:
		return fmt.Sprintf("provider %s refused the API key in %s for this request: check that the key may use the model, or set %s to one that may", e.Provider, e.KeyEnv, e.KeyEnv)
	}
	return fmt.Sprintf("provider %s refused the API key in %s: set %s to a valid key", e.Provider, e.KeyEnv, e.KeyEnv)
}
