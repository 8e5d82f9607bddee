package fhir

import "sync"

// buffers hold the byte buffers answers are rendered into and the scratch
// a render uses, so the largest answers (a placement Bundle is 40 kB and
// more, on every request) do not each leave a new array to the collector.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer bounds the buffers kept: one that grew past it (an
// answer with a large _count) is left to the collector.
const maxPooledBuffer = 256 << 10

// Buffer returns an empty buffer to append to; give it back with
// ReleaseBuffer once nothing reads what was written into it.
func Buffer() *[]byte { return buffers.Get().(*[]byte) }

// ReleaseBuffer gives p back for another render, emptied, holding the
// array of b, what the caller appended to *p (it may have grown), unless
// b grew past the bound.
func ReleaseBuffer(p *[]byte, b []byte) {
	if cap(b) > maxPooledBuffer {
		return
	}
	*p = b[:0]
	buffers.Put(p)
}
