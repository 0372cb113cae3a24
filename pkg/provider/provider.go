// Package provider is the one seam between rag and the servers of its
// models: the Client every model role goes through (embedding, chat,
// re-ranking's judgement, query expansion), the request and reply types it
// takes, and the typed errors any server's client returns (unreachable,
// model missing, an error answer, too long, cut off, ...), which the faces
// map to exit codes, hints and HTTP statuses. Package ollama implements it
// for Ollama, package openai for an OpenAI-compatible server; a Router
// chooses one per call from the model name's provider prefix
// ("local:qwen3"), the default (Ollama) for any other name ("llama3.2:3b").
package provider

import (
	"context"
	"encoding/json"
	"errors"
)

// Client is a model server as rag uses it. Every method takes the model's
// name as the server knows it (a Router strips its provider's prefix).
type Client interface {
	// Embed returns one vector per input, in order.
	Embed(ctx context.Context, model string, inputs []string) ([][]float32, error)
	// EmbedContextLength is the most tokens the model embeds at once; 0
	// when the server does not say.
	EmbedContextLength(ctx context.Context, model string) (int, error)
	// Chat streams the model's answer, calling fn with each piece of
	// text; an answer cut at req.MaxTokens ends with ErrCutOff.
	Chat(ctx context.Context, req ChatRequest, fn func(string) error) error
	// NextToken is the top candidates for the model's next token, with
	// their log probabilities, most likely first.
	NextToken(ctx context.Context, req ChatRequest, top int) ([]TokenProb, error)
	// ContextLength is the model's context length; 0 when the server
	// does not say.
	ContextLength(ctx context.Context, model string) (int, error)
	// Models lists the names of the models the server has.
	Models(ctx context.Context) ([]string, error)
	// Has reports whether the server has the model.
	Has(ctx context.Context, model string) (bool, error)
}

// WholeEmbedder is a Client that can refuse to truncate: an input longer
// than the model's context fails with ErrTooLong.
type WholeEmbedder interface {
	EmbedWhole(ctx context.Context, model string, inputs []string) ([][]float32, error)
}

// Puller is a Client whose server can download models (Ollama).
type Puller interface {
	Pull(ctx context.Context, model string, fn func(PullProgress)) error
}

// Ranker is a Client whose server scores passages against a query in one
// call (a /v1/rerank endpoint). It returns ErrNoRank when the server has
// no such endpoint: the caller judges each passage with NextToken then.
type Ranker interface {
	Rank(ctx context.Context, model, query string, docs []string) ([]float32, error)
}

// ErrNoRank means the server has no re-ranking endpoint.
var ErrNoRank = errors.New("the server has no re-ranking endpoint")

// Role is what rag asked a model to do; it tells the user which setting
// chose the model that is missing.
type Role string

// The roles of models: mostly one an endpoint rag calls.
const (
	RoleEmbed  Role = "embedding" // Embed
	RoleChat   Role = "chat"      // Chat
	RoleJudge  Role = "judge"     // NextToken: re-ranking's yes/no judgement
	RoleExpand Role = "expansion" // Chat, asked to expand a query
)

// Message is one turn of a chat.
type Message struct {
	Role    string
	Content string
}

// ChatRequest is what rag asks of a chat model.
type ChatRequest struct {
	Model    string
	Messages []Message
	// Options are model parameters such as temperature and num_ctx.
	Options map[string]any
	// Format, if set, is a JSON schema the reply must follow (structured
	// outputs: the server constrains sampling to it where it can).
	Format json.RawMessage
	// Role is what the model is asked to do, for errors ("": RoleChat).
	Role Role
	// MaxTokens is the longest answer, 0 for DefaultMaxTokens. The stream
	// is read no further: an answer cut there, by the server or by the
	// client, ends with ErrCutOff.
	MaxTokens int
}

// DefaultMaxTokens bounds an answer when the request names no limit.
const DefaultMaxTokens = 8192

// ErrCutOff ends an answer that reached its MaxTokens: what was streamed
// is the answer, cut off.
var ErrCutOff = errors.New("the answer reached its token limit and was cut off")

// TokenProb is a candidate for the next token and its log probability.
type TokenProb struct {
	Token   string
	Logprob float64
}

// PullProgress is one step of a pull as Ollama reports it: a status such as
// "pulling manifest" or "pulling <digest>", and for a layer its size and
// how much of it is done.
type PullProgress struct {
	Status           string
	Digest           string
	Total, Completed int64
}
