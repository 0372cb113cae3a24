// Package weaviatetest starts real Weaviate nodes for tests: one node, or
// a cluster on loopback, each on private ports (Weaviate's gRPC and data
// ports listen on every interface whatever --host says, so no well-known
// port is used and tests talk to 127.0.0.1 alone). The server binary is
// RAG_WEAVIATE_BIN (.ci/run sets it from .ci/install-weaviate); a test
// without it is skipped, saying so. Nodes are stopped by PID when the test
// ends.
package weaviatetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvBin names the environment variable of the server binary's path.
const EnvBin = "RAG_WEAVIATE_BIN"

// Bin is the Weaviate server binary; the test is skipped without one.
func Bin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvBin)
	if bin == "" {
		t.Skipf("no Weaviate server: set %s to a weaviate-server binary (.ci/install-weaviate builds one and prints its path)", EnvBin)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no Weaviate server: %s=%s: %v (.ci/install-weaviate builds one)", EnvBin, bin, err)
	}
	return bin
}

// Options shape a cluster.
type Options struct {
	// Nodes is how many nodes (0: one).
	Nodes int
	// APIKey, if set, is the only key the nodes accept; anonymous access
	// is then off.
	APIKey string
	// Env are more settings of every node (NAME=VALUE).
	Env []string
}

// Node is one Weaviate server process.
type Node struct {
	Name string
	// Addr is 127.0.0.1:PORT of its REST API.
	Addr string
	bin  string
	dir  string
	env  []string
	args []string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

// Start starts a cluster of opt.Nodes nodes and waits until every node is
// ready. The nodes are stopped when the test ends.
func Start(t testing.TB, opt Options) []*Node {
	t.Helper()
	bin := Bin(t)
	n := max(opt.Nodes, 1)
	type nodePorts struct{ rest, grpc, gossip, data, raft, raftRPC int }
	ps := make([]nodePorts, n)
	free := &ports{t: t}
	for i := range ps {
		// Weaviate reaches a peer's data and Raft RPC ports as the
		// gossip and Raft ports + 1, whatever their settings say: pairs.
		g, r := free.pair(), free.pair()
		ps[i] = nodePorts{rest: free.one(), grpc: free.one(), gossip: g, data: g + 1, raft: r, raftRPC: r + 1}
	}
	free.release()
	var join []string
	for i := range ps {
		join = append(join, fmt.Sprintf("node%d:%d", i+1, ps[i].raft))
	}
	root := t.TempDir()
	nodes := make([]*Node, n)
	for i, p := range ps {
		name := fmt.Sprintf("node%d", i+1)
		env := []string{
			"CLUSTER_HOSTNAME=" + name, "CLUSTER_IN_LOCALHOST=true",
			"CLUSTER_BIND_ADDR=127.0.0.1", "CLUSTER_ADVERTISE_ADDR=127.0.0.1",
			fmt.Sprintf("CLUSTER_GOSSIP_BIND_PORT=%d", p.gossip), fmt.Sprintf("CLUSTER_DATA_BIND_PORT=%d", p.data),
			fmt.Sprintf("RAFT_PORT=%d", p.raft), fmt.Sprintf("RAFT_INTERNAL_RPC_PORT=%d", p.raftRPC),
			"RAFT_JOIN=" + strings.Join(join, ","), fmt.Sprintf("RAFT_BOOTSTRAP_EXPECT=%d", n),
			fmt.Sprintf("GRPC_PORT=%d", p.grpc), "PERSISTENCE_DATA_PATH=" + filepath.Join(root, name),
			"DEFAULT_VECTORIZER_MODULE=none", "ENABLE_MODULES=", "DISABLE_TELEMETRY=true",
			"PROMETHEUS_MONITORING_ENABLED=false", "LOG_LEVEL=warning", "QUERY_DEFAULTS_LIMIT=25",
			"HOME=" + root, "PATH=" + os.Getenv("PATH"),
		}
		if i > 0 {
			env = append(env, fmt.Sprintf("CLUSTER_JOIN=127.0.0.1:%d", ps[0].gossip))
		}
		env = append(env, opt.Env...)
		if opt.APIKey != "" {
			env = append(env, "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false", "AUTHENTICATION_APIKEY_ENABLED=true",
				"AUTHENTICATION_APIKEY_ALLOWED_KEYS="+opt.APIKey, "AUTHENTICATION_APIKEY_USERS=rag")
		} else {
			env = append(env, "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true")
		}
		nodes[i] = &Node{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", p.rest), bin: bin, dir: filepath.Join(root, name), env: env,
			args: []string{"--host", "127.0.0.1", "--port", fmt.Sprint(p.rest), "--scheme", "http"}}
	}
	for i, nd := range nodes {
		nd.start(t)
		if i == 0 && n > 1 {
			// The others join through its gossip port, and exit when it
			// is not open yet.
			waitPort(t, nd, ps[0].gossip, 3*time.Minute)
		}
	}
	for _, nd := range nodes {
		nd.WaitReady(t, 3*time.Minute)
	}
	return nodes
}

// ports hands out ports free on 127.0.0.1, holding each until release,
// so that no two of one cluster are the same.
type ports struct {
	t    testing.TB
	held []net.Listener
}

func (p *ports) hold(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	p.held = append(p.held, l)
	return true
}

// one is a free port.
func (p *ports) one() int {
	p.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	p.held = append(p.held, l)
	return l.Addr().(*net.TCPAddr).Port
}

// pair is a free port whose successor is free too.
func (p *ports) pair() int {
	p.t.Helper()
	for range 100 {
		port := p.one()
		if port+1 < 65536 && p.hold(port+1) {
			return port
		}
	}
	p.t.Fatal("no two consecutive free ports on 127.0.0.1")
	return 0
}

func (p *ports) release() {
	for _, l := range p.held {
		if err := l.Close(); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (nd *Node) start(t testing.TB) {
	t.Helper()
	if err := os.MkdirAll(nd.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := os.OpenFile(filepath.Join(nd.dir+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nd.bin, nd.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = nd.env, log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.cmd, nd.log, nd.done = cmd, log, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait() // its exit is seen through done; a kill is the usual end
		close(done)
	}(nd.done)
	t.Cleanup(func() { nd.Stop(t) })
}

// waitPort waits until nd listens on port.
func waitPort(t testing.TB, nd *Node, port int, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			if err := c.Close(); err != nil {
				t.Log(err)
			}
			return
		}
		select {
		case <-nd.done:
			t.Fatalf("weaviate %s exited:\n%s", nd.Name, nd.Log())
		default:
		}
	}
	t.Fatalf("weaviate %s does not listen on %d after %v:\n%s", nd.Name, port, timeout, nd.Log())
}

// WaitReady waits until the node answers ready, failing the test (with the
// end of its log) after timeout.
func (nd *Node) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	url := "http://" + nd.Addr + "/v1/.well-known/ready"
	for time.Now().Before(deadline) {
		select {
		case <-nd.done:
			t.Fatalf("weaviate %s exited before it was ready:\n%s", nd.Name, nd.Log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			ok := res.StatusCode == http.StatusOK
			if cerr := res.Body.Close(); cerr != nil {
				t.Log(cerr)
			}
			if ok {
				cancel()
				return
			}
		}
		cancel()
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("weaviate %s not ready after %v:\n%s", nd.Name, timeout, nd.Log())
}

// Log is the end of the node's log.
func (nd *Node) Log() string {
	b, err := os.ReadFile(nd.dir + ".log")
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// Kill kills the node at once (SIGKILL), as a crash would.
func (nd *Node) Kill(t testing.TB) {
	t.Helper()
	if nd.cmd == nil {
		return
	}
	if err := nd.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Log(err)
	}
	<-nd.done
	nd.closeLog(t)
}

// Restart starts a stopped or killed node again on the same ports and
// data, and waits until it is ready.
func (nd *Node) Restart(t testing.TB) {
	t.Helper()
	nd.start(t)
	nd.WaitReady(t, 3*time.Minute)
}

// Stop stops the node by its PID: SIGTERM, then SIGKILL after 20 s.
func (nd *Node) Stop(t testing.TB) {
	if nd.cmd == nil {
		return
	}
	select {
	case <-nd.done:
	default:
		if err := nd.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Log(err)
		}
		select {
		case <-nd.done:
		case <-time.After(20 * time.Second):
			if err := nd.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Log(err)
			}
			<-nd.done
		}
	}
	nd.closeLog(t)
}

func (nd *Node) closeLog(t testing.TB) {
	if nd.log != nil {
		if err := nd.log.Close(); err != nil {
			t.Log(err)
		}
		nd.log = nil
	}
	nd.cmd = nil
}
