package wiring_test

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/internal/wiring"
)

// TuneGC sets GOGC and a soft memory limit only where the operator has
// not, the limit from the cgroup's (v2 or v1) when there is one.
func TestTuneGC(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})
	cgroup := func(t *testing.T, file, content string) string {
		root := t.TempDir()
		if file != "" {
			p := filepath.Join(root, file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name          string
		env           map[string]string
		file, content string
		wantPercent   int
		wantLimit     int64 // math.MaxInt64: none set
		wantSaid      []string
	}{
		{"v2 without a limit", nil, "memory.max", "max\n", wiring.DefaultGOGC, math.MaxInt64, []string{"GOGC=200"}},
		{"v2 with a limit", nil, "memory.max", "536870912\n", wiring.DefaultGOGC, 483183820, []string{"GOGC=200", "GOMEMLIMIT=483183820"}},
		{"v1 with a limit", nil, "memory/memory.limit_in_bytes", "1073741824\n", wiring.DefaultGOGC, 966367641, []string{"GOMEMLIMIT=966367641"}},
		{"v1 without a limit", nil, "memory/memory.limit_in_bytes", "9223372036854771712\n", wiring.DefaultGOGC, math.MaxInt64, []string{"GOGC=200"}},
		{"no cgroup files", nil, "", "", wiring.DefaultGOGC, math.MaxInt64, []string{"GOGC=200"}},
		{"the operator's settings stand", map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}, "memory.max", "536870912", 100, math.MaxInt64, nil},
		{"GOGC=off stands", map[string]string{"GOGC": "off"}, "memory.max", "max", 100, math.MaxInt64, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			said := wiring.TuneGC(env(tc.env), cgroup(t, tc.file, tc.content))
			if got := debug.SetGCPercent(100); got != tc.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tc.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
			for _, w := range tc.wantSaid {
				if !strings.Contains(said, w) {
					t.Errorf("said %q, want it to name %q", said, w)
				}
			}
			if tc.wantSaid == nil && said != "" {
				t.Errorf("said %q, want nothing", said)
			}
		})
	}
}
