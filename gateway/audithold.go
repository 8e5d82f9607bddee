package gateway

import (
	"bytes"
	"net/http"
	"sync"
)

// Disclosure waits for the audit trail.
//
// An audited route's answer is held in memory until its audit entry is
// committed, and only then written to the connection. Before, the audit
// middleware recorded the entry after the handler had written: an answer
// over net/http's 2 kB buffer (a placement Bundle is about 44 kB, a search
// page can be more) had mostly left for the caller by then, so a process
// killed between the write and the commit disclosed patient data with no
// audit entry, and a failed audit write was only logged.
//
// Now nothing of the answer leaves before the entry is durable, and when
// the entry cannot be recorded:
//   - a read, a search or an operation (AuditEvent action R or E) is
//     refused with 503 and an OperationOutcome, and nothing of the held
//     answer is sent: no disclosure without a trail;
//   - a create, an update or a delete (C, U, D) has already changed the
//     record, so its answer is still sent (refusing would invite a retry
//     that writes twice) and the failure is logged, as before.
//
// What a crash can lose is therefore an audit entry of a request whose
// answer never left the process.
//
// The cost is one copy of the answer into a pooled buffer; the caller's
// time to the last byte is unchanged (the answer's end waited for the
// entry before, too: the handler had not returned).

// heldResponse is an http.ResponseWriter that keeps the status, headers and
// body until release.
type heldResponse struct {
	w      http.ResponseWriter // the connection's writer
	header http.Header         // the answer's headers, a copy until release
	status int
	body   *bytes.Buffer
}

// holdPool keeps the answers' buffers; one grown past holdPoolMax is
// dropped rather than pooled, so a rare large answer does not stay
// resident.
var holdPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const holdPoolMax = 1 << 20

func holdResponse(w http.ResponseWriter) *heldResponse {
	return &heldResponse{w: w, header: w.Header().Clone(), body: holdPool.Get().(*bytes.Buffer)}
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(p)
}

// Flush sends nothing: the answer is held until its audit entry is
// committed. (echo's Response.Flush panics on a writer without one.)
func (h *heldResponse) Flush() {}

// Unwrap gives http.ResponseController the connection's writer (deadlines).
func (h *heldResponse) Unwrap() http.ResponseWriter { return h.w }

// wrote reports whether the handler answered.
func (h *heldResponse) wrote() bool { return h.status != 0 }

// release writes the held answer to the connection and frees the buffer.
func (h *heldResponse) release() {
	if h.wrote() {
		dst := h.w.Header()
		clear(dst)
		for k, v := range h.header {
			dst[k] = v
		}
		h.w.WriteHeader(h.status)
		if h.body.Len() > 0 {
			_, _ = h.w.Write(h.body.Bytes())
		}
	}
	h.discard()
}

// discard frees the buffer without writing anything.
func (h *heldResponse) discard() {
	if h.body == nil {
		return
	}
	if h.body.Cap() <= holdPoolMax {
		h.body.Reset()
		holdPool.Put(h.body)
	}
	h.body = nil
}
