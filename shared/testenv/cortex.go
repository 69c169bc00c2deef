package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CortexVersion is the Cortex release make test builds: the engine inside
// Amazon Managed Service for Prometheus.
const CortexVersion = "v1.21.1"

const cortexInstall = "make deps builds it from the Go module proxy into .tools/bin/cortex (once, 4-6 minutes): " +
	"infra/scripts/install-deps.sh"

// CortexOptions configure StartCortex.
type CortexOptions struct {
	// MaxGlobalSeriesPerUser is the tenant's series limit
	// (limits.max_global_series_per_user); 0 leaves Cortex's default, none.
	// Over the limit Cortex stores the series it can and answers 400 for the
	// request: the behaviour of AMP and Mimir under a per-tenant limit.
	MaxGlobalSeriesPerUser int
	// Tenant, when set, turns multi-tenancy on (auth_enabled: true): every
	// request must then carry the header X-Scope-OrgID: Tenant, as AMP's
	// SigV4 identity and a Mimir gateway supply. Empty runs single-tenant,
	// where Cortex files everything under the tenant "fake".
	Tenant string
}

// TenantHeader is the header that names the tenant of a Cortex or Mimir request.
const TenantHeader = "X-Scope-OrgID"

// StartCortex starts a fresh single-process Cortex (own directories, loopback
// only) with the blocks storage on the local filesystem. Its Receiver has
// Kind "cortex", RemoteWriteURL …/api/v1/push and URL …/prometheus (the
// PromQL API base); when opts.Tenant is set, Receiver.Tenant holds it and
// callers send it in TenantHeader.
//
// Cortex stores a request series by series: a 400 does not mean that nothing
// of the request was stored.
func StartCortex(t TB, opts CortexOptions) *Receiver {
	t.Helper()
	bin, err := cortexBinary()
	if err != nil {
		t.Fatalf("%v", err)
	}
	dir := t.TempDir()
	for _, sub := range []string{"tsdb", "tsdb-sync", "blocks", "compactor", "rules", "rules-tmp", "alerts", "alertmanager"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	cfgPath := filepath.Join(dir, "cortex.yaml")
	if err := os.WriteFile(cfgPath, []byte(cortexConfig(dir, opts)), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p := startT(t, spec{
		name:    "cortex",
		binary:  bin,
		install: cortexInstall,
		args: func(port int) []string {
			grpcPort, err := FreePort()
			if err != nil {
				grpcPort = port + 1
			}
			// Every address Cortex would otherwise discover from a network
			// interface is pinned to loopback: an advertised non-loopback
			// address makes every push a 500 on a machine without one.
			return []string{
				"-config.file=" + cfgPath,
				"-server.http-listen-address=127.0.0.1",
				"-server.http-listen-port=" + strconv.Itoa(port),
				"-server.grpc-listen-address=127.0.0.1",
				"-server.grpc-listen-port=" + strconv.Itoa(grpcPort),
				"-ingester.lifecycler.addr=127.0.0.1",
				"-distributor.ring.instance-addr=127.0.0.1",
				"-store-gateway.sharding-ring.instance-addr=127.0.0.1",
				"-compactor.ring.instance-addr=127.0.0.1",
				"-memberlist.bind-addr=127.0.0.1",
				"-ruler.ring.instance-addr=127.0.0.1",
				"-alertmanager.sharding-ring.instance-addr=127.0.0.1",
			}
		},
		// Cortex writes some state relative to its working directory.
		dir:     dir,
		ready:   httpOK("/ready"),
		timeout: 2 * time.Minute,
	})
	base := "http://" + p.Addr
	return &Receiver{
		Process:        p,
		URL:            base + "/prometheus",
		RemoteWriteURL: base + "/api/v1/push",
		DataDir:        dir,
		Kind:           "cortex",
		Tenant:         opts.Tenant,
	}
}

// cortexConfig is the module's single-process blocks example
// (docs/configuration/single-process-config-blocks-local.yaml) reduced to
// with every path in dir and no listener outside loopback.
func cortexConfig(dir string, opts CortexOptions) string {
	limits := ""
	if opts.MaxGlobalSeriesPerUser > 0 {
		limits = fmt.Sprintf("limits:\n  max_global_series_per_user: %d\n", opts.MaxGlobalSeriesPerUser)
	}
	return fmt.Sprintf(`auth_enabled: %t
server:
  log_level: warn
  grpc_server_max_recv_msg_size: 104857600
  grpc_server_max_send_msg_size: 104857600
querier:
  active_query_tracker_dir: %[2]s/active-query-tracker
distributor:
  shard_by_all_labels: true
  pool:
    health_check_ingesters: true
ingester:
  lifecycler:
    min_ready_duration: 0s
    final_sleep: 0s
    num_tokens: 512
    ring:
      kvstore:
        store: inmemory
      replication_factor: 1
blocks_storage:
  backend: filesystem
  tsdb:
    dir: %[2]s/tsdb
  bucket_store:
    sync_dir: %[2]s/tsdb-sync
  filesystem:
    dir: %[2]s/blocks
compactor:
  data_dir: %[2]s/compactor
  sharding_ring:
    kvstore:
      store: inmemory
store_gateway:
  sharding_ring:
    kvstore:
      store: inmemory
    replication_factor: 1
ruler:
  rule_path: %[2]s/rules-tmp
ruler_storage:
  backend: local
  local:
    directory: %[2]s/rules
alertmanager:
  external_url: http://127.0.0.1/alertmanager
  data_dir: %[2]s/alertmanager
  # No cluster listener: it would bind 0.0.0.0:9094 in every instance.
  cluster:
    listen_address: ""
alertmanager_storage:
  backend: local
  local:
    path: %[2]s/alerts
%[3]s`, opts.Tenant != "", dir, limits)
}

// cortexBinary finds Cortex in the project's .tools/bin (where make test
// builds it) or on PATH.
func cortexBinary() (string, error) {
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", "cortex")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return LookBinary("cortex", cortexInstall)
}
