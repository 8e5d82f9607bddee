package directory_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
)

// TestImportCSV: the service reads the file with its parser; a file the
// parser cannot read is the caller's (structure), the parser's refused
// rows come first in the report, and a service without a parser refuses
// files.
func TestImportCSV(t *testing.T) {
	parse := func(r io.Reader) ([]discharge.Listing, []discharge.RowIssue, error) {
		b, _ := io.ReadAll(r)
		if string(b) != "ok" {
			return nil, nil, errors.New("line 1: not a directory file")
		}
		return []discharge.Listing{{Row: 2, ProviderID: "P2"}}, []discharge.RowIssue{{Row: 3, Reason: "unreadable"}}, nil
	}
	svc := directory.New(newFakeStore(), nil, nil, parse, nil, nil)
	rep, err := svc.ImportCSV(context.Background(), strings.NewReader("ok"), "P1")
	if err != nil || rep.Rows != 2 || rep.Accepted != 0 || len(rep.Rejected) != 2 || rep.Rejected[0].Row != 3 || rep.Rejected[1].Row != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	if _, err := svc.ImportCSV(context.Background(), strings.NewReader("x"), ""); discharge.ErrorKind(err) != discharge.KindStructure {
		t.Fatalf("unreadable file: %v", err)
	}
	none := directory.New(newFakeStore(), nil, nil, nil, nil, nil)
	if _, err := none.ImportCSV(context.Background(), strings.NewReader("ok"), ""); discharge.ErrorKind(err) != discharge.KindNotSupported {
		t.Fatalf("no parser: %v", err)
	}
}
