package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Memory is a Store in process memory: for tests and for a bridge that may lose its events and
// jobs when it stops. It applies Retention as the durable stores do.
type Memory struct {
	retention Retention
	now       func() time.Time

	mu      sync.Mutex
	closed  bool
	topics  map[string]*memTopic
	cursors map[[2]string]uint64
	tables  map[string]map[string][]byte
}

type memTopic struct {
	next    uint64 // sequence number of the next entry, from 1
	entries []memEntry
	bytes   int64
	keys    map[string]uint64
	wake    chan struct{} // closed and replaced on every append
}

type memEntry struct {
	seq uint64
	Entry
}

var (
	_ Store  = (*Memory)(nil)
	_ Tailer = (*Memory)(nil)
)

// NewMemory returns an empty memory store that trims logs by r.
func NewMemory(r Retention) *Memory {
	return &Memory{
		retention: r,
		now:       time.Now,
		topics:    map[string]*memTopic{},
		cursors:   map[[2]string]uint64{},
		tables:    map[string]map[string][]byte{},
	}
}

var errClosed = errors.New("store: closed")

// FormatSeq renders a sequence number as a cursor whose byte order is its number order.
func FormatSeq(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// ParseSeq reads a cursor FormatSeq wrote; "" is 0.
func ParseSeq(cursor string) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil || len(cursor) != 20 {
		return 0, fmt.Errorf("%w %q", ErrCursor, cursor)
	}
	return n, nil
}

func (m *Memory) topic(name string) *memTopic {
	t := m.topics[name]
	if t == nil {
		t = &memTopic{next: 1, keys: map[string]uint64{}, wake: make(chan struct{})}
		m.topics[name] = t
	}
	return t
}

// Append implements Log.
func (m *Memory) Append(ctx context.Context, topic string, recs ...Record) ([]Appended, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	t := m.topic(topic)
	m.trim(t)
	out := make([]Appended, len(recs))
	now := m.now()
	for i, r := range recs {
		if r.Key != "" {
			if seq, ok := t.keys[r.Key]; ok {
				out[i] = Appended{Cursor: FormatSeq(seq), Duplicate: true}
				continue
			}
			t.keys[r.Key] = t.next
		}
		e := memEntry{seq: t.next, Entry: Entry{Cursor: FormatSeq(t.next), Key: r.Key, Time: now, Data: slices.Clone(r.Data)}}
		t.entries = append(t.entries, e)
		t.bytes += int64(len(r.Data))
		out[i] = Appended{Cursor: e.Cursor}
		t.next++
	}
	m.trim(t)
	close(t.wake)
	t.wake = make(chan struct{})
	return out, nil
}

// trim drops t's entries beyond the retention.
func (m *Memory) trim(t *memTopic) {
	r := m.retention
	drop := 0
	cut := m.now().Add(-r.MaxAge)
	for drop < len(t.entries) {
		e := t.entries[drop]
		n := int64(len(t.entries) - drop)
		if (r.MaxAge > 0 && e.Time.Before(cut)) || (r.MaxEntries > 0 && n > r.MaxEntries) || (r.MaxBytes > 0 && t.bytes > r.MaxBytes) {
			t.bytes -= int64(len(e.Data))
			if e.Key != "" {
				delete(t.keys, e.Key)
			}
			drop++
			continue
		}
		break
	}
	if drop > 0 {
		t.entries = slices.Delete(t.entries, 0, drop)
	}
}

// Read implements Log.
func (m *Memory) Read(ctx context.Context, topic, after string, limit int, wait time.Duration) ([]Entry, error) {
	from, err := ParseSeq(after)
	if err != nil {
		return nil, err
	}
	var timer <-chan time.Time
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, errClosed
		}
		t := m.topic(topic)
		m.trim(t)
		i, _ := slices.BinarySearchFunc(t.entries, from+1, func(e memEntry, seq uint64) int {
			switch {
			case e.seq < seq:
				return -1
			case e.seq > seq:
				return 1
			}
			return 0
		})
		if n := min(limit, len(t.entries)-i); n > 0 {
			out := make([]Entry, n)
			for j := range n {
				out[j] = t.entries[i+j].Entry
			}
			m.mu.Unlock()
			return out, nil
		}
		wake := t.wake
		m.mu.Unlock()
		if wait <= 0 || limit <= 0 {
			return nil, ctx.Err()
		}
		if timer == nil {
			tm := time.NewTimer(wait)
			defer tm.Stop()
			timer = tm.C
		}
		select {
		case <-wake:
		case <-timer:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// Last implements Tailer: the newest entry's cursor, or after the last one removed when
// retention removed them all.
func (m *Memory) Last(ctx context.Context, topic string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", errClosed
	}
	t := m.topics[topic]
	if t == nil || t.next == 1 {
		return "", nil
	}
	return FormatSeq(t.next - 1), nil
}

// Ack implements Cursors.
func (m *Memory) Ack(ctx context.Context, topic, group, cursor string) error {
	seq, err := ParseSeq(cursor)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if t := m.topics[topic]; t == nil || seq >= t.next {
		return fmt.Errorf("%w %q: the topic has no entry at or after it", ErrCursor, cursor)
	}
	k := [2]string{topic, group}
	m.cursors[k] = max(m.cursors[k], seq)
	return nil
}

// Acked implements Cursors.
func (m *Memory) Acked(ctx context.Context, topic, group string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", errClosed
	}
	seq, ok := m.cursors[[2]string{topic, group}]
	if !ok {
		return "", nil
	}
	return FormatSeq(seq), nil
}

// Put implements Table.
func (m *Memory) Put(ctx context.Context, table string, kvs ...KV) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	t := m.tables[table]
	if t == nil {
		t = map[string][]byte{}
		m.tables[table] = t
	}
	for _, kv := range kvs {
		t[kv.Key] = slices.Clone(kv.Value)
	}
	return nil
}

// Get implements Table.
func (m *Memory) Get(ctx context.Context, table, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	v, ok := m.tables[table][key]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(v), nil
}

// Scan implements Table. It sorts the table's keys on every call: fine for tests and small
// tables, which is what Memory is for.
func (m *Memory) Scan(ctx context.Context, table, from, to string, limit int) ([]KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	var keys []string
	for k := range m.tables[table] {
		if k >= from && (to == "" || k < to) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = keys[:min(limit, len(keys))]
	out := make([]KV, len(keys))
	for i, k := range keys {
		out[i] = KV{Key: k, Value: slices.Clone(m.tables[table][k])}
	}
	return out, nil
}

// Delete implements Table.
func (m *Memory) Delete(ctx context.Context, table string, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if len(keys) == 0 {
		delete(m.tables, table)
		return nil
	}
	for _, k := range keys {
		delete(m.tables[table], k)
	}
	return nil
}

// Close implements Store; readers waiting in Read return.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		for _, t := range m.topics {
			close(t.wake)
			t.wake = make(chan struct{})
		}
	}
	return nil
}
