package naming

// Label returns the label name YACE builds from a prefix ("dimension_",
// "tag_", "custom_tag_") and a CloudWatch dimension name or AWS tag key:
// YACE's separator replacements with the case kept, or its snake-casing when
// snakeCase is set (YACE's -labels-snake-case), then "_" for any character a
// classic label name cannot hold. A key starting with a digit needs no
// escape: the prefix comes first.
func Label(prefix, name string, snakeCase bool) string {
	if snakeCase {
		return prefix + replaceInvalid(snake(name), false)
	}
	return prefix + replaceInvalid(separators(name), false)
}
