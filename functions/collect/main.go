// Command collect is the sigmawatch collect function: on each scheduled run
// it pulls CloudWatch metrics with GetMetricData and remote-writes every
// datapoint to a Prometheus-compatible store.
//
// With AWS_LAMBDA_RUNTIME_API set it runs as a Lambda function whose event is
// {"time": "<scheduled time>", "jobs": [...]}; without it, it is a CLI over
// the same runOnce that runs once and exits:
//
//	collect -config collect.yaml [-at RFC3339] [-jobs a,b] [-dry-run] [-plan] [-verify-config]
//	collect -import-yace yace-config.yml > collect.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/backend"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/logging"
	"github.com/sigmawatch/sigmawatch/shared/schedule"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "collect:", err)
		os.Exit(1)
	}
}

// cliTimeout bounds a CLI run the way the Lambda timeout bounds an invocation.
const cliTimeout = 5 * time.Minute

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	lambdaMode := getenv("AWS_LAMBDA_RUNTIME_API") != ""
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	fs.SetOutput(stdout)
	configPath := fs.String("config", "", "collect.yaml (default $SIGMAWATCH_CONFIG)")
	atFlag := fs.String("at", "", "scheduled time, RFC 3339 (default now)")
	jobsFlag := fs.String("jobs", "", "comma-separated job names to run (default all)")
	dryRun := fs.Bool("dry-run", false, "print the samples instead of writing them")
	plan := fs.Bool("plan", false, "print what a run would request and cost, write nothing")
	verify := fs.Bool("verify-config", false, "check the config and exit")
	importYACE := fs.String("import-yace", "", "translate a YACE config file into collect.yaml on stdout, and exit")
	if !lambdaMode {
		if err := fs.Parse(args); err != nil {
			return err
		}
	}
	if *importYACE != "" {
		return importYACEConfig(*importYACE, stdout)
	}
	env, envErr := config.FromEnv(getenv)
	logger := logging.New(stdout, env.LogLevel).With("function", "collect")

	path := *configPath
	if path == "" {
		path = env.ConfigPath
	}
	if path == "" {
		return errors.Join(envErr, errors.New("no config: pass -config FILE or set SIGMAWATCH_CONFIG"))
	}
	cfg, cfgErr := config.LoadCollectFile(path)
	if cfgErr == nil && env.RemoteWriteURL != "" {
		cfgErr = cfg.ResolveReceiver(env.RemoteWriteURL)
	}
	if *verify {
		if err := errors.Join(cfgErr, envErr); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s: ok (%d jobs)\n", path, len(cfg.Jobs))
		return err
	}
	if err := errors.Join(cfgErr, envErr); err != nil {
		return err
	}
	at := time.Now().UTC()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return fmt.Errorf("-at: %q is not RFC 3339", *atFlag)
		}
		at = t
	}
	jobNames := schedule.ParseJobs(*jobsFlag)

	awsCfg, err := awsconf.Load(ctx)
	if err != nil {
		return err
	}
	// A job without regions collects where the function runs.
	if err := cfg.DefaultRegions(awsCfg.Region); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	connector := collector.NewAWSConnector(awsCfg)
	if *plan {
		jobs, err := cfg.SelectJobs(jobNames)
		if err != nil {
			return err
		}
		p, err := collector.MakePlan(ctx, cfg, jobs, connector)
		if err != nil {
			return err
		}
		return p.Print(stdout)
	}

	opts := collector.Options{Config: cfg, Connector: connector, Logger: logger, Deployment: env.Deployment}
	if *dryRun {
		opts.Writer = newTextWriter(stdout)
	} else if err := env.Require("SIGMAWATCH_REMOTE_WRITE_URL", "SIGMAWATCH_PROMETHEUS_URL"); err != nil {
		return fmt.Errorf("%w (the collector writes there and reads its progress back; -dry-run needs neither)", err)
	}
	store, err := backend.New(ctx, env, awsCfg, logger)
	if err != nil {
		return err
	}
	if store.Querier != nil {
		opts.Progress = store.Querier
	}
	if opts.Writer == nil {
		opts.Writer = store.Writer
	}
	coll, err := collector.New(opts)
	if err != nil {
		return err
	}
	h := &handler{cfg: cfg, coll: coll, log: logger}
	if lambdaMode {
		lambda.StartWithOptions(h.handle, lambda.WithContext(ctx))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	_, err = h.runOnce(ctx, at, jobNames)
	return err
}
