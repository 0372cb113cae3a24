// Command demo is `make demo`: rag's main job, end to end, on a machine that
// may have nothing but Go. It uses the Ollama that answers at OLLAMA_HOST, or
// else installs the pinned Ollama (.ci/install-ollama) and starts it on a
// private loopback port with a private models folder; it indexes a folder
// into a throwaway index, asks a question, prints the cited answer, and
// stops and removes whatever it started or created.
//
// With the user's server it uses their models when they have them
// (RAG_EMBED_MODEL and RAG_MODEL, else nomic-embed-text and llama3.2), and
// otherwise the tiny model shipped in testdata/models, which proves the path
// works but writes children's stories rather than answers.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/rag-cli/rag/pkg/config"
)

// tinyModel is the name the shipped model gets on the server.
const tinyModel = "rag-demo-stories"

type options struct {
	rag, docs, question, gguf, install string
}

func main() {
	var o options
	flag.StringVar(&o.rag, "rag", "bin/rag", "the rag binary")
	flag.StringVar(&o.docs, "docs", "docs", "the folder to index")
	flag.StringVar(&o.question, "question", "How is the catalog written so that a reader never sees a mix of old and new?", "the question to ask")
	flag.StringVar(&o.gguf, "gguf", "testdata/models/stories260K.gguf", "the tiny model used when the server has no real one")
	flag.StringVar(&o.install, "install", ".ci/install-ollama", "the script that installs the pinned Ollama")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: error: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...) }

func run(ctx context.Context, o options) (err error) {
	host, err := config.OllamaHost(os.Getenv("OLLAMA_HOST"))
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "rag-demo-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(work)) }()

	client := api.NewClient(host, http.DefaultClient)
	embedModel, chatModel := envOr("RAG_EMBED_MODEL", config.DefaultEmbedModel), envOr("RAG_MODEL", config.DefaultChatModel)
	if answers(ctx, client) {
		logf("using the Ollama server at %s", host)
		if !has(ctx, client, embedModel) || !has(ctx, client, chatModel) {
			logf("it lacks %s or %s: using the tiny shipped model instead (answers are children's stories, not facts;", embedModel, chatModel)
			logf("`ollama pull %s && ollama pull %s` for real answers)", embedModel, chatModel)
			if err := createTiny(ctx, client, o.gguf); err != nil {
				return err
			}
			defer func() {
				err = errors.Join(err, client.Delete(context.WithoutCancel(ctx), &api.DeleteRequest{Model: tinyModel}))
			}()
			embedModel, chatModel = tinyModel, tinyModel
		}
	} else {
		logf("no Ollama answers at %s: starting the pinned one", host)
		srv, err := startPinned(ctx, o.install, work)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, srv.stop()) }()
		host, client = srv.host, api.NewClient(srv.host, http.DefaultClient)
		if err := createTiny(ctx, client, o.gguf); err != nil {
			return err
		}
		embedModel, chatModel = tinyModel, tinyModel
	}

	env := append(os.Environ(), "OLLAMA_HOST="+host.String(), "RAG_INDEX="+filepath.Join(work, "index"))
	logf("$ rag index --embed-model %s %s", embedModel, o.docs)
	if err := rag(ctx, env, o.rag, os.Stderr, "index", "--embed-model", embedModel, o.docs); err != nil {
		return err
	}
	logf("$ rag ask --model %s %q", chatModel, o.question)
	args := []string{"ask", "--model", chatModel, o.question}
	if chatModel == tinyModel {
		args = append(args[:3], "--max-tokens", "60", o.question)
	}
	return rag(ctx, env, o.rag, os.Stdout, args...)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// answers reports whether an Ollama server answers within two seconds.
func answers(ctx context.Context, c *api.Client) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := c.Version(ctx)
	return err == nil
}

func has(ctx context.Context, c *api.Client, model string) bool {
	_, err := c.Show(ctx, &api.ShowRequest{Model: model})
	return err == nil
}

// createTiny uploads the shipped GGUF as a blob and creates a model from it,
// as `ollama create` does with a Modelfile.
func createTiny(ctx context.Context, c *api.Client, gguf string) error {
	f, err := os.Open(gguf)
	if err != nil {
		return fmt.Errorf("tiny model: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err == nil {
		// Not f itself: the HTTP client closes a body that is a Closer.
		err = c.CreateBlob(ctx, digest, struct{ io.Reader }{f})
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("upload tiny model: %w", err)
	}
	req := &api.CreateRequest{
		Model:      tinyModel,
		Files:      map[string]string{filepath.Base(gguf): digest},
		Template:   "{{ .Prompt }}",
		Parameters: map[string]any{"num_ctx": 512},
	}
	if err := c.Create(ctx, req, func(api.ProgressResponse) error { return nil }); err != nil {
		return fmt.Errorf("create tiny model: %w", err)
	}
	return nil
}

type server struct {
	cmd  *exec.Cmd
	host *url.URL
	done chan error
}

// startPinned installs (or reuses) the pinned Ollama and starts it on a free
// loopback port with its models under work.
func startPinned(ctx context.Context, install, work string) (*server, error) {
	inst := exec.CommandContext(ctx, "bash", install)
	inst.Stderr = os.Stderr
	out, err := inst.Output()
	if err != nil {
		return nil, fmt.Errorf("install ollama: %w", err)
	}
	bin := strings.TrimSpace(string(out))
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile, err := os.Create(filepath.Join(work, "ollama.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "OLLAMA_HOST="+addr, "OLLAMA_MODELS="+filepath.Join(work, "models"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start ollama: %w", err), logFile.Close())
	}
	s := &server{cmd: cmd, host: &url.URL{Scheme: "http", Host: addr}, done: make(chan error, 1)}
	go func() { s.done <- errors.Join(cmd.Wait(), logFile.Close()) }()
	client := api.NewClient(s.host, http.DefaultClient)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if answers(ctx, client) {
			logf("started ollama (pid %d) at %s", cmd.Process.Pid, addr)
			return s, nil
		}
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(work, "ollama.log")) // best effort: only for the message
			return nil, fmt.Errorf("ollama serve exited (%v):\n%s", err, log)
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), s.stop())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("ollama serve did not answer within 60s"), s.stop())
		}
	}
}

// stop ends the server it started, by its PID: SIGTERM, then SIGKILL.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		<-s.done
	}
	logf("stopped ollama (pid %d)", s.cmd.Process.Pid)
	return nil // a server stopped by a signal exits non-zero: that is expected
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// rag runs the rag binary with the demo's environment; its stdout goes to
// out, its stderr to ours.
func rag(ctx context.Context, env []string, bin string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, nil, out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rag %s: %w", args[0], err)
	}
	return nil
}
