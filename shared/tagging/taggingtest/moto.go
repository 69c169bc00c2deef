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
//   - "apigateway": moto lists no API Gateway resource (moto 5.2); the proxy adds
//     moto's REST APIs (GetRestApis, with their tags) to the first page, as
//     arn:aws:apigateway:<region>::/restapis/<id>, filtered by the request's
//     tag filters.
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
		gw, gwOK := resp.Request.Context().Value(restAPIsKey{}).(*restAPIsQuery)
		if (!ok && !gwOK) || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close() // read whole
		if err != nil {
			return err
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(body, &out); err != nil {
			return err
		}
		var list []mapping
		if raw, ok := out["ResourceTagMappingList"]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
		}
		kept := list[:0]
		for _, m := range list {
			if !ok || keepLoadBalancer(m.ResourceARN, want) {
				kept = append(kept, m)
			}
		}
		if gwOK {
			apis, err := gw.list(resp.Request.Context(), motoURL)
			if err != nil {
				return err
			}
			kept = append(kept, apis...)
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

type restAPIsKey struct{}

// mapping is one entry of GetResources' ResourceTagMappingList.
type mapping struct {
	ResourceARN string
	Tags        json.RawMessage
}

// restAPIsQuery is what the proxy needs to list moto's REST APIs for a
// GetResources request: its signature (for moto's account and region) and
// its tag filters.
type restAPIsQuery struct {
	authorization, region string
	filters               []struct {
		Key    string
		Values []string
	}
}

// list returns moto's REST APIs that pass the tag filters as mappings.
func (q *restAPIsQuery) list(ctx context.Context, motoURL string) ([]mapping, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, motoURL+"/restapis?limit=500", nil)
	if err != nil {
		return nil, err
	}
	// moto routes by the signing service and takes the account from the
	// access key; it checks no signature.
	req.Header.Set("Authorization", strings.Replace(q.authorization, "/tagging/aws4_request", "/apigateway/aws4_request", 1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Item []struct {
			ID   string            `json:"id"`
			Tags map[string]string `json:"tags"`
		} `json:"item"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	var list []mapping
	for _, a := range out.Item {
		if !q.matches(a.Tags) {
			continue
		}
		type tag struct{ Key, Value string }
		tags := make([]tag, 0, len(a.Tags))
		for k, v := range a.Tags {
			tags = append(tags, tag{k, v})
		}
		slices.SortFunc(tags, func(x, y tag) int { return strings.Compare(x.Key, y.Key) })
		raw, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		list = append(list, mapping{ResourceARN: "arn:aws:apigateway:" + q.region + "::/restapis/" + a.ID, Tags: raw})
	}
	return list, nil
}

// matches applies GetResources' tag filters: every key present, with one
// of the values if any are given.
func (q *restAPIsQuery) matches(tags map[string]string) bool {
	for _, f := range q.filters {
		v, ok := tags[f.Key]
		if !ok || (len(f.Values) > 0 && !slices.Contains(f.Values, v)) {
			return false
		}
	}
	return true
}

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
	_ = r.Body.Close() // read whole
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
	restAPIs := false
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
		case s == "apigateway" || strings.HasPrefix(s, "apigateway:"):
			restAPIs = true
			add(s)
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
	if restAPIs {
		if token, _ := in["PaginationToken"].(string); token == "" {
			q := &restAPIsQuery{authorization: r.Header.Get("Authorization"), region: signedRegion(r.Header.Get("Authorization"))}
			if raw, err := json.Marshal(in["TagFilters"]); err == nil {
				_ = json.Unmarshal(raw, &q.filters)
			}
			*r = *r.WithContext(context.WithValue(r.Context(), restAPIsKey{}, q))
		}
	}
	return nil
}

// signedRegion is the region of a SigV4 Authorization header's credential
// scope (Credential=AKID/date/region/service/aws4_request).
func signedRegion(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}
