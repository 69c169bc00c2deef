package promql

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Error is a query the server refused or could not answer.
type Error struct {
	// Host is the server's host[:port].
	Host string
	// Query is the PromQL expression.
	Query string
	// Type is the Prometheus API error type: bad_data (the query is wrong),
	// execution, timeout, canceled, server_error, client_error, bad_response.
	Type string
	// Message is the server's message.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("query %s on %s: %s: %s", shorten(e.Query), e.Host, e.Type, e.Message)
}

// Temporary reports whether the same query may succeed later.
func (e *Error) Temporary() bool {
	switch v1.ErrorType(e.Type) {
	case v1.ErrTimeout, v1.ErrServer, v1.ErrCanceled:
		return true
	}
	return false
}

// maxDetail bounds how much of an unparsable answer goes into an error.
const maxDetail = 256

func (c *Client) wrap(query string, err error) error {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		msg := apiErr.Msg
		if apiErr.Detail != "" {
			d := apiErr.Detail
			if len(d) > maxDetail {
				d = d[:maxDetail] + "…"
			}
			msg += ": " + d
		}
		return &Error{Host: c.host, Query: query, Type: string(apiErr.Type), Message: msg}
	}
	// url.Error repeats the URL; the host is enough and its query could hold
	// a token.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("query %s on %s: %w", shorten(query), c.host, err)
}

func (c *Client) resultErr(query, msg string) error {
	return &Error{Host: c.host, Query: query, Type: string(v1.ErrBadResponse), Message: msg}
}

// shorten quotes a query for an error message, cutting very long ones.
func shorten(q string) string {
	const maxQuery = 200
	if len(q) > maxQuery {
		return strconv.Quote(q[:maxQuery]) + "…"
	}
	return strconv.Quote(q)
}
