package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// Link is a Bundle link.
type Link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// EntryResponse is a transaction-response or batch-response entry's
// response.
type EntryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// EntryRequest is a history entry's request: what was done to make the
// version (Bundle.entry.request, required in history Bundles).
type EntryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// BundleEntryOut is one entry of a Bundle the gateway writes. Resource is
// raw JSON, so stored resources are not decoded and encoded again.
type BundleEntryOut struct {
	FullURL     string
	Resource    json.RawMessage
	SearchMode  string
	SearchScore *float64
	Request     *EntryRequest
	Response    *EntryResponse
	Extension   []json.RawMessage // on the entry's search element
}

type entryJSON struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *struct {
		Extension []json.RawMessage `json:"extension,omitempty"`
		Mode      string            `json:"mode,omitempty"`
		Score     *float64          `json:"score,omitempty"`
	} `json:"search,omitempty"`
	Request  *EntryRequest  `json:"request,omitempty"`
	Response *EntryResponse `json:"response,omitempty"`
}

// MarshalBundle renders a Bundle of type typ. total is left out when nil.
//
// Resources and extensions are copied in as they are: they are the
// gateway's own JSON (stored after validation, or built by json.Marshal),
// so scanning and compacting them again, as json.Marshal does with a
// RawMessage, would only cost time on the largest answers. The field order
// and encoding otherwise match encoding/json's for entryJSON
// (TestMarshalBundleMatchesEncodingJSON).
func MarshalBundle(typ string, total *int, links []Link, entries []BundleEntryOut) []byte {
	return AppendBundle(nil, typ, total, links, entries)
}

// AppendBundle is MarshalBundle appending to dst, so a caller can render
// into a buffer it reuses (a placement answer is 40 kB and more, written
// on every request).
func AppendBundle(dst []byte, typ string, total *int, links []Link, entries []BundleEntryOut) []byte {
	size := 96
	for _, e := range entries {
		size += len(e.FullURL) + len(e.Resource) + 96
		for _, x := range e.Extension {
			size += len(x) + 1
		}
	}
	b := slices.Grow(dst, size)
	b = append(b, `{"resourceType":"Bundle","type":`...)
	b = appendJSON(b, typ)
	if total != nil {
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(*total), 10)
	}
	if len(links) > 0 {
		b = append(b, `,"link":`...)
		b = appendJSON(b, links)
	}
	if len(entries) > 0 {
		b = append(b, `,"entry":[`...)
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEntry(b, e)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendEntry(b []byte, e BundleEntryOut) []byte {
	b = append(b, '{')
	sep := func() {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
	}
	if e.FullURL != "" {
		b = append(b, `"fullUrl":`...)
		b = appendJSON(b, e.FullURL)
	}
	if len(e.Resource) > 0 {
		sep()
		b = append(b, `"resource":`...)
		b = append(b, e.Resource...)
	}
	if e.SearchMode != "" || e.SearchScore != nil {
		sep()
		b = append(b, `"search":{`...)
		if len(e.Extension) > 0 {
			b = append(b, `"extension":[`...)
			for i, x := range e.Extension {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, x...)
			}
			b = append(b, ']')
		}
		if e.SearchMode != "" {
			sep()
			b = append(b, `"mode":`...)
			b = appendJSON(b, e.SearchMode)
		}
		if e.SearchScore != nil {
			sep()
			b = append(b, `"score":`...)
			b = appendJSON(b, *e.SearchScore)
		}
		b = append(b, '}')
	}
	if e.Request != nil {
		sep()
		b = append(b, `"request":`...)
		b = appendJSON(b, e.Request)
	}
	if e.Response != nil {
		sep()
		b = append(b, `"response":`...)
		b = appendJSON(b, e.Response)
	}
	return append(b, '}')
}

// appendJSON appends v as encoding/json writes it, but without HTML
// escaping (a link's query keeps its "&" rather than "\u0026", as FHIR
// clients and people expect to read it); v is a string, number or one of
// this file's own types, which always encode.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return AppendString(b, v, false)
	case float64:
		return AppendFloat(b, v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// InEntry is one entry of a transaction or batch Bundle.
type InEntry struct {
	FullURL string
	// Doc is the entry's resource as the validator decoded it (numbers
	// exact), shared with the Bundle's document; nil when there is none.
	Doc map[string]any
	// Resource is the entry's resource as JSON, encoded from Doc; only
	// ParseBundleEntries fills it (BundleEntries leaves it nil).
	Resource    json.RawMessage
	Method      string
	URL         string
	IfNoneExist string
	IfMatch     string
}

// ParseBundleEntries is BundleEntries with each entry's resource also
// encoded as JSON (InEntry.Resource), for a caller that wants the bytes.
func ParseBundleEntries(doc map[string]any) ([]InEntry, error) {
	return bundleEntries(doc, true)
}

// BundleEntries reads the entries of a validated transaction or batch
// Bundle (decoded with UseNumber), each resource as the document the
// validator decoded (InEntry.Doc), not encoded again. Each entry needs a
// request with a method and a url; fullUrls must be unique.
func BundleEntries(doc map[string]any) ([]InEntry, error) {
	return bundleEntries(doc, false)
}

func bundleEntries(doc map[string]any, encode bool) ([]InEntry, error) {
	es, _ := doc["entry"].([]any)
	out := make([]InEntry, 0, len(es))
	var issues discharge.Issues
	seen := map[string]int{}
	for i, e := range es {
		at := fmt.Sprintf("Bundle.entry[%d]", i)
		em, _ := e.(map[string]any)
		var in InEntry
		in.FullURL, _ = em["fullUrl"].(string)
		if strings.HasPrefix(in.FullURL, "urn:uuid:") && !IsUUID(in.FullURL[len("urn:uuid:"):]) {
			issues.Add(discharge.KindValue, at+".fullUrl",
				"A urn:uuid: fullUrl must be followed by an RFC 4122 UUID in lower case, e.g. urn:uuid:6f1a2b3c-0000-4000-8000-000000000001.")
		}
		if in.FullURL != "" {
			if j, dup := seen[in.FullURL]; dup {
				issues.Add(discharge.KindStructure, at+".fullUrl", fmt.Sprintf("The fullUrl repeats entry %d's.", j))
			}
			seen[in.FullURL] = i
		}
		if r, ok := em["resource"]; ok {
			in.Doc, _ = r.(map[string]any)
			if encode {
				raw, err := json.Marshal(r)
				if err != nil {
					return nil, discharge.Wrap(discharge.KindInternal, "bundle entry", err)
				}
				in.Resource = raw
			}
		}
		req, ok := em["request"].(map[string]any)
		if !ok {
			issues.Add(discharge.KindRequired, at+".request", "A transaction or batch entry needs a request.")
			out = append(out, in)
			continue
		}
		in.Method, _ = req["method"].(string)
		in.URL, _ = req["url"].(string)
		in.IfNoneExist, _ = req["ifNoneExist"].(string)
		in.IfMatch, _ = req["ifMatch"].(string)
		out = append(out, in)
	}
	if err := issues.Err(discharge.KindInvalid, "bundle"); err != nil {
		return nil, err
	}
	return out, nil
}

// IsUUID reports whether s is a UUID in the RFC 4122 string form that the
// FHIR uuid type allows: 8-4-4-4-12 lower-case hexadecimal digits.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// BundleType reads Bundle.type from a decoded Bundle, "" when absent.
func BundleType(doc map[string]any) string {
	t, _ := doc["type"].(string)
	return t
}

// BundleEntryCount is how many entries (Bundle.entry) a decoded Bundle has.
func BundleEntryCount(doc map[string]any) int {
	es, _ := doc["entry"].([]any)
	return len(es)
}

// EntryRequests reads each entry's request.method and request.url from a
// decoded Bundle that may not be valid, for naming what its entries asked
// for; an entry without them reads as empty.
func EntryRequests(doc map[string]any) []EntryRequest {
	es, _ := doc["entry"].([]any)
	out := make([]EntryRequest, len(es))
	for i, e := range es {
		em, _ := e.(map[string]any)
		req, _ := em["request"].(map[string]any)
		out[i].Method, _ = req["method"].(string)
		out[i].URL, _ = req["url"].(string)
	}
	return out
}
