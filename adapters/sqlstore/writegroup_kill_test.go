package sqlstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/fhir"
)

// killChildEnv names the directory the child of
// TestWriteGroupKilledKeepsEveryAcknowledgedWrite writes in.
const killChildEnv = "SQLSTORE_KILL_CHILD_DIR"

// TestWriteGroupKilledKeepsEveryAcknowledgedWrite: a process whose writers
// share grouped transactions is killed (SIGKILL) while 16 of them commit;
// every write it acknowledged before dying is in the file afterwards,
// whole (its resource, history row and index rows), and none is there in
// part. The child is this test binary, run again with killChildEnv set.
func TestWriteGroupKilledKeepsEveryAcknowledgedWrite(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteGroupKilledKeepsEveryAcknowledgedWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	killed := false
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked[id] = true
		if len(acked) == 2000 && !killed {
			killed = true
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("the child ended after %d acknowledged writes, before it was killed", len(acked))
	}
	s, err := Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for id := range acked {
		if _, err := s.Read(ctx, "kill", "Patient", id); err != nil {
			t.Errorf("acknowledged %s, then lost it: %v", id, err)
		}
	}
	// Whole or not at all: every stored resource has its history row and
	// its three index rows, acknowledged or not.
	var resources, history, tokens int
	for q, n := range map[string]*int{
		"SELECT COUNT(*) FROM resources WHERE partition = 'kill'":        &resources,
		"SELECT COUNT(*) FROM resource_history WHERE partition = 'kill'": &history,
		"SELECT COUNT(*) FROM search_token WHERE partition = 'kill'":     &tokens,
	} {
		if err := s.db.QueryRowContext(ctx, q).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	if resources < len(acked) || history != resources || tokens != 3*resources {
		t.Errorf("after the kill: %d resources, %d history rows, %d index rows, for %d acknowledged", resources, history, tokens, len(acked))
	}
	t.Logf("%d writes acknowledged before the kill, %d stored", len(acked), resources)
}

// killChild commits Patients from 16 writers until killed, printing each
// acknowledgement once its Commit returned.
func killChild(dir string) {
	ctx := context.Background()
	s, err := Open(ctx, "", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", g, i)
				doc := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"versionId":"1"}}`, id)
				err := s.Commit(ctx, "kill", []fhir.Write{{
					Resource: fhir.Resource{Type: "Patient", ID: id, VersionID: 1, LastUpdated: time.Now(), JSON: []byte(doc)},
					Index: []fhir.IndexEntry{{Param: "identifier", Token: "a|" + id}, {Param: "identifier", Token: id},
						{Param: "family", Token: "kill"}},
				}}, nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(w, "ack", id)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
