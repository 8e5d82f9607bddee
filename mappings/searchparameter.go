package mappings

import (
	"encoding/json"

	"github.com/dischargegateway/gateway/fhir"
)

// SearchParameterJSON renders a search parameter the gateway defines as a
// FHIR R4 SearchParameter resource (id "{base}-{name}"): its canonical URL
// (SearchParameter.url) is the definition the CapabilityStatement's
// rest.resource.searchParam names.
func SearchParameterJSON(base string, p fhir.SearchParam) []byte {
	sp := map[string]any{
		"resourceType": "SearchParameter", "id": base + "-" + p.Name, "url": p.Definition,
		"name": base + "-" + p.Name, "status": "active", "publisher": "Discharge Gateway",
		"description": p.Doc, "code": p.Name, "base": []string{base}, "type": fhir.ParamTypeCode(p.Type),
		"expression": p.Expression, "xpathUsage": "normal",
	}
	if p.Type == fhir.ParamDate {
		sp["comparator"] = []string{"eq", "lt", "le", "gt", "ge"}
	}
	b, _ := json.Marshal(sp)
	return b
}
