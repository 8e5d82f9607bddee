package records_test

import (
	"context"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/records"
)

// fakeStore is a hand-written Store: resources by partition and
// "Type/id", and function fields for what a test wants to see fail.
type fakeStore struct {
	res    map[string]map[string]fhir.Resource
	commit func(partition string, writes []fhir.Write) error
	reads  []string // partitions read, in order
}

func (f *fakeStore) Read(_ context.Context, partition, typ, id string) (fhir.Resource, error) {
	f.reads = append(f.reads, partition)
	if r, ok := f.res[partition][typ+"/"+id]; ok {
		return r, nil
	}
	return fhir.Resource{}, discharge.KindOf(discharge.KindNotFound)
}

func (f *fakeStore) ReadVersion(ctx context.Context, partition, typ, id string, v int64) (fhir.Resource, error) {
	r, err := f.Read(ctx, partition, typ, id)
	if err != nil || r.VersionID != v {
		return fhir.Resource{}, discharge.KindOf(discharge.KindNotFound)
	}
	return r, nil
}

func (f *fakeStore) History(ctx context.Context, partition, typ, id string, _, _ int) ([]fhir.Resource, int, error) {
	r, err := f.Read(ctx, partition, typ, id)
	if err != nil {
		return nil, 0, err
	}
	return []fhir.Resource{r}, 1, nil
}

func (f *fakeStore) Commit(_ context.Context, partition string, writes []fhir.Write, _ []fhir.Guard) error {
	if f.commit != nil {
		if err := f.commit(partition, writes); err != nil {
			return err
		}
	}
	if f.res == nil {
		f.res = map[string]map[string]fhir.Resource{}
	}
	if f.res[partition] == nil {
		f.res[partition] = map[string]fhir.Resource{}
	}
	for _, w := range writes {
		f.res[partition][w.Resource.Type+"/"+w.Resource.ID] = w.Resource
	}
	return nil
}

func (f *fakeStore) Search(context.Context, string, fhir.Query) ([]fhir.Resource, int, error) {
	return nil, 0, nil
}

func trust(org string) *auth.Principal {
	sc, _ := auth.ParseScopes("system/Patient.cruds system/Encounter.cruds")
	return &auth.Principal{ClientID: "c", Org: org, Role: auth.RoleTrust, Scopes: sc}
}

func TestTenancy(t *testing.T) {
	hub := &auth.Principal{Org: "HUB", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	care := &auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}
	for _, tc := range []struct {
		name      string
		p         *auth.Principal
		typ       string
		write     string // partition written, "" when refused
		readsFrom []string
	}{
		{"trust writes and reads its own patient data", trust("RXA"), "Patient", "RXA", []string{"RXA"}},
		{"a hub reads its members' and writes none", hub, "Encounter", "", []string{"RXA", "RXB"}},
		{"a care provider writes the directory", care, "Location", fhir.DirectoryPartition, []string{fhir.DirectoryPartition}},
		{"a care provider reads no patient data", care, "Patient", "", nil},
		{"a trust reads the directory but does not write it", trust("RXA"), "Organization", "", []string{fhir.DirectoryPartition}},
		{"no caller", nil, "Patient", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			part, err := records.WritePartition(tc.p, tc.typ)
			switch {
			case tc.write == "" && discharge.ErrorKind(err) != discharge.KindForbidden:
				t.Fatalf("write: %q, %v; want forbidden", part, err)
			case tc.write != "" && (err != nil || part != tc.write):
				t.Fatalf("write: %q, %v; want %q", part, err, tc.write)
			}
			if got := records.ReadPartitions(tc.p, tc.typ); strings.Join(got, ",") != strings.Join(tc.readsFrom, ",") {
				t.Fatalf("reads %v, want %v", got, tc.readsFrom)
			}
		})
	}
}

// A resource held for another organisation is not found, and its
// existence does not leak; a hub finds it in its member's partition.
func TestReadAcrossPartitions(t *testing.T) {
	st := &fakeStore{res: map[string]map[string]fhir.Resource{
		"RXB": {"Patient/p1": {Type: "Patient", ID: "p1", VersionID: 2, JSON: []byte(`{}`)}}}}
	s := records.New(records.Config{}, records.Deps{Store: st})
	if _, _, err := s.Read(context.Background(), trust("RXA"), "Patient", "p1"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("another trust's Patient: %v, want not found", err)
	}
	hub := &auth.Principal{Org: "HUB", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	r, part, err := s.Read(context.Background(), hub, "Patient", "p1")
	if err != nil || part != "RXB" || r.VersionID != 2 {
		t.Fatalf("hub read: %+v %q %v", r, part, err)
	}
	if _, err := s.VRead(context.Background(), hub, "Patient", "p1", "0"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("version 0: %v", err)
	}
}

// A create is stamped, stored in the caller's partition, and a store that
// cannot be reached fails it without a partial write.
func TestCreateStampsAndStores(t *testing.T) {
	st := &fakeStore{}
	n := 0
	s := records.New(records.Config{}, records.Deps{Store: st, Now: func() time.Time { return time.Unix(0, 0) },
		NewID: func() string { n++; return "id" + strconv.Itoa(n) }})
	body := []byte(`{"resourceType":"Patient","gender":"female"}`)
	o, err := s.Create(context.Background(), trust("RXA"), "Patient", body, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != 201 || o.Resource.ID != "id1" || o.Resource.VersionID != 1 || !strings.Contains(string(o.Resource.JSON), `"versionId":"1"`) {
		t.Fatalf("outcome %+v %s", o, o.Resource.JSON)
	}
	if _, ok := st.res["RXA"]["Patient/id1"]; !ok {
		t.Fatalf("not stored in RXA: %v", st.res)
	}
	st.commit = func(string, []fhir.Write) error { return discharge.Wrap(discharge.KindUnavailable, "fake", nil) }
	if _, err := s.Create(context.Background(), trust("RXA"), "Patient", body, ""); discharge.ErrorKind(err) != discharge.KindUnavailable {
		t.Fatalf("outage: %v", err)
	}
	if len(st.res["RXA"]) != 1 {
		t.Fatalf("%d stored after the outage", len(st.res["RXA"]))
	}
}

// records speaks no HTTP framework and reaches storage only through the
// interfaces it declares.
func TestImportRules(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if strings.Contains(path, "labstack/echo") || strings.Contains(path, "/adapters/") || strings.Contains(path, "/gateway/gateway") ||
				strings.Contains(path, "go-redis") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}

// In a batch an invalid entry fails alone and GET entries read; a refused
// transaction names what each entry asked for, for the audit trail.
func TestBundleEntries(t *testing.T) {
	st := &fakeStore{res: map[string]map[string]fhir.Resource{
		"RXA": {"Patient/p1": {Type: "Patient", ID: "p1", VersionID: 1, JSON: []byte(`{"resourceType":"Patient","id":"p1"}`)}}}}
	n := 0
	s := records.New(records.Config{}, records.Deps{Store: st, NewID: func() string { n++; return "new" + strconv.Itoa(n) }})
	ctx := context.Background()
	batch := `{"resourceType":"Bundle","type":"%s","entry":[
		{"resource":{"resourceType":"Patient","gender":"female"},"request":{"method":"POST","url":"Patient"}},
		{"resource":{"resourceType":"Patient","gender":"bogus"},"request":{"method":"POST","url":"Patient"}},
		{"request":{"method":"GET","url":"Patient/p1"}}]}`
	res, err := s.Bundle(ctx, trust("RXA"), []byte(strings.Replace(batch, "%s", "batch", 1)), "https://gw/fhir")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 3 || res.Interaction != "batch" {
		t.Fatalf("%+v", res)
	}
	for i, want := range []struct {
		status int
		kind   discharge.Kind
		access records.Access
	}{
		{201, 0, records.Access{Action: "C", Type: "Patient", ID: "new1"}},
		{0, discharge.KindCodeInvalid, records.Access{Action: "C", Type: "Patient"}},
		{200, 0, records.Access{Action: "R", Type: "Patient", ID: "p1"}},
	} {
		r := res.Entries[i]
		if want.kind != 0 {
			if discharge.ErrorKind(r.Err) != want.kind {
				t.Errorf("entry %d: %v, want %v", i, r.Err, want.kind)
			}
		} else if r.Err != nil || r.Status != want.status {
			t.Errorf("entry %d: status %d, %v; want %d", i, r.Status, r.Err, want.status)
		}
		if r.Access != want.access {
			t.Errorf("entry %d: access %+v, want %+v", i, r.Access, want.access)
		}
	}
	stored := len(st.res["RXA"])
	res, err = s.Bundle(ctx, trust("RXA"), []byte(strings.Replace(batch, "%s", "transaction", 1)), "https://gw/fhir")
	if discharge.ErrorKind(err) != discharge.KindCodeInvalid {
		t.Fatalf("transaction: %v, want code-invalid", err)
	}
	if len(st.res["RXA"]) != stored {
		t.Fatal("a refused transaction stored something")
	}
	want := []records.Access{{Action: "C", Type: "Patient"}, {Action: "C", Type: "Patient"}, {Action: "R", Type: "Patient", ID: "p1"}}
	if res.Interaction != "transaction" || len(res.Refused) != len(want) {
		t.Fatalf("refused %+v", res)
	}
	for i := range want {
		if res.Refused[i] != want[i] {
			t.Errorf("refused[%d] %+v, want %+v", i, res.Refused[i], want[i])
		}
	}
}

// near takes placement's radius rules: its default and its bound.
func TestNearRadiusIsPlacements(t *testing.T) {
	s := records.New(records.Config{}, records.Deps{Store: &fakeStore{}})
	care := &auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}
	for _, tc := range []struct {
		near string
		ok   bool
	}{
		{"53.44|-2.22", true},
		{"53.44|-2.22|" + strconv.FormatFloat(placement.MaxRadiusKm, 'f', -1, 64) + "|km", true},
		{"53.44|-2.22|" + strconv.FormatFloat(placement.MaxRadiusKm+1, 'f', -1, 64) + "|km", false},
		{"53.44|-2.22|300|km", false},
		{"53.44|-2.22|124|mi", true},
	} {
		t.Run(tc.near, func(t *testing.T) {
			_, err := s.Search(context.Background(), care, "Location", map[string][]string{"near": {tc.near}}, true, "https://gw/fhir")
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && discharge.ErrorKind(err) != discharge.KindValue {
				t.Fatalf("%v, want value", err)
			}
		})
	}
}
