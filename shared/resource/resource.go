package resource

import "regexp"

// Tag is one AWS tag of a resource.
type Tag struct {
	Key, Value string
}

// Resource is a tagged AWS resource: its ARN and its tags in the order the
// API returned them.
type Resource struct {
	ARN  string
	Tags []Tag
}

// Tag returns the value of the tag key and whether the resource has it.
func (r *Resource) Tag(key string) (string, bool) {
	for _, t := range r.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// SearchTag selects resources by a tag: the key must be present and its
// value must match Value, an unanchored regular expression (as in YACE:
// "prod" also matches "preprod"; write "^prod$" for the exact value).
type SearchTag struct {
	Key   string
	Value *regexp.Regexp
}

// Matches reports whether r passes every search tag.
func Matches(r *Resource, search []SearchTag) bool {
	for _, s := range search {
		v, ok := r.Tag(s.Key)
		if !ok || !s.Value.MatchString(v) {
			return false
		}
	}
	return true
}
