package tokens

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/rag-cli/rag/pkg/access"
)

// The tokens file is one JSON document:
//
//	{"format": "rag-tokens", "version": 1, "tokens": [
//	  {"id": "…", "sha256": "<64 hex>", "principal": "user:ann", "tenant": "…",
//	   "admin": false, "created": "RFC 3339", "expires": "RFC 3339", "revoked": false}]}
//
// A file without the format name is not a tokens file; one of another
// version is refused rather than guessed at, so that a newer rag's file
// is never rewritten by an older one that drops what it does not know.
const (
	formatName    = "rag-tokens"
	formatVersion = 1
)

// record is a token as the file stores it: the token and its secret's hash.
type record struct {
	Token
	Hash [sha256.Size]byte
}

type fileJSON struct {
	Format  string       `json:"format"`
	Version int          `json:"version"`
	Tokens  []recordJSON `json:"tokens"`
}

type recordJSON struct {
	Token
	SHA256 string `json:"sha256"`
}

// versionError is a file of a format version this rag does not read.
type versionError struct{ version int }

func (e *versionError) Error() string {
	return fmt.Sprintf("format version %d, this rag reads version %d (a newer rag wrote it?)", e.version, formatVersion)
}

func encode(rs []record) ([]byte, error) {
	doc := fileJSON{Format: formatName, Version: formatVersion, Tokens: make([]recordJSON, len(rs))}
	for i := range rs {
		doc.Tokens[i] = recordJSON{Token: rs[i].Token, SHA256: hex.EncodeToString(rs[i].Hash[:])}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// decode parses a tokens file, refusing anything but a whole one of this
// version whose every token is well formed: a torn or hand-broken file
// must fail loudly, not lose tokens or let one speak for a bad principal.
func decode(data []byte) ([]record, error) {
	var head struct {
		Format  string `json:"format"`
		Version *int   `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a tokens file (torn, or another kind of file): %w", err)
	}
	if head.Format != formatName || head.Version == nil {
		return nil, errors.New(`not a tokens file: no "format": "rag-tokens" with a version`)
	}
	if *head.Version != formatVersion {
		return nil, &versionError{version: *head.Version}
	}
	var doc fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("malformed tokens file: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("malformed tokens file: data after the document")
	}
	rs := make([]record, len(doc.Tokens))
	seen := make(map[string]bool, len(doc.Tokens))
	for i, t := range doc.Tokens {
		r, err := checkRecord(t)
		if err != nil {
			return nil, fmt.Errorf("token %d: %w", i+1, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("token %d: ID %q is used twice", i+1, r.ID)
		}
		seen[r.ID] = true
		rs[i] = r
	}
	return rs, nil
}

func checkRecord(t recordJSON) (record, error) {
	if len(t.ID) != 2*idBytes || !isHex(t.ID) {
		return record{}, fmt.Errorf("bad ID %q", t.ID)
	}
	r := record{Token: t.Token}
	if len(t.SHA256) != hex.EncodedLen(sha256.Size) || !isHex(t.SHA256) {
		return record{}, fmt.Errorf("%s: bad sha256", t.ID)
	}
	if _, err := hex.Decode(r.Hash[:], []byte(t.SHA256)); err != nil {
		return record{}, fmt.Errorf("%s: bad sha256: %w", t.ID, err)
	}
	if t.Principal == access.Public {
		return record{}, fmt.Errorf("%s: %w", t.ID, ErrPublic)
	}
	if err := access.CheckPrincipal(t.Principal); err != nil {
		return record{}, fmt.Errorf("%s: %w", t.ID, err)
	}
	if t.Tenant != "" {
		if err := access.CheckTenant(t.Tenant); err != nil {
			return record{}, fmt.Errorf("%s: %w", t.ID, err)
		}
	}
	return r, nil
}

// isHex reports whether s is lowercase hexadecimal, as encode writes.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
