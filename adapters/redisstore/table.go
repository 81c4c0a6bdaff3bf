package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/agentbridge/agentbridge/server/store"
)

// Tables in Redis (store.Table): a hash prefix+"table:"+name holds the values, and a sorted
// set prefix+"tableidx:"+name the keys (score 0, so ZRANGE BYLEX gives them in byte order).
// Writes change both in one MULTI; Scan reads both in one script.

func (s *Store) tableKeys(table string) (hash, index string) {
	return s.prefix + "table:" + table, s.prefix + "tableidx:" + table
}

// Put implements store.Table: all pairs in one MULTI/EXEC.
func (s *Store) Put(ctx context.Context, table string, kvs ...store.KV) error {
	if len(kvs) == 0 {
		return nil
	}
	hash, index := s.tableKeys(table)
	fields := make([]any, 0, 2*len(kvs))
	members := make([]redis.Z, len(kvs))
	for i, kv := range kvs {
		fields = append(fields, kv.Key, kv.Value)
		members[i] = redis.Z{Member: kv.Key}
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, hash, fields...)
		p.ZAdd(ctx, index, members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: put in table %q: %w", table, err)
	}
	return nil
}

// Get implements store.Table.
func (s *Store) Get(ctx context.Context, table, key string) ([]byte, error) {
	hash, _ := s.tableKeys(table)
	v, err := s.client.HGet(ctx, hash, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis: get from table %q: %w", table, err)
	}
	return v, nil
}

// scanScript returns up to ARGV[3] keys of the sorted set KEYS[2] between the lex bounds
// ARGV[1] and ARGV[2], each followed by its value in the hash KEYS[1] (HMGET in chunks: Lua's
// unpack is bounded).
var scanScript = redis.NewScript(`
local keys = redis.call('ZRANGE', KEYS[2], ARGV[1], ARGV[2], 'BYLEX', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local i = 1
while i <= #keys do
  local j = math.min(i + 499, #keys)
  local vals = redis.call('HMGET', KEYS[1], unpack(keys, i, j))
  for n = i, j do
    out[#out + 1] = keys[n]
    out[#out + 1] = vals[n - i + 1]
  end
  i = j + 1
end
return out
`)

// Scan implements store.Table.
func (s *Store) Scan(ctx context.Context, table, from, to string, limit int) ([]store.KV, error) {
	if limit <= 0 {
		return nil, nil
	}
	hash, index := s.tableKeys(table)
	lo, hi := "["+from, "+"
	if to != "" {
		hi = "(" + to
	}
	res, err := scanScript.Run(ctx, s.client, []string{hash, index}, lo, hi, limit).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: scan table %q: %w", table, err)
	}
	out := make([]store.KV, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		k, _ := res[i].(string)
		v, ok := res[i+1].(string)
		if !ok {
			continue // in the index, not in the hash: written by another program
		}
		out = append(out, store.KV{Key: k, Value: []byte(v)})
	}
	return out, nil
}

// Delete implements store.Table: the keys from both hash and index in one MULTI/EXEC, or with
// no keys both whole.
func (s *Store) Delete(ctx context.Context, table string, keys ...string) error {
	hash, index := s.tableKeys(table)
	var err error
	if len(keys) == 0 {
		err = s.client.Del(ctx, hash, index).Err()
	} else {
		members := make([]any, len(keys))
		for i, k := range keys {
			members[i] = k
		}
		_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HDel(ctx, hash, keys...)
			p.ZRem(ctx, index, members...)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("redis: delete from table %q: %w", table, err)
	}
	return nil
}
