package cli

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/internal/ollamatest"
)

// TestMain lets the scripts in testdata/script run the real rag command
// (this test binary re-executed as "rag"), wired exactly as cmd/rag wires it.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rag": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			dir, err := os.Getwd()
			if err != nil {
				panic(err)
			}
			app := &App{IO: iostreams.System(os.Getenv), Env: os.Getenv, HTTP: &http.Client{}, Now: time.Now, Dir: dir, Version: "script"}
			code := app.Run(ctx, os.Args[1:])
			stop()
			os.Exit(code)
		},
	})
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			srv := ollamatest.Start(embedModel, embedModel2, chatModel)
			env.Defer(srv.Close)
			env.Setenv("OLLAMA_HOST", srv.URL)
			env.Setenv("FAKE_OLLAMA", srv.URL)
			env.Setenv("RAG_INDEX", env.WorkDir+"/index")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// write-hostile FILE writes hostileDoc, whose control
			// characters a txtar file cannot hold readably.
			"write-hostile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: write-hostile FILE")
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(hostileDoc), 0o644))
			},
		},
	})
}
