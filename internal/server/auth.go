package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/engine"
)

// TokenLookup finds the token of a secret (internal/tokens' File, adapted
// by the face that wires them): the principal, tenant and admin right it
// carries and its id; an unknown, expired or revoked secret is an error.
type TokenLookup interface {
	Lookup(secret string, now time.Time) (principal, tenant string, admin bool, id string, err error)
}

// ErrTokenRequired is a request without a token to a server that
// requires one.
var ErrTokenRequired = errors.New("a token is required: send Authorization: Bearer TOKEN")

// errNoTokens is a token sent to a server that has no tokens file.
var errNoTokens = errors.New("this server knows no tokens (rag serve --tokens FILE names them)")

// errBadToken is every token the server does not accept: which of
// unknown, expired or revoked it is is not the client's to learn.
var errBadToken = errors.New("the token is not valid: unknown, expired or revoked")

// BearerAuth is the Authenticator of tokens sent as Authorization: Bearer
// SECRET, looked up in tokens (nil: none is valid). A request without
// one is public, or refused when require is set; a wrong token is
// refused, never served as public. The secret is never in an error.
func BearerAuth(tokens TokenLookup, require bool, now func() time.Time) Authenticator {
	if now == nil {
		now = time.Now
	}
	return func(r *http.Request) (Caller, error) {
		h := r.Header.Values("Authorization")
		if len(h) == 0 {
			if require {
				return Caller{}, ErrTokenRequired
			}
			return Caller{}, nil
		}
		scheme, secret, ok := strings.Cut(h[0], " ")
		if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return Caller{}, errors.New("the Authorization header must be one Bearer TOKEN")
		}
		if tokens == nil {
			return Caller{}, errNoTokens
		}
		principal, tenant, admin, id, err := tokens.Lookup(strings.TrimSpace(secret), now())
		if err != nil {
			return Caller{}, errBadToken
		}
		return Caller{Who: engine.Who{As: PrincipalAs(principal), Tenant: tenant}, Admin: admin, TokenID: id}, nil
	}
}

// PrincipalAs is a token's principal as the engine names who asks: a
// bare name is a user (alice: user:alice); user:, group: and public are
// kept.
func PrincipalAs(p string) string {
	if p == "" || p == access.Public || strings.Contains(p, ":") {
		return p
	}
	return access.UserPrefix + p
}

// CallerWho is who asks for a handler mounted beside the routes (MCP at
// /mcp): the caller the token check put in r, never anything the client
// sends.
func CallerWho(r *http.Request) (engine.Who, error) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		return engine.Who{}, ErrTokenRequired
	}
	return c.Who, nil
}

// AdminOnly serves h to admin callers alone (403 otherwise), as
// POST /v1/index is: for a mount such as /metrics, which counts the whole
// index and every caller's requests, which no tenant's caller may read.
func AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !caller(r).Admin {
			writeJSON(w, http.StatusForbidden, errorBody{Error: errorObject{Code: "forbidden",
				Message: r.URL.Path + " takes an admin token", Hint: "rag token add NAME --admin makes one"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}
