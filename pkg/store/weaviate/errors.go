package weaviate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/rag-cli/rag/pkg/store"
)

// fail turns an error of the client into rag's: a server that cannot be
// reached (store.UnavailableError), credentials refused
// (store.UnauthorizedError), else what was done and what the server said.
func (s *Store) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var we *fault.WeaviateClientError
	if errors.As(err, &we) {
		switch {
		case we.StatusCode == http.StatusUnauthorized || we.StatusCode == http.StatusForbidden:
			return &store.UnauthorizedError{Addr: s.cfg.Host, Status: we.StatusCode, KeySet: s.cfg.APIKey != ""}
		case we.DerivedFromError != nil && unreachable(we.DerivedFromError):
			return &store.UnavailableError{Addr: s.cfg.Host, Err: rootCause(we.DerivedFromError)}
		case we.IsUnexpectedStatusCode:
			return fmt.Errorf("weaviate: %s: HTTP %d: %s", what, we.StatusCode, strings.TrimSpace(we.Msg))
		}
	}
	if unreachable(err) {
		return &store.UnavailableError{Addr: s.cfg.Host, Err: rootCause(err)}
	}
	return fmt.Errorf("weaviate: %s: %w", what, err)
}

// unreachable reports whether err is a failure to talk to the server at
// all (refused, reset, unknown host, timed out), not an answer.
func unreachable(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) || errors.As(err, &ue)
}

// rootCause is the innermost error of a chain of wrapped ones, which says
// "connection refused" without the URL and method around it.
func rootCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe
	}
	return err
}

// batchErrors is the first per-object error of a batch write: Weaviate
// answers a batch with 200 and reports each object's failure (a replica
// that did not acknowledge at the consistency level asked) in its
// result, which the client does not turn into an error.
func batchErrors(res []models.ObjectsGetResponse) error {
	var msgs []string
	for _, r := range res {
		if r.Result == nil || r.Result.Errors == nil {
			continue
		}
		for _, e := range r.Result.Errors.Error {
			if e != nil {
				msgs = append(msgs, e.Message)
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d objects not written: %s", len(msgs), len(res), msgs[0])
}

// gqlErrors is the error of a GraphQL answer's errors, if any.
func gqlErrors(res *models.GraphQLResponse) error {
	if res == nil {
		return errors.New("no answer")
	}
	if len(res.Errors) == 0 {
		return nil
	}
	var msgs []string
	for _, e := range res.Errors {
		if e != nil {
			msgs = append(msgs, e.Message)
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}
