// Command alert is the sigmawatch alert function: on each scheduled run it
// evaluates z-score anomaly rules and threshold rules over PromQL results,
// keeps alert state in the store, and notifies through one SNS topic.
//
// With AWS_LAMBDA_RUNTIME_API set it runs as a Lambda function whose event is
// {"time": "<scheduled time>"} (with optionally "groups": the rule groups
// this schedule runs, see alertengine's parts); without it, it is a CLI over the same
// alertengine.Engine.Tick that runs once and exits:
//
//	alert -config rules.yaml [-at RFC3339] [-groups a,b] [-dry-run] [-verify-config [-parts "a,b;c"]]
//	alert -plan -config rules.yaml [-interval D] [-series N] [-resolution D] [-usd-per-billion-samples F] [-usd-per-billion-ingested F]
//	alert -test-notification
//	alert -backtest -config rules.yaml [-rule NAME] (-csv DIR | -from RFC3339 -to RFC3339) -out DIR
//
// main wires only: environment, rules, AWS config, the store (PromQL and
// remote write), SNS and the optional Alertmanager; the engine does the work.
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

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alertplan"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/logging"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/schedule"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "alert:", err)
		os.Exit(1)
	}
}

const cliTimeout = 5 * time.Minute

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	lambdaMode := getenv("AWS_LAMBDA_RUNTIME_API") != ""
	fs := flag.NewFlagSet("alert", flag.ContinueOnError)
	fs.SetOutput(stdout)
	configPath := fs.String("config", "", "rules.yaml (default $SIGMAWATCH_CONFIG)")
	atFlag := fs.String("at", "", "scheduled time, RFC 3339 (default now)")
	dryRun := fs.Bool("dry-run", false, "print the notifications instead of sending them")
	groups := fs.String("groups", "", "run only these rule groups, comma-separated (a part, as the event's \"groups\")")
	verify := fs.Bool("verify-config", false, "check the rules (and the parts: -parts) and exit")
	partsFlag := fs.String("parts", "", "the deployment's split of the rule groups across schedules, the template's AlertParts (e.g. \"ec2-a,ec2-b;lambda;rds\"): every group in exactly one part, checked with the rules (default $SIGMAWATCH_ALERT_PARTS)")
	testNotify := fs.Bool("test-notification", false, "publish one clearly labelled test notification (email and SMS bodies, severity critical) through SIGMAWATCH_SNS_TOPIC_ARN and exit")
	pf := planFlags{
		enabled:    fs.Bool("plan", false, "print the queries and query samples each rule reads per run and per month, and the store's monthly query cost, next to the naive evaluation's; write nothing"),
		interval:   fs.Duration("interval", 0, "-plan: the schedule's rate (default the rules' settings.interval)"),
		series:     fs.Int("series", 0, "-plan: series each rule's selector reads (default: count them in SIGMAWATCH_PROMETHEUS_URL)"),
		resolution: fs.Duration("resolution", 0, "-plan: the data's point spacing (default: measure it in SIGMAWATCH_PROMETHEUS_URL, else 1m)"),
		price:      fs.Float64("usd-per-billion-samples", alertplan.DefaultUSDPerBillionSamples, "-plan: the store's query price per billion samples (Amazon Managed Service for Prometheus: $0.10)"),
		ingest:     fs.Float64("usd-per-billion-ingested", alertplan.DefaultUSDPerBillionIngested, "-plan: the store's ingestion price per billion samples, for the detector states auto rules write (Amazon Managed Service for Prometheus: $90, its first tier)"),
	}
	bt := backtestFlags{
		enabled: fs.Bool("backtest", false, "replay the rules over history instead of running once (-csv DIR or -from/-to, -out DIR)"),
		rule:    fs.String("rule", "", "backtest only the rule with this alert name"),
		csv:     fs.String("csv", "", "backtest every timestamp,value CSV under this folder"),
		from:    fs.String("from", "", "backtest from this time (RFC 3339), against SIGMAWATCH_PROMETHEUS_URL"),
		to:      fs.String("to", "", "backtest up to this time (RFC 3339)"),
		out:     fs.String("out", "", "backtest output folder (CSV results and PNG charts)"),
	}
	if !lambdaMode {
		if err := fs.Parse(args); err != nil {
			return err
		}
	}
	env, envErr := config.FromEnv(getenv)
	logger := logging.New(stdout, env.LogLevel).With("function", "alert")
	if *testNotify {
		if envErr != nil {
			return envErr
		}
		return sendTestNotification(ctx, env, stdout)
	}
	path := *configPath
	if path == "" {
		path = env.ConfigPath
	}
	if path == "" {
		return errors.Join(envErr, errors.New("no config: pass -config FILE or set SIGMAWATCH_CONFIG"))
	}
	file, cfgErr := rules.LoadFile(path)
	// The schedules' parts against the rules: a group in two parts would be
	// evaluated and notified twice, one in none never. Checked at every
	// start, so a deployed function with a bad split fails every invocation
	// (its errors alarm) instead of running it.
	var partsErr error
	if cfgErr == nil {
		spec, source := env.AlertParts, "SIGMAWATCH_ALERT_PARTS"
		if *partsFlag != "" {
			spec, source = *partsFlag, "-parts"
		}
		partsErr = alertengine.CheckParts(file, source, spec)
	}
	if *verify {
		if err := errors.Join(cfgErr, partsErr, envErr); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s: ok (%d rules)\n", path, len(file.Rules()))
		return err
	}
	if err := errors.Join(cfgErr, envErr); err != nil {
		return err
	}
	if *bt.enabled {
		return runBacktest(ctx, path, bt, env, logger, stdout)
	}
	if *pf.enabled {
		return runPlan(ctx, file, pf, env, logger, stdout)
	}
	if partsErr != nil {
		return partsErr
	}
	at := time.Now().UTC()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return fmt.Errorf("-at: %q is not RFC 3339", *atFlag)
		}
		at = t
	}
	eng, err := newEngine(ctx, file, env, logger, *dryRun, stdout)
	if err != nil {
		return err
	}
	if lambdaMode {
		handle := func(ctx context.Context, ev schedule.Event) (alertengine.Summary, error) {
			if len(ev.Jobs) > 0 {
				// Not every rule: a schedule meant for the collect function.
				return alertengine.Summary{}, errors.New(`event.jobs: the alert function takes "groups" (rule groups); "jobs" selects the collect function's jobs`)
			}
			return eng.TickGroups(ctx, ev.Time, ev.Groups)
		}
		lambda.StartWithOptions(handle, lambda.WithContext(ctx))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	_, err = eng.TickGroups(ctx, at, schedule.ParseJobs(*groups))
	return err
}
