package cli

import (
	"fmt"
	"strings"

	"github.com/rag-cli/rag/pkg/answer"
)

// writePrompt prints messages as they are sent, a header line each.
func writePrompt(w *strings.Builder, msgs []answer.Message) {
	for _, m := range msgs {
		fmt.Fprintf(w, "--- %s ---\n%s\n", m.Role, strings.TrimRight(m.Content, "\n"))
	}
}
