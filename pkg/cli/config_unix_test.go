//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/config"
)

// TestConfigNotRegular: a .rag.yaml that is a link to /dev/zero, a named
// pipe or a file over the size limit is refused at once with its error
// and a hint (it once made `rag version` grow 170 MB/s, and a pipe hung
// every command); version and help still work.
func TestConfigNotRegular(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		make func(p string) error
		err  string
	}{
		{"link to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "a character device, not a regular file"},
		{"named pipe", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "a named pipe, not a regular file"},
		{"too large", func(p string) error {
			return os.WriteFile(p, []byte("# "+strings.Repeat("x", config.MaxFileSize)+"\n"), 0o644)
		}, "larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, projDir, sub := configHarness(t, "", "")
			if err := tt.make(filepath.Join(projDir, ".rag.yaml")); err != nil {
				t.Fatal(err)
			}
			run := func(args ...string) result {
				t.Helper()
				done := make(chan result, 1)
				go func() { done <- h.run(runOpt{dir: sub}, args...) }()
				select {
				case r := <-done:
					return r
				case <-time.After(10 * time.Second):
					t.Fatalf("%v did not return in 10s", args)
					return result{}
				}
			}
			if r := run("version"); r.code != 0 || r.stdout != "rag test\n" {
				t.Errorf("version: exit %d, %q, %q", r.code, r.stdout, r.stderr)
			}
			r := run("status")
			if r.code != ExitUsage || !strings.Contains(r.stderr, ".rag.yaml: "+tt.err) ||
				!strings.Contains(r.stderr, "rag: hint: rag reads a config file only when it is a regular file of at most 1 MiB") {
				t.Errorf("status: exit %d, %q", r.code, r.stderr)
			}
		})
	}
}

// TestGroupsFileNotRegular: a groups file that is a named pipe or a link
// to /dev/zero is refused at once (a rag search was once found blocked
// on one after 53 minutes).
func TestGroupsFileNotRegular(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(p string) error{
		"named pipe":        func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"link to /dev/zero": func(p string) error { return os.Symlink("/dev/zero", p) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := filepath.Join(t.TempDir(), "groups.yaml")
			if err := mk(p); err != nil {
				t.Fatal(err)
			}
			h.env["RAG_GROUPS_FILE"] = p
			done := make(chan result, 1)
			go func() { done <- h.run(runOpt{}, "status", "--as", "user:alice") }()
			select {
			case r := <-done:
				if r.code == 0 || !strings.Contains(r.stderr, "groups file: read "+p+": ") || !strings.Contains(r.stderr, "not a regular file") {
					t.Errorf("exit %d, %q", r.code, r.stderr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("rag status did not return in 10s")
			}
		})
	}
}

// TestPromptFileNotRegular: a system prompt or examples file (which a
// project's .rag.yaml can name) that is /dev/zero is refused at once.
func TestPromptFileNotRegular(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs)
	for _, flag := range []string{"--system-prompt", "--examples"} {
		done := make(chan result, 1)
		go func() { done <- h.run(runOpt{}, "ask", "--model", chatModel, flag, "/dev/zero", "where do owls sleep") }()
		select {
		case r := <-done:
			if r.code != ExitUsage || !strings.Contains(r.stderr, "/dev/zero: a character device, not a regular file") {
				t.Errorf("%s /dev/zero: exit %d, %q", flag, r.code, r.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s /dev/zero: rag ask did not return in 10s", flag)
		}
	}
}
