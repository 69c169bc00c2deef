package testenv_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithMoto(m, &moto))
}

func TestMotoCloudWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(cfg)
	name := testenv.UniqueName(t.Name())
	ts := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	_, err = cw.PutMetricData(ctx, &awscw.PutMetricDataInput{
		Namespace: aws.String("Test/" + name),
		MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String(name),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String("i-1")}},
			Timestamp:  aws.Time(ts),
			Value:      aws.Float64(42.5),
		}},
	})
	require.NoError(t, err)
	out, err := cw.GetMetricData(ctx, &awscw.GetMetricDataInput{
		StartTime: aws.Time(ts.Add(-time.Minute)),
		EndTime:   aws.Time(ts.Add(time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{{
			Id: aws.String("q0"),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("Test/" + name), MetricName: aws.String(name),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String("i-1")}}},
				Period: aws.Int32(60), Stat: aws.String("Average"),
			},
		}},
	})
	require.NoError(t, err, "the query-protocol override must make the SDK speak to moto")
	require.Len(t, out.MetricDataResults, 1)
	require.Equal(t, []float64{42.5}, out.MetricDataResults[0].Values)
	t.Logf("put and read back 1 datapoint through moto CloudWatch at %s", moto.URL)
}

func TestMotoSNSToSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	name := testenv.UniqueName(t.Name())
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	require.NoError(t, err)
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	_, err = snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])})
	require.NoError(t, err)
	_, err = snsc.Publish(ctx, &sns.PublishInput{
		TopicArn: topic.TopicArn, Subject: aws.String("hello"), Message: aws.String("world"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"severity": {DataType: aws.String("String"), StringValue: aws.String("critical")}},
	})
	require.NoError(t, err)
	msg, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 2})
	require.NoError(t, err)
	require.Len(t, msg.Messages, 1)
	var env struct{ Subject, Message string }
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(msg.Messages[0].Body)), &env))
	require.Equal(t, "hello", env.Subject)
	require.Equal(t, "world", env.Message)
}

func TestReceivers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(t *testing.T) *testenv.Receiver
	}{
		{"prometheus", func(t *testing.T) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) }},
		{"prometheus out-of-order", func(t *testing.T) *testenv.Receiver {
			return testenv.StartPrometheus(t, testenv.PrometheusOptions{OutOfOrderWindow: time.Hour})
		}},
		{"victoriametrics", func(t *testing.T) *testenv.Receiver { return testenv.StartVictoriaMetrics(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := tt.start(t)
			w, err := remotewrite.NewClient(r.RemoteWriteURL)
			require.NoError(t, err)
			at := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
			series := []remotewrite.Series{{
				Labels:  []remotewrite.Label{{Name: "__name__", Value: "testenv_probe"}, {Name: "job", Value: "probe"}},
				Samples: []remotewrite.Sample{{T: at.Add(-time.Minute).UnixMilli(), V: 1.25}, {T: at.UnixMilli(), V: 33.333333333333336}},
			}}
			require.NoError(t, w.Write(ctx, series))
			require.NoError(t, r.Flush(ctx))
			q, err := promql.NewClient(r.URL, http.DefaultTransport)
			require.NoError(t, err)
			var got []promql.Series
			require.Eventually(t, func() bool {
				got, err = q.QuerySeries(ctx, `testenv_probe{job="probe"}[5m]`, at)
				return err == nil && len(got) == 1 && len(got[0].Points) == 2
			}, 10*time.Second, 100*time.Millisecond, "query back: %v %v", got, err)
			require.Equal(t, at.Add(-time.Minute), got[0].Points[0].T)
			require.InDelta(t, 1.25, got[0].Points[0].V, 0)
			require.InEpsilon(t, 33.333333333333336, got[0].Points[1].V, 1e-12)
			if r.Kind == "prometheus" {
				// Only a stock Prometheus keeps every digit.
				require.InDelta(t, 33.333333333333336, got[0].Points[1].V, 0)
			}
			t.Logf("%s at %s: wrote 2 samples with the project's encoder and read them back", tt.name, r.URL)
		})
	}
}

func TestAlertmanager(t *testing.T) {
	t.Parallel()
	am := testenv.StartAlertmanager(t)
	body := `[{"labels":{"alertname":"TestenvProbe","severity":"warning"},"annotations":{"summary":"probe"}}]`
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		resp, err := http.Get(am.URL + "/api/v2/alerts?filter=alertname%3D%22TestenvProbe%22")
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		var alerts []map[string]any
		return json.NewDecoder(resp.Body).Decode(&alerts) == nil && len(alerts) == 1
	}, 10*time.Second, 100*time.Millisecond)
}

func TestPortRetryAndStop(t *testing.T) {
	t.Parallel()
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	r.Stop()
	_, err := http.Get(r.URL + "/-/ready")
	require.Error(t, err, "Stop must end the process it started")
}

// tenantTransport adds the tenant header a multi-tenant Cortex expects.
type tenantTransport struct{ tenant string }

func (t tenantTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(testenv.TenantHeader, t.tenant)
	return http.DefaultTransport.RoundTrip(r)
}

// TestCortexStoresSeriesBySeries shows what the collector must survive on
// Cortex, Mimir and AMP: a request over the tenant's series limit is answered
// 400 after the series under the limit were stored, and a resent stored
// sample is a 400 too.
func TestCortexStoresSeriesBySeries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tenant string
	}{
		{"single tenant", ""},
		{"tenant header", "team-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := testenv.StartCortex(t, testenv.CortexOptions{MaxGlobalSeriesPerUser: 5, Tenant: tt.tenant})
			require.Equal(t, "cortex", r.Kind)
			require.Equal(t, tt.tenant, r.Tenant)
			rt := http.DefaultTransport
			if tt.tenant != "" {
				rt = tenantTransport{tenant: tt.tenant}
			}
			hc := &http.Client{Transport: rt}
			w, err := remotewrite.NewClient(r.RemoteWriteURL, remotewrite.WithHTTPClient(hc))
			require.NoError(t, err)
			q, err := promql.NewClient(r.URL, rt)
			require.NoError(t, err)

			if tt.tenant != "" {
				// Multi-tenant: a request without the tenant is refused.
				plain, err := remotewrite.NewClient(r.RemoteWriteURL)
				require.NoError(t, err)
				var rwErr *remotewrite.Error
				require.ErrorAs(t, plain.Write(ctx, []remotewrite.Series{{
					Labels:  []remotewrite.Label{{Name: "__name__", Value: "cortex_probe_no_tenant"}},
					Samples: []remotewrite.Sample{{T: time.Now().UnixMilli(), V: 1}},
				}}), &rwErr)
				require.Equal(t, http.StatusUnauthorized, rwErr.StatusCode)
			}

			at := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
			series := make([]remotewrite.Series, 8)
			for i := range series {
				series[i] = remotewrite.Series{
					Labels:  []remotewrite.Label{{Name: "__name__", Value: "cortex_probe"}, {Name: "n", Value: strconv.Itoa(i)}},
					Samples: []remotewrite.Sample{{T: at.Add(-time.Minute).UnixMilli(), V: -float64(i)}, {T: at.UnixMilli(), V: float64(i)}},
				}
			}
			err = w.Write(ctx, series)
			var rwErr *remotewrite.Error
			require.ErrorAs(t, err, &rwErr)
			require.Equal(t, http.StatusBadRequest, rwErr.StatusCode)
			require.Contains(t, rwErr.Body, "per-user series limit of 5 exceeded")

			var got []promql.Series
			require.Eventually(t, func() bool {
				got, err = q.QuerySeries(ctx, `cortex_probe[10m]`, at.Add(time.Minute))
				return err == nil && len(got) == 5
			}, 10*time.Second, 100*time.Millisecond, "the refused request stored 5 of its 8 series: %v %v", got, err)
			var stored remotewrite.Series
			for _, s := range got {
				n, err := strconv.Atoi(s.Labels["n"])
				require.NoError(t, err)
				require.Equal(t, []promql.Point{{T: at.Add(-time.Minute), V: -float64(n)}, {T: at, V: float64(n)}}, s.Points)
				stored = series[n]
			}

			// A stored sample older than its series' newest, resent: 400,
			// as on a stock Prometheus (no out-of-order window here).
			err = w.Write(ctx, []remotewrite.Series{{Labels: stored.Labels, Samples: stored.Samples[:1]}})
			require.ErrorAs(t, err, &rwErr)
			require.Equal(t, http.StatusBadRequest, rwErr.StatusCode)
			require.Contains(t, rwErr.Body, "out of order sample")
			// The newest sample resent unchanged is accepted: TSDB drops an
			// identical duplicate, so a retry that resends exactly what is
			// stored, newest only, passes.
			require.NoError(t, w.Write(ctx, []remotewrite.Series{{Labels: stored.Labels, Samples: stored.Samples[1:]}}))
			t.Logf("cortex at %s: 8 new series → 400 and 5 stored; resent older stored sample → 400 %q", r.URL, rwErr.Body)
		})
	}
}
