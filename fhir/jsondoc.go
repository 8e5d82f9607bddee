package fhir

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/dischargegateway/gateway/discharge"
)

// DecodeDoc decodes validated resource JSON into generic form, keeping
// numbers exact (FHIR decimals keep their precision: 1.50 stays 1.50).
func DecodeDoc(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, discharge.E(discharge.KindStructure, "", "The body is not a JSON object.")
	}
	return doc, nil
}

// EncodeDoc writes a resource with resourceType, id and meta first, the way
// people expect to read FHIR JSON, the other elements in name order (so the
// same content always encodes to the same bytes), and without HTML
// escaping.
func EncodeDoc(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "resourceType":
			return 0
		case "id":
			return 1
		case "meta":
			return 2
		}
		return 3
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k)
		out = append(out, kb...)
		out = append(out, ':')
		buf.Reset()
		if err := enc.Encode(doc[k]); err != nil {
			return nil, discharge.Wrap(discharge.KindInternal, "encode", err)
		}
		out = append(out, bytes.TrimRight(buf.Bytes(), "\n")...)
	}
	return append(out, '}'), nil
}
