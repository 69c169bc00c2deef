package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const rieInstall = "go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d (make test puts it in .tools/bin)"

// Emulator is the AWS Lambda Runtime Interface Emulator running one bootstrap.
type Emulator struct {
	*Process
	URL string
}

var (
	buildMu     sync.Mutex
	builtPaths  = map[string]string{}
	builtErrors = map[string]error{}
)

// BuildBootstrap builds the function in pkg (e.g. "./functions/collect") the
// way the deployment does (-tags lambda.norpc, CGO off), for the machine's own
// architecture, once per test binary. It returns the bootstrap's path.
func BuildBootstrap(t TB, pkg string) string {
	t.Helper()
	return build(t, pkg, "lambda.norpc", "bootstrap")
}

// BuildCLI builds the function in pkg as the CLI users run locally (no
// Lambda build tags: -backtest and its charts are in), once per test binary.
func BuildCLI(t TB, pkg string) string {
	t.Helper()
	return build(t, pkg, "", "cli")
}

func build(t TB, pkg, tags, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "\x00" + tags
	if p, ok := builtPaths[key]; ok {
		return p
	}
	if err, ok := builtErrors[key]; ok {
		t.Fatalf("%v", err)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("%v", err)
	}
	out := filepath.Join(root, "bin", "test", filepath.Base(pkg), name)
	cmd := exec.Command("go", "build", "-tags", tags, "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		builtErrors[key] = fmt.Errorf("testenv: build %s: %w\n%s", pkg, err, b)
		t.Fatalf("%v", builtErrors[key])
	}
	builtPaths[key] = out
	return out
}

// rieBinary finds the emulator in the project's .tools/bin (where make test
// installs it) or on PATH.
func rieBinary() (string, error) {
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return LookBinary("aws-lambda-rie", rieInstall)
}

// StartEmulator runs bootstrap under the emulator with the extra environment
// env (KEY=value). Set AWS_LAMBDA_FUNCTION_TIMEOUT in env to test deadlines.
func StartEmulator(t TB, bootstrap string, env ...string) *Emulator {
	t.Helper()
	bin, err := rieBinary()
	if err != nil {
		t.Fatalf("%v", err)
	}
	p := startT(t, spec{
		name:    "aws-lambda-rie",
		binary:  bin,
		install: rieInstall,
		args: func(port int) []string {
			apiPort, err := FreePort()
			if err != nil {
				apiPort = port + 1
			}
			return []string{
				"--runtime-interface-emulator-address", "127.0.0.1:" + strconv.Itoa(port),
				"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(apiPort),
				bootstrap,
			}
		},
		ready: func(ctx context.Context, addr string) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		},
		env: env,
	})
	return &Emulator{Process: p, URL: "http://" + p.Addr}
}

// Invoke sends one synchronous invocation and returns the response body. The
// emulator answers 200 with an error body when the handler fails; such a body
// is returned as an *InvokeError.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: %s: %s", resp.Status, body)
	}
	if resp.Header.Get("X-Amz-Function-Error") != "" || bytes.Contains(body, []byte(`"errorType"`)) {
		return body, &InvokeError{Body: string(body)}
	}
	return body, nil
}

// InvokeError is a handler failure reported by the emulator.
type InvokeError struct{ Body string }

func (e *InvokeError) Error() string { return "function error: " + e.Body }
