package childproc

import (
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

// Start starts cmd, as cred's user when cred is not nil, with a
// parent-death signal. Go applies the credentials before the parent-death
// signal in the child, so the change of user does not clear it.
func Start(cmd *exec.Cmd, cred *syscall.Credential) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	errc := make(chan error, 1)
	starter <- func() { errc <- cmd.Start() }
	return <-errc
}
