package redistest

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"
)

// starter runs on one OS thread that never exits. Linux sends the
// parent-death signal when the thread that forked a child exits, not the
// process, so children forked from ordinary goroutines' threads could be
// killed early; children of this thread die exactly when the test binary
// does.
var starter = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread()
		for f := range starter {
			f()
		}
	}()
}

// spawn starts cmd so that it is killed when the test binary exits, however
// it exits (a failed test, a timeout's panic, a SIGKILL).
func spawn(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	starter <- func() { errc <- cmd.Start() }
	return <-errc
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
