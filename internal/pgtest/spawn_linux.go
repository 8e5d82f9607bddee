package pgtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/dischargegateway/gateway/internal/childproc"
)

// credential is a user to run PostgreSQL as.
type credential = syscall.Credential

// unprivileged is the user a root test binary runs PostgreSQL as.
func unprivileged() (*credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists")
}

// chownTo gives dir to cred's user.
func chownTo(dir string, cred *credential) error { return os.Chown(dir, int(cred.Uid), int(cred.Gid)) }

// runAs makes cmd run as cred, when set.
func runAs(cmd *exec.Cmd, cred *credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
}

// spawn starts cmd, as cred when set, so that it is killed when the test
// binary exits however it exits.
func spawn(cmd *exec.Cmd, cred *credential) error { return childproc.Start(cmd, cred) }

// killGroup kills the postmaster pid and every process it forked, as a
// crash of the machine's power would stop them all at once. PostgreSQL's
// children each call setsid, so a process-group kill misses them; instead
// the postmaster is stopped first (so it forks no more), its children are
// found by their parent pid and killed, and then the postmaster.
func killGroup(pid int) {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for _, c := range children(pid) {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// children lists the pids whose parent is pid, from /proc.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after
		// the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}
