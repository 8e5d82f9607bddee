package rediscache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sessions holds the dashboard's sign-in sessions (web/): one key per
// session, its value the session as the dashboard encoded it, expiring with
// the session. Nothing rebuilds them: losing Redis signs people out, which
// is safe. The session id is random and secret (the cookie's value); it
// sits after the hash tag, one slot per session, so sessions spread over a
// cluster.
type Sessions struct{ rdb redis.UniversalClient }

// NewSessions returns the Redis session store.
func NewSessions(rdb redis.UniversalClient) *Sessions { return &Sessions{rdb: rdb} }

// Get returns a session's value; ok false when there is none (expired,
// signed out, never issued).
func (s *Sessions) Get(ctx context.Context, id string) (value []byte, ok bool, err error) {
	v, err := s.rdb.Get(ctx, sessionKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify("rediscache.Sessions.Get", err)
	}
	return v, true, nil
}

// Put stores a session's value for ttl (at least a second).
func (s *Sessions) Put(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	ttl = max(ttl, time.Second)
	return classify("rediscache.Sessions.Put", s.rdb.Set(ctx, sessionKey(id), value, ttl).Err())
}

// Delete ends a session.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	return classify("rediscache.Sessions.Delete", s.rdb.Del(ctx, sessionKey(id)).Err())
}
