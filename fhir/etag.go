package fhir

import (
	"strconv"
	"strings"
)

// ETag is the weak ETag of a resource version: W/"3" (FHIR http.html#versioning).
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ParseETag reads a version ETag: W/"3" or "3" (RFC 9110 §8.8.3, an
// entity-tag is an optional W/ and a quoted opaque tag) is version 3. A
// bare 3 is read as version 3 too, because some FHIR clients send
// If-Match: 3 and it cannot mean anything else. ok is false for anything
// else: an unbalanced or doubled quote ("3, 3", ""3""), W/ without
// quotes (W/3), a sign, spaces or letters inside the tag, or a version
// of 0 or one too large to be a version.
func ParseETag(v string) (version int64, ok bool) {
	v = strings.TrimSpace(v)
	weak := strings.HasPrefix(v, "W/")
	if weak {
		v = v[2:]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	} else if weak {
		return 0, false
	}
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}
