package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/engine"
)

// freeAddr is a loopback address no one listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitHTTP waits until url answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			if cerr := resp.Body.Close(); cerr != nil {
				t.Fatal(cerr)
			}
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Error(err)
	}
	return resp.StatusCode, string(b)
}

// TestServeCommand: rag serve answers, and once told to stop answers the
// request in flight before it exits 0.
func TestServeCommand(t *testing.T) {
	h := newHarness(t)
	h.mustIndex()
	addr := freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan result, 1)
	go func() {
		done <- h.run(runOpt{ctx: ctx}, "serve", "--addr", addr, "--mode", "lexical", "--model", chatModel)
	}()
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")

	status, body := post(t, base+"/v1/search", `{"query":"install","k":2}`)
	var rep engine.SearchReport
	if err := json.Unmarshal([]byte(body), &rep); status != http.StatusOK || err != nil || len(rep.Results) == 0 {
		t.Fatalf("search: %d %v %s", status, err, body)
	}

	h.srv.SetChatPace(300*time.Millisecond, 10*time.Millisecond)
	asked := make(chan string, 1)
	go func() {
		status, body := post(t, base+"/v1/ask", `{"question":"How do I install rag on Linux?","stream":"ndjson"}`)
		if status != http.StatusOK {
			t.Errorf("ask: %d %s", status, body)
		}
		asked <- body
	}()
	for deadline := time.Now().Add(10 * time.Second); h.srv.ChatRequests() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ask never reached the model")
		}
	}
	stop() // SIGTERM's and SIGINT's context, as cmd/rag wires them
	body = <-asked
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], `{"type":"result"`) {
		t.Errorf("the ask in flight was cut: %s", body)
	}
	r := <-done
	if r.code != 0 || !strings.Contains(r.stderr, "rag: serving "+h.index+" on http://"+addr+"\n") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestServeCommandRefuses(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--as", "user:bob"}, ExitUsage, "--as and --tenant"},
		{[]string{"serve", "--search-k", "0"}, ExitUsage, "--search-k"},
		{[]string{"serve", "--mode", "fuzzy"}, ExitUsage, "--mode"},
		{[]string{"serve", "--addr", freeAddr(t)}, ExitIndex, "no index"},
	} {
		r := h.run(runOpt{}, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
	}
	h.mustIndex()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ln.Close(); err != nil {
			t.Error(err)
		}
	}()
	r := h.run(runOpt{}, "serve", "--addr", ln.Addr().String())
	if r.code != ExitError || !strings.Contains(r.stderr, "--addr") {
		t.Errorf("a busy address: exit %d: %s", r.code, r.stderr)
	}
}

func TestServeSuggestions(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"serch", []string{"search"}},
		{"serv", []string{"serve"}},
		{"srve", []string{"serve"}},
		{"se", []string{"search", "serve"}},
	} {
		if got := closest(tc.name, []string{"search", "serve"}); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
