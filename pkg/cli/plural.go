package cli

import "github.com/rag-cli/rag/internal/english"

// plural and howMany are english.Plural and english.HowMany, short for
// the many messages of this package.
var (
	plural  = english.Plural
	howMany = english.HowMany
)
