package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rag-cli/rag/pkg/access"
)

// Key names a setting, as it is written in a config file.
type Key string

// The settings, as written in a config file.
const (
	KeyIndex        Key = "index"
	KeyStore        Key = "store"
	KeyOllamaHost   Key = "ollama_host"
	KeyEmbedModel   Key = "embed_model"
	KeyModel        Key = "model"
	KeyMode         Key = "mode"
	KeyFusion       Key = "fusion"
	KeyRerank       Key = "rerank"
	KeyRerankModel  Key = "rerank_model"
	KeySearchK      Key = "search_k"
	KeyAskK         Key = "ask_k"
	KeyMinScore     Key = "min_score"
	KeyMinRelevance Key = "min_relevance"
	KeyMinCoverage  Key = "min_coverage"
	KeyAs           Key = "as"
	KeyTenant       Key = "tenant"
	KeyGroupsFile   Key = "groups_file"
	KeySystemPrompt Key = "system_prompt"
	KeyExamples     Key = "examples"
	KeyFusionWeight Key = "fusion_weight"
	KeyExpand       Key = "expand"
	KeyExpandModel  Key = "expand_model"
	KeyFallback     Key = "fallback"
	KeyTokensFile   Key = "tokens_file"
)

// spec describes one setting: its environment variable, if any, and how
// its text is checked and parsed.
type spec struct {
	key   Key
	env   string
	kind  string
	parse func(string) (any, error)
}

func parseString(s string) (any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("must not be empty")
	}
	return s, nil
}

func parseOneOf(values ...string) func(string) (any, error) {
	return func(s string) (any, error) {
		for _, v := range values {
			if s == v {
				return s, nil
			}
		}
		return nil, fmt.Errorf("unknown value %q (want %s)", s, strings.Join(values, ", "))
	}
}

func parseBool(s string) (any, error) {
	switch strings.ToLower(s) {
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, fmt.Errorf("want true or false, not %q", s)
	}
	return b, nil
}

func parsePositive(s string) (any, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("want a whole number of at least 1, not %q", s)
	}
	return n, nil
}

func parseFraction(s string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return nil, fmt.Errorf("want a number from 0 to 1, not %q", s)
	}
	return f, nil
}

func parseSimilarity(s string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < -1 || f > 1 {
		return nil, fmt.Errorf("want a number from -1 to 1, not %q", s)
	}
	return f, nil
}

func parseWeight(s string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1 {
		return nil, fmt.Errorf("want a number above 0 and at most 1, not %q", s)
	}
	return f, nil
}

func parseHost(s string) (any, error) {
	if _, err := OllamaHost(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Modes and Fusions are the values mode and fusion accept.
var (
	Modes   = []string{"dense", "lexical", "hybrid"}
	Fusions = []string{"weighted", "rrf"}
)

// specs lists the settings in the order `rag config` shows them.
var specs = []spec{
	{KeyIndex, "RAG_INDEX", "path", parseString},
	{KeyOllamaHost, "OLLAMA_HOST", "host:port or URL", parseHost},
	{KeyEmbedModel, "RAG_EMBED_MODEL", "model name", parseString},
	{KeyModel, "RAG_MODEL", "model name", parseString},
	{KeyMode, "RAG_MODE", "mode", parseOneOf(Modes...)},
	{KeyFusion, "RAG_FUSION", "fusion", parseOneOf(Fusions...)},
	{KeyRerank, "RAG_RERANK", "true or false", parseBool},
	{KeyRerankModel, "RAG_RERANK_MODEL", "model name", parseString},
	{KeySearchK, "", "number", parsePositive},
	{KeyAskK, "", "number", parsePositive},
	{KeyMinScore, "", "number from -1 to 1", parseSimilarity},
	{KeyMinRelevance, "", "number from 0 to 1", parseFraction},
	{KeyMinCoverage, "", "number from 0 to 1", parseFraction},
	{KeyAs, "RAG_AS", "principal", parsePrincipal},
	{KeyTenant, "RAG_TENANT", "tenant name", parseTenant},
	{KeyGroupsFile, "RAG_GROUPS_FILE", "path", parseString},
	{KeySystemPrompt, "RAG_SYSTEM_PROMPT", "path", parseString},
	{KeyExamples, "RAG_EXAMPLES", "path", parseString},
	{KeyFusionWeight, "", "number above 0, at most 1", parseWeight},
	{KeyExpand, "RAG_EXPAND", "true or false", parseBool},
	{KeyExpandModel, "RAG_EXPAND_MODEL", "model name", parseString},
	{KeyFallback, "RAG_FALLBACK", "true or false", parseBool},
	{KeyTokensFile, "RAG_TOKENS_FILE", "path", parseString},
	// Last: the lists of settings before it read as they did before it.
	{KeyStore, "RAG_STORE", "store URL", parseStore},
}

// parseStore accepts a store URL (weaviate://HOST:PORT[?options]); its
// options are the store's to check, when it is opened.
func parseStore(s string) (any, error) {
	if s != "" && !strings.HasPrefix(s, "weaviate://") {
		return nil, fmt.Errorf("%q is not a store URL: weaviate://HOST:PORT[?options], or empty for the embedded store in the index folder", s)
	}
	return s, nil
}

func parsePrincipal(s string) (any, error) {
	if err := access.CheckPrincipal(s); err != nil {
		return nil, err
	}
	return s, nil
}

func parseTenant(s string) (any, error) {
	if err := access.CheckTenant(s); err != nil {
		return nil, err
	}
	return s, nil
}

func specOf(k Key) (spec, bool) {
	for _, s := range specs {
		if s.key == k {
			return s, true
		}
	}
	return spec{}, false
}

func (s spec) check(value string) error {
	_, err := s.parse(value)
	return err
}

// Keys are the setting names a config file may use.
func Keys() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = string(s.key)
	}
	return out
}

// EnvVars are the environment variables of the settings, in the order
// `rag config` shows them; help text lists them from here so that a new
// setting is never missing from it.
func EnvVars() []string {
	var out []string
	for _, s := range specs {
		if s.env != "" {
			out = append(out, s.env)
		}
	}
	return out
}

// EnvVar is the environment variable of a setting, or "".
func EnvVar(k Key) string {
	s, _ := specOf(k)
	return s.env
}

// OriginKind is where a setting's value came from.
type OriginKind string

// Where a value can come from, weakest first.
const (
	FromDefault OriginKind = "default"
	FromFile    OriginKind = "file"
	FromEnv     OriginKind = "env"
	FromFlag    OriginKind = "flag"
)

// Origin is where one setting's value came from.
type Origin struct {
	Kind OriginKind
	// Name is the variable, the file's path or the flag; for a default,
	// what it depends on, if anything.
	Name string
	Line int
}

func (o Origin) String() string {
	switch o.Kind {
	case FromEnv:
		return "env " + o.Name
	case FromFile:
		return fmt.Sprintf("%s:%d", o.Name, o.Line)
	case FromFlag:
		return "flag --" + o.Name
	}
	if o.Name != "" {
		return "default (" + o.Name + ")"
	}
	return "default"
}

// Setting is one resolved value and its origin.
type Setting struct {
	Key    Key
	Value  string
	Origin Origin
	parsed any
}

// Files are the config files rag reads.
type Files struct {
	// User is the user's config file ("" when HOME is not set either).
	User string
	// Project is the .rag.yaml found from the working directory up, or "".
	Project string
}

// Locate finds the config files for a process working in dir; stat is
// os.Stat outside tests.
func Locate(env Env, dir string, stat func(string) (fs.FileInfo, error)) (Files, error) {
	project, err := FindProjectFile(dir, stat)
	if err != nil {
		return Files{}, err
	}
	return Files{User: UserFile(env), Project: project}, nil
}

// Settings are the resolved settings.
type Settings struct {
	// Files are the config files that were read (a missing user file is
	// left out).
	Files     []string
	values    map[Key]Setting
	providers map[string]Provider
}

// MaxFileSize is the largest config file read: settings take a few
// hundred bytes, and a file that is more (a link to /dev/zero) is a
// mistake or an attack.
const MaxFileSize = 1 << 20

// Load reads the config files that exist (readFile is filestat.ReadFile
// with MaxFileSize outside tests: regular files only) and resolves the
// settings from them and env.
func Load(env Env, files Files, readFile func(string) ([]byte, error)) (*Settings, error) {
	var parsed []*File
	for _, p := range []string{files.User, files.Project} {
		if p == "" {
			continue
		}
		data, err := readFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == p {
				err = pe.Err // FileError names the file
			}
			return nil, &FileError{Path: p, Err: err}
		}
		f, err := ParseFile(p, strings.NewReader(string(data)))
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
	}
	return Resolve(env, parsed...)
}

// EnvError is a malformed value in an environment variable.
type EnvError struct {
	Var string
	Err error
}

func (e *EnvError) Error() string { return fmt.Sprintf("%s: %v", e.Var, e.Err) }
func (e *EnvError) Unwrap() error { return e.Err }

// Resolve lays the files (weakest first: the user's, then the project's)
// and then the environment over the defaults.
func Resolve(env Env, files ...*File) (*Settings, error) {
	s := &Settings{values: map[Key]Setting{}, providers: map[string]Provider{}}
	defaults := map[Key]string{
		KeyIndex:        IndexDir(env),
		KeyOllamaHost:   DefaultOllama,
		KeyModel:        DefaultChatModel,
		KeyMode:         DefaultMode,
		KeyFusion:       DefaultFusion,
		KeyRerank:       "false",
		KeyRerankModel:  DefaultChatModel,
		KeySearchK:      strconv.Itoa(DefaultSearchK),
		KeyAskK:         strconv.Itoa(DefaultAskK),
		KeyMinScore:     strconv.FormatFloat(DefaultMinScore, 'g', -1, 64),
		KeyMinRelevance: strconv.FormatFloat(DefaultMinRelevance, 'g', -1, 64),
		KeyMinCoverage:  strconv.FormatFloat(DefaultMinCoverage, 'g', -1, 64),
		KeyFusionWeight: "0.5",
		KeyExpand:       "false",
		KeyFallback:     "true",
	}
	for _, sp := range specs {
		v := defaults[sp.key]
		var parsed any = v
		if v != "" {
			p, err := sp.parse(v)
			if err != nil {
				return nil, fmt.Errorf("default %s: %w", sp.key, err) // a bug in the defaults
			}
			parsed = p
		}
		s.values[sp.key] = Setting{Key: sp.key, Value: v, Origin: Origin{Kind: FromDefault}, parsed: parsed}
	}
	// The embedding model an index is built with stays its model; with
	// nothing set, a new index gets the default one.
	s.values[KeyEmbedModel] = Setting{Key: KeyEmbedModel, Origin: Origin{Kind: FromDefault, Name: "the index's model, else " + DefaultEmbedModel}, parsed: ""}
	if s.values[KeyIndex].Value == "" {
		s.values[KeyIndex] = Setting{Key: KeyIndex, Origin: Origin{Kind: FromDefault, Name: "$XDG_DATA_HOME or $HOME needed"}, parsed: ""}
	}
	for _, f := range files {
		s.Files = append(s.Files, f.Path)
		for name, p := range f.Providers {
			s.providers[name] = p
		}
		for _, sp := range specs {
			v, ok := f.Values[sp.key]
			if !ok {
				continue
			}
			if isPath(sp.key) {
				v = expandHome(v, env)
			}
			if err := s.Set(sp.key, v, Origin{Kind: FromFile, Name: f.Path, Line: f.Lines[sp.key]}); err != nil {
				return nil, &FileError{Path: f.Path, Line: f.Lines[sp.key], Err: err}
			}
		}
	}
	for _, sp := range specs {
		if sp.env == "" {
			continue
		}
		v := env(sp.env)
		if v == "" {
			continue
		}
		if err := s.Set(sp.key, v, Origin{Kind: FromEnv, Name: sp.env}); err != nil {
			return nil, &EnvError{Var: sp.env, Err: err}
		}
	}
	return s, nil
}

// expandHome expands a leading ~/ in a path from a file, as a shell would.
func expandHome(p string, env Env) string {
	if home := env("HOME"); home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, p[1:])
	}
	return p
}

// Set overrides a setting, as a flag does; value is checked first.
func (s *Settings) Set(k Key, value string, o Origin) error {
	sp, ok := specOf(k)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, k)
	}
	p, err := sp.parse(value)
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	s.values[k] = Setting{Key: k, Value: value, Origin: o, parsed: p}
	return nil
}

// Get returns a setting and where it came from.
func (s *Settings) Get(k Key) Setting { return s.values[k] }

// All returns every setting, in a fixed order.
func (s *Settings) All() []Setting {
	out := make([]Setting, len(specs))
	for i, sp := range specs {
		out[i] = s.values[sp.key]
	}
	return out
}

// String returns a text setting ("" when unset).
func (s *Settings) String(k Key) string {
	v, _ := s.values[k].parsed.(string)
	return v
}

// Int returns a number setting.
func (s *Settings) Int(k Key) int {
	v, _ := s.values[k].parsed.(int)
	return v
}

// Float returns a fraction setting.
func (s *Settings) Float(k Key) float64 {
	v, _ := s.values[k].parsed.(float64)
	return v
}

// Bool returns a true/false setting.
func (s *Settings) Bool(k Key) bool {
	v, _ := s.values[k].parsed.(bool)
	return v
}

// isPath reports whether k's value is a path: relative to the config file
// that sets it, and ~ expanded.
func isPath(k Key) bool {
	return k == KeyIndex || k == KeyGroupsFile || k == KeySystemPrompt || k == KeyExamples || k == KeyTokensFile
}
