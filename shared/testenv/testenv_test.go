package testenv_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
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
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		resp, err := http.Get(am.URL + "/api/v2/alerts?filter=alertname%3D%22TestenvProbe%22")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
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
