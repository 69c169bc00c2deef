package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Moto is a running moto server: CloudWatch, SNS, SQS, STS and Secrets
// Manager on one loopback endpoint.
type Moto struct {
	*Process
	URL    string
	Region string
}

const motoInstall = "moto[server] comes with the machine's Python; elsewhere: pip install 'moto[server]'"

// StartMoto starts one moto server. It is meant for TestMain: one per test
// package, stopped by the returned function.
func StartMoto() (*Moto, func(), error) {
	p, err := start(spec{
		name:    "moto",
		binary:  "moto_server",
		install: motoInstall,
		args:    func(port int) []string { return []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)} },
		ready:   httpOK("/moto-api/"),
	})
	if err != nil {
		return nil, func() {}, err
	}
	m := &Moto{Process: p, URL: "http://" + p.Addr, Region: "us-east-1"}
	return m, p.Stop, nil
}

// StartMotoT starts a moto server for one test.
func StartMotoT(t TB) *Moto {
	t.Helper()
	m, stop, err := StartMoto()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return m
}

// AWSConfig returns an SDK configuration that talks to this moto with static
// test credentials, and reads nothing from the machine's AWS files or IMDS.
//
// The endpoint is set on the returned aws.Config, not as a load option: a
// load option's endpoint wins over aws.Config.BaseEndpoint, so a test that
// copies the config and points it at a FaultProxy would silently bypass the
// proxy.
func (m *Moto) AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(m.Region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithSharedCredentialsFiles([]string{}),
		awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.BaseEndpoint = aws.String(m.URL)
	return cfg, nil
}

// Env returns the environment a child process (a bootstrap under the
// emulator, a CLI run) needs to reach this moto the standard AWS way.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.URL,
		"AWS_REGION=" + m.Region,
		"AWS_DEFAULT_REGION=" + m.Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Reset clears every resource in moto. Tests in one package share a moto, so
// prefer unique names (UniqueName) over resets.
func (m *Moto) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("moto reset: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("moto reset: %s", resp.Status)
	}
	return nil
}

var uniqueCounter atomic.Int64

// UniqueName returns a name unique within the test binary, built from the
// test's name so that leftovers in a shared moto are easy to attribute.
func UniqueName(testName string) string {
	r := strings.NewReplacer("/", "-", " ", "-", "_", "-", "#", "-")
	name := strings.ToLower(r.Replace(testName))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%d", name, uniqueCounter.Add(1))
}

// RunWithMoto is a package's TestMain body: it starts the package's one moto
// into *m, runs the tests, stops moto and returns the exit code (a moto that
// does not start fails the whole package, loudly).
func RunWithMoto(tests interface{ Run() int }, m **Moto) int {
	moto, stop, err := StartMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*m = moto
	defer stop()
	return tests.Run()
}
