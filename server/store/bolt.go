package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bolt is the embedded Store: one bbolt file on local disk, for a bridge run as one process.
// Every write is fsynced before it returns; concurrent writers share one commit (and one fsync),
// so many appenders cost about as much as one. The log lives in the file, not in the Go heap:
// a million retained events take disk, not memory. Only one process opens a file at a time.
//
// Bolt also keeps idempotency records (Claim, Replace: the server's IdempotencyStore), so an
// idempotency key survives a restart of an embedded bridge.
//
// Layout (buckets): "logs" holds a bucket per topic with a bucket "e" (8-byte big-endian
// sequence number → entry: 8-byte unix nanoseconds, uvarint key length, key, data), a bucket
// "k" (record key → sequence number, for de-duplication) and the counters "n" (entries) and
// "b" (bytes of data); "cursors" maps (topic, group) to a sequence number; "tables" holds a
// bucket per table; "idem" maps an idempotency key to its expiry and value, and "idemexp" the
// expiry and key to nothing (the order the sweeper removes them in).
type Bolt struct {
	db        *bolt.DB
	path      string
	retention Retention
	now       func() time.Time

	// mu guards closed; every call holds it (read) while it uses the file, so Close waits for
	// calls in flight and calls after it fail.
	mu     sync.RWMutex
	closed bool

	// wmu guards waiters: per topic, a channel closed on the next append (only topics a Read
	// waits on have one).
	wmu      sync.Mutex
	waiters  map[string]chan struct{}
	wclosed  bool
	writes   chan *boltWrite // to the committer; unbuffered, so a write sent is always answered
	stop     chan struct{}   // closed by Close: the committer and the sweeper end
	finished sync.WaitGroup
}

var (
	_ Store  = (*Bolt)(nil)
	_ Tailer = (*Bolt)(nil)
)

// BoltOption changes how OpenBolt opens a file.
type BoltOption func(*boltConfig)

type boltConfig struct {
	lockTimeout time.Duration
	sweepEvery  time.Duration
	now         func() time.Time
}

// BoltLockTimeout bounds how long OpenBolt waits for another process to release the file.
// Default 1s.
func BoltLockTimeout(d time.Duration) BoltOption {
	return func(c *boltConfig) { c.lockTimeout = d }
}

// BoltSweepEvery sets how often the background sweeper removes entries older than MaxAge and
// expired idempotency records. Default: MaxAge/10, between 100ms and 1 minute.
func BoltSweepEvery(d time.Duration) BoltOption {
	return func(c *boltConfig) { c.sweepEvery = d }
}

// boltClock sets the store's clock (tests).
func boltClock(now func() time.Time) BoltOption {
	return func(c *boltConfig) { c.now = now }
}

// Bucket and key names of the layout.
var (
	bucketLogs    = []byte("logs")
	bucketCursors = []byte("cursors")
	bucketTables  = []byte("tables")
	bucketIdem    = []byte("idem")
	bucketIdemExp = []byte("idemexp")
	bucketEntries = []byte("e")
	bucketKeys    = []byte("k")
	keyCount      = []byte("n")
	keyBytes      = []byte("b")
)

// maxNameLen bounds topic, table, group, record and table key lengths: bbolt keys are at most
// 32 KiB, and names carry a short prefix.
const maxNameLen = bolt.MaxKeySize - 64

// OpenBolt opens (creating it and its directory if need be) the store in the file at path,
// which trims logs by r. It fails fast when another process has the file open.
func OpenBolt(path string, r Retention, opts ...BoltOption) (*Bolt, error) {
	if r.MaxAge < 0 || r.MaxEntries < 0 || r.MaxBytes < 0 {
		return nil, fmt.Errorf("store: retention %+v: bounds must not be negative", r)
	}
	cfg := boltConfig{lockTimeout: time.Second, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.sweepEvery <= 0 {
		cfg.sweepEvery = time.Minute
		if r.MaxAge > 0 {
			cfg.sweepEvery = min(time.Minute, max(100*time.Millisecond, r.MaxAge/10))
		}
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is in use by another agentbridge process (its lock was not released within %s)", path, cfg.lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketLogs, bucketCursors, bucketTables, bucketIdem, bucketIdemExp} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: preparing %s: %w", path, err)
	}
	b := &Bolt{
		db: db, path: path, retention: r, now: cfg.now,
		waiters: map[string]chan struct{}{},
		writes:  make(chan *boltWrite),
		stop:    make(chan struct{}),
	}
	b.finished.Add(2)
	go b.committer()
	go b.sweeper(cfg.sweepEvery)
	return b, nil
}

// Path returns the file's path.
func (b *Bolt) Path() string { return b.path }

// boltWrite is one caller's part of a commit.
type boltWrite struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

// maxGroup bounds how many writes share one commit.
const maxGroup = 1024

// committer runs the writes sent to it: every write waiting when a commit starts joins it, so
// concurrent writers share one transaction and one fsync (group commit), and a lone writer
// waits for no timer. When a grouped commit fails, each write is run again on its own, so one
// write's error is not another's.
func (b *Bolt) committer() {
	defer b.finished.Done()
	for {
		var w *boltWrite
		select {
		case w = <-b.writes:
		case <-b.stop:
			return
		}
		group := []*boltWrite{w}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-b.writes:
				group = append(group, w)
			default:
				break more
			}
		}
		err := b.db.Update(func(tx *bolt.Tx) error {
			for _, w := range group {
				if err := w.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(group) > 1 {
			for _, w := range group {
				w.done <- b.db.Update(w.fn)
			}
			continue
		}
		for _, w := range group {
			w.done <- err
		}
	}
}

// write runs fn in a durable write transaction, shared with concurrent writes; fn may run more
// than once (its transaction rolled back in between), so it must set all its results each run.
func (b *Bolt) write(fn func(tx *bolt.Tx) error) error {
	w := &boltWrite{fn: fn, done: make(chan error, 1)}
	select {
	case b.writes <- w:
	case <-b.stop:
		return errClosed
	}
	return <-w.done
}

// enter starts a call: it fails after Close. The caller calls b.mu.RUnlock when done.
func (b *Bolt) enter() error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	return nil
}

func be8(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n) }

func checkName(what, name string) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("store: %s of %d bytes is too long (at most %d)", what, len(name), maxNameLen)
	}
	return nil
}

// named is a bucket or key name that is never empty (bbolt refuses empty ones).
func named(name string) []byte { return append([]byte{'='}, name...) }

// encodeEntry lays out an entry's value: time, key length, key, data.
func encodeEntry(t time.Time, key string, data []byte) []byte {
	v := make([]byte, 0, 8+binary.MaxVarintLen64+len(key)+len(data))
	v = binary.BigEndian.AppendUint64(v, uint64(t.UnixNano())) //nolint:gosec // a time after 1970
	v = binary.AppendUvarint(v, uint64(len(key)))
	v = append(v, key...)
	return append(v, data...)
}

// decodeEntry splits an entry's value; key and data alias v.
func decodeEntry(v []byte) (unixNano int64, key, data []byte, err error) {
	if len(v) < 9 {
		return 0, nil, nil, errors.New("store: a log entry is truncated")
	}
	unixNano = int64(binary.BigEndian.Uint64(v)) //nolint:gosec // written from a time
	n, w := binary.Uvarint(v[8:])
	if w <= 0 || uint64(len(v)-8-w) < n {
		return 0, nil, nil, errors.New("store: a log entry is malformed")
	}
	rest := v[8+w:]
	return unixNano, rest[:n], rest[n:], nil
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Append implements Log. It returns once the records are fsynced.
func (b *Bolt) Append(ctx context.Context, topic string, recs ...Record) ([]Appended, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkName("topic", topic); err != nil {
		return nil, err
	}
	now := b.now()
	vals := make([][]byte, len(recs))
	for i, r := range recs {
		if err := checkName("record key", r.Key); err != nil {
			return nil, err
		}
		vals[i] = encodeEntry(now, r.Key, r.Data)
	}
	out := make([]Appended, len(recs))
	if len(recs) == 0 {
		return out, nil
	}
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	err := b.write(func(tx *bolt.Tx) error {
		tb, err := tx.Bucket(bucketLogs).CreateBucketIfNotExists(named(topic))
		if err != nil {
			return err
		}
		eb, err := tb.CreateBucketIfNotExists(bucketEntries)
		if err != nil {
			return err
		}
		// sequence numbers only grow: fill pages instead of splitting them in halves
		eb.FillPercent = 0.95
		kb, err := tb.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return err
		}
		count, size := getUint(tb, keyCount), getUint(tb, keyBytes)
		for i, r := range recs {
			if r.Key != "" {
				if v := kb.Get([]byte(r.Key)); len(v) == 8 {
					out[i] = Appended{Cursor: FormatSeq(binary.BigEndian.Uint64(v)), Duplicate: true}
					continue
				}
			}
			seq, err := eb.NextSequence()
			if err != nil {
				return err
			}
			if err := eb.Put(be8(seq), vals[i]); err != nil {
				return err
			}
			if r.Key != "" {
				if err := kb.Put([]byte(r.Key), be8(seq)); err != nil {
					return err
				}
			}
			count++
			size += uint64(len(r.Data))
			out[i] = Appended{Cursor: FormatSeq(seq)}
		}
		return b.trim(tb, eb, kb, count, size, now)
	})
	if err != nil {
		return nil, fmt.Errorf("store: append to %q: %w", topic, err)
	}
	b.notify(topic)
	return out, nil
}

// trim removes the oldest entries of a topic while they are beyond the retention, with their
// de-duplication keys, and stores the counters. It looks at the first entry only, so an
// append that trims nothing costs one seek.
func (b *Bolt) trim(tb, eb, kb *bolt.Bucket, count, size uint64, now time.Time) error {
	r := b.retention
	cut := now.Add(-r.MaxAge).UnixNano()
	c := eb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		t, key, data, err := decodeEntry(v)
		if err != nil {
			return err
		}
		old := r.MaxAge > 0 && t < cut
		if !old && (r.MaxEntries <= 0 || count <= uint64(r.MaxEntries)) && (r.MaxBytes <= 0 || size <= uint64(r.MaxBytes)) {
			break
		}
		seq := slicesClone(k)
		key = slicesClone(key)
		count--
		size -= min(size, uint64(len(data)))
		if err := eb.Delete(seq); err != nil {
			return err
		}
		// the key de-duplicates with this entry only: a later record may hold it since
		if len(key) > 0 && bytes.Equal(kb.Get(key), seq) {
			if err := kb.Delete(key); err != nil {
				return err
			}
		}
	}
	if err := tb.Put(keyCount, be8(count)); err != nil {
		return err
	}
	return tb.Put(keyBytes, be8(size))
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// notify wakes the Reads waiting on topic.
func (b *Bolt) notify(topic string) {
	b.wmu.Lock()
	if ch, ok := b.waiters[topic]; ok {
		close(ch)
		delete(b.waiters, topic)
	}
	b.wmu.Unlock()
}

// waiter returns a channel closed on topic's next append or on Close; nil after Close.
func (b *Bolt) waiter(topic string) chan struct{} {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if b.wclosed {
		return nil
	}
	ch, ok := b.waiters[topic]
	if !ok {
		ch = make(chan struct{})
		b.waiters[topic] = ch
	}
	return ch
}

// Read implements Log. Waiting costs no disk reads: a waiting Read is woken by the next Append
// to its topic in this process.
func (b *Bolt) Read(ctx context.Context, topic, after string, limit int, wait time.Duration) ([]Entry, error) {
	from, err := ParseSeq(after)
	if err != nil {
		return nil, err
	}
	var timer <-chan time.Time
	for {
		out, err := b.read(topic, from, limit)
		if err != nil || len(out) > 0 {
			return out, err
		}
		if wait <= 0 || limit <= 0 {
			return nil, ctx.Err()
		}
		ch := b.waiter(topic)
		if ch == nil {
			return nil, errClosed
		}
		// an append between the read and taking the channel closed no channel: read again
		if out, err := b.read(topic, from, limit); err != nil || len(out) > 0 {
			return out, err
		}
		if timer == nil {
			tm := time.NewTimer(wait)
			defer tm.Stop()
			timer = tm.C
		}
		select {
		case <-ch:
		case <-timer:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// read returns up to limit entries of topic after sequence number from, skipping entries older
// than MaxAge that the sweeper has not removed yet.
func (b *Bolt) read(topic string, from uint64, limit int) ([]Entry, error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	if limit <= 0 || from == math.MaxUint64 {
		return nil, nil
	}
	var cut int64
	if b.retention.MaxAge > 0 {
		cut = b.now().Add(-b.retention.MaxAge).UnixNano()
	}
	var out []Entry
	err := b.db.View(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketLogs).Bucket(named(topic))
		if tb == nil {
			return nil
		}
		eb := tb.Bucket(bucketEntries)
		if eb == nil {
			return nil
		}
		c := eb.Cursor()
		for k, v := c.Seek(be8(from + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			t, key, data, err := decodeEntry(v)
			if err != nil {
				return err
			}
			if t < cut {
				continue
			}
			out = append(out, Entry{
				Cursor: FormatSeq(binary.BigEndian.Uint64(k)),
				Key:    string(key),
				Time:   time.Unix(0, t),
				Data:   slicesClone(data),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read %q: %w", topic, err)
	}
	return out, nil
}

// Last implements Tailer: the entries bucket's sequence, the number of the last entry
// appended (kept when retention removed it), read without touching the entries.
func (b *Bolt) Last(ctx context.Context, topic string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := b.enter(); err != nil {
		return "", err
	}
	defer b.mu.RUnlock()
	last := ""
	err := b.db.View(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketLogs).Bucket(named(topic))
		if tb == nil {
			return nil
		}
		if eb := tb.Bucket(bucketEntries); eb != nil && eb.Sequence() > 0 {
			last = FormatSeq(eb.Sequence())
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: last of %q: %w", topic, err)
	}
	return last, nil
}

// cursorKey is (topic, group) as one key: the topic's length, the topic, the group.
func cursorKey(topic, group string) []byte {
	k := binary.AppendUvarint(nil, uint64(len(topic)))
	return append(append(k, topic...), group...)
}

// Ack implements Cursors.
func (b *Bolt) Ack(ctx context.Context, topic, group, cursor string) error {
	seq, err := ParseSeq(cursor)
	if err != nil {
		return err
	}
	if err := errors.Join(checkName("topic", topic), checkName("group", group)); err != nil {
		return err
	}
	if err := b.enter(); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	k := cursorKey(topic, group)
	return b.write(func(tx *bolt.Tx) error {
		var last uint64
		if tb := tx.Bucket(bucketLogs).Bucket(named(topic)); tb != nil {
			if eb := tb.Bucket(bucketEntries); eb != nil {
				last = eb.Sequence()
			}
		}
		if seq > last {
			return fmt.Errorf("%w %q: the topic has no entry at or after it", ErrCursor, cursor)
		}
		cb := tx.Bucket(bucketCursors)
		if getUint(cb, k) >= seq && cb.Get(k) != nil {
			return nil
		}
		return cb.Put(k, be8(seq))
	})
}

// Acked implements Cursors.
func (b *Bolt) Acked(ctx context.Context, topic, group string) (string, error) {
	if err := b.enter(); err != nil {
		return "", err
	}
	defer b.mu.RUnlock()
	var out string
	err := b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCursors).Get(cursorKey(topic, group)); len(v) == 8 {
			out = FormatSeq(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return out, err
}

func checkTableKey(key string) error {
	if key == "" {
		return errors.New("store: a table key must not be empty")
	}
	return checkName("table key", key)
}

// Put implements Table. It returns once the pairs are fsynced.
func (b *Bolt) Put(ctx context.Context, table string, kvs ...KV) error {
	if err := checkName("table", table); err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := checkTableKey(kv.Key); err != nil {
			return err
		}
	}
	if err := b.enter(); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	if len(kvs) == 0 {
		return nil
	}
	return b.write(func(tx *bolt.Tx) error {
		tb, err := tx.Bucket(bucketTables).CreateBucketIfNotExists(named(table))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := tb.Put([]byte(kv.Key), kv.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// lookup returns the value of key in bucket bk, and whether it holds key (an empty value is a
// value).
func lookup(bk *bolt.Bucket, key []byte) ([]byte, bool) {
	if bk == nil {
		return nil, false
	}
	k, v := bk.Cursor().Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, false
	}
	return v, true
}

// Get implements Table.
func (b *Bolt) Get(ctx context.Context, table, key string) ([]byte, error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	var out []byte
	found := false
	err := b.db.View(func(tx *bolt.Tx) error {
		v, ok := lookup(tx.Bucket(bucketTables).Bucket(named(table)), []byte(key))
		out, found = slicesClone(v), ok
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	return out, nil
}

// Scan implements Table.
func (b *Bolt) Scan(ctx context.Context, table, from, to string, limit int) ([]KV, error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	var out []KV
	err := b.db.View(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTables).Bucket(named(table))
		if tb == nil {
			return nil
		}
		c := tb.Cursor()
		for k, v := c.Seek([]byte(from)); k != nil && len(out) < limit; k, v = c.Next() {
			if to != "" && string(k) >= to {
				break
			}
			out = append(out, KV{Key: string(k), Value: slicesClone(v)})
		}
		return nil
	})
	return out, err
}

// Delete implements Table.
func (b *Bolt) Delete(ctx context.Context, table string, keys ...string) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	return b.write(func(tx *bolt.Tx) error {
		tables := tx.Bucket(bucketTables)
		tb := tables.Bucket(named(table))
		if tb == nil {
			return nil
		}
		if len(keys) == 0 {
			return tables.DeleteBucket(named(table))
		}
		for _, k := range keys {
			if k == "" {
				continue
			}
			if err := tb.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Backup writes a consistent copy of the whole file to w while the store stays in use (a read
// transaction: writers are not blocked), and returns the bytes written. The copy opens with
// OpenBolt.
func (b *Bolt) Backup(w io.Writer) (int64, error) {
	if err := b.enter(); err != nil {
		return 0, err
	}
	defer b.mu.RUnlock()
	var n int64
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Close implements Store: calls in flight finish, waiting Reads return, the background work
// stops and the file is closed (and its lock released). Closing again does nothing.
func (b *Bolt) Close() error {
	b.wmu.Lock()
	if !b.wclosed {
		b.wclosed = true
		for topic, ch := range b.waiters {
			close(ch)
			delete(b.waiters, topic)
		}
	}
	b.wmu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.stop)
	b.finished.Wait()
	return b.db.Close()
}

// sweeper removes, every interval, the log entries older than MaxAge (appends remove them too,
// but a topic no one appends to keeps them) and the expired idempotency records. It writes
// only when a read transaction found something to remove.
func (b *Bolt) sweeper(every time.Duration) {
	defer b.finished.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			_ = b.sweep()
		}
	}
}

// sweep is one round of the sweeper.
func (b *Bolt) sweep() error {
	now := b.now()
	var topics [][]byte
	var idem bool
	err := b.db.View(func(tx *bolt.Tx) error {
		if b.retention.MaxAge > 0 {
			cut := now.Add(-b.retention.MaxAge).UnixNano()
			err := tx.Bucket(bucketLogs).ForEachBucket(func(name []byte) error {
				eb := tx.Bucket(bucketLogs).Bucket(name).Bucket(bucketEntries)
				if eb == nil {
					return nil
				}
				if _, v := eb.Cursor().First(); v != nil {
					if t, _, _, err := decodeEntry(v); err == nil && t < cut {
						topics = append(topics, slicesClone(name))
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if k, _ := tx.Bucket(bucketIdemExp).Cursor().First(); len(k) >= 8 {
			idem = int64(binary.BigEndian.Uint64(k)) <= now.UnixNano() //nolint:gosec // written from a time
		}
		return nil
	})
	if err != nil || (len(topics) == 0 && !idem) {
		return err
	}
	return b.write(func(tx *bolt.Tx) error {
		for _, name := range topics {
			tb := tx.Bucket(bucketLogs).Bucket(name)
			if tb == nil {
				continue
			}
			eb, kb := tb.Bucket(bucketEntries), tb.Bucket(bucketKeys)
			if eb == nil || kb == nil {
				continue
			}
			if err := b.trim(tb, eb, kb, getUint(tb, keyCount), getUint(tb, keyBytes), now); err != nil {
				return err
			}
		}
		return sweepIdem(tx, now, maxGroup*16)
	})
}
