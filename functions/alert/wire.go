package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/backend"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// newEngine wires the engine from the environment: the store (PromQL and
// remote write through one auth chain), SNS, and the optional Alertmanager.
// -dry-run prints notifications and state instead; it still queries
// Prometheus, which is what it evaluates the rules against.
func newEngine(ctx context.Context, file *rules.File, env config.Env, logger *slog.Logger, dryRun bool, stdout io.Writer) (*alertengine.Engine, error) {
	required := []string{"SIGMAWATCH_PROMETHEUS_URL"}
	if !dryRun {
		required = append(required, "SIGMAWATCH_REMOTE_WRITE_URL", "SIGMAWATCH_SNS_TOPIC_ARN")
	}
	if err := env.Require(required...); err != nil {
		return nil, fmt.Errorf("%w (-dry-run needs only SIGMAWATCH_PROMETHEUS_URL)", err)
	}
	awsCfg, err := awsconf.Load(ctx)
	if err != nil {
		return nil, err
	}
	store, err := backend.New(ctx, env, awsCfg, logger)
	if err != nil {
		return nil, err
	}
	o := alertengine.Options{Rules: file, Logger: logger, Query: store.Querier, Deployment: env.Deployment, ExternalURL: env.ExternalURL, NoLease: dryRun, FullReplay: dryRun}
	if dryRun {
		o.Write = remotewrite.NewTextWriter(stdout)
		o.Publish = notify.NewText(stdout)
	} else {
		o.Write = store.Writer
		pub, err := notify.NewSNS(sns.NewFromConfig(awsCfg), env.SNSTopicARN)
		if err != nil {
			return nil, err
		}
		o.Publish = pub
	}
	if env.AlertmanagerURL != "" && !dryRun {
		// The same auth chain as the store: Mimir's and AMP's Alertmanager
		// want the tenant header, the bearer token or the SigV4 signature.
		am, err := notify.NewAlertmanager(env.AlertmanagerURL, &http.Client{Transport: store.Transport, Timeout: 30 * time.Second})
		if err != nil {
			return nil, err
		}
		o.Sink = am
	}
	return alertengine.New(o)
}

// sendTestNotification publishes notify.TestMessage through the topic, so
// a new deployment can prove that email and SMS reach their people.
func sendTestNotification(ctx context.Context, env config.Env, stdout io.Writer) error {
	if err := env.Require("SIGMAWATCH_SNS_TOPIC_ARN"); err != nil {
		return err
	}
	awsCfg, err := awsconf.Load(ctx)
	if err != nil {
		return err
	}
	pub, err := notify.NewSNS(sns.NewFromConfig(awsCfg), env.SNSTopicARN)
	if err != nil {
		return err
	}
	m := notify.TestMessage(env.Deployment, time.Now())
	if err := pub.Publish(ctx, m); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "published a test notification to %s (notification id %s)\nSubject: %s\nSMS: %s\n", env.SNSTopicARN, m.ID, notify.Subject(m), notify.SMS(m))
	return err
}
