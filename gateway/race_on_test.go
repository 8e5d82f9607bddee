//go:build race

package gateway_test

// raceDetector: this test binary runs under the race detector, which
// slows the gateway several times over; timing requirements are checked
// in the passes without it (scripts/test.sh runs the gateway suite again
// on PostgreSQL without -race).
const raceDetector = true
