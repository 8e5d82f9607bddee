package fhir_test

import (
	"testing"

	"github.com/dischargegateway/gateway/fhir"
)

// A buffer comes out empty whatever was written into it before it was
// given back, and one that grew past the bound is not kept.
func TestBufferIsEmptyAfterRelease(t *testing.T) {
	for range 100 {
		p := fhir.Buffer()
		if len(*p) != 0 {
			t.Fatalf("Buffer() holds %d bytes", len(*p))
		}
		b := append(*p, "written by an earlier render"...)
		fhir.ReleaseBuffer(p, b)
	}
	p := fhir.Buffer()
	fhir.ReleaseBuffer(p, make([]byte, 10, 1<<20))
	if q := fhir.Buffer(); cap(*q) >= 1<<20 {
		t.Errorf("a buffer of %d bytes, past the bound, was kept", cap(*q))
	}
}
