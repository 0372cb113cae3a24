package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/rewrite"
)

// kettleIndex indexes two documents, one of which says how long the
// kettle takes, and opens the index for the public.
func kettleIndex(t *testing.T) (*Reader, *[]Event, func() int) {
	t.Helper()
	srv, client := models(t)
	_, dir := indexDocs(t, client, map[string]string{
		"kettle.md": "# Kettle\n\nThe kettle boils water in three minutes when it is full.\n",
		"garden.md": "# Garden\n\nWater the tomatoes every morning in summer.\n",
	})
	var events []Event
	r, err := open(t, client, dir, "", Who{}, &events)
	if err != nil {
		t.Fatal(err)
	}
	return r, &events, srv.ChatRequests
}

// TestAskAnswers: a question the documents answer is answered by the chat
// model from them, streamed, with the source it cites, and the stages are
// told in order.
func TestAskAnswers(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, mode retrieve.Mode) {
		r, events, chats := kettleIndex(t)
		var streamed strings.Builder
		res, err := r.Ask(context.Background(), AskRequest{Question: "How long does the kettle take to boil water?", AskOptions: askOptions(mode)},
			func(s string) error { streamed.WriteString(s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		a := res.Answer
		if res.NoEvidence || a.Abstained || a.Uncited || !strings.Contains(a.Answer, "three minutes") || !strings.HasSuffix(a.Answer, "[1].") {
			t.Fatalf("answer %+v (no evidence %v)", a, res.NoEvidence)
		}
		if streamed.String() != a.Answer {
			t.Errorf("streamed %q, answer %q", streamed.String(), a.Answer)
		}
		if len(a.Sources) == 0 || a.Sources[0].Path != "kettle.md" || !a.Sources[0].Cited {
			t.Errorf("sources %+v", a.Sources)
		}
		if chats() != 1 {
			t.Errorf("%d chat requests, want 1", chats())
		}
		var steps []Step
		for _, ev := range *events {
			if s, ok := ev.(Stage); ok {
				steps = append(steps, s.Step)
			}
		}
		if want := []Step{StepRetrieve, StepDone, StepAnswer, StepDone}; !slices.Equal(steps, want) {
			t.Errorf("stages %v, want %v", steps, want)
		}
	})
}

// TestAskAbstains: a question the documents do not answer is refused
// without calling the chat model, in every mode.
func TestAskAbstains(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, mode retrieve.Mode) {
		r, _, chats := kettleIndex(t)
		res, err := r.Ask(context.Background(), AskRequest{Question: "Who painted the Mona Lisa?", AskOptions: askOptions(mode)}, func(string) error {
			t.Error("a token was streamed")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res.NoEvidence || !res.Answer.Abstained || len(res.Answer.Sources) != 0 {
			t.Errorf("answer %+v (no evidence %v)", res.Answer, res.NoEvidence)
		}
		if chats() != 0 {
			t.Errorf("%d chat requests, want none", chats())
		}
	})
}

// eachMode runs f as a parallel subtest for each retrieval mode.
func eachMode(t *testing.T, f func(t *testing.T, mode retrieve.Mode)) {
	for _, mode := range retrieve.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			f(t, mode)
		})
	}
}

// TestAskDryRun: a dry run says what would be sent and sends nothing.
func TestAskDryRun(t *testing.T) {
	t.Parallel()
	r, _, chats := kettleIndex(t)
	res, err := r.Ask(context.Background(), AskRequest{Question: "How long does the kettle take to boil water?", AskOptions: askOptions(retrieve.Lexical), DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.DryRun == nil || res.Answer != nil || len(res.DryRun.Messages) == 0 || !strings.Contains(res.DryRun.Messages[len(res.DryRun.Messages)-1].Content, "three minutes") {
		t.Errorf("dry run %+v", res.DryRun)
	}
	if chats() != 0 {
		t.Errorf("%d chat requests, want none", chats())
	}
}

// TestAskNoRoom: a context too small for the best source is a NoRoomError.
func TestAskNoRoom(t *testing.T) {
	t.Parallel()
	r, _, _ := kettleIndex(t)
	o := askOptions(retrieve.Lexical)
	o.NumCtx, o.MaxTokens = 300, 200
	_, err := r.Ask(context.Background(), AskRequest{Question: "How long does the kettle take to boil water?", AskOptions: o}, nil)
	var noRoom *NoRoomError
	if !errors.As(err, &noRoom) || noRoom.Budget != 100 {
		t.Errorf("err %v, want a NoRoomError of 100 tokens", err)
	}
}

// TestRewrite: a follow-up is rewritten with the conversation's words; a
// first question is not sent to the model.
func TestRewrite(t *testing.T) {
	t.Parallel()
	r, _, chats := kettleIndex(t)
	ctx := context.Background()
	q, rewritten, err := r.Rewrite(ctx, nil, "How long does the kettle take?", askOptions(retrieve.Lexical))
	if err != nil || rewritten || q != "How long does the kettle take?" || chats() != 0 {
		t.Errorf("first question: %q, %v, %v (%d chats)", q, rewritten, err, chats())
	}
	history := []rewrite.Turn{{Question: "How long does the kettle take?", Answer: "Three minutes [1]."}}
	q, rewritten, err = r.Rewrite(ctx, history, "and when it is full?", askOptions(retrieve.Lexical))
	if err != nil || !rewritten || !strings.Contains(q, "kettle") || chats() != 1 {
		t.Errorf("follow-up: %q, %v, %v (%d chats)", q, rewritten, err, chats())
	}
}
