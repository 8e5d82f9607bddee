package rediscache

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
)

// classify turns a go-redis error into the gateway's kinds: redis.Nil means
// absent (KindNotFound), a deadline is KindTimeout, anything that says the
// server cannot be reached is KindUnavailable, and the rest is internal.
func classify(op string, err error) error {
	var de *discharge.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, redis.Nil):
		return discharge.Wrap(discharge.KindNotFound, op, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return discharge.Wrap(discharge.KindTimeout, op, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return discharge.Wrap(discharge.KindTimeout, op, err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return discharge.Wrap(discharge.KindUnavailable, op, err)
	}
	// Server replies that mean "not now" have no typed form in go-redis; the
	// reply's first word is Redis's documented error code.
	var re redis.Error
	if errors.As(err, &re) {
		code, _, _ := strings.Cut(re.Error(), " ")
		switch code {
		case "LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "NOREPLICAS", "MOVED", "ASK":
			return discharge.Wrap(discharge.KindUnavailable, op, err)
		}
	}
	return discharge.Wrap(discharge.KindInternal, op, err)
}
