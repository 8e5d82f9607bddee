//go:build !linux

package redistest

import "os/exec"

// spawn starts cmd. Outside Linux there is no parent-death signal: a
// package that calls Main from TestMain stops the shared setups at exit.
func spawn(cmd *exec.Cmd) error { return cmd.Start() }

// alive cannot tell here, so stale directories are left alone.
func alive(int) bool { return true }
