// Package tokens keeps the bearer tokens of `rag serve` in a tokens file:
// who each token speaks for (principal, tenant, admin right), when it
// expires and whether it was revoked, and a hash of its secret, never the
// secret itself. `rag token` adds, lists and revokes them; the server
// looks callers up, re-reading the file when it changes so that a revoked
// token stops at the next request.
//
// Secrets are "rag_" + base64url(32 random bytes). The file stores their
// SHA-256: a secret of 256 random bits cannot be guessed from its hash or
// found by trying, so a slow password hash (bcrypt, argon2) would add
// nothing but time at every request. Hashes are compared in constant time.
//
// Writers (Add, Revoke) hold an exclusive lock (flock) on PATH.lock while
// they read, change and atomically replace the file, so two `rag token
// add` at once keep both tokens.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/filestat"
)

// Token is what a token speaks for; its secret is not kept.
type Token struct {
	// ID names the token in lists, logs and `rag token revoke`; it is
	// random and says nothing of the secret.
	ID        string    `json:"id"`
	Principal string    `json:"principal"`
	Tenant    string    `json:"tenant,omitempty"`
	Admin     bool      `json:"admin"`
	Created   time.Time `json:"created"`
	// Expires is when the token stops working; zero: never.
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked"`
}

// Lookup's refusals (errors.Is): every one is 401 to a server, never a
// fall back to public.
var (
	ErrUnknown = errors.New("unknown token")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

// SecretPrefix starts every secret, so that secret scanners and people
// know one when they see it.
const SecretPrefix = "rag_"

// MaxFileSize is the largest tokens file read: some 40,000 tokens.
const MaxFileSize = 16 << 20

// InputError is a bad argument to Add: Field names it (principal, tenant,
// expires).
type InputError struct {
	Field string
	Err   error
}

func (e *InputError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// ErrPublic is a token asked for public: a caller without a token is
// public already.
var ErrPublic = errors.New("a token cannot be for public: callers without a token are public")

// NotFoundError is a Revoke of an ID no token has (Ambiguous false), or a
// prefix of several tokens' IDs (Matches).
type NotFoundError struct {
	ID      string
	Path    string
	Matches []string
}

func (e *NotFoundError) Error() string {
	if len(e.Matches) > 0 {
		return fmt.Sprintf("%q is the start of %d token IDs (%s)", e.ID, len(e.Matches), strings.Join(e.Matches, ", "))
	}
	return fmt.Sprintf("no token %q in %s", e.ID, e.Path)
}

// FileError is a tokens file that cannot be read or written (Parse false),
// or that is not a tokens file rag can read: torn, foreign, or of a version
// of the format this rag does not know (Version set).
type FileError struct {
	Path    string
	Parse   bool
	Version int // the file's format version when it is unknown
	Err     error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("tokens file %s: %v", e.Path, e.Err)
}
func (e *FileError) Unwrap() error { return e.Err }

// File is the tokens file at a path. Its methods are safe for concurrent
// use; Lookup keeps the file last parsed and parses it again only when its
// stat changes.
type File struct {
	path string

	mu      sync.Mutex
	stat    filestat.Stat
	records []record // cached, when cached is set
	cached  bool
	parses  int // for tests
}

// Open returns the tokens file at path; nothing is read until it is used.
func Open(path string) *File { return &File{path: path} }

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Add creates a token for principal (user:NAME or group:NAME) in tenant
// ("" the default), an admin one if admin, expiring at expires (zero:
// never), and returns its secret, which is shown once and kept nowhere.
func (f *File) Add(principal, tenant string, admin bool, expires time.Time, now time.Time) (secret string, t Token, err error) {
	if err := checkAdd(principal, tenant, expires, now); err != nil {
		return "", Token{}, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, fmt.Errorf("make a token: %w", err)
	}
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t = Token{Principal: principal, Tenant: tenant, Admin: admin, Created: now.UTC().Truncate(time.Second)}
	if !expires.IsZero() {
		t.Expires = expires.UTC().Truncate(time.Second)
	}
	err = f.update(func(rs []record) ([]record, error) {
		id, err := newID(rs)
		if err != nil {
			return nil, err
		}
		t.ID = id
		return append(rs, record{Token: t, Hash: hashOf(secret)}), nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

func checkAdd(principal, tenant string, expires, now time.Time) error {
	if principal == access.Public {
		return &InputError{Field: "principal", Err: ErrPublic}
	}
	if err := access.CheckPrincipal(principal); err != nil {
		return &InputError{Field: "principal", Err: err}
	}
	if tenant != "" {
		if err := access.CheckTenant(tenant); err != nil {
			return &InputError{Field: "tenant", Err: err}
		}
	}
	if !expires.IsZero() && !expires.After(now) {
		return &InputError{Field: "expires", Err: fmt.Errorf("%s is not in the future", expires.UTC().Format(time.RFC3339))}
	}
	return nil
}

// idBytes is the random bytes of an ID: 48 bits, short enough to type.
const idBytes = 6

func newID(rs []record) (string, error) {
	for range 8 {
		var b [idBytes]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("make a token ID: %w", err)
		}
		id := hex.EncodeToString(b[:])
		if !hasID(rs, id) {
			return id, nil
		}
	}
	return "", errors.New("make a token ID: every one drawn was taken")
}

func hasID(rs []record, id string) bool {
	for i := range rs {
		if rs[i].ID == id {
			return true
		}
	}
	return false
}

// List returns the tokens, revoked and expired ones included, oldest
// first; a file that does not exist holds none.
func (f *File) List() ([]Token, error) {
	rs, err := f.read(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(rs))
	for i := range rs {
		out[i] = rs[i].Token
	}
	return out, nil
}

// Revoke revokes the token whose ID is idOrPrefix, or the one whose ID
// starts with it; revoking a revoked token again is no error.
func (f *File) Revoke(idOrPrefix string) (Token, error) {
	var t Token
	err := f.update(func(rs []record) ([]record, error) {
		i, err := find(rs, idOrPrefix, f.path)
		if err != nil {
			return nil, err
		}
		rs[i].Revoked = true
		t = rs[i].Token
		return rs, nil
	})
	return t, err
}

func find(rs []record, id, path string) (int, error) {
	var matches []int
	for i := range rs {
		if rs[i].ID == id {
			return i, nil
		}
		if id != "" && strings.HasPrefix(rs[i].ID, id) {
			matches = append(matches, i)
		}
	}
	if len(matches) == 1 {
		return matches[0], nil
	}
	e := &NotFoundError{ID: id, Path: path}
	if len(matches) > 1 {
		for _, i := range matches {
			e.Matches = append(e.Matches, rs[i].ID)
		}
	}
	return 0, e
}

// Lookup returns the token whose secret is secret: ErrUnknown when none
// has it (a file that does not exist holds none), ErrRevoked or ErrExpired
// (with the token, for the log) when it no longer works at now. The file
// is parsed again when its stat has changed since the last Lookup.
func (f *File) Lookup(secret string, now time.Time) (Token, error) {
	rs, err := f.cachedRead(now)
	if err != nil {
		return Token{}, err
	}
	h := hashOf(secret)
	found := -1
	// Every hash is compared, in constant time: how long a lookup takes
	// says nothing of which hash, or how much of one, matched.
	for i := range rs {
		if subtle.ConstantTimeCompare(h[:], rs[i].Hash[:]) == 1 {
			found = i
		}
	}
	switch {
	case found < 0:
		return Token{}, ErrUnknown
	case rs[found].Revoked:
		return rs[found].Token, ErrRevoked
	case !rs[found].Expires.IsZero() && !now.Before(rs[found].Expires):
		return rs[found].Token, ErrExpired
	}
	return rs[found].Token, nil
}

func hashOf(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// racyWindow is how recent a change may be for the file to be parsed
// again at the next Lookup, whatever its stat says: two writes within one
// tick of the file system's clock, of one size, look alike (as
// pkg/engine's groups file cache, after git's "racy" entries).
const racyWindow = 2 * time.Second

// cachedRead returns the records, parsed again when the file's stat
// differs from the last one's.
func (f *File) cachedRead(now time.Time) ([]record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Stat first: a change between the stat and the read is seen at the
	// next Lookup, whose stat differs.
	st, statErr := filestat.Path(f.path)
	if statErr == nil && f.cached && f.stat == st {
		return f.records, nil
	}
	f.cached, f.records = false, nil
	rs, err := f.read(context.Background())
	if err != nil {
		return nil, err
	}
	changed := time.Unix(0, max(st.MTime, st.CTime))
	if statErr == nil && changed.Before(now.Add(-racyWindow)) {
		f.stat, f.records, f.cached = st, rs, true
	}
	return rs, nil
}

// read reads and decodes the file; one that does not exist holds no
// tokens.
func (f *File) read(ctx context.Context) ([]record, error) {
	data, err := filestat.ReadFile(ctx, f.path, MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &FileError{Path: f.path, Err: err}
	}
	f.parses++
	rs, err := decode(data)
	if err != nil {
		var v *versionError
		fe := &FileError{Path: f.path, Parse: true, Err: err}
		if errors.As(err, &v) {
			fe.Version = v.version
		}
		return nil, fe
	}
	return rs, nil
}

// update changes the file with change, under the writers' lock, and
// replaces it atomically (mode 0600).
func (f *File) update(change func([]record) ([]record, error)) (err error) {
	lock := flock.New(f.path+".lock", flock.SetPermissions(0o600))
	if err := lock.Lock(); err != nil {
		return &FileError{Path: f.path, Err: fmt.Errorf("lock: %w", err)}
	}
	defer func() {
		if uerr := lock.Unlock(); uerr != nil && err == nil {
			err = &FileError{Path: f.path, Err: fmt.Errorf("unlock: %w", uerr)}
		}
	}()
	rs, err := f.read(context.Background())
	if err != nil {
		return err
	}
	if rs, err = change(rs); err != nil {
		return err
	}
	data, err := encode(rs)
	if err != nil {
		return &FileError{Path: f.path, Err: err}
	}
	if err := filestat.WriteFileAtomic(f.path, data, 0o600); err != nil {
		return &FileError{Path: f.path, Err: err}
	}
	return nil
}
