//go:build !linux

package pgtest

import (
	"os"
	"os/exec"
	"syscall"
)

// spawn starts cmd. Outside Linux there is no parent-death signal and no
// change of user: run the tests as an ordinary user there.
func spawn(cmd *exec.Cmd, _ *syscall.Credential) error { return cmd.Start() }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
