package placement

import (
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

// A released candidate list is cleared before it is pooled, so it keeps no
// provider, posting or hold of the request that used it alive, and the set
// no longer refers to it; a list that grew far past the search's bound is
// not pooled at all.
func TestReleasedCandidateListIsCleared(t *testing.T) {
	d := 1.5
	list := candidateList(4)
	if len(list) != 0 || cap(list) < 4 {
		t.Fatalf("candidateList(4) = len %d cap %d, want an empty list with room for 4", len(list), cap(list))
	}
	list = append(list,
		discharge.Candidate{Provider: discharge.Provider{LocationID: "L1", Settings: []discharge.CareSetting{"x"}}, DistanceKm: &d, Capacity: &discharge.Capacity{}},
		discharge.Candidate{Provider: discharge.Provider{LocationID: "L2"}, Held: map[discharge.BedType]int{"b": 1}})
	backing := list[:cap(list)]
	set := candidateSet{list: list}
	set.release()
	if set.list != nil {
		t.Error("the set still refers to its released list")
	}
	for i, c := range backing {
		if c.Provider.LocationID != "" || c.Provider.Settings != nil || c.DistanceKm != nil || c.Capacity != nil || c.Held != nil {
			t.Errorf("released list element %d still holds %+v", i, c)
		}
	}
	if again := candidateList(cap(backing) + 1); len(again) != 0 || cap(again) < cap(backing)+1 {
		t.Errorf("candidateList(%d) = len %d cap %d", cap(backing)+1, len(again), cap(again))
	}
	big := candidateSet{list: make([]discharge.Candidate, 1, 4*MaxCandidates+1)}
	big.release()
	if big.list != nil {
		t.Error("the set still refers to its released list")
	}
	var empty candidateSet
	empty.release() // a set with no candidates has nothing to give back
}
