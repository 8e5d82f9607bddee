package web

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Pages are compressed, and BREACH is kept out by two walls
// (docs/dashboard.md, "Compression"):
//
//   - A page is gzipped only for a request the browser says came from the
//     dashboard itself or from the person (Sec-Fetch-Site same-origin or
//     none: a typed address, a bookmark). BREACH needs the attacker's page
//     to make the victim's browser fetch many pages that reflect the
//     attacker's guesses; those requests are cross-site, which a page
//     cannot hide (Sec-Fetch-* are forbidden headers), and are answered
//     uncompressed, so their length says nothing. A browser that sends no
//     Sec-Fetch-Site gets no compression.
//   - The CSRF token on a page is masked afresh for every response (a
//     random pad and the token XORed with it), so the secret's bytes never
//     repeat between responses for compression to reveal.

// compressPage says whether the page for r may be gzipped.
func compressPage(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return acceptsGzip(r.Header.Get("Accept-Encoding"))
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip listed and not refused (q=0).
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	return w
}}

// gzipPage compresses a rendered page.
func gzipPage(page []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(page) / 6)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	_, _ = w.Write(page)
	_ = w.Close()
	gzipWriters.Put(w)
	return buf.Bytes()
}

// maskToken masks the session's CSRF token for one response: a random
// pad of the token's length, then the token XORed with it, base64url.
func maskToken(token string) string {
	t := []byte(token)
	out := make([]byte, 2*len(t))
	_, _ = rand.Read(out[:len(t)])
	for i := range t {
		out[len(t)+i] = out[i] ^ t[i]
	}
	return base64.RawURLEncoding.EncodeToString(out)
}

// tokenMatches unmasks a posted token and compares it with the session's
// in constant time.
func tokenMatches(masked, token string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(masked)
	if err != nil || len(raw) != 2*len(token) || token == "" {
		return false
	}
	n := len(token)
	got := make([]byte, n)
	for i := range n {
		got[i] = raw[i] ^ raw[n+i]
	}
	return subtle.ConstantTimeCompare(got, []byte(token)) == 1
}
