package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/referral"
)

// groupWorld is a PostgreSQL record with postings at loc1 (2 nursing
// beds) and loc2 (5), and group commit limited to one group in flight, so
// that a test decides which changes share a group: it holds a first
// change's group (SetBeforeGroup) until the others have queued.
type groupWorld struct {
	t   *testing.T
	r   *sqlstore.Referral
	at  time.Time
	url string

	mu    sync.Mutex
	sizes []int // the groups formed, in order
}

func newGroupWorld(t *testing.T) *groupWorld {
	ctx := context.Background()
	_, url := pgtest.Start(t).NewDatabase(t)
	s, err := sqlstore.Open(ctx, url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	g := &groupWorld{t: t, r: sqlstore.NewReferral(s), at: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), url: url}
	g.r.SetGroupCommit(64, 1)
	caps := sqlstore.NewCapacity(s)
	for loc, n := range map[string]int{"loc1": 2, "loc2": 5} {
		if _, _, err := caps.Record(ctx, discharge.Capacity{LocationID: loc, AsOf: g.at,
			Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 9, Occupied: 9 - n, AcceptingAdmissions: n}}}); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// send stores offer id of case caseID in partition (version 1).
func (g *groupWorld) send(partition, id, caseID string) {
	g.t.Helper()
	if err := g.r.Apply(context.Background(), inCase(offerChange(partition, id, "P1", g.at), caseID)); err != nil {
		g.t.Fatal(err)
	}
}

func inCase(c referral.Change, caseID string) referral.Change {
	c.Offers[0].Offer.EncounterID = caseID
	for i := range c.Events {
		c.Events[i].CaseID = caseID
	}
	return c
}

func (g *groupWorld) accept(partition, id, caseID, loc string) referral.Change {
	return inCase(acceptChange(partition, id, "P1", loc, g.at.Add(time.Minute)), caseID)
}

// together applies first, and once its group is formed and held, the
// others at once; it returns each one's error (first's at [0]).
func (g *groupWorld) together(first referral.Change, others ...referral.Change) []error {
	g.t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	undo := sqlstore.SetBeforeGroup(func(n int) {
		g.mu.Lock()
		g.sizes = append(g.sizes, n)
		g.mu.Unlock()
		once.Do(func() {
			close(entered)
			<-release
		})
	})
	defer undo()
	errs := make([]error, 1+len(others))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs[0] = g.r.Apply(context.Background(), first)
	}()
	<-entered
	for i, c := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[1+i] = g.r.Apply(context.Background(), c)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); sqlstore.GroupQueued(g.r) < len(others); {
		if time.Now().After(deadline) {
			g.t.Fatalf("%d changes queued, want %d", sqlstore.GroupQueued(g.r), len(others))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	return errs
}

func (g *groupWorld) version(partition, id string) int64 {
	g.t.Helper()
	res, err := g.r.Read(context.Background(), partition, "Task", id)
	if err != nil {
		g.t.Fatal(err)
	}
	return res.VersionID
}

func (g *groupWorld) held(loc string) int {
	g.t.Helper()
	_, n, err := g.r.Bookable(context.Background(), loc, discharge.BedNursing)
	if err != nil {
		g.t.Fatal(err)
	}
	return n
}

// states is a case's timeline as "seq:kind:state".
func (g *groupWorld) states(partition, caseID string) []string {
	g.t.Helper()
	es, err := g.r.Events(context.Background(), partition, caseID)
	if err != nil {
		g.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%d:%s:%s", e.Seq, e.Kind, e.State))
	}
	return out
}

// Concurrent accepts of two trusts share one transaction: all commit,
// each with its Task's new version, its hold counted against its
// Location's beds and its case's event numbered and stated as alone.
func TestGroupCommitSharesATransaction(t *testing.T) {
	g := newGroupWorld(t)
	for _, o := range [][3]string{{"A", "t0", "e0"}, {"A", "t1", "e1"}, {"B", "t2", "e2"}, {"A", "t3", "e3"}, {"B", "t4", "e4"}} {
		g.send(o[0], o[1], o[2])
	}
	errs := g.together(g.accept("A", "t0", "e0", "loc2"),
		g.accept("A", "t1", "e1", "loc1"), g.accept("B", "t2", "e2", "loc1"),
		g.accept("A", "t3", "e3", "loc2"), g.accept("B", "t4", "e4", "loc2"))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
	}
	if !slices.Equal(g.sizes, []int{1, 4}) {
		t.Fatalf("groups of %v, want [1 4] (the held change alone, then the four queued together)", g.sizes)
	}
	if committed, failed := g.r.GroupCommits(); committed != 1 || failed != 0 {
		t.Fatalf("%d groups committed, %d failed; want 1, 0", committed, failed)
	}
	for _, o := range [][3]string{{"A", "t1", "e1"}, {"B", "t2", "e2"}, {"A", "t3", "e3"}, {"B", "t4", "e4"}} {
		if v := g.version(o[0], o[1]); v != 2 {
			t.Fatalf("Task/%s at version %d, want 2", o[1], v)
		}
		want := []string{"1:offer-sent:offers-sent", "2:offer-accepted:accepted"}
		if got := g.states(o[0], o[2]); !slices.Equal(got, want) {
			t.Fatalf("case %s: %v, want %v", o[2], got, want)
		}
	}
	if n, m := g.held("loc1"), g.held("loc2"); n != 2 || m != 3 {
		t.Fatalf("%d holds at loc1 and %d at loc2, want 2 and 3", n, m)
	}
	// Each case's state changes went to the outbox once each, from the
	// event's own statement: offers sent, then accepted.
	want := []string{}
	for _, c := range []string{"e0", "e1", "e2", "e3", "e4"} {
		want = append(want, "Encounter/"+c+" 1 offers-sent", "Encounter/"+c+" 2 accepted")
	}
	if got := g.caseOutbox(); !slices.Equal(got, want) {
		t.Fatalf("case outbox rows\n got %v\nwant %v", got, want)
	}
}

// caseOutbox is the outbox's Case rows as "ref payload", in order.
func (g *groupWorld) caseOutbox() []string {
	g.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, g.url)
	if err != nil {
		g.t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT ref || ' ' || payload FROM outbox WHERE topic = 'Case' ORDER BY ref, payload")
	if err != nil {
		g.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

// One member's failed check (a hold beyond the beds, a stale version)
// rolls its group back and every member is applied alone: the refused
// ones are refused as alone, with the numbers, and nothing of them is
// written; the others commit.
func TestGroupMemberRefusalRefusesNoOther(t *testing.T) {
	g := newGroupWorld(t)
	for _, o := range [][3]string{{"A", "t0", "e0"}, {"A", "t1", "e1"}, {"B", "t2", "e2"}, {"A", "t3", "e3"}, {"B", "t4", "e4"}, {"A", "t5", "e5"}} {
		g.send(o[0], o[1], o[2])
	}
	// loc1's two beds: t0 takes one alone; t1 and t2 both want the
	// other in the group, so its holds' check fails; t3 was decided on a
	// stale version. Applied alone afterwards, one of t1 and t2 (either:
	// they race) takes the bed and the other is refused with the counts.
	stale := g.accept("A", "t3", "e3", "loc2")
	stale.Offers[0].ExpectVersion = 7
	errs := g.together(g.accept("A", "t0", "e0", "loc1"),
		g.accept("A", "t1", "e1", "loc1"), g.accept("B", "t2", "e2", "loc1"), stale,
		g.accept("B", "t4", "e4", "loc2"), g.accept("A", "t5", "e5", "loc2"))
	if !slices.Equal(g.sizes[:2], []int{1, 5}) {
		t.Fatalf("groups of %v, want [1 5 ...]", g.sizes)
	}
	if committed, failed := g.r.GroupCommits(); committed != 0 || failed != 0 {
		t.Fatalf("%d groups committed, %d failed by an error; want 0, 0 (rolled back by a check)", committed, failed)
	}
	won, lost := 1, 2
	if errs[1] != nil {
		won, lost = 2, 1
	}
	for i, want := range []discharge.Kind{0, 0, 0, discharge.KindRetry, 0, 0} {
		if i == lost {
			want = discharge.KindConflict
		}
		if (want == 0) != (errs[i] == nil) || (want != 0 && discharge.ErrorKind(errs[i]) != want) {
			t.Fatalf("change %d: %v, want kind %q (or no error where 0)", i, errs[i], want)
		}
	}
	var de *discharge.Error
	if !errors.As(errs[lost], &de) || len(de.Issues) != 1 || de.Issues[0].Detail != referral.RuleHoldBookable ||
		!strings.Contains(de.Issues[0].Message, "(2 held of 2)") {
		t.Fatalf("refusal without its numbers: %v", errs[lost])
	}
	parts := map[int][2]string{1: {"A", "t1"}, 2: {"B", "t2"}}
	for _, o := range [][2]string{parts[lost], {"A", "t3"}} {
		if v := g.version(o[0], o[1]); v != 1 {
			t.Fatalf("refused Task/%s at version %d, want 1", o[1], v)
		}
	}
	for _, o := range [][3]string{{"A", "t1", "e1"}, {"B", "t2", "e2"}, {"A", "t3", "e3"}} {
		if o[1] == parts[won][1] {
			continue
		}
		if got := g.states(o[0], o[2]); len(got) != 1 {
			t.Fatalf("refused case %s has events %v, want only the offer", o[2], got)
		}
	}
	for _, o := range [][2]string{parts[won], {"B", "t4"}, {"A", "t5"}} {
		if v := g.version(o[0], o[1]); v != 2 {
			t.Fatalf("Task/%s at version %d, want 2", o[1], v)
		}
	}
	if n, m := g.held("loc1"), g.held("loc2"); n != 2 || m != 2 {
		t.Fatalf("%d holds at loc1 and %d at loc2, want 2 and 2", n, m)
	}
}

// Two changes of one case never share a group: the second waits for the
// next, so its event is numbered and stated after the first's commit.
func TestGroupKeepsACaseInOrder(t *testing.T) {
	g := newGroupWorld(t)
	g.send("A", "t0", "e0")
	g.send("A", "t1", "e1")
	g.send("A", "t2", "e1")
	g.send("A", "t3", "e3")
	errs := g.together(g.accept("A", "t0", "e0", "loc2"),
		g.accept("A", "t1", "e1", "loc2"), g.accept("A", "t2", "e1", "loc2"), g.accept("A", "t3", "e3", "loc2"))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
	}
	if !slices.Equal(g.sizes, []int{1, 2, 1}) {
		t.Fatalf("groups of %v, want [1 2 1] (e1's second accept in a group of its own)", g.sizes)
	}
	want := []string{"1:offer-sent:offers-sent", "2:offer-sent:offers-sent", "3:offer-accepted:accepted", "4:offer-accepted:accepted"}
	if got := g.states("A", "e1"); !slices.Equal(got, want) {
		t.Fatalf("case e1: %v, want %v", got, want)
	}
}

// A change whose caller gives up while it is queued leaves the queue
// unwritten, and the changes after it are not held up.
func TestGroupQueuedCallerGivesUp(t *testing.T) {
	g := newGroupWorld(t)
	g.send("A", "t0", "e0")
	g.send("A", "t1", "e1")
	g.send("A", "t2", "e2")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	undo := sqlstore.SetBeforeGroup(func(int) {
		once.Do(func() {
			close(entered)
			<-release
		})
	})
	defer undo()
	done := make(chan error, 1)
	go func() { done <- g.r.Apply(context.Background(), g.accept("A", "t0", "e0", "loc2")) }()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- g.r.Apply(ctx, g.accept("A", "t1", "e1", "loc2")) }()
	for sqlstore.GroupQueued(g.r) < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("a change whose caller gave up while queued was applied")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := g.version("A", "t1"); v != 1 {
		t.Fatalf("Task/t1 at version %d after its caller gave up, want 1", v)
	}
	applied := make(chan error, 1)
	go func() { applied <- g.r.Apply(context.Background(), g.accept("A", "t2", "e2", "loc2")) }()
	select {
	case err := <-applied:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a change after one that gave up was held up")
	}
}
