// Package ollamaserver starts the pinned Ollama server that rag's demo, its
// end-to-end runs and its benchmarks use when no server of the user's is
// wanted: installed by .ci/install-ollama (built once, then reused), run on
// a free loopback port with a private models folder, and stopped by its PID.
// It also creates the tiny model shipped in testdata/models on a server.
package ollamaserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"
)

// Answers reports whether an Ollama server answers within two seconds.
func Answers(ctx context.Context, c *api.Client) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := c.Version(ctx)
	return err == nil
}

// CreateTiny uploads the GGUF file at gguf as a blob and creates the model
// name from it, as `ollama create` does with a Modelfile.
func CreateTiny(ctx context.Context, c *api.Client, gguf, name string) error {
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
		Model:      name,
		Files:      map[string]string{filepath.Base(gguf): digest},
		Template:   "{{ .Prompt }}",
		Parameters: map[string]any{"num_ctx": 512},
	}
	if err := c.Create(ctx, req, func(api.ProgressResponse) error { return nil }); err != nil {
		return fmt.Errorf("create tiny model: %w", err)
	}
	return nil
}

// Server is a running pinned Ollama.
type Server struct {
	logf func(format string, args ...any)
	cmd  *exec.Cmd
	Host *url.URL
	done chan error
}

// Start installs (or reuses) the pinned Ollama with the script install and
// starts it on a free loopback port with its models and log under work;
// logf reports when it starts and stops.
func Start(ctx context.Context, install, work string, logf func(format string, args ...any)) (*Server, error) {
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
	s := &Server{logf: logf, cmd: cmd, Host: &url.URL{Scheme: "http", Host: addr}, done: make(chan error, 1)}
	go func() { s.done <- errors.Join(cmd.Wait(), logFile.Close()) }()
	client := api.NewClient(s.Host, http.DefaultClient)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if Answers(ctx, client) {
			logf("started ollama (pid %d) at %s", cmd.Process.Pid, addr)
			return s, nil
		}
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(work, "ollama.log")) // best effort: only for the message
			return nil, fmt.Errorf("ollama serve exited (%v):\n%s", err, log)
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), s.Stop())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("ollama serve did not answer within 60s"), s.Stop())
		}
	}
}

// Stop ends the server, by its PID: SIGTERM, then SIGKILL.
func (s *Server) Stop() error {
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
	s.logf("stopped ollama (pid %d)", s.cmd.Process.Pid)
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
