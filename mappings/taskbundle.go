package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// TaskTransaction recognises a transaction Bundle whose every entry
// creates a Task (request.method POST, request.url "Task"): several offers
// sent at once, which the referral service writes in one transaction
// instead of the record's transaction path. It returns each entry's Task,
// in the Bundle's order, and ok; ok is false for any other body, which is
// left alone for the record's path (a Bundle mixing Tasks with other
// resources included).
//
// A recognised Bundle is validated whole (fhir.Validate: each Task against
// the R4 schema, at Bundle.entry[i].resource paths) and refused with that
// error; a conditional create of a Task is refused (not-supported at
// Bundle.entry[i].request.ifNoneExist), and so is an entry whose resource
// is not a Task (invalid at Bundle.entry[i].resource.resourceType). Any other Bundle costs one search
// for the bytes "Task" and, when they appear, one shallow decode.
func TaskTransaction(body []byte, lim fhir.Limits) (tasks [][]byte, ok bool, err error) {
	if !bytes.Contains(body, []byte(`"Task"`)) {
		return nil, false, nil
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Request struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &head) != nil || head.ResourceType != "Bundle" || head.Type != "transaction" || len(head.Entry) == 0 {
		return nil, false, nil
	}
	for _, e := range head.Entry {
		if e.Request.Method != "POST" || e.Request.URL != "Task" {
			return nil, false, nil
		}
	}
	parsed, err := fhir.Validate(body, "Bundle", lim)
	if err != nil {
		return nil, true, err
	}
	entries, err := fhir.ParseBundleEntries(parsed.Doc)
	if err != nil {
		return nil, true, err
	}
	tasks = make([][]byte, len(entries))
	for i, e := range entries {
		if e.IfNoneExist != "" {
			return nil, true, discharge.E(discharge.KindNotSupported, fmt.Sprintf("Bundle.entry[%d].request.ifNoneExist", i),
				"A Task is not created conditionally: send each offer once.")
		}
		if len(e.Resource) == 0 {
			return nil, true, discharge.E(discharge.KindRequired, fmt.Sprintf("Bundle.entry[%d].resource", i),
				"A Task create needs the Task.")
		}
		// As the record's transaction path answers (records.entryTarget):
		// POST Task carrying another resource is refused, not taken as a
		// Task (found by FuzzTaskTransaction).
		if rt, _ := e.Doc["resourceType"].(string); rt != "Task" {
			return nil, true, discharge.E(discharge.KindInvalid, fmt.Sprintf("Bundle.entry[%d].resource.resourceType", i),
				"The resource type does not match request.url.")
		}
		tasks[i] = e.Resource
	}
	return tasks, true, nil
}
