package tagging

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtatypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// API is the one Resource Groups Tagging API operation service jobs call.
type API interface {
	rgta.GetResourcesAPIClient
}

var _ API = (*rgta.Client)(nil)

// resourcesPerPage is GetResources' largest page.
const resourcesPerPage = 100

// GetResources returns the tagged resources of svc that pass every search
// tag, across all pages, and the number of GetResources calls it made. The
// search tags' keys also go to the API as tag filters, so only resources
// carrying them come back; their values are matched here, as regular
// expressions.
func GetResources(ctx context.Context, api API, svc *resource.Service, search []resource.SearchTag) ([]resource.Resource, int, error) {
	in := &rgta.GetResourcesInput{
		ResourceTypeFilters: svc.ResourceTypes,
		ResourcesPerPage:    aws.Int32(resourcesPerPage),
	}
	seenKey := map[string]bool{}
	for _, s := range search {
		if !seenKey[s.Key] {
			seenKey[s.Key] = true
			in.TagFilters = append(in.TagFilters, rgtatypes.TagFilter{Key: aws.String(s.Key)})
		}
	}
	p := rgta.NewGetResourcesPaginator(api, in, func(o *rgta.GetResourcesPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []resource.Resource
	calls := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("get tagged resources of %s (%s): %w", svc.Namespace, strings.Join(svc.ResourceTypes, ","), err)
		}
		for _, m := range page.ResourceTagMappingList {
			r := resource.Resource{ARN: aws.ToString(m.ResourceARN), Tags: make([]resource.Tag, 0, len(m.Tags))}
			for _, t := range m.Tags {
				r.Tags = append(r.Tags, resource.Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
			}
			if r.ARN != "" && resource.Matches(&r, search) {
				out = append(out, r)
			}
		}
	}
	return out, calls, nil
}

// Cache keeps GetResources results across warm invocations for a TTL, like
// the ListMetrics discovery cache: the Tagging API is free but rate-limited.
type Cache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	entries map[string]cacheEntry
}

type cacheEntry struct {
	resources []resource.Resource
	expires   time.Time
}

// NewCache returns a cache whose entries live for ttl (0 disables it).
func NewCache(ttl time.Duration, now func() time.Time) *Cache {
	return &Cache{ttl: ttl, now: now, entries: map[string]cacheEntry{}}
}

// Expire drops the cached resources of target, so that the next Resources
// call for it lists afresh.
func (c *Cache) Expire(target string) {
	if c == nil {
		return
	}
	prefix := target + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
}

// Clients are the APIs a service job's resources come from: the Tagging
// API, and for API Gateway its GetRestApis (nil: REST APIs are left out).
type Clients struct {
	Resources API
	RestAPIs  RestAPIsAPI
}

// Calls counts the calls one Resources call made.
type Calls struct {
	GetResources, GetRestApis int
}

// Resources returns the cached resources for (target, svc, search), or
// lists them (GetResources, then for a service that needs it
// NameRestAPIs) and caches the result. target identifies the account,
// role and region the clients talk to. Calls are 0 on a cache hit.
func (c *Cache) Resources(ctx context.Context, target string, api Clients, svc *resource.Service, search []resource.SearchTag) ([]resource.Resource, Calls, error) {
	var k strings.Builder
	k.WriteString(target)
	k.WriteByte(0)
	k.WriteString(svc.Namespace)
	for _, s := range search {
		fmt.Fprintf(&k, "\x00%s=%s", s.Key, s.Value)
	}
	key := k.String()
	if c != nil && c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && c.now().Before(e.expires) {
			return e.resources, Calls{}, nil
		}
	}
	var calls Calls
	res, n, err := GetResources(ctx, api.Resources, svc, search)
	calls.GetResources = n
	if err != nil {
		return nil, calls, err
	}
	if svc.NamesRestAPIs {
		if api.RestAPIs == nil {
			return nil, calls, fmt.Errorf("%s: no API Gateway client to name REST APIs with", svc.Namespace)
		}
		res, n, err = NameRestAPIs(ctx, api.RestAPIs, res)
		calls.GetRestApis = n
		if err != nil {
			return nil, calls, err
		}
	}
	if c != nil && c.ttl > 0 {
		c.mu.Lock()
		c.entries[key] = cacheEntry{resources: res, expires: c.now().Add(c.ttl)}
		c.mu.Unlock()
	}
	return res, calls, nil
}
