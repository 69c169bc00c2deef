package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// YACEOptions are the keys of a job that come from YACE: what makes a job a
// service job (type: the resources of a namespace found through the Tagging
// API, YACE's discovery job), and the label options any job may set.
type YACEOptions struct {
	// Type makes the job a service job: a namespace ("AWS/EC2") or YACE's
	// alias for it ("ec2"). Its metrics are those of the namespace's tagged
	// resources, labelled name = the resource ARN.
	Type string `yaml:"type"`
	// SearchTags keep the resources whose tag Key has a value matching Value,
	// an unanchored regular expression, as in YACE; all must match.
	SearchTags []KeyValue `yaml:"search_tags"`
	// ExportedTags become tag_<Key> labels on the job's series.
	ExportedTags []string `yaml:"exported_tags"`
	// DimensionNameRequirements keep only the metrics whose dimension names
	// are exactly this set (empty: every dimension set).
	DimensionNameRequirements []string `yaml:"dimension_name_requirements"`
	// IncludeContextOnInfoMetrics puts region, account_id, account_alias and
	// the custom tags on the aws_<service>_info series too.
	IncludeContextOnInfoMetrics bool `yaml:"include_context_on_info_metrics"`
	// Roles lists several accounts to collect from (role_arn is one).
	Roles []Role `yaml:"roles"`
	// CustomTags become custom_tag_<Key> labels on every series of the job.
	CustomTags []KeyValue `yaml:"custom_tags"`
	// LabelsSnakeCase snake-cases the dimension_, tag_ and custom_tag_ label
	// names (YACE's -labels-snake-case).
	LabelsSnakeCase bool `yaml:"labels_snake_case"`
	// CustomNamespace makes a discovery job YACE's custom namespace job: its
	// series' name label is the job name (not "global"), and without
	// dimensions every dimension set of its metrics is listed.
	CustomNamespace bool `yaml:"custom_namespace"`
	// AccountAlias puts the account's IAM alias (when it has one) on every
	// series of the job as account_alias, as YACE does. Unset: on for
	// service jobs, off for the others, whose series would otherwise change
	// labels (-import-yace sets it on every job it writes).
	AccountAlias *bool `yaml:"account_alias"`
	// NilToZero writes 0 for each period of a series' window that CloudWatch
	// returned no datapoint for (YACE's nilToZero); by default such periods
	// are left empty.
	NilToZero bool `yaml:"nil_to_zero"`
}

// KeyValue is one key and value of search_tags or custom_tags.
type KeyValue struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// Role is one account of a job: a role to assume, optionally with an
// external ID.
type Role struct {
	RoleARN    string `yaml:"role_arn"`
	ExternalID string `yaml:"external_id"`
}

// IsService reports whether j is a service job.
func (j *Job) IsService() bool { return j.Type != "" }

// Service returns the service of a service job (nil for other jobs).
func (j *Job) Service() *resource.Service {
	svc, _ := resource.LookupService(j.Type)
	return svc
}

// WantsAccountAlias reports whether the job's series carry account_alias.
func (j *Job) WantsAccountAlias() bool {
	if j.AccountAlias != nil {
		return *j.AccountAlias
	}
	return j.IsService()
}

// SearchTagsCompiled returns the job's search tags with their values
// compiled (Validate has checked them).
func (j *Job) SearchTagsCompiled() []resource.SearchTag {
	out := make([]resource.SearchTag, 0, len(j.SearchTags))
	for _, s := range j.SearchTags {
		re, err := regexp.Compile(s.Value)
		if err != nil {
			continue
		}
		out = append(out, resource.SearchTag{Key: s.Key, Value: re})
	}
	return out
}

// Accounts returns the roles the job collects through: roles, else role_arn,
// else one empty role (the function's own credentials).
func (j *Job) Accounts() []Role {
	switch {
	case len(j.Roles) > 0:
		return j.Roles
	case j.RoleARN != "":
		return []Role{{RoleARN: j.RoleARN, ExternalID: j.ExternalID}}
	}
	return []Role{{}}
}

// validateYACE checks the YACE options of a job.
func validateYACE(path string, j *Job) []error {
	var errs []error
	add := func(p, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...)))
	}
	if j.Type != "" {
		svc, ok := resource.LookupService(j.Type)
		switch {
		case !ok:
			add(path+".type", "unknown service %q (one of %s, or YACE's alias of one)", j.Type, strings.Join(resource.ServiceTypes(), ", "))
		case j.Namespace != "" && j.Namespace != svc.Namespace:
			add(path+".namespace", "%q differs from the namespace of type %s (%s); leave namespace out", j.Namespace, j.Type, svc.Namespace)
		case svc.Region != "":
			for k, r := range j.Regions {
				if r != svc.Region {
					add(fmt.Sprintf("%s.regions[%d]", path, k), "%s publishes its metrics only in %s (got %s)", svc.Namespace, svc.Region, r)
				}
			}
		}
		if j.Dimensions != nil || j.Static != nil || j.CustomNamespace {
			add(path, "a service job (type) finds its metrics through its resources: set neither dimensions, static nor custom_namespace")
		}
	} else {
		only := func(key string, set bool) {
			if set {
				add(path+"."+key, "only for service jobs (set type)")
			}
		}
		only("search_tags", len(j.SearchTags) > 0)
		only("exported_tags", len(j.ExportedTags) > 0)
		only("dimension_name_requirements", len(j.DimensionNameRequirements) > 0)
		only("include_context_on_info_metrics", j.IncludeContextOnInfoMetrics)
		if j.CustomNamespace && j.Static != nil {
			add(path+".custom_namespace", "a custom namespace job lists its dimension sets: set dimensions (or none), not static")
		}
	}
	for k, s := range j.SearchTags {
		p := fmt.Sprintf("%s.search_tags[%d]", path, k)
		if s.Key == "" {
			add(p+".key", "required")
		}
		if _, err := regexp.Compile(s.Value); err != nil {
			add(p+".value", "not a regular expression: %v", err)
		}
	}
	labelOf := map[string]string{}
	checkLabel := func(p, prefix, key string) {
		if key == "" {
			add(p, "key required")
			return
		}
		name := prefix + key
		label := resource.TagLabel(key, j.LabelsSnakeCase)
		if prefix == "custom_tag_" {
			label = resource.CustomTagLabel(key, j.LabelsSnakeCase)
		}
		if prev, dup := labelOf[label]; dup {
			add(p, "%q and %q both become label %s", prev, name, label)
			return
		}
		labelOf[label] = name
	}
	for k, key := range j.ExportedTags {
		checkLabel(fmt.Sprintf("%s.exported_tags[%d]", path, k), "tag_", key)
	}
	for k, c := range j.CustomTags {
		p := fmt.Sprintf("%s.custom_tags[%d]", path, k)
		checkLabel(p+".key", "custom_tag_", c.Key)
		if c.Value == "" {
			add(p+".value", "required (an empty label is no label)")
		}
	}
	errs = append(errs, validateDimensionNames(path+".dimension_name_requirements", j.DimensionNameRequirements)...)
	if len(j.Roles) > 0 && j.RoleARN != "" {
		add(path+".roles", "set role_arn or roles, not both")
	}
	accounts := map[string]int{}
	for k, r := range j.Roles {
		p := fmt.Sprintf("%s.roles[%d]", path, k)
		if !roleARNRE.MatchString(r.RoleARN) {
			add(p+".role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", r.RoleARN)
		} else {
			// Progress is kept per (region, account): two roles into one
			// account would collect its series twice under one progress.
			acct := strings.Split(r.RoleARN, ":")[4]
			if prev, dup := accounts[acct]; dup {
				add(p+".role_arn", "account %s again (also roles[%d]): list each account once", acct, prev)
			} else {
				accounts[acct] = k
			}
		}
		if r.ExternalID != "" && (len(r.ExternalID) < 2 || len(r.ExternalID) > 1224 || !externalIDRE.MatchString(r.ExternalID)) {
			add(p+".external_id", "must be 2-1224 characters of [A-Za-z0-9+=,.@:/_-]")
		}
	}
	return errs
}
