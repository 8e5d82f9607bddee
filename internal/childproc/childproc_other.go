//go:build !linux

package childproc

import "os/exec"

// Start starts cmd. Outside Linux there is no parent-death signal (and no
// change of user): the harnesses stop their servers at cleanup.
func Start(cmd *exec.Cmd, _ any) error { return cmd.Start() }
