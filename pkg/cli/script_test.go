package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/openaitest"
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

// scriptKey is the API key the scripts' FAKE_OPENAI_AUTH wants.
const scriptKey = "sk-script-right-key"

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
			// OpenAI-compatible servers: one open, one that wants the key
			// scriptKey and repeats what it was sent in its 401s.
			oai := openaitest.Start(embedModel, chatModel)
			env.Defer(oai.Close)
			env.Setenv("FAKE_OPENAI", oai.URL)
			auth := openaitest.Start(embedModel, chatModel)
			auth.RequireKey(scriptKey)
			auth.EchoKey()
			env.Defer(auth.Close)
			env.Setenv("FAKE_OPENAI_AUTH", auth.URL)
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
			// expand FILE replaces $VAR in FILE with the variable's value
			// (a config file naming a fake server's address).
			"expand": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: expand FILE")
				}
				data, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(os.Expand(string(data), ts.Getenv)), 0o644))
			},
			// free-addr VAR sets VAR to a loopback address no one listens
			// on, for rag serve --addr.
			"free-addr": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: free-addr VAR")
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv(args[0], ln.Addr().String())
				ts.Check(ln.Close())
			},
			// http METHOD URL [BODY] sends a request (waiting up to 10s for
			// a server to listen); its body is stdout, and a status other
			// than 200 fails (passes with !).
			"http": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || len(args) > 3 {
					ts.Fatalf("usage: http METHOD URL [BODY]")
				}
				status, body, err := httpRequest(args...)
				ts.Check(err)
				ts.Stdout().Write(body)
				if (status == http.StatusOK) == neg {
					ts.Fatalf("%s %s: status %d: %s", args[0], args[1], status, body)
				}
			},
		},
	})
}

// httpRequest sends method url [body], retrying while nothing listens
// yet, and returns the status and body.
func httpRequest(args ...string) (int, []byte, error) {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var body io.Reader
		if len(args) == 3 {
			body = strings.NewReader(args[2])
		}
		var req *http.Request
		if req, err = http.NewRequest(args[0], args[1], body); err != nil {
			return 0, nil, err
		}
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err != nil {
			continue // not listening yet
		}
		b, err := io.ReadAll(resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		return resp.StatusCode, b, err
	}
	return 0, nil, err
}
