package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newFile(t *testing.T) *File {
	t.Helper()
	return Open(filepath.Join(t.TempDir(), "tokens.json"))
}

// TestTokenAdd: Add refuses what cannot be a token's principal, tenant or
// expiry, and otherwise returns a secret of the documented shape.
func TestTokenAdd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, principal, tenant string
		expires                 time.Time
		wantField               string // "" success
	}{
		{name: "user", principal: "user:ann"},
		{name: "group in tenant", principal: "group:eng", tenant: "acme"},
		{name: "expiring", principal: "user:ann", expires: t0.Add(time.Hour)},
		{name: "public", principal: "public", wantField: "principal"},
		{name: "bare name", principal: "ann", wantField: "principal"},
		{name: "empty", principal: "", wantField: "principal"},
		{name: "bad tenant", principal: "user:ann", tenant: "a b", wantField: "tenant"},
		{name: "expired already", principal: "user:ann", expires: t0, wantField: "expires"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFile(t)
			secret, tok, err := f.Add(tt.principal, tt.tenant, false, tt.expires, t0)
			if tt.wantField != "" {
				var in *InputError
				if !errors.As(err, &in) || in.Field != tt.wantField {
					t.Fatalf("Add = %v, want an InputError of %s", err, tt.wantField)
				}
				if _, err := os.Stat(f.Path()); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused Add wrote the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+43 {
				t.Errorf("secret %q is not rag_ + base64url(32 bytes)", secret)
			}
			if tok.Principal != tt.principal || tok.Tenant != tt.tenant || !tok.Created.Equal(t0) || !tok.Expires.Equal(tt.expires) || len(tok.ID) != 12 {
				t.Errorf("token = %+v", tok)
			}
		})
	}
}

// TestTokenLookup: a token works until it expires or is revoked, each
// refusal its own error; a wrong secret is unknown.
func TestTokenLookup(t *testing.T) {
	t.Parallel()
	f := newFile(t)
	forever, tf, err := f.Add("user:ann", "", true, time.Time{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	hour, th, err := f.Add("group:eng", "acme", false, t0.Add(time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	revoked, tr, err := f.Add("user:bob", "", false, time.Time{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Revoke(tr.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		secret  string
		now     time.Time
		wantID  string
		wantErr error
	}{
		{"never expires", forever, t0.Add(1000 * time.Hour), tf.ID, nil},
		{"before expiry", hour, t0.Add(time.Hour - time.Second), th.ID, nil},
		{"at expiry", hour, t0.Add(time.Hour), th.ID, ErrExpired},
		{"revoked", revoked, t0, tr.ID, ErrRevoked},
		{"wrong secret", forever + "x", t0, "", ErrUnknown},
		{"empty", "", t0, "", ErrUnknown},
		{"a hash is not a secret", strings.Repeat("0", 64), t0, "", ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.Lookup(tt.secret, tt.now)
			if !errors.Is(err, tt.wantErr) || err == nil && tt.wantErr != nil {
				t.Fatalf("Lookup = %v, want %v", err, tt.wantErr)
			}
			if got.ID != tt.wantID {
				t.Errorf("Lookup = %+v, want ID %q", got, tt.wantID)
			}
		})
	}
	if got, _ := f.Lookup(forever, t0); !got.Admin || got.Principal != "user:ann" {
		t.Errorf("token = %+v", got)
	}
}

// TestTokenRevokeSeenByAnotherFile: a server's File sees a revocation by
// another process (another File) at its next Lookup, whether its cache is
// young (racy window) or old (stat changed).
func TestTokenRevokeSeenByAnotherFile(t *testing.T) {
	t.Parallel()
	for _, old := range []bool{false, true} {
		f := newFile(t)
		secret, tok, err := f.Add("user:ann", "", false, time.Time{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if old { // the file's change is past the racy window: it is cached
			now = now.Add(time.Hour)
		}
		server := Open(f.Path())
		for range 3 {
			if _, err := server.Lookup(secret, now); err != nil {
				t.Fatal(err)
			}
		}
		if old && server.parses != 1 {
			t.Errorf("an unchanged old file parsed %d times, want once", server.parses)
		}
		if _, err := Open(f.Path()).Revoke(tok.ID[:4]); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Lookup(secret, now); !errors.Is(err, ErrRevoked) {
			t.Errorf("old=%v: after revoke, Lookup = %v", old, err)
		}
	}
}

// TestTokenRevoke: by ID or unique prefix, again without error; an unknown
// ID or an ambiguous prefix is a NotFoundError.
func TestTokenRevoke(t *testing.T) {
	t.Parallel()
	f := newFile(t)
	var ids []string
	for range 20 {
		_, tok, err := f.Add("user:ann", "", false, time.Time{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	if got, err := f.Revoke(ids[3]); err != nil || got.ID != ids[3] || !got.Revoked {
		t.Fatalf("Revoke = %+v, %v", got, err)
	}
	if _, err := f.Revoke(ids[3]); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	var nf *NotFoundError
	if _, err := f.Revoke("zz"); !errors.As(err, &nf) || len(nf.Matches) > 0 {
		t.Errorf("unknown ID: %v", err)
	}
	if _, err := f.Revoke(""); !errors.As(err, &nf) {
		t.Errorf("empty ID: %v", err)
	}
	list, err := f.List()
	if err != nil || len(list) != 20 {
		t.Fatalf("List = %d, %v", len(list), err)
	}
	for i, tok := range list {
		if tok.Revoked != (i == 3) {
			t.Errorf("token %d revoked = %v", i, tok.Revoked)
		}
	}
}

// TestTokenFileSafe: the file is mode 0600, and neither it nor List holds
// a secret; a missing file holds no tokens.
func TestTokenFileSafe(t *testing.T) {
	t.Parallel()
	f := newFile(t)
	if list, err := f.List(); err != nil || len(list) != 0 {
		t.Fatalf("missing file: %v, %v", list, err)
	}
	if _, err := f.Lookup("rag_x", t0); !errors.Is(err, ErrUnknown) {
		t.Fatalf("missing file: Lookup = %v", err)
	}
	secret, _, err := f.Add("user:ann", "", false, time.Time{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	body := secret[len(SecretPrefix):]
	if strings.Contains(string(data), body) {
		t.Errorf("the file holds the secret:\n%s", data)
	}
	list, err := f.List()
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	if strings.Contains(strings.Join([]string{list[0].ID, list[0].Principal}, " "), body) {
		t.Errorf("List shows the secret")
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(f.Path())
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, %v", fi.Mode(), err)
		}
	}
}

// TestTokenBadFile: a torn, foreign or newer file is refused by every
// method, with a FileError; Add does not overwrite it.
func TestTokenBadFile(t *testing.T) {
	t.Parallel()
	good, err := encode([]record{{Token: Token{ID: "0123456789ab", Principal: "user:ann", Created: t0}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data  string
		wantVersion int
	}{
		{name: "torn", data: string(good[:len(good)/2])},
		{name: "empty", data: ""},
		{name: "foreign JSON", data: `{"index": "x"}`},
		{name: "groups file", data: "ann: [eng]\n"},
		{name: "newer version", data: `{"format": "rag-tokens", "version": 2, "tokens": []}`, wantVersion: 2},
		{name: "unknown field", data: strings.Replace(string(good), `"admin"`, `"root": true, "admin"`, 1)},
		{name: "public token", data: strings.Replace(string(good), "user:ann", "public", 1)},
		{name: "bad hash", data: strings.Replace(string(good), `"sha256": "`, `"sha256": "x`, 1)},
		{name: "two documents", data: string(good) + string(good)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFile(t)
			if err := os.WriteFile(f.Path(), []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			check := func(op string, err error) {
				t.Helper()
				var fe *FileError
				if !errors.As(err, &fe) || !fe.Parse || fe.Version != tt.wantVersion {
					t.Errorf("%s = %v, want a parse FileError (version %d)", op, err, tt.wantVersion)
				}
			}
			_, err := f.List()
			check("List", err)
			_, err = f.Lookup("rag_x", t0)
			check("Lookup", err)
			_, _, err = f.Add("user:bob", "", false, time.Time{}, t0)
			check("Add", err)
			_, err = f.Revoke("0123")
			check("Revoke", err)
			if b, err := os.ReadFile(f.Path()); err != nil || string(b) != tt.data {
				t.Errorf("the file was changed: %q, %v", b, err)
			}
		})
	}
	if _, err := decode(good); err != nil {
		t.Errorf("the good file: %v", err)
	}
}

// TestTokenConcurrentAdd: adds at once, from Files of their own as from
// processes, keep every token (the writers' lock).
func TestTokenConcurrentAdd(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.json")
	const n = 16
	var wg sync.WaitGroup
	secrets := make([]string, n)
	for i := range n {
		wg.Go(func() {
			s, _, err := Open(path).Add("user:ann", "", false, time.Time{}, t0)
			if err != nil {
				t.Error(err)
			}
			secrets[i] = s
		})
	}
	wg.Wait()
	f := Open(path)
	list, err := f.List()
	if err != nil || len(list) != n {
		t.Fatalf("List = %d tokens, %v; want %d", len(list), err, n)
	}
	for _, s := range secrets {
		if _, err := f.Lookup(s, t0); err != nil {
			t.Errorf("Lookup: %v", err)
		}
	}
}

// FuzzDecode: no input panics the decoder, and a file it accepts encodes
// to one it reads back the same.
func FuzzDecode(f *testing.F) {
	good, err := encode([]record{{Token: Token{ID: "0123456789ab", Principal: "user:ann", Tenant: "acme", Admin: true, Created: t0, Expires: t0.Add(time.Hour)}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format": "rag-tokens", "version": 1, "tokens": []}`))
	f.Add([]byte(`{"format": "rag-tokens", "version": 2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := decode(data)
		if err != nil {
			return
		}
		again, err := encode(rs)
		if err != nil {
			t.Fatal(err)
		}
		rs2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded file refused: %v\n%s", err, again)
		}
		if len(rs2) != len(rs) {
			t.Fatalf("%d tokens, then %d", len(rs), len(rs2))
		}
		for i := range rs {
			a, b := rs[i], rs2[i]
			if a.ID != b.ID || a.Hash != b.Hash || a.Principal != b.Principal || a.Tenant != b.Tenant || a.Admin != b.Admin || a.Revoked != b.Revoked || !a.Created.Equal(b.Created) || !a.Expires.Equal(b.Expires) {
				t.Fatalf("token %d: %+v, then %+v", i, a, b)
			}
		}
	})
}
