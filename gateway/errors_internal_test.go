package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

// TestEveryKindHasAStatus fails when discharge gains an error Kind that the
// one Kind → (status, issue code) table does not map: such an error would
// otherwise leave as a bare 500 "exception".
func TestEveryKindHasAStatus(t *testing.T) {
	n := 0
	for k := discharge.Kind(0); !strings.HasPrefix(k.String(), "kind("); k++ {
		n++
		e, ok := kindTable[k]
		if !ok {
			t.Errorf("Kind %s has no entry in kindTable", k)
			continue
		}
		if e.status < 400 || e.status > 599 || e.code == "" {
			t.Errorf("Kind %s maps to %d %q", k, e.status, e.code)
		}
		if k != discharge.KindInternal && e.status == http.StatusInternalServerError {
			t.Errorf("Kind %s is a 500: only KindInternal may be", k)
		}
	}
	if n < 20 {
		t.Fatalf("only %d kinds enumerated", n)
	}
	if len(kindTable) != n {
		t.Errorf("kindTable has %d entries for %d kinds", len(kindTable), n)
	}
}
