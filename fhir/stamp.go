package fhir

import (
	"strconv"
	"time"
)

// SetID sets a decoded resource's logical id (Resource.id).
func SetID(doc map[string]any, id string) { doc["id"] = id }

// Stamp sets what the server owns in a decoded resource it stores:
// Resource.id, Resource.meta.versionId and Resource.meta.lastUpdated,
// keeping the rest of meta (profile, tag, security) as sent.
func Stamp(doc map[string]any, id string, version int64, lastUpdated time.Time) {
	doc["id"] = id
	meta, _ := doc["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.FormatInt(version, 10)
	meta["lastUpdated"] = lastUpdated.UTC().Format(time.RFC3339Nano)
	doc["meta"] = meta
}
