package promql_test

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// The fixtures in testdata are answers of a real Prometheus 2.42 (warnings.json
// follows Prometheus 3's format, which 2.42 cannot produce).
const t0 = 1795623180 // the first sample of the fixtures, in seconds

func at(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

type request struct {
	path string
	form url.Values
}

// server answers every request with the fixture and status, and records the
// requests.
func server(t *testing.T, fixture string, status int) (*httptest.Server, <-chan request) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", fixture))
	require.NoError(t, err)
	reqs := make(chan request, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reqs <- request{path: r.URL.Path, form: r.Form}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

// nanEqual compares floats treating NaN as equal to NaN.
var nanEqual = cmp.Comparer(func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) })

func TestQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fixture string
		status  int
		query   string
		at      time.Time
		want    []promql.Sample
		wantErr []string
	}{
		{
			name: "vector", fixture: "vector.json", query: "aws_ec2_cpuutilization_average", at: at(t0 + 240),
			want: []promql.Sample{{
				Labels: map[string]string{
					"__name__": "aws_ec2_cpuutilization_average", "account_id": "123456789012",
					"dimension_AutoScalingGroupName": "web-asg-0", "dimension_ImageId": "ami-0abcdef1234567890",
					"dimension_InstanceId": "i-00000000000000000", "job": "ec2",
					"name": "arn:aws:ec2:us-east-1:123456789012:instance/i-00000000000000000", "region": "us-east-1",
				},
				T: at(t0 + 240), V: 5,
			}},
		},
		{
			name: "negative value", fixture: "vector_neg.json", query: "zz_inf", at: at(t0 + 60),
			want: []promql.Sample{{Labels: map[string]string{"__name__": "zz_inf", "k": "v"}, T: at(t0 + 60), V: -1.5}},
		},
		{
			name: "NaN comes back as NaN", fixture: "vector_nan.json", query: "zz_inf - zz_inf", at: at(t0 + 30),
			want: []promql.Sample{{Labels: map[string]string{"k": "v"}, T: at(t0 + 30), V: math.NaN()}},
		},
		{
			name: "scalar is one sample without labels", fixture: "scalar.json", query: "scalar(sum(zz_inf))", at: at(t0 + 60),
			want: []promql.Sample{{Labels: map[string]string{}, T: at(t0 + 60), V: -1.5}},
		},
		{
			name: "NaN scalar", fixture: "scalar_nan.json", query: "0/0", at: at(t0 + 60),
			want: []promql.Sample{{Labels: map[string]string{}, T: at(t0 + 60), V: math.NaN()}},
		},
		{
			name: "native histograms are skipped", fixture: "histogram.json", query: "h", at: at(t0),
			want: []promql.Sample{{Labels: map[string]string{"c": "d"}, T: at(t0), V: 3}},
		},
		{name: "empty vector", fixture: "empty.json", query: "nothing_here", at: at(t0), want: []promql.Sample{}},
		{
			name: "warnings do not fail the query", fixture: "warnings.json", query: "rate(x[5m])", at: at(t0 + 240),
			want: []promql.Sample{{Labels: map[string]string{"job": "ec2"}, T: at(t0 + 240), V: 0.25}},
		},
		{
			name: "bad_data names the query and the server's message", fixture: "bad_data.json", status: 400, query: "sum(", at: at(t0),
			wantErr: []string{`query "sum(" on 127.0.0.1:`, "bad_data: invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"},
		},
		{
			name: "matrix is refused", fixture: "matrix_instant.json", query: "zz_inf[5m]", at: at(t0 + 120),
			wantErr: []string{`query "zz_inf[5m]"`, "bad_response: a range vector: use QuerySeries"},
		},
		{
			name: "string is refused", fixture: "string.json", query: `"hello"`, at: at(t0),
			wantErr: []string{`bad_response: unexpected value type "string"`},
		},
		{
			name: "5xx with an HTML body", fixture: "garbage.html", status: 502, query: "up", at: at(t0),
			wantErr: []string{"server_error: server error: 502", "Bad Gateway"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			srv, reqs := server(t, tt.fixture, status)
			c, err := promql.NewClient(srv.URL, srv.Client().Transport)
			require.NoError(t, err)

			got, err := c.Query(t.Context(), tt.query, tt.at)
			r := <-reqs
			require.Equal(t, "/api/v1/query", r.path)
			require.Equal(t, tt.query, r.form.Get("query"))
			require.Equal(t, timeParam(tt.at), r.form.Get("time"))

			// QueryEach gives the same samples one at a time, or the
			// same error (its labels map is reused: copied here).
			var each []promql.Sample
			eachErr := c.QueryEach(t.Context(), tt.query, tt.at, func(labels map[string]string, ts time.Time, v float64) {
				each = append(each, promql.Sample{Labels: maps.Clone(labels), T: ts, V: v})
			})
			<-reqs
			if len(tt.wantErr) > 0 {
				require.Error(t, eachErr)
				for _, w := range tt.wantErr {
					require.ErrorContains(t, eachErr, w)
				}
			} else {
				require.NoError(t, eachErr)
				if diff := cmp.Diff(tt.want, each, nanEqual, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("QueryEach (-want +got):\n%s", diff)
				}
			}
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, nanEqual); diff != "" {
				t.Fatalf("Query (-want +got):\n%s", diff)
			}
		})
	}
}

// timeParam is how client_golang formats a time parameter: seconds.
func timeParam(t time.Time) string {
	return strconvFloat(float64(t.Unix()) + float64(t.Nanosecond())/1e9)
}

func strconvFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestQueryRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fixture    string
		status     int
		start, end time.Time
		step       time.Duration
		want       []promql.Series
		wantErr    []string
		noRequest  bool
	}{
		{
			name: "matrix with infinities", fixture: "matrix_range.json", start: at(t0), end: at(t0 + 60), step: time.Minute,
			want: []promql.Series{{Labels: map[string]string{"k": "v"}, Points: []promql.Point{
				{T: at(t0), V: math.Inf(1)}, {T: at(t0 + 60), V: math.Inf(-1)},
			}}},
		},
		{
			name: "too many points is bad_data", fixture: "range_too_many_points.json", status: 400, start: at(t0), end: at(t0 + 6_000_000), step: time.Second,
			wantErr: []string{"bad_data: exceeded maximum resolution of 11,000 points"},
		},
		{
			name: "vector answer is refused", fixture: "vector.json", start: at(t0), end: at(t0 + 60), step: time.Minute,
			wantErr: []string{"bad_response"},
		},
		{name: "zero step", fixture: "empty.json", start: at(t0), end: at(t0 + 60), wantErr: []string{"step must be positive"}, noRequest: true},
		{name: "end before start", fixture: "empty.json", start: at(t0 + 60), end: at(t0), step: time.Minute, wantErr: []string{"before start"}, noRequest: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			srv, reqs := server(t, tt.fixture, status)
			c, err := promql.NewClient(srv.URL+"/", srv.Client().Transport)
			require.NoError(t, err)
			got, err := c.QueryRange(t.Context(), "zz_inf / 0", tt.start, tt.end, tt.step)
			if !tt.noRequest {
				r := <-reqs
				require.Equal(t, "/api/v1/query_range", r.path)
				require.Equal(t, "zz_inf / 0", r.form.Get("query"))
				require.Equal(t, timeParam(tt.start), r.form.Get("start"))
				require.Equal(t, timeParam(tt.end), r.form.Get("end"))
				require.Equal(t, strconvFloat(tt.step.Seconds()), r.form.Get("step"))
			} else {
				require.Empty(t, reqs)
			}
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, nanEqual); diff != "" {
				t.Fatalf("QueryRange (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuerySeries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fixture string
		want    []promql.Series
		wantErr string
	}{
		{
			name: "range selector", fixture: "matrix_instant.json",
			want: []promql.Series{{Labels: map[string]string{"__name__": "zz_inf", "k": "v"}, Points: []promql.Point{
				{T: at(t0), V: math.Inf(1)}, {T: at(t0 + 60), V: -1.5},
			}}},
		},
		{
			name: "instant vector gives one point per series", fixture: "vector_neg.json",
			want: []promql.Series{{Labels: map[string]string{"__name__": "zz_inf", "k": "v"}, Points: []promql.Point{{T: at(t0 + 60), V: -1.5}}}},
		},
		{name: "scalar refused", fixture: "scalar.json", wantErr: "unsupported result type scalar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := server(t, tt.fixture, http.StatusOK)
			c, err := promql.NewClient(srv.URL, nil)
			require.NoError(t, err)
			got, err := c.QuerySeries(t.Context(), "zz_inf[5m]", at(t0+120))
			// QuerySeriesEach gives the same series one at a time (its
			// labels and points are reused: copied here).
			var each []promql.Series
			eachErr := c.QuerySeriesEach(t.Context(), "zz_inf[5m]", at(t0+120), func(labels map[string]string, points []promql.Point) {
				each = append(each, promql.Series{Labels: maps.Clone(labels), Points: slices.Clone(points)})
			})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, eachErr, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, nanEqual, cmpopts.EquateEmpty()))
			require.NoError(t, eachErr)
			require.Empty(t, cmp.Diff(tt.want, each, nanEqual, cmpopts.EquateEmpty()))
		})
	}
}

func TestWarningsLoggedAtDebug(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, "warnings.json", http.StatusOK)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := promql.NewClient(srv.URL, nil, promql.WithLogger(logger))
	require.NoError(t, err)
	_, err = c.Query(t.Context(), "rate(x[5m])", at(t0))
	require.NoError(t, err)
	out := logs.String()
	require.Contains(t, out, `"level":"DEBUG"`)
	require.Contains(t, out, `"msg":"query warnings"`)
	require.Contains(t, out, "encountered a mix of histograms and floats")
	require.Contains(t, out, `"msg":"query infos"`)
	require.Contains(t, out, `"component":"promql"`)
	require.Contains(t, out, `"query":"rate(x[5m])"`)
}

func TestErrorType(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, "bad_data.json", http.StatusBadRequest)
	c, err := promql.NewClient(srv.URL, nil)
	require.NoError(t, err)
	_, err = c.Query(t.Context(), "sum(", at(t0))
	var qerr *promql.Error
	require.ErrorAs(t, err, &qerr)
	require.Equal(t, "bad_data", qerr.Type)
	require.Equal(t, "sum(", qerr.Query)
	require.False(t, qerr.Temporary())
	require.True(t, (&promql.Error{Type: "timeout"}).Temporary())
	require.True(t, (&promql.Error{Type: "server_error"}).Temporary())
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	c, err := promql.NewClient(addr+"/prefix?token=hunter2", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = c.Query(ctx, "up", at(t0))
	require.ErrorContains(t, err, `query "up" on 127.0.0.1:`)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestNewClientRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url, wantErr string }{
		{name: "scheme", url: "ftp://x", wantErr: "want an http or https URL"},
		{name: "no host", url: "http://", wantErr: "no host"},
		{name: "credentials", url: "http://u:hunter2@x", wantErr: "credentials in the URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := promql.NewClient(tt.url, nil)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

// TestQueryEachAnswers: QueryEach decodes a vector's samples as they come
// (each.go) and leaves every other answer to the v1 API; an answer that
// breaks off after samples were given fails the query.
func TestQueryEachAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    []promql.Sample
		wantErr string
	}{
		{
			name: "a vector, its stats and warnings around it",
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[60,"1.5"]},{"metric":{"a":"2"},"value":[60,"NaN"]}],"stats":{"samples":{"totalQueryableSamples":7}}},"warnings":["w"]}`,
			want: []promql.Sample{{Labels: map[string]string{"a": "1"}, T: at(60), V: 1.5}, {Labels: map[string]string{"a": "2"}, T: at(60), V: math.NaN()}},
		},
		{
			name: "the result before its type: decoded whole",
			body: `{"status":"success","data":{"result":[{"metric":{"a":"1"},"value":[60,"2"]}],"resultType":"vector"}}`,
			want: []promql.Sample{{Labels: map[string]string{"a": "1"}, T: at(60), V: 2}},
		},
		{
			name:    "cut short after a sample",
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[60,"2"]},{"metric":5}]}}`,
			wantErr: "bad_response: answer cut short",
		},
		{
			name:    "an error status with a 200",
			body:    `{"status":"error","errorType":"execution","error":"boom"}`,
			wantErr: "execution: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			c, err := promql.NewClient(srv.URL, srv.Client().Transport)
			require.NoError(t, err)
			var got []promql.Sample
			err = c.QueryEach(t.Context(), "q", at(60), func(labels map[string]string, ts time.Time, v float64) {
				got = append(got, promql.Sample{Labels: maps.Clone(labels), T: ts, V: v})
			})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, nanEqual); diff != "" {
				t.Fatalf("QueryEach (-want +got):\n%s", diff)
			}
		})
	}
}
