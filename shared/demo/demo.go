package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/chart"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// Options configure a demo run.
type Options struct {
	// Out receives the progress and the final report.
	Out io.Writer
	// Root is the repository root: the example configs are read from
	// infra/examples there.
	Root string
	// WorkDir holds the stand-ins' data (git-ignored .demo/).
	WorkDir string
	// OutDir receives the charts (git-ignored out/demo/).
	OutDir string
	// CollectBootstrap and AlertBootstrap are the built functions.
	CollectBootstrap, AlertBootstrap string
	// End is the last simulated scheduled time (default: now, to 5 minutes).
	End time.Time
	// Live is the span that goes through moto and the collect function
	// (default DefaultLive); History the span before it written straight
	// into Prometheus (default 44h).
	Live, History time.Duration
	// Hold, if set, is called with the Prometheus URL before the stand-ins
	// stop (make demo DEMO_KEEP=1 waits there for Ctrl-C).
	Hold func(prometheusURL string)
}

// Notification is one message that reached an SQS subscription of the topic.
type Notification struct {
	// Subscriber is "email" (every alert) or "sms" (the SMS filter policy:
	// severity=critical only).
	Subscriber string
	Subject    string
	Body       string
	Attributes map[string]string
}

// Result is what a demo run produced.
type Result struct {
	PrometheusURL string
	CollectRuns   int
	AlertRuns     int
	Samples       int
	Notifications []Notification
	Charts        []string
}

// The demo's CloudWatch world. The anomalous series is the ALB's 5xx count
// (the example rules page on it: severity critical, so email and SMS); the
// noisy instance must not page.
const (
	account      = "123456789012"
	region       = "us-east-1"
	loadBalancer = "app/demo-shop/50dc6c495c0c9188"
	step         = 5 * time.Minute
	// burstAt and burstFor place the 5xx burst inside the live span.
	burstAt  = 30 * time.Minute
	burstFor = 30 * time.Minute
)

// DefaultLive is the live span of a demo: the example rules fire about 15
// minutes after the burst starts (45 minutes in) and resolve about 20
// minutes after it ends (1h20m in; measured), so two hours show both with
// 40 minutes to spare.
const DefaultLive = 2 * time.Hour

// NextStep is the line the demo ends with: the first deploy, through the
// make target that keeps the user's answers (email, phone number) out of
// the tracked samconfig.toml.
const NextStep = "Next: deploy it to your account with `make deploy-guided` (README → Deploy)."

type series struct {
	namespace, metric string
	dims              map[string]string
	stats             []string
	job               string
	value             func(t time.Time, rng *rand.Rand) float64
}

func world(live0 time.Time) []series {
	daily := func(t time.Time, base, amp float64) float64 {
		h := float64(t.Hour()) + float64(t.Minute())/60
		return base + amp*math.Sin((h-9)/24*2*math.Pi)
	}
	cpu := func(id string, base, amp, noise float64) series {
		return series{namespace: "AWS/EC2", metric: "CPUUtilization", dims: map[string]string{"InstanceId": id}, stats: []string{"Average", "Maximum"}, job: "ec2",
			value: func(t time.Time, rng *rand.Rand) float64 {
				return math.Max(0, daily(t, base, amp)+rng.NormFloat64()*noise)
			}}
	}
	net := func(id string, base float64) series {
		return series{namespace: "AWS/EC2", metric: "NetworkIn", dims: map[string]string{"InstanceId": id}, stats: []string{"Sum"}, job: "ec2",
			value: func(t time.Time, rng *rand.Rand) float64 {
				return math.Round(math.Max(0, daily(t, base, base*0.4)+rng.NormFloat64()*base*0.05))
			}}
	}
	return []series{
		cpu("i-0web1a2b3c4d5e6f7", 38, 7, 3),
		cpu("i-0web2b3c4d5e6f7a8", 35, 6, 3),
		cpu("i-0batch9c8d7e6f5a4", 55, 0, 9), // plain noise: must never page
		net("i-0web1a2b3c4d5e6f7", 4.2e7),
		net("i-0web2b3c4d5e6f7a8", 3.9e7),
		{namespace: "AWS/ApplicationELB", metric: "RequestCount", dims: map[string]string{"LoadBalancer": loadBalancer}, stats: []string{"Sum"}, job: "alb",
			value: func(t time.Time, rng *rand.Rand) float64 {
				return math.Round(math.Max(0, daily(t, 9000, 5500)+rng.NormFloat64()*300))
			}},
		{namespace: "AWS/ApplicationELB", metric: "HTTPCode_Target_5XX_Count", dims: map[string]string{"LoadBalancer": loadBalancer}, stats: []string{"Sum"}, job: "alb",
			value: func(t time.Time, rng *rand.Rand) float64 {
				v := math.Max(0, 3+rng.NormFloat64()*1.6)
				if !t.Before(live0.Add(burstAt)) && t.Before(live0.Add(burstAt+burstFor)) {
					v += 140 + rng.NormFloat64()*15 // a bad deploy: 5xx burst
				}
				return math.Round(v)
			}},
	}
}

// fatal is how the stand-in helpers (written for tests) report failure here.
type runner struct {
	dir      string
	mu       sync.Mutex
	cleanups []func()
	err      error
}

func (r *runner) Helper()                   {}
func (r *runner) Logf(string, ...any)       {}
func (r *runner) Cleanup(f func())          { r.mu.Lock(); r.cleanups = append(r.cleanups, f); r.mu.Unlock() }
func (r *runner) Fatalf(f string, a ...any) { r.err = fmt.Errorf(f, a...); runtime.Goexit() }
func (r *runner) TempDir() string {
	d, err := os.MkdirTemp(r.dir, "standin-")
	if err != nil {
		r.Fatalf("demo: %v", err)
	}
	return d
}

// Run runs the demo and stops everything it started before it returns,
// also when ctx is cancelled (Ctrl-C) or a step fails.
func Run(ctx context.Context, opts Options) (Result, error) {
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return Result{}, err
	}
	r := &runner{dir: opts.WorkDir}
	var res Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(ctx, r, opts, &res); err != nil {
			r.err = err
		}
	}()
	<-done
	r.mu.Lock()
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.mu.Unlock()
	if r.err == nil && ctx.Err() != nil {
		r.err = ctx.Err()
	}
	return res, r.err
}

func run(ctx context.Context, r *runner, opts Options, res *Result) error {
	out := &printer{w: opts.Out}
	live, history := opts.Live, opts.History
	if live == 0 {
		live = DefaultLive
	}
	if history == 0 {
		history = 44 * time.Hour
	}
	end := opts.End
	if end.IsZero() {
		end = time.Now().UTC()
	}
	end = end.Truncate(step).UTC()
	live0 := end.Add(-live)
	hist0 := live0.Add(-history)
	stage := func(format string, a ...any) { out.printf("▶ "+format+"\n", a...) }

	stage("starting moto (CloudWatch, SNS, SQS) and Prometheus on loopback")
	moto, stopMoto, err := testenv.StartMoto()
	if err != nil {
		return err
	}
	r.Cleanup(stopMoto)
	prom := testenv.StartPrometheus(r, testenv.PrometheusOptions{OutOfOrderWindow: 2 * time.Hour})
	res.PrometheusURL = prom.URL
	out.printf("  moto %s · Prometheus %s (out-of-order window 2h, as the README recommends)\n", moto.URL, prom.URL)

	awsCfg, err := moto.AWSConfig(ctx)
	if err != nil {
		return err
	}
	topicARN, queues, err := subscribe(ctx, awsCfg)
	if err != nil {
		return err
	}

	stage("generating %d series: %s of history straight into Prometheus, the last %s into CloudWatch", len(world(live0)), history, live)
	rng := rand.New(rand.NewPCG(7, 11))
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	if err != nil {
		return err
	}
	var hist []remotewrite.Series
	cw := awsconf.CloudWatch(awsCfg)
	for _, s := range world(live0) {
		var samples []remotewrite.Sample
		var data []cwtypes.MetricDatum
		for t := hist0; t.Before(end); t = t.Add(step) {
			v := s.value(t, rng)
			if t.Before(live0) {
				samples = append(samples, remotewrite.Sample{T: t.UnixMilli(), V: v})
				continue
			}
			datum := cwtypes.MetricDatum{MetricName: aws.String(s.metric), Timestamp: aws.Time(t), Value: aws.Float64(v)}
			for k, dv := range s.dims {
				datum.Dimensions = append(datum.Dimensions, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(dv)})
			}
			data = append(data, datum)
		}
		for _, stat := range s.stats {
			labels := []remotewrite.Label{
				{Name: "__name__", Value: naming.MetricName(s.namespace, s.metric, stat)},
				{Name: "job", Value: s.job}, {Name: "region", Value: region}, {Name: "account_id", Value: account}, {Name: "name", Value: "global"},
			}
			for k, dv := range s.dims {
				labels = append(labels, remotewrite.Label{Name: naming.DimensionLabel(k), Value: dv})
			}
			hist = append(hist, remotewrite.Series{Labels: labels, Samples: samples})
		}
		for len(data) > 0 {
			n := min(len(data), 500)
			if _, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(s.namespace), MetricData: data[:n]}); err != nil {
				return fmt.Errorf("seed CloudWatch: %w", err)
			}
			data = data[n:]
		}
	}
	if err := w.Write(ctx, hist); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	histSamples := 0
	for _, s := range hist {
		histSamples += len(s.Samples)
	}
	out.printf("  %d history samples written through the remote-write sender\n", histSamples)

	stage("running both bootstraps under the Lambda Runtime Interface Emulator")
	common := append(moto.Env(),
		"SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
		"SIGMAWATCH_PROMETHEUS_URL="+prom.URL,
		"SIGMAWATCH_LOG_LEVEL=warn",
	)
	collectRIE := testenv.StartEmulator(r, opts.CollectBootstrap, append(common, "SIGMAWATCH_CONFIG="+filepath.Join(opts.Root, "infra", "examples", "collect.yaml"))...)
	alertRIE := testenv.StartEmulator(r, opts.AlertBootstrap, append(common,
		"SIGMAWATCH_CONFIG="+filepath.Join(opts.Root, "infra", "examples", "rules.yaml"),
		"SIGMAWATCH_SNS_TOPIC_ARN="+topicARN,
		"SIGMAWATCH_EXTERNAL_URL="+prom.URL,
	)...)

	stage("simulating %s of schedules: collect every 5m, alert every 1m (EventBridge Scheduler events)", live)
	lastReport := live0
	for at := live0.Add(15 * time.Minute); !at.After(end); at = at.Add(time.Minute) {
		if err := ctx.Err(); err != nil {
			return err
		}
		event := fmt.Sprintf(`{"time":%q}`, at.Format(time.RFC3339))
		if at.Sub(live0)%step == 0 {
			body, err := collectRIE.Invoke(ctx, []byte(event))
			if err != nil {
				return fmt.Errorf("collect at %s: %w", at.Format(time.RFC3339), err)
			}
			var sum struct {
				Samples int `json:"samples"`
			}
			_ = json.Unmarshal(body, &sum)
			res.CollectRuns++
			res.Samples += sum.Samples
		}
		if _, err := alertRIE.Invoke(ctx, []byte(event)); err != nil {
			return fmt.Errorf("alert at %s: %w", at.Format(time.RFC3339), err)
		}
		res.AlertRuns++
		if at.Sub(lastReport) >= time.Hour || at.Equal(end) {
			lastReport = at
			out.printf("  simulated %s · collect runs %d · alert runs %d · samples collected %d\n",
				at.Format("Jan 2 15:04"), res.CollectRuns, res.AlertRuns, res.Samples)
		}
	}

	stage("notifications that reached the topic's subscribers")
	res.Notifications, err = drain(ctx, awsCfg, queues)
	if err != nil {
		return err
	}
	for _, n := range res.Notifications {
		if n.Subscriber == "sms" {
			// The phone gets the message's one-line SMS body; SQS, standing
			// in for it, gets the default body, so show the SMS line.
			line := n.Attributes["summary"]
			if line == "" {
				line = n.Subject
			}
			out.printf("\n──── SMS (severity=critical only) · %s ────\n%s\n", n.Attributes["status"], line)
			continue
		}
		out.printf("\n──── email · %s ────\nSubject: %s\n%s\n", n.Attributes["status"], n.Subject, n.Body)
	}

	stage("charts of the alerted series")
	res.Charts, err = charts(ctx, opts, prom.URL, live0.Add(-2*time.Hour), end)
	if err != nil {
		return err
	}
	for _, c := range res.Charts {
		out.printf("  %s\n", c)
	}
	out.printf("\nPrometheus: %s/graph?g0.expr=%s (query: sigmawatch_alerts or aws_applicationelb_httpcode_target_5_xx_count_sum)\n",
		prom.URL, "sigmawatch_alerts")
	if opts.Hold != nil {
		opts.Hold(prom.URL)
	}
	return out.err
}

// printer writes the demo's progress and keeps the first write error,
// which the run returns: a demo that cannot show what it did has failed.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

// subscribe creates the topic and two SQS subscriptions: one for every
// message (what the email subscriber gets) and one with the template's SMS
// filter policy (severity=critical), standing in for the phone.
func subscribe(ctx context.Context, cfg aws.Config) (string, map[string]string, error) {
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("sigmawatch-demo")})
	if err != nil {
		return "", nil, fmt.Errorf("create topic: %w", err)
	}
	queues := map[string]string{}
	for _, sub := range []struct{ name, filter string }{
		{"email", ""},
		{"sms", `{"severity": ["critical"]}`},
	} {
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("sigmawatch-demo-" + sub.name)})
		if err != nil {
			return "", nil, fmt.Errorf("create queue: %w", err)
		}
		attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return "", nil, err
		}
		in := &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}
		if sub.filter != "" {
			in.Attributes = map[string]string{"FilterPolicy": sub.filter}
		}
		if _, err := snsc.Subscribe(ctx, in); err != nil {
			return "", nil, fmt.Errorf("subscribe: %w", err)
		}
		queues[sub.name] = aws.ToString(q.QueueUrl)
	}
	return aws.ToString(topic.TopicArn), queues, nil
}

func drain(ctx context.Context, cfg aws.Config, queues map[string]string) ([]Notification, error) {
	sqsc := sqs.NewFromConfig(cfg)
	var out []Notification
	for _, name := range []string{"email", "sms"} {
		for {
			msgs, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queues[name]), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				return nil, fmt.Errorf("receive: %w", err)
			}
			if len(msgs.Messages) == 0 {
				break
			}
			for _, m := range msgs.Messages {
				var env struct {
					Subject           string
					Message           string
					MessageAttributes map[string]struct{ Value string }
				}
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
					return nil, fmt.Errorf("decode SNS envelope: %w", err)
				}
				n := Notification{Subscriber: name, Subject: env.Subject, Body: env.Message, Attributes: map[string]string{}}
				for k, v := range env.MessageAttributes {
					n.Attributes[k] = v.Value
				}
				out = append(out, n)
				if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queues[name]), ReceiptHandle: m.ReceiptHandle}); err != nil {
					return nil, err
				}
			}
		}
	}
	// SQS does not keep order: show each subscriber's messages as sent.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Subscriber != out[j].Subscriber {
			return out[i].Subscriber == "email"
		}
		return statusOrder(out[i].Attributes["status"]) < statusOrder(out[j].Attributes["status"])
	})
	return out, nil
}

func statusOrder(s string) int {
	if s == "firing" {
		return 0
	}
	return 1
}

// charts draws one PNG per series that fired during [from, to]: the series, its baseline band
// (mean ± threshold × σ over the rule's baseline), the points beyond it and
// the interval the alert was firing.
func charts(ctx context.Context, opts Options, promURL string, from, to time.Time) ([]string, error) {
	q, err := promql.NewClient(promURL, http.DefaultTransport)
	if err != nil {
		return nil, err
	}
	file, err := rules.LoadFile(filepath.Join(opts.Root, "infra", "examples", "rules.yaml"))
	if err != nil {
		return nil, err
	}
	span := to.Sub(from)
	fired, err := q.Query(ctx, fmt.Sprintf(`max_over_time(sigmawatch_alerts{alertstate="firing"}[%ds])`, int(span.Seconds())), to)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range fired {
		var rule *rules.Rule
		for _, rr := range file.Rules() {
			if rr.Alert == f.Labels["alertname"] {
				rule = &rr
				break
			}
		}
		if rule == nil || rule.Anomaly == nil {
			continue
		}
		var matchers []string
		keys := make([]string, 0, len(f.Labels))
		for k := range f.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "alertname" || k == "alertstate" || k == "__name__" || k == "severity" || k == config.DeploymentLabel {
				continue // the alert's own labels, not the data's
			}
			matchers = append(matchers, fmt.Sprintf("%s=%q", k, f.Labels[k]))
		}
		sel := fmt.Sprintf("%s{%s}", rule.Expr, strings.Join(matchers, ","))
		chartFrom := from
		values, err := q.QueryRange(ctx, sel, chartFrom, to, step)
		if err != nil {
			return nil, err
		}
		base := time.Duration(rule.Anomaly.Baseline)
		mean, err := q.QueryRange(ctx, fmt.Sprintf("avg_over_time(%s[%ds])", sel, int(base.Seconds())), chartFrom, to, step)
		if err != nil {
			return nil, err
		}
		sd, err := q.QueryRange(ctx, fmt.Sprintf("stddev_over_time(%s[%ds])", sel, int(base.Seconds())), chartFrom, to, step)
		if err != nil {
			return nil, err
		}
		firing, err := q.QueryRange(ctx, fmt.Sprintf(`sigmawatch_alerts{alertname=%q,alertstate="firing",%s=%q,%s}`,
			rule.Alert, config.DeploymentLabel, f.Labels[config.DeploymentLabel], strings.Join(matchers, ",")), chartFrom, to, time.Minute)
		if err != nil {
			return nil, err
		}
		if len(values) == 0 || len(mean) == 0 || len(sd) == 0 {
			continue
		}
		thr := rule.Anomaly.Threshold
		c := chart.Chart{Title: fmt.Sprintf("%s · %s", rule.Alert, strings.Join(matchers, ", "))}
		centers := map[int64][2]float64{}
		for i, p := range mean[0].Points {
			if i < len(sd[0].Points) {
				centers[p.T.Unix()] = [2]float64{p.V, sd[0].Points[i].V}
			}
		}
		for _, p := range values[0].Points {
			c.Points = append(c.Points, chart.Point{T: p.T, V: p.V})
			if m, ok := centers[p.T.Unix()]; ok {
				lo, hi := m[0]-thr*m[1], m[0]+thr*m[1]
				c.Band = append(c.Band, chart.BandPoint{T: p.T, Center: m[0], Lower: lo, Upper: hi})
				if p.V > hi || p.V < lo {
					c.Anomalous = append(c.Anomalous, chart.Point{T: p.T, V: p.V})
				}
			}
		}
		// The alert saw the store as it was evaluation_delay before each
		// scheduled time: shade the data that made it fire.
		shift := -time.Duration(file.Settings.EvaluationDelay)
		for _, s := range firing {
			var cur *chart.Interval
			for _, p := range s.Points {
				p.T = p.T.Add(shift)
				if cur != nil && p.T.Sub(cur.End) <= time.Minute {
					cur.End = p.T
					continue
				}
				c.Firing = append(c.Firing, chart.Interval{Start: p.T, End: p.T})
				cur = &c.Firing[len(c.Firing)-1]
			}
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(fmt.Sprintf("%s-%s.png", rule.Alert, fingerprint(matchers)))
		path := filepath.Join(opts.OutDir, name)
		fh, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		err = chart.Render(fh, c)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	if len(paths) == 0 && len(fired) > 0 {
		return nil, errors.New("alerts fired but no chart could be drawn")
	}
	return paths, nil
}

func fingerprint(matchers []string) string {
	var b strings.Builder
	for _, m := range matchers {
		if strings.HasPrefix(m, "dimension_") {
			v := m[strings.Index(m, "=")+1:]
			b.WriteString(strings.Trim(v, `"`))
		}
	}
	if b.Len() == 0 {
		return "series"
	}
	return b.String()
}
