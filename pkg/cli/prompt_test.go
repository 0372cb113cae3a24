package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/chunk"
)

// TestAskPrompt: --dry-run prints the exact messages and sends nothing;
// --show-prompt prints them on stderr and asks; the system prompt and the
// few-shot block are the user's when named; sources that do not fit in the
// model's context are dropped whole, lowest first, and reported.
func TestAskPrompt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	q := "How many times does the client retry a failed upload?"
	sys := filepath.Join(t.TempDir(), "system.txt")
	write(t, sys, "Answer like a pirate, from the sources only.")
	ex := filepath.Join(t.TempDir(), "examples.yaml")
	write(t, ex, "- role: user\n  content: Where is the treasure?\n- role: assistant\n  content: On the island [1].\n")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	write(t, bad, "- role: assistant\n  content: x\n")

	t.Run("dry run sends nothing", func(t *testing.T) {
		chats := h.srv.ChatRequests()
		r := h.run(runOpt{}, "ask", "--model", chatModel, "--dry-run", q)
		if r.code != 0 || h.srv.ChatRequests() != chats {
			t.Fatalf("exit %d, %d chats: %s", r.code, h.srv.ChatRequests()-chats, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "--- system ---\n"+answer.SystemPrompt) || !strings.Contains(r.stdout, "--- assistant ---\n"+answer.NoAnswer) ||
			!strings.Contains(r.stdout, "Question: "+q) || strings.Count(r.stdout, "--- user ---") != 1+len(answer.DefaultExamples)/2 {
			t.Errorf("dry run printed:\n%s", r.stdout)
		}
		r = h.run(runOpt{}, "ask", "--model", chatModel, "--dry-run", "--json", q)
		var rep dryRunReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Messages) != 2+len(answer.DefaultExamples) || len(rep.Sources) == 0 || rep.DroppedSources == nil {
			t.Errorf("dry run json %+v, %v", rep, err)
		}
	})
	t.Run("show prompt, then the answer", func(t *testing.T) {
		r := h.run(runOpt{}, "ask", "--model", chatModel, "--show-prompt", q)
		if r.code != 0 || !strings.Contains(r.stderr, "--- system ---") || !strings.Contains(r.stdout, "[1]") {
			t.Errorf("exit %d: %s / %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("the user's prompt and examples", func(t *testing.T) {
		r := h.run(runOpt{}, "ask", "--model", chatModel, "--system-prompt", sys, "--examples", ex, q)
		msgs := h.srv.LastChat()
		if r.code != 0 || len(msgs) != 4 || msgs[0]["content"] != "Answer like a pirate, from the sources only." || msgs[1]["content"] != "Where is the treasure?" {
			t.Errorf("exit %d, messages %v", r.code, msgs)
		}
		r = h.run(runOpt{}, "ask", "--model", chatModel, "--examples", "none", q)
		if msgs := h.srv.LastChat(); r.code != 0 || len(msgs) != 2 {
			t.Errorf("--examples none: exit %d, messages %v", r.code, msgs)
		}
		r = h.run(runOpt{}, "ask", "--model", chatModel, "--examples", bad, q)
		if r.code != ExitUsage || !strings.Contains(r.stderr, `turn 1: role "assistant", want user`) {
			t.Errorf("bad examples: exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("sources fitted to the model's context", func(t *testing.T) {
		h := newHarness(t)
		h.mustIndex()
		const question = "retry upload install"
		// What the messages take with every source, and with the best alone.
		r := h.run(runOpt{}, "ask", "--json", "--dry-run", "--model", chatModel, "--examples", "none", "-k", "4", question)
		var dry dryRunReport
		if err := json.Unmarshal([]byte(r.stdout), &dry); err != nil || len(dry.Sources) < 2 {
			t.Fatalf("dry run: %v, %d sources: %s", err, len(dry.Sources), r.stdout)
		}
		size := func(sources []answer.Source) int {
			n := 0
			for _, m := range (answer.Prompt{System: answer.SystemPrompt}).Messages(question, sources) {
				n += chunk.EstimateTokens(m.Content) + 4
			}
			return n
		}
		// Room for the best source, not for the next.
		h.srv.SetContextLength(1024 + (size(dry.Sources[:1])+size(dry.Sources[:2]))/2)
		r = h.run(runOpt{}, "ask", "--json", "--model", chatModel, "--max-tokens", "1024", "--examples", "none", "-k", "4", question)
		var rep struct {
			Sources []struct {
				N int `json:"n"`
			} `json:"sources"`
			DroppedSources []struct {
				N    int    `json:"n"`
				Path string `json:"path"`
			} `json:"dropped_sources"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		if len(rep.DroppedSources) == 0 || len(rep.Sources) == 0 || rep.DroppedSources[0].N != len(rep.Sources)+1 {
			t.Errorf("kept %v, dropped %v: want the lowest ranked dropped", rep.Sources, rep.DroppedSources)
		}
		if !strings.Contains(r.stderr, "did not fit in the model's context") {
			t.Errorf("no note of the dropped sources: %s", r.stderr)
		}
		h.srv.SetContextLength(1024 + 50)
		r = h.run(runOpt{}, "ask", "--model", chatModel, "--max-tokens", "1024", q)
		if r.code != ExitError || !strings.Contains(r.stderr, "do not fit") || !strings.Contains(r.stderr, "raise --num-ctx") {
			t.Errorf("no room: exit %d: %s", r.code, r.stderr)
		}
	})
}
