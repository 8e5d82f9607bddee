package wiring

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultGOGC is the collector's heap growth target the gateway runs with
// when the operator has not set GOGC: the heap may grow to three times
// what is live before a collection, not two (Go's 100).
//
// Why (issue 21, docs/performance.md "The collector's share of the
// p99"): on two cores at half of saturation the process uses about half
// the CPU, and a collection's mark phase takes a quarter to a half of it
// more for 30-100 ms, so requests queue behind it; the execution traces
// of every stall caught lie in a mark phase. At 200 there are half as
// many mark phases, for about 50 MB more resident memory at 25,000
// providers (218 against 170 MB).
const DefaultGOGC = 200

// memoryLimitShare is the share of a cgroup's memory limit given to the
// Go runtime as its soft limit when GOMEMLIMIT is not set: the heap, not
// only its target, then gives way before the container is killed at the
// limit, and the rest is left to stacks, the runtime and SQLite's pages.
const memoryLimitShare = 0.9

// TuneGC sets the collector for a gateway process, where the operator has
// not: GOGC to DefaultGOGC when GOGC is unset, and, when GOMEMLIMIT is
// unset and the process runs under a cgroup memory limit (read below
// cgroupRoot, v2's memory.max or v1's memory/memory.limit_in_bytes), a soft
// memory limit of 90 % of it. GOGC=off or any value the operator sets is
// left alone, as is a GOMEMLIMIT (the deployment sets it from the
// container's limit). It returns what it did, for the start-up log ("" when
// nothing).
func TuneGC(getenv func(string) string, cgroupRoot string) string {
	var did []string
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGOGC)
		did = append(did, fmt.Sprintf("GOGC=%d", DefaultGOGC))
	}
	if getenv("GOMEMLIMIT") == "" {
		if limit, ok := cgroupMemoryLimit(cgroupRoot); ok {
			soft := int64(float64(limit) * memoryLimitShare)
			debug.SetMemoryLimit(soft)
			did = append(did, fmt.Sprintf("GOMEMLIMIT=%d (90%% of the cgroup's %d bytes)", soft, limit))
		}
	}
	return strings.Join(did, ", ")
}

// cgroupMemoryLimit is the memory limit of the process's cgroup, when it
// has one: cgroup v2's memory.max ("max" when there is none), else v1's
// memory.limit_in_bytes (a huge number when there is none).
func cgroupMemoryLimit(root string) (int64, bool) {
	if b, err := os.ReadFile(filepath.Join(root, "memory.max")); err == nil {
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n > 0
	}
	if b, err := os.ReadFile(filepath.Join(root, "memory", "memory.limit_in_bytes")); err == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// v1 writes its "no limit" as the largest page-aligned int64.
		return n, err == nil && n > 0 && n < 1<<62
	}
	return 0, false
}
