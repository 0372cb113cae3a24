package ollama

import "github.com/rag-cli/rag/pkg/provider"

// The types of requests, replies and errors are package provider's, which
// every model server's client shares; these names keep the callers that
// name them through this package as they were.
type (
	Role               = provider.Role
	Message            = provider.Message
	ChatRequest        = provider.ChatRequest
	TokenProb          = provider.TokenProb
	PullProgress       = provider.PullProgress
	UnreachableError   = provider.UnreachableError
	ModelNotFoundError = provider.ModelNotFoundError
	StatusError        = provider.StatusError
	ReplyTooLargeError = provider.ReplyTooLargeError
	TimeoutError       = provider.TimeoutError
	DroppedError       = provider.DroppedError
	PullError          = provider.PullError
)

// The roles of models.
const (
	RoleEmbed  = provider.RoleEmbed
	RoleChat   = provider.RoleChat
	RoleJudge  = provider.RoleJudge
	RoleExpand = provider.RoleExpand
)

// DefaultMaxTokens bounds an answer when the request names no limit.
const DefaultMaxTokens = provider.DefaultMaxTokens

// Errors of a call.
var (
	ErrCutOff  = provider.ErrCutOff
	ErrTooLong = provider.ErrTooLong
)

var (
	_ provider.Client        = (*Client)(nil)
	_ provider.WholeEmbedder = (*Client)(nil)
	_ provider.Puller        = (*Client)(nil)
)
