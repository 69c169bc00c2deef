package promql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// An instant vector of 100,000 series decodes into 100,000 model.Sample
// with a label map each, which client_golang's v1 API builds whole (after
// keeping the answer's result a second time, as raw JSON) before Query can
// convert the first. QueryEach needs none of that: answerClient decodes
// the answer's samples one at a time, with encoding/json and
// model.Sample's own decoder, and gives each to the caller as it comes;
// the v1 API then decodes what is left (an empty vector, the warnings), so
// that every error an answer can carry is still the v1 API's.

// eachKey carries, in a QueryEach's context, where its samples go.
type eachKey struct{}

// eachState is one QueryEach's (fn) or QuerySeriesEach's (series).
type eachState struct {
	fn     func(labels map[string]string, t time.Time, v float64)
	series func(labels map[string]string, points []Point)
	labels map[string]string
	points []Point
	// streamed: the samples went to fn (the v1 API decodes an empty
	// vector); n were given, skipped were native histograms.
	streamed   bool
	n, skipped int64
	// err: the answer broke off after some samples went to fn.
	err error
}

func eachOf(ctx context.Context) *eachState {
	st, _ := ctx.Value(eachKey{}).(*eachState)
	return st
}

// stream gives the samples of a successful instant vector answer to fn
// (the series of a matrix to series) and returns what the v1 API is to
// decode instead: the answer without them. Any other answer (an error,
// another result type, a result before its type) is returned as it is,
// nothing given, for the v1 API to decode.
func (st *eachState) stream(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return body
	}
	var rest struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string     `json:"resultType"`
			Result     []struct{} `json:"result"`
		} `json:"data"`
		Warnings []string `json:"warnings,omitempty"`
		Infos    []string `json:"infos,omitempty"`
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return st.failed(body, err)
		}
		switch key {
		case "status":
			err = dec.Decode(&rest.Status)
		case "warnings":
			err = dec.Decode(&rest.Warnings)
		case "infos":
			err = dec.Decode(&rest.Infos)
		case "data":
			if !st.data(dec, &rest.Data.ResultType) {
				return body
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return st.failed(body, err)
		}
	}
	if !st.streamed || rest.Status != "success" {
		return st.failed(body, fmt.Errorf("status %q", rest.Status))
	}
	rest.Data.Result = []struct{}{}
	rest.Data.ResultType = st.resultType()
	out, err := json.Marshal(rest)
	if err != nil {
		return st.failed(body, err)
	}
	return out
}

// failed returns body for the v1 API to decode; when samples already went
// to fn, the query fails with err whatever the v1 API makes of body.
func (st *eachState) failed(body []byte, err error) []byte {
	if st.streamed {
		if err == nil {
			err = fmt.Errorf("unreadable answer")
		}
		st.err = err
	}
	return body
}

// data reads the answer's data object, giving a vector's samples to fn;
// false when it is not a vector whose type comes before its result
// (nothing was given to fn).
func (st *eachState) data(dec *json.Decoder, resultType *string) bool {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return false
		}
		switch key {
		case "resultType":
			if err := dec.Decode(resultType); err != nil {
				return false
			}
		case "result":
			if *resultType != st.resultType() {
				return false
			}
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				return false
			}
			st.streamed = true
			for dec.More() {
				if err := st.next(dec); err != nil {
					st.err = err
					return false
				}
			}
			if _, err := dec.Token(); err != nil {
				st.err = err
				return false
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return false
			}
		}
	}
	_, err := dec.Token() // the data object's end
	return err == nil
}

// resultType is the answer's type st streams.
func (st *eachState) resultType() string {
	if st.series != nil {
		return model.ValMatrix.String()
	}
	return model.ValVector.String()
}

// next decodes the result's next element and gives it.
func (st *eachState) next(dec *json.Decoder) error {
	if st.series == nil {
		var s model.Sample
		if err := dec.Decode(&s); err != nil {
			return err
		}
		st.give(&s)
		return nil
	}
	var ss model.SampleStream
	if err := dec.Decode(&ss); err != nil {
		return err
	}
	st.skipped += int64(len(ss.Histograms))
	if len(ss.Values) == 0 {
		return nil
	}
	clear(st.labels)
	for k, v := range ss.Metric {
		st.labels[string(k)] = string(v)
	}
	st.points = st.points[:0]
	for _, p := range ss.Values {
		st.points = append(st.points, Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
	}
	st.n += int64(len(ss.Values))
	st.series(st.labels, st.points)
	return nil
}

func (st *eachState) give(s *model.Sample) {
	if s.Histogram != nil {
		st.skipped++
		return
	}
	clear(st.labels)
	for k, v := range s.Metric {
		st.labels[string(k)] = string(v)
	}
	st.n++
	st.fn(st.labels, s.Timestamp.Time().UTC(), float64(s.Value))
}
