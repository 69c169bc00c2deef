package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TB is the part of testing.TB the helpers use, so TestMain can use them too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Process is a stand-in server started by a helper.
type Process struct {
	Name string
	Addr string // host:port it listens on
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Output returns what the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Stop kills the process by its PID and waits for it.
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Keep memory bounded for chatty servers: the tail is what explains a failure.
	if s.b.Len() > 4<<20 {
		tail := append([]byte(nil), s.b.Bytes()[s.b.Len()-(1<<20):]...)
		s.b.Reset()
		s.b.Write(tail)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// spec describes how to start one kind of stand-in.
type spec struct {
	name    string
	binary  string
	install string                  // how a user gets the binary
	args    func(port int) []string // command line for a given port
	ready   func(ctx context.Context, addr string) error
	env     []string
	dir     string // working directory; empty: the test's (the package's)
	timeout time.Duration
}

// LookBinary finds a stand-in's binary or explains how to install it.
func LookBinary(name, install string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("testenv: %s not found on PATH; `make test` installs it (%s)", name, install)
	}
	return p, nil
}

// start launches s on a free port, retrying with another port when the chosen
// one turns out to be taken or the process dies before it is ready.
func start(s spec) (*Process, error) {
	bin, err := LookBinary(s.binary, s.install)
	if err != nil {
		return nil, err
	}
	timeout := s.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("testenv: %s: free port: %w", s.name, err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		out := &syncBuffer{}
		cmd := exec.Command(bin, s.args(port)...)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(), s.env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("testenv: start %s: %w", s.name, err)
		}
		p := &Process{Name: s.name, Addr: addr, cmd: cmd, out: out, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(p.done) }()
		if err := waitReady(p, s.ready, timeout); err != nil {
			p.Stop()
			lastErr = fmt.Errorf("testenv: %s on %s: %w\n--- output ---\n%s", s.name, addr, err, tail(out.String(), 4000))
			if strings.Contains(out.String(), "address already in use") || strings.Contains(out.String(), "Address already in use") {
				continue
			}
			return nil, lastErr
		}
		return p, nil
	}
	return nil, lastErr
}

func waitReady(p *Process, ready func(ctx context.Context, addr string) error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	for {
		select {
		case <-p.done:
			return errors.New("exited before it was ready")
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		err = ready(rctx, p.Addr)
		rcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-p.done:
			return errors.New("exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpOK is a readiness check: GET path answers 2xx.
func httpOK(path string) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return nil
	}
}

// startT starts s for one test and stops it at the test's cleanup.
func startT(t TB, s spec) *Process {
	t.Helper()
	p, err := start(s)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// RepoRoot returns the directory that holds go.mod, walking up from the
// working directory (go test runs in the package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}
