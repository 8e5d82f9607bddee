package main

import (
	"sync/atomic"
	"syscall"
	"time"
)

// The CPU twin is the same-run floor of the p99 at half saturation.
//
// The p99 of an open loop measures the gateway and the machine together: a
// request waits behind the work of the requests before it, and behind any
// moment the machine does not run the process. On a shared virtual
// machine such moments happen (a vCPU not run for several milliseconds at
// a time: seen in an execution trace of the thirteenth session as both of
// the process's threads silent, with no collection running and loopback
// writes taking milliseconds), and a queue at half load grows behind them. The twin tells the
// two apart: a bare Echo handler that does the same amount of CPU work per
// request as a placement did at saturation (the load generator's process
// and redis-server together, less bare Echo's own cost) and answers the
// same Bundle, driven in an open loop at the same rate, each run straight
// after the gateway's. It allocates nothing and holds no lock, so its p99
// is what the machine does to any server that busy at that rate: where the
// twin's p99 is over 20 ms, no code doing placement's work could be under
// it in that run; where the twin's is under and the gateway's over, the
// gap is the gateway's own (the collector, locks, I/O waits).

// twinUnits is the work the twin handler does per request, in work units.
var twinUnits atomic.Int64

// twinSink keeps the compiler from dropping the work.
var twinSink atomic.Uint64

// work does n units of arithmetic on registers: no memory traffic, no
// allocation, preemptible like any loop.
func work(n int64) uint64 {
	x := uint64(n) | 1
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// unitsPerMicrosecond is how many work units one core does in a
// microsecond: the fastest of several trials, so that a trial the machine
// interrupted does not count.
func unitsPerMicrosecond() float64 {
	const n = 2_000_000
	best := time.Duration(1<<63 - 1)
	for range 7 {
		t := time.Now()
		twinSink.Add(work(n))
		best = min(best, time.Since(t))
	}
	return n / us(best)
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// twinWork is the CPU the twin must add to a bare Echo request to cost what
// a placement did: the placement's CPU per request (this process and
// redis-server) less bare Echo's (this process: its server and client).
func twinWork(placementCPU, redisCPU, bareCPU time.Duration) time.Duration {
	return max(0, placementCPU+redisCPU-bareCPU)
}
