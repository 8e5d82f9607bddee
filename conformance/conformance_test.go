package conformance_test

import (
	"testing"

	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/discharge"
)

func TestReadAndSearch(t *testing.T) {
	calls := 0
	s := conformance.New(
		[][]byte{[]byte(`{"resourceType":"CodeSystem","id":"a","url":"urn:a"}`), []byte(`{"resourceType":"CodeSystem","url":"http://x/cs/b"}`),
			[]byte(`{"resourceType":"CodeSystem","id":"nourl"}`), []byte(`not json`)},
		[][]byte{[]byte(`{"resourceType":"ConceptMap","id":"m","url":"urn:m"}`)},
		func() []byte { calls++; return []byte(`{"resourceType":"CapabilityStatement"}`) })
	if _, err := s.Read(conformance.CodeSystem, "b"); err != nil {
		t.Errorf("a CodeSystem without an id is not served under its url's last segment: %v", err)
	}
	if _, err := s.Read(conformance.CodeSystem, "nourl"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Errorf("a CodeSystem without a url was published: %v", err)
	}
	if _, err := s.Read(conformance.ConceptMap, "a"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Errorf("a CodeSystem read as a ConceptMap: %v", err)
	}
	if got := s.Search(conformance.CodeSystem, nil); len(got) != 2 {
		t.Errorf("search without url: %d, want 2", len(got))
	}
	if got := s.Search(conformance.CodeSystem, []string{"urn:a"}); len(got) != 1 || got[0].ID != "a" {
		t.Errorf("search by url: %+v", got)
	}
	if got := s.Search(conformance.CodeSystem, []string{"urn:a", "http://x/cs/b"}); len(got) != 0 {
		t.Errorf("repeated url= must AND: %+v", got)
	}
	s.CapabilityStatement()
	s.CapabilityStatement()
	if calls != 1 {
		t.Errorf("the CapabilityStatement was rendered %d times, want once", calls)
	}
}
