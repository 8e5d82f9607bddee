// `loadgen soak` drives a mixed load at one or more running gateway processes
// for a long time and records, per interval, throughput, p50/p99 and errors
// by class, and each process's memory; at the end it reads back every write
// a gateway acknowledged and counts any that are lost.
//
// The mix, per request: 20 % intake (a transaction Bundle of Patient,
// Encounter and ServiceRequest), 20 % capacity postings, 40 %
// $placement-options on a stored ServiceRequest, 20 % reads of resources
// acknowledged earlier. scripts/soak.sh starts the Redis Cluster and the
// gateways, and calls this.
//
//	loadgen soak --gateways http://127.0.0.1:8081,http://127.0.0.1:8082 --pids 123,456 \
//	     --trust-token T --provider-token P --locations cqc-1-1,cqc-1-2 --duration 10m --out bench/soak.md
//
// A fault window (--fault-from/--fault-to, offsets from the start) marks
// the intervals in which a fault was injected on purpose; 5xx inside it are
// reported apart from those outside, which must be zero.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/synthetic"
)

type kind int

const (
	kIntake kind = iota
	kCapacity
	kPlacement
	kRead
	nKinds
)

var kindNames = [nKinds]string{"intake", "capacity", "placement", "read"}

// interval is what happened in one reporting window.
type interval struct {
	mu       sync.Mutex
	lat      [nKinds][]time.Duration
	ok       [nKinds]int
	s4xx     [nKinds]int
	s5xx     [nKinds]int
	failures [nKinds]int // transport errors (no HTTP answer)
	// errors counts error answers by kind, status and the OperationOutcome's
	// first issue code ("placement 503 transient"), or the transport error.
	errors map[string]int
	rssKB  []int64
}

type soak struct {
	gateways      []string
	trust, prov   string
	locations     []string
	client        *http.Client
	mu            sync.Mutex
	acknowledged  []string // "Type/id/_history/v" of every acknowledged write
	serviceReqs   []string
	writeAttempts atomic.Int64
}

func soakMain(args []string) {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	gws := fs.String("gateways", "", "comma-separated gateway base URLs (required)")
	pids := fs.String("pids", "", "comma-separated gateway process ids, for memory figures")
	trust := fs.String("trust-token", "", "access token of a trust client (intake, reads, placement)")
	prov := fs.String("provider-token", "", "access token of a care-provider client (capacity postings)")
	locs := fs.String("locations", "", "comma-separated Location ids the provider owns")
	workers := fs.Int("workers", 8, "concurrent clients")
	rate := fs.Float64("rate", 100, "requests per second in total (open loop)")
	duration := fs.Duration("duration", 10*time.Minute, "length of the run")
	every := fs.Duration("interval", 30*time.Second, "reporting interval")
	faultFrom := fs.Duration("fault-from", -1, "start of an injected-fault window, from the start of the run")
	faultTo := fs.Duration("fault-to", -1, "end of the injected-fault window")
	root := fs.String("root", ".", "repository root (for configs/)")
	out := fs.String("out", "", "results file (Markdown); default stdout")
	note := fs.String("note", "", "a line describing the setup, printed in the results")
	_ = fs.Parse(args)
	if *gws == "" || *trust == "" || *prov == "" || *locs == "" {
		fmt.Fprintln(os.Stderr, "loadgen soak: --gateways, --trust-token, --provider-token and --locations are required")
		os.Exit(2)
	}
	s := &soak{gateways: strings.Split(*gws, ","), trust: *trust, prov: *prov, locations: strings.Split(*locs, ","),
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var pidList []int
	for _, p := range strings.Split(*pids, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
			pidList = append(pidList, n)
		}
	}
	if err := s.run(*workers, *rate, *duration, *every, *faultFrom, *faultTo, pidList, *root, *out, *note); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// outcomeCode is the first issue code of an OperationOutcome answer, or
// "not an OperationOutcome" (which every error answer should be).
func outcomeCode(b []byte) string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code string `json:"code"`
		} `json:"issue"`
	}
	if json.Unmarshal(b, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return "not an OperationOutcome"
	}
	return oo.Issue[0].Code
}

// transportError names a request that got no HTTP answer, without the URL.
func transportError(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "client timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "transport error"
}

// answer is what one request got: the status, and for an error answer the
// OperationOutcome's issue code.
type answer struct {
	status int
	code   string
}

func answerOf(st int, b []byte) answer {
	if st >= 400 {
		return answer{st, outcomeCode(b)}
	}
	return answer{status: st}
}

func (s *soak) do(method, url, token string, body []byte) (int, []byte, error) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, nil
}

// rssKB reads a process's resident memory from /proc (Linux).
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

func (s *soak) run(workers int, rate float64, duration, every, faultFrom, faultTo time.Duration, pids []int, root, out, note string) error {
	geo, err := geocode.LoadFiles(filepath.Join(root, "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		return err
	}
	refs := synthetic.Referrals(2000, synthetic.England(geo), 23)
	memStart := make([]int64, len(pids))
	for i, p := range pids {
		memStart[i] = rssKB(p)
	}
	// A few referrals first, so placement has something to ask about.
	for i := 0; i < 20; i++ {
		s.intake(refs, rand.New(rand.NewPCG(uint64(i), 9)), i)
	}
	nIntervals := int((duration + every - 1) / every)
	ivs := make([]*interval, nIntervals)
	for i := range ivs {
		ivs[i] = &interval{}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	// Memory per interval.
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				i := min(int(now.Sub(start)/every)-1, nIntervals-1)
				if i < 0 {
					continue
				}
				iv := ivs[i]
				iv.mu.Lock()
				for _, p := range pids {
					iv.rssKB = append(iv.rssKB, rssKB(p))
				}
				iv.mu.Unlock()
			}
		}
	}()
	// Open loop: a ticket every 1/rate seconds, taken by free workers; a
	// slow gateway shows as latency, not as fewer requests offered.
	tickets := make(chan time.Time, workers*4)
	go func() {
		defer close(tickets)
		gap := time.Duration(float64(time.Second) / rate)
		next := time.Now()
		for {
			next = next.Add(gap)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
			}
			select {
			case tickets <- next:
			default: // workers all busy: the offered request is dropped and counted below
				dropped.Add(1)
			}
		}
	}()
	var seq atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 77))
			for due := range tickets {
				k := pick(r)
				a, err := s.one(k, refs, r, int(seq.Add(1))+100)
				st := a.status
				lat := time.Since(due)
				i := min(int(time.Since(start)/every), nIntervals-1)
				iv := ivs[i]
				iv.mu.Lock()
				iv.lat[k] = append(iv.lat[k], lat)
				if err != nil || st >= 400 {
					key := fmt.Sprintf("%s %d %s", kindNames[k], st, a.code)
					if err != nil {
						key = kindNames[k] + " no answer: " + transportError(err)
					}
					if iv.errors == nil {
						iv.errors = map[string]int{}
					}
					iv.errors[key]++
				}
				switch {
				case err != nil:
					iv.failures[k]++
				case st >= 500:
					iv.s5xx[k]++
				case st >= 400:
					iv.s4xx[k]++
				default:
					iv.ok[k]++
				}
				iv.mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	memEnd := make([]int64, len(pids))
	for i, p := range pids {
		memEnd[i] = rssKB(p)
	}
	// Read back every acknowledged write (a version read, so a later update
	// of the same resource does not hide a lost one).
	s.mu.Lock()
	acked := append([]string(nil), s.acknowledged...)
	s.mu.Unlock()
	lost, checked := s.readBack(acked, workers)
	return s.report(out, note, ivs, every, elapsed, faultFrom, faultTo, pids, memStart, memEnd, len(acked), checked, lost)
}

var dropped atomic.Int64

func pick(r *rand.Rand) kind {
	switch x := r.IntN(10); {
	case x < 2:
		return kIntake
	case x < 4:
		return kCapacity
	case x < 8:
		return kPlacement
	default:
		return kRead
	}
}

// anyOf picks one of a growing list shared by the workers ("" while empty).
func (s *soak) anyOf(r *rand.Rand, list *[]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(*list) == 0 {
		return ""
	}
	return (*list)[r.IntN(len(*list))]
}

func (s *soak) gateway(r *rand.Rand) string { return s.gateways[r.IntN(len(s.gateways))] }

func (s *soak) one(k kind, refs []synthetic.Referral, r *rand.Rand, i int) (answer, error) {
	switch k {
	case kIntake:
		return s.intake(refs, r, i)
	case kCapacity:
		loc := s.locations[r.IntN(len(s.locations))]
		acc := r.IntN(4)
		body, _ := json.Marshal(map[string]any{"asOf": time.Now().UTC().Format(time.RFC3339Nano), "beds": []any{map[string]any{
			"type": "nursing", "maxCapacity": 30, "occupied": 30 - acc, "reserved": 0, "acceptingAdmissions": acc}}})
		st, b, err := s.do("PUT", s.gateway(r)+"/api/v1/capacity/"+loc, s.prov, body)
		return answerOf(st, b), err
	case kPlacement:
		sr := s.anyOf(r, &s.serviceReqs)
		if sr == "" {
			return s.intake(refs, r, i)
		}
		st, b, err := s.do("GET", s.gateway(r)+"/fhir/"+sr+"/$placement-options", s.trust, nil)
		return answerOf(st, b), err
	default:
		ref := s.anyOf(r, &s.acknowledged)
		if ref == "" {
			return s.intake(refs, r, i)
		}
		st, b, err := s.do("GET", s.gateway(r)+"/fhir/"+ref, s.trust, nil)
		return answerOf(st, b), err
	}
}

// intake posts one referral as a transaction and records what the gateway
// acknowledged (the entries' response locations).
func (s *soak) intake(refs []synthetic.Referral, r *rand.Rand, i int) (answer, error) {
	ref := refs[r.IntN(len(refs))]
	bundle := ref.Bundle(i)
	// A unique patient identifier per request, so every transaction is a
	// create (Bundle(i) numbers them from i).
	body, _ := json.Marshal(bundle)
	s.writeAttempts.Add(1)
	st, b, err := s.do("POST", s.gateway(r)+"/fhir", s.trust, body)
	if err != nil || st != http.StatusOK {
		return answerOf(st, b), err
	}
	var resp struct {
		Entry []struct {
			Response struct{ Location string } `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return answer{}, fmt.Errorf("transaction response: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range resp.Entry {
		loc := e.Response.Location
		if loc == "" {
			continue
		}
		s.acknowledged = append(s.acknowledged, loc)
		if strings.HasPrefix(loc, "ServiceRequest/") {
			s.serviceReqs = append(s.serviceReqs, strings.Split(loc, "/_history/")[0])
		}
	}
	return answer{status: st}, nil
}

// readBack vreads every acknowledged version; one that is not there (after
// retries, so a gateway still recovering does not count) is lost.
func (s *soak) readBack(acked []string, workers int) (lost []string, checked int) {
	var mu sync.Mutex
	jobs := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ref := range jobs {
				var st int
				for attempt := 0; attempt < 5; attempt++ {
					st, _, _ = s.do("GET", s.gateways[attempt%len(s.gateways)]+"/fhir/"+ref, s.trust, nil)
					if st == http.StatusOK || st == http.StatusNotFound || st == http.StatusGone {
						break
					}
					time.Sleep(time.Second)
				}
				mu.Lock()
				checked++
				if st != http.StatusOK {
					lost = append(lost, fmt.Sprintf("%s (%d)", ref, st))
				}
				mu.Unlock()
			}
		}()
	}
	for _, ref := range acked {
		jobs <- ref
	}
	close(jobs)
	wg.Wait()
	sort.Strings(lost)
	return lost, checked
}

func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

func msNum(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func (s *soak) report(out, note string, ivs []*interval, every, elapsed, faultFrom, faultTo time.Duration, pids []int, memStart, memEnd []int64, acked, checked int, lost []string) error {
	w, done, err := openOut(out)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(w, "# Soak: mixed load over %d gateway processes\n\n", len(s.gateways))
	fmt.Fprintf(w, "%s; ran %s; %d-second intervals. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), elapsed.Round(time.Second), int(every.Seconds()), note)
	fmt.Fprintln(w, "Mix: 20 % intake transactions, 20 % capacity postings, 40 % $placement-options, 20 % reads; latency is from when a request was due (open loop), so queueing counts.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| from (s) | requests | req/s | p50 ms | p99 ms | placement p99 ms | intake p99 ms | 4xx | 5xx | no answer | fault window | RSS MB per process |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	var total, t4, t5in, t5out, tfail int
	for i, iv := range ivs {
		from := time.Duration(i) * every
		inFault := faultFrom >= 0 && from+every > faultFrom && from < faultTo
		var all []time.Duration
		n, s4, s5, fail := 0, 0, 0, 0
		for k := kind(0); k < nKinds; k++ {
			all = append(all, iv.lat[k]...)
			n += len(iv.lat[k])
			s4 += iv.s4xx[k]
			s5 += iv.s5xx[k]
			fail += iv.failures[k]
		}
		if n == 0 {
			continue
		}
		total += n
		t4 += s4
		tfail += fail
		if inFault {
			t5in += s5 + fail
		} else {
			t5out += s5 + fail
		}
		var mem []string
		for _, kb := range iv.rssKB {
			mem = append(mem, fmt.Sprintf("%.0f", float64(kb)/1024))
		}
		fw := ""
		if inFault {
			fw = "fault injected"
		}
		span := min(every, elapsed-from) // the last interval may be short
		fmt.Fprintf(w, "| %d | %d | %.0f | %s | %s | %s | %s | %d | %d | %d | %s | %s |\n", int(from.Seconds()), n, float64(n)/span.Seconds(),
			msNum(quantile(all, 0.5)), msNum(quantile(all, 0.99)), msNum(quantile(iv.lat[kPlacement], 0.99)), msNum(quantile(iv.lat[kIntake], 0.99)),
			s4, s5, fail, fw, strings.Join(mem, " / "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Requests: %d; 4xx: %d; 5xx or no answer outside injected faults: **%d**; inside: %d; offered but dropped (all workers busy): %d.\n",
		total, t4, t5out, t5in, dropped.Load())
	// Every error answer, by request kind, status and issue code, inside and
	// outside the fault window: a 5xx must be a 503 transient or timeout.
	in, outside := map[string]int{}, map[string]int{}
	for i, iv := range ivs {
		from := time.Duration(i) * every
		inFault := faultFrom >= 0 && from+every > faultFrom && from < faultTo
		for key, n := range iv.errors {
			if inFault {
				in[key] += n
			} else {
				outside[key] += n
			}
		}
	}
	if len(in)+len(outside) > 0 {
		keys := make([]string, 0, len(in)+len(outside))
		for key := range in {
			keys = append(keys, key)
		}
		for key := range outside {
			if _, dup := in[key]; !dup {
				keys = append(keys, key)
			}
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "- Error answers by request, status and OperationOutcome issue code:")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "  | request, status, issue code | in the fault window | outside it |")
		fmt.Fprintln(w, "  |---|---:|---:|")
		for _, key := range keys {
			fmt.Fprintf(w, "  | %s | %d | %d |\n", key, in[key], outside[key])
		}
		fmt.Fprintln(w)
	}
	for i, p := range pids {
		fmt.Fprintf(w, "- Gateway process %d (pid %d): RSS %.0f MB at start, %.0f MB at end.\n", i+1, p, float64(memStart[i])/1024, float64(memEnd[i])/1024)
	}
	fmt.Fprintf(w, "- Acknowledged writes: %d resources in %d intake transactions attempted; read back: %d; **lost: %d**.\n", acked, s.writeAttempts.Load(), checked-len(lost), len(lost))
	for i, l := range lost {
		if i == 20 {
			fmt.Fprintf(w, "  - … and %d more\n", len(lost)-20)
			break
		}
		fmt.Fprintf(w, "  - %s\n", l)
	}
	if len(lost) > 0 || t5out > 0 {
		return fmt.Errorf("%d acknowledged writes lost, %d server errors outside injected faults", len(lost), t5out)
	}
	return nil
}
