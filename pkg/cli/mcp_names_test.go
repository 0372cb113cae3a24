package cli

import "github.com/rag-cli/rag/internal/mcpserver"

// The names the tests of rag mcp use for what moved to internal/mcpserver.
type mcpStatus = mcpserver.Status

const mcpQuoted = mcpserver.Quoted
