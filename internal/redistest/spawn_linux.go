package redistest

import (
	"errors"
	"os/exec"
	"syscall"

	"github.com/dischargegateway/gateway/internal/childproc"
)

// spawn starts cmd so that it is killed when the test binary exits, however
// it exits (a failed test, a timeout's panic, a SIGKILL).
func spawn(cmd *exec.Cmd) error { return childproc.Start(cmd, nil) }

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
