package fhir

import (
	"strconv"
	"strings"
)

// ETag is the weak ETag of a resource version: W/"3" (FHIR http.html#versioning).
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ParseETag reads W/"3" or "3" as version 3; ok is false for anything else.
func ParseETag(v string) (version int64, ok bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}
