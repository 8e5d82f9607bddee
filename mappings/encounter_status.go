package mappings

import "github.com/dischargegateway/gateway/discharge"

// EncounterEnd says whether an Encounter, as written (decoded JSON), has
// ended: Encounter.status finished (the patient was discharged: finished
// is true), or cancelled or entered-in-error (the case is void). A missing
// or other status has not ended.
func EncounterEnd(doc map[string]any) (ended, finished bool) {
	status, _ := doc["status"].(string)
	if !discharge.CaseEnded(status) {
		return false, false
	}
	return true, status == "finished"
}
