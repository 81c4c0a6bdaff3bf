package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentbridge/agentbridge/server/store"
)

// The event log in Redis (store.Log and store.Cursors): a stream per topic, key prefix+"log:"+
// topic, each entry with the fields k (the record's key) and d (its data). An entry's cursor is
// its stream ID ("ms-seq", by Redis's clock), and its Time the ID's milliseconds. A record's
// key is remembered for de-duplication in prefix+"logkey:"+len(topic)+":"+topic+":"+key,
// holding the stream ID of the entry stored first, for MaxAge (default 7 days) whether or not
// the entry is still in the stream. Acknowledged cursors: the hash prefix+"acks:"+topic, a
// field per group.
//
// Retention: MaxEntries trims exactly (XTRIM MAXLEN) and MaxAge by ID (XTRIM MINID) at every
// append; Read also skips entries older than MaxAge by this process's clock, so a topic no one
// appends to does not serve them. MaxBytes is not supported: Check refuses it.

// DefaultDedupWindow is how long a record's key de-duplicates when the retention has no
// MaxAge.
const DefaultDedupWindow = 7 * 24 * time.Hour

// maxWaitSlice bounds one blocking XREAD: a long wait is several, so a Redis that stops
// answering fails a waiting Read within maxWaitSlice + Timeout.
const maxWaitSlice = 5 * time.Second

var (
	_ store.Store  = (*Store)(nil)
	_ store.Tailer = (*Store)(nil)
)

// logState is the part of Store the log needs.
type logState struct {
	// blocking runs XREAD BLOCK: its own connections, so waiting readers do not take the
	// connections rate limits and idempotency use, and its read deadline comes from the
	// call's context (each wait plus Timeout) instead of Timeout.
	blocking  *redis.Client
	retention store.Retention
	timeout   time.Duration
	closed    chan struct{}
	closeOnce sync.Once
}

func newLogState(o *redis.Options, c Config) logState {
	b := *o
	b.ContextTimeoutEnabled = true
	b.PoolSize = 256
	b.PoolTimeout = c.Timeout
	return logState{blocking: redis.NewClient(&b), retention: c.Retention, timeout: c.Timeout, closed: make(chan struct{})}
}

func checkRetention(r store.Retention) error {
	var errs []error
	if r.MaxBytes != 0 {
		errs = append(errs, errors.New("store.retention.max_bytes: not supported with the redis engine (Redis trims streams by entries or age only); use max_entries or max_age"))
	}
	if r.MaxAge < 0 || r.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("store.retention: bounds must not be negative"))
	}
	return errors.Join(errs...)
}

var errClosed = errors.New("redis: store closed")

func (s *Store) logKey(topic string) string { return s.prefix + "log:" + topic }

func (s *Store) dedupKey(topic, key string) string {
	return s.prefix + "logkey:" + strconv.Itoa(len(topic)) + ":" + topic + ":" + key
}

func (s *Store) acksKey(topic string) string { return s.prefix + "acks:" + topic }

// streamID is a parsed stream ID.
type streamID struct{ ms, seq uint64 }

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool { return id.ms < o.ms || (id.ms == o.ms && id.seq < o.seq) }

// parseID reads a cursor this store handed out: a stream ID "ms-seq".
func parseID(c string) (streamID, error) {
	ms, seq, ok := strings.Cut(c, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("%w %q: want a Redis stream ID (ms-seq)", store.ErrCursor, c)
	}
	return streamID{a, b}, nil
}

// appendScript adds records to the stream KEYS[1], skipping those whose key KEYS[1+i] holds
// the ID of an earlier entry, then trims: in one step, so two bridges appending one key store
// it once. ARGV: MaxEntries (0: none), MaxAge in ms (0: none), the key's TTL in ms, then key
// and data of each record. It returns {id, duplicate} per record.
var appendScript = redis.NewScript(`
local maxlen = tonumber(ARGV[1])
local maxage = tonumber(ARGV[2])
local ttl = ARGV[3]
local n = (#ARGV - 3) / 2
local out = {}
for i = 1, n do
  local key = ARGV[2 + 2 * i]
  local prev = false
  if key ~= '' then
    prev = redis.call('GET', KEYS[1 + i])
  end
  if prev then
    out[i] = {prev, 1}
  else
    local id = redis.call('XADD', KEYS[1], '*', 'k', key, 'd', ARGV[3 + 2 * i])
    if key ~= '' then
      redis.call('SET', KEYS[1 + i], id, 'PX', ttl)
    end
    out[i] = {id, 0}
  end
end
if maxlen > 0 then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', maxlen)
end
if maxage > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now > maxage then
    redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f', now - maxage))
  end
end
return out
`)

// Append implements store.Log: the records are stored (and de-duplicated) in one script, and
// it returns once Redis has run it. How durable that is depends on the Redis's persistence
// (appendonly, appendfsync) and replication, not on the bridge.
func (s *Store) Append(ctx context.Context, topic string, recs ...store.Record) ([]store.Appended, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]store.Appended, len(recs))
	if len(recs) == 0 {
		return out, nil
	}
	stream := s.logKey(topic)
	keys := make([]string, 1, 1+len(recs))
	keys[0] = stream
	args := make([]any, 3, 3+2*len(recs))
	ttl := s.retention.MaxAge
	if ttl <= 0 {
		ttl = DefaultDedupWindow
	}
	args[0], args[1], args[2] = s.retention.MaxEntries, s.retention.MaxAge.Milliseconds(), max(1, ttl.Milliseconds())
	for _, r := range recs {
		if r.Key == "" {
			keys = append(keys, stream) // not read: the script de-duplicates no empty key
		} else {
			keys = append(keys, s.dedupKey(topic, r.Key))
		}
		args = append(args, r.Key, r.Data)
	}
	res, err := appendScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: append to %q: %w", topic, err)
	}
	if len(res) != len(recs) {
		return nil, fmt.Errorf("redis: append to %q: %d results for %d records", topic, len(res), len(recs))
	}
	for i, r := range res {
		pair, _ := r.([]any)
		if len(pair) != 2 {
			return nil, fmt.Errorf("redis: append to %q: unexpected reply %v", topic, r)
		}
		id, _ := pair[0].(string)
		dup, _ := pair[1].(int64)
		out[i] = store.Appended{Cursor: id, Duplicate: dup == 1}
	}
	return out, nil
}

// Read implements store.Log: XRANGE after the cursor, and when that is empty, XREAD BLOCK on
// the blocking client for the wait, in slices of at most 5s so a Redis that stops answering
// fails the call in bounded time. It returns as soon as ctx ends or the store closes.
func (s *Store) Read(ctx context.Context, topic, after string, limit int, wait time.Duration) ([]store.Entry, error) {
	var from streamID // exclusive; 0-0 with after "" (no entry has ID 0-0)
	if after != "" {
		var err error
		if from, err = parseID(after); err != nil {
			return nil, err
		}
	}
	if limit <= 0 {
		return nil, ctx.Err()
	}
	stream := s.logKey(topic)
	from = s.skipOld(from)
	msgs, err := s.client.XRangeN(ctx, stream, "("+from.String(), "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: read %q: %w", topic, err)
	}
	if len(msgs) > 0 || wait <= 0 {
		return entries(msgs)
	}
	deadline := time.Now().Add(wait)
	for {
		slice := min(time.Until(deadline), maxWaitSlice)
		if slice < time.Millisecond {
			return nil, nil
		}
		msgs, err := s.blockingRead(ctx, stream, s.skipOld(from), limit, slice)
		switch {
		case errors.Is(err, errWaitEnded):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("redis: read %q: %w", topic, err)
		case len(msgs) > 0:
			return entries(msgs)
		}
	}
}

// Last implements store.Tailer: XREVRANGE key + - COUNT 1, one entry from the stream's end.
func (s *Store) Last(ctx context.Context, topic string) (string, error) {
	msgs, err := s.client.XRevRangeN(ctx, s.logKey(topic), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("redis: last of %q: %w", topic, err)
	}
	if len(msgs) == 0 {
		return "", nil
	}
	return msgs[0].ID, nil
}

// skipOld moves an exclusive start past the entries older than MaxAge.
func (s *Store) skipOld(from streamID) streamID {
	if s.retention.MaxAge <= 0 {
		return from
	}
	cut := time.Now().Add(-s.retention.MaxAge).UnixMilli()
	if cut <= 0 {
		return from
	}
	if old := (streamID{uint64(cut - 1), ^uint64(0)}); from.less(old) { //nolint:gosec // cut > 0
		return old
	}
	return from
}

var errWaitEnded = errors.New("wait ended")

// blockingRead runs one XREAD BLOCK for slice; it returns errWaitEnded when ctx ends first,
// and errClosed when the store closes first (the XREAD goroutine ends within slice + Timeout).
func (s *Store) blockingRead(ctx context.Context, stream string, from streamID, limit int, slice time.Duration) ([]redis.XMessage, error) {
	select {
	case <-s.closed:
		return nil, errClosed
	default:
	}
	type result struct {
		msgs []redis.XMessage
		err  error
	}
	done := make(chan result, 1)
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slice+s.timeout)
	go func() {
		defer cancel()
		res, err := s.blocking.XRead(bctx, &redis.XReadArgs{Streams: []string{stream, from.String()}, Count: int64(limit), Block: slice}).Result()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		var msgs []redis.XMessage
		if len(res) > 0 {
			msgs = res[0].Messages
		}
		done <- result{msgs, err}
	}()
	select {
	case r := <-done:
		return r.msgs, r.err
	case <-ctx.Done():
		return nil, errWaitEnded
	case <-s.closed:
		return nil, errClosed
	}
}

// entries converts stream messages.
func entries(msgs []redis.XMessage) ([]store.Entry, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	out := make([]store.Entry, len(msgs))
	for i, m := range msgs {
		id, err := parseID(m.ID)
		if err != nil {
			return nil, err
		}
		key, _ := m.Values["k"].(string)
		data, ok := m.Values["d"].(string)
		if !ok {
			return nil, fmt.Errorf("redis: stream entry %s has no data field: not written by this store", m.ID)
		}
		out[i] = store.Entry{Cursor: m.ID, Key: key, Time: time.UnixMilli(int64(id.ms)), Data: []byte(data)} //nolint:gosec // a Redis time in ms
	}
	return out, nil
}

// ackScript sets field ARGV[1] of the hash KEYS[1] to the stream ID ARGV[2]-ARGV[3] unless it
// holds a later one, or returns -1 when that ID is after the last the stream KEYS[2] generated: IDs compare as numbers (by length, then as strings, the parts having no
// leading zeros).
var ackScript = redis.NewScript(`
local function cmp(a, b)
  if #a ~= #b then return #a - #b end
  if a == b then return 0 end
  if a < b then return -1 end
  return 1
end
-- A cursor after the last ID the stream KEYS[2] ever generated was never handed out.
local last = nil
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
if not last then return -1 end
local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
local lc = cmp(ARGV[2], lms)
if lc > 0 or (lc == 0 and cmp(ARGV[3], lseq) > 0) then return -1 end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ms, seq = string.match(cur, '^(%d+)-(%d+)$')
  if ms then
    local c = cmp(ms, ARGV[2])
    if c > 0 or (c == 0 and cmp(seq, ARGV[3]) >= 0) then
      return 0
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '-' .. ARGV[3])
return 1
`)

// Ack implements store.Cursors.
func (s *Store) Ack(ctx context.Context, topic, group, cursor string) error {
	id, err := parseID(cursor)
	if err != nil {
		return err
	}
	n, err := ackScript.Run(ctx, s.client, []string{s.acksKey(topic), s.logKey(topic)}, group, strconv.FormatUint(id.ms, 10), strconv.FormatUint(id.seq, 10)).Int()
	if err != nil {
		return fmt.Errorf("redis: ack %q: %w", topic, err)
	}
	if n < 0 {
		return fmt.Errorf("%w %q: the topic has no entry at or after it", store.ErrCursor, cursor)
	}
	return nil
}

// Acked implements store.Cursors.
func (s *Store) Acked(ctx context.Context, topic, group string) (string, error) {
	c, err := s.client.HGet(ctx, s.acksKey(topic), group).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis: acked %q: %w", topic, err)
	}
	return c, nil
}
