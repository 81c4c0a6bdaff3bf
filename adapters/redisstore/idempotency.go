package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// claim sets KEYS[1] to ARGV[1] for ARGV[2] ms unless it holds something, and returns {1} when
// it did, or {0, what it holds}: in one step, so of two bridges claiming one key, one wins.
var claim = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
return {0, redis.call('GET', KEYS[1])}
`)

// replace sets KEYS[1] to ARGV[2] for ARGV[3] ms, or deletes it when ARGV[2] is empty, only
// while it still holds ARGV[1] (the claim this bridge made), and returns whether it did.
var replace = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// Claim stores value under key for lease unless key holds something; it returns claimed true,
// or what key holds. It implements server.IdempotencyStore.
func (s *Store) Claim(ctx context.Context, key string, value []byte, lease time.Duration) ([]byte, bool, error) {
	res, err := claim.Run(ctx, s.client, []string{s.prefix + "idem:" + key}, value, max(1, lease.Milliseconds())).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("redis: idempotency claim: %w", err)
	}
	if len(res) == 1 {
		return nil, true, nil
	}
	if len(res) == 2 {
		if v, ok := res[1].(string); ok {
			return []byte(v), false, nil
		}
	}
	return nil, false, fmt.Errorf("redis: idempotency claim: unexpected reply %v", res)
}

// Replace sets key to value for ttl, or deletes it when value is nil, if key still holds old.
// It implements server.IdempotencyStore.
func (s *Store) Replace(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	_, err := replace.Run(ctx, s.client, []string{s.prefix + "idem:" + key}, old, value, max(1, ttl.Milliseconds())).Result()
	if err != nil {
		return fmt.Errorf("redis: idempotency record: %w", err)
	}
	return nil
}
