// Package taggingtest holds the focused fake service jobs' tests need where
// moto, the stand-in for the Resource Groups Tagging API, falls short.
package taggingtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// getResourcesTarget is the X-Amz-Target of the Tagging API's GetResources.
const getResourcesTarget = "ResourceGroupsTaggingAPI_20170126.GetResources"

// MotoProxy starts a proxy in front of moto (moto 5.2) that answers
// GetResources the way AWS does for the resource types moto matches
// differently, and passes every other request through unchanged:
//
//   - "elasticloadbalancing:loadbalancer/app" and ".../net" (a resource
//     type with a subtype, which AWS matches on the ARN): moto returns
//     nothing; the proxy asks for all load balancers and keeps the subtype;
//   - "elasticloadbalancing:loadbalancer" returns classic load balancers too
//     on AWS; moto lists them only under "elb:loadbalancer";
//   - "states" (Step Functions): moto lists state machines only under
//     "states:stateMachine";
//   - "cloudfront:distribution": moto expects "cloudfront:distributions".
//
// The same proxy stands in front of moto when YACE itself is run to record
// the golden series, so both see the same resources.
func MotoProxy(motoURL string) (*httptest.Server, error) {
	target, err := url.Parse(motoURL)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		want, ok := resp.Request.Context().Value(lbSubtypesKey{}).([]string)
		if !ok || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(body, &out); err != nil {
			return err
		}
		var list []struct {
			ResourceARN string
			Tags        json.RawMessage
		}
		if raw, ok := out["ResourceTagMappingList"]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
		}
		kept := list[:0]
		for _, m := range list {
			if keepLoadBalancer(m.ResourceARN, want) {
				kept = append(kept, m)
			}
		}
		raw, err := json.Marshal(kept)
		if err != nil {
			return err
		}
		out["ResourceTagMappingList"] = raw
		if body, err = json.Marshal(out); err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == getResourcesTarget {
			if err := rewriteGetResources(r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	return srv, nil
}

type lbSubtypesKey struct{}

// keepLoadBalancer reports whether an ARN stays in the answer: everything
// but load balancers of a subtype that was not asked for ("" = all).
func keepLoadBalancer(arn string, subtypes []string) bool {
	_, res, ok := strings.Cut(arn, ":loadbalancer/")
	if !ok || !strings.Contains(arn, ":elasticloadbalancing:") || slices.Contains(subtypes, "") {
		return true
	}
	for _, s := range subtypes {
		if strings.HasPrefix(res, s+"/") {
			return true
		}
	}
	return false
}

func rewriteGetResources(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return err
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return err
	}
	filters, _ := in["ResourceTypeFilters"].([]any)
	var out []any
	var subtypes []string
	add := func(f string) {
		if !slices.Contains(out, any(f)) {
			out = append(out, f)
		}
	}
	for _, f := range filters {
		s, _ := f.(string)
		switch {
		case strings.HasPrefix(s, "elasticloadbalancing:loadbalancer/"):
			subtypes = append(subtypes, strings.TrimPrefix(s, "elasticloadbalancing:loadbalancer/"))
			add("elasticloadbalancing:loadbalancer")
		case s == "elasticloadbalancing:loadbalancer" || s == "elasticloadbalancing":
			subtypes = append(subtypes, "")
			add(s)
			add("elb:loadbalancer")
		case s == "states":
			add("states:stateMachine")
		case s == "cloudfront:distribution":
			add("cloudfront:distributions")
		default:
			add(s)
		}
	}
	if filters != nil {
		in["ResourceTypeFilters"] = out
	}
	if body, err = json.Marshal(in); err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	if len(subtypes) > 0 {
		*r = *r.WithContext(context.WithValue(r.Context(), lbSubtypesKey{}, subtypes))
	}
	return nil
}
