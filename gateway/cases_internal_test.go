package gateway

import "testing"

// FuzzDecodeTriage: no body makes the triage decoder panic, and what it
// accepts has exactly the three fields.
func FuzzDecodeTriage(f *testing.F) {
	for _, s := range []string{`{"pathway":"3","destination":"54","levelOfCare":"nursing"}`, `{}`, `{"pathway":3}`,
		`{"pathway":"1"} {"x":1}`, `[]`, `null`, `{"colour":"red"}`, "", `{"pathway":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeTriage(body)
		if err != nil && (d.Pathway != "" || d.Destination != "" || d.LevelOfCare != "") {
			t.Fatalf("an error with a decision: %+v", d)
		}
	})
}
