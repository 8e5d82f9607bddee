//go:build !linux

package pgtest

import (
	"errors"
	"os"
	"os/exec"
)

// credential has no use here: outside Linux run the tests as an ordinary
// user, which PostgreSQL accepts.
type credential struct{}

func unprivileged() (*credential, error) {
	return nil, errors.New("running as root is supported on Linux only")
}

func chownTo(string, *credential) error { return nil }

func runAs(*exec.Cmd, *credential) {}

// spawn starts cmd. Outside Linux there is no parent-death signal.
func spawn(cmd *exec.Cmd, _ *credential) error { return cmd.Start() }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
