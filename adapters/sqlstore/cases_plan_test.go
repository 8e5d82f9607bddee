package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/cases"
)

// On SQLite each worklist sort reads its page through its index
// (migration 19's worklistSortIndexes) instead of sorting every match in a
// temporary B-tree: the plan of the page's subquery names the index, and
// the only sort left is the outer one of the page's own rows.
func TestWorklistPageUsesSortIndex(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	loadWorklist(t, s, 2000, now)
	if err := sqlstore.Analyze(ctx, s); err != nil {
		t.Fatal(err)
	}
	c := sqlstore.NewCases(s)
	for _, tc := range []struct {
		sort  string
		index string
	}{{cases.SortNCTRDays, "case_worklist_nctr_page"}, {cases.SortDRD, "case_worklist_drd_page"}, {cases.SortUpdated, "case_worklist_updated"}} {
		q, args := sqlstore.WorklistSQL(c, "RXA", cases.WorklistQuery{Sort: tc.sort, Limit: 20, OfferCutoff: now.Add(-time.Hour),
			NCTRCutoff: now.Add(-72 * time.Hour)})
		plan, err := sqlstore.Explain(ctx, s, "RXA", q, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "USING INDEX "+tc.index) || strings.Count(plan, "USE TEMP B-TREE FOR ORDER BY") != 1 {
			t.Errorf("sort %s: the page is not read through %s:\n%s", tc.sort, tc.index, plan)
		}
	}
}
