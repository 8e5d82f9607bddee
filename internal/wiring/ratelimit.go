package wiring

import (
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
)

// RateLimiter is the per-client request limit every gateway process runs
// with: limit requests per client per minute, counted in Redis across the
// gateways, and in this process while Redis cannot answer (see
// auth.FallbackLimiter for why it does not fail closed).
func RateLimiter(redis *rediscache.Conn, limit int, log *slog.Logger) auth.RateLimiter {
	return &auth.FallbackLimiter{
		Shared: rediscache.NewRateLimit(redis.Client, limit, time.Minute),
		Limit:  limit,
		Window: time.Minute,
		OnFallback: func(err error) {
			log.Warn("rate limiter: Redis did not answer; counting in this process for a second", slog.String("error", err.Error()))
		},
	}
}
