package mappings_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// offerTask is a minimal R4 Task offering ServiceRequest/sr to owner.
func offerTask(owner string) map[string]any {
	return map[string]any{"resourceType": "Task", "status": "requested", "intent": "order",
		"focus": map[string]any{"reference": "ServiceRequest/sr"}, "for": map[string]any{"reference": "Patient/p"},
		"owner": map[string]any{"reference": "Organization/" + owner}}
}

func taskBundle(typ string, entries ...map[string]any) []byte {
	es := make([]any, len(entries))
	for i, e := range entries {
		es[i] = e
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": typ, "entry": es})
	return b
}

func post(url string, r map[string]any) map[string]any {
	return map[string]any{"resource": r, "request": map[string]any{"method": "POST", "url": url}}
}

// TestTaskTransaction: only a transaction whose every entry creates a Task
// is taken from the record's path; it is validated whole, and each Task
// comes back in order.
func TestTaskTransaction(t *testing.T) {
	patient := map[string]any{"resourceType": "Patient"}
	bad := offerTask("c")
	bad["status"] = "bogus"
	cond := post("Task", offerTask("d"))
	cond["request"].(map[string]any)["ifNoneExist"] = "identifier=x"
	for _, tc := range []struct {
		name   string
		body   []byte
		ok     bool
		n      int
		errAt  string
		errKnd discharge.Kind
	}{
		{"two offers", taskBundle("transaction", post("Task", offerTask("a")), post("Task", offerTask("b"))), true, 2, "", 0},
		{"batch", taskBundle("batch", post("Task", offerTask("a"))), false, 0, "", 0},
		{"mixed with a Patient", taskBundle("transaction", post("Task", offerTask("a")), post("Patient", patient)), false, 0, "", 0},
		{"a PUT of a Task", taskBundle("transaction", map[string]any{"resource": offerTask("a"),
			"request": map[string]any{"method": "PUT", "url": "Task/1"}}), false, 0, "", 0},
		{"no Task at all", taskBundle("transaction", post("Patient", patient)), false, 0, "", 0},
		{"not JSON", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"url":"Task"`), false, 0, "", 0},
		{"invalid Task", taskBundle("transaction", post("Task", offerTask("a")), post("Task", bad)), true, 0,
			"Bundle.entry[1].resource.status", discharge.KindCodeInvalid},
		{"conditional", taskBundle("transaction", cond), true, 0, "Bundle.entry[0].request.ifNoneExist", discharge.KindNotSupported},
		{"POST Task carrying a Patient", taskBundle("transaction", post("Task", offerTask("a")), post("Task", patient)), true, 0,
			"Bundle.entry[1].resource.resourceType", discharge.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tasks, ok, err := mappings.TaskTransaction(tc.body, fhir.DefaultLimits)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (err %v)", ok, tc.ok, err)
			}
			if tc.errAt != "" {
				var de *discharge.Error
				if !errors.As(err, &de) || len(de.Issues) == 0 {
					t.Fatalf("err = %v, want an issue at %s", err, tc.errAt)
				}
				found := false
				for _, is := range de.Issues {
					found = found || is.Expression == tc.errAt && is.Kind == tc.errKnd
				}
				if !found {
					t.Fatalf("issues %+v, want %s at %s", de.Issues, tc.errKnd, tc.errAt)
				}
				return
			}
			if err != nil || len(tasks) != tc.n {
				t.Fatalf("tasks %d, err %v; want %d", len(tasks), err, tc.n)
			}
			for i, b := range tasks {
				if want := string(rune('a' + i)); !strings.Contains(string(b), `"Organization/`+want+`"`) {
					t.Errorf("task %d = %s, want owner %s", i, b, want)
				}
			}
		})
	}
}

// FuzzTaskTransaction: no body panics the recogniser, and whatever it
// takes is a transaction of Task creates.
func FuzzTaskTransaction(f *testing.F) {
	f.Add(taskBundle("transaction", post("Task", offerTask("a"))))
	f.Add(taskBundle("transaction", post("Task", offerTask("a")), post("Patient", map[string]any{"resourceType": "Patient"})))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Task"}}]}`))
	f.Add([]byte(`"Task"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tasks, ok, err := mappings.TaskTransaction(body, fhir.DefaultLimits)
		if !ok && (err != nil || tasks != nil) {
			t.Fatalf("not taken, yet tasks %d, err %v", len(tasks), err)
		}
		for _, b := range tasks {
			if fhir.ResourceType(b) != "Task" {
				t.Fatalf("took a %q", fhir.ResourceType(b))
			}
		}
	})
}
