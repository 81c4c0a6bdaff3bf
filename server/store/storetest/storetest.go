// Package storetest is the behaviour every store.Store must have, as a test suite: the memory
// store, the embedded store and the Redis store each run it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/server/store"
)

// Opener opens the store under test; called again after Close, a durable store opens the same
// data.
type Opener func() (store.Store, error)

// Suite describes the store under test.
type Suite struct {
	// New returns an Opener of a fresh, empty store that trims logs by r.
	New func(t *testing.T, r store.Retention) Opener
	// Durable says whether data outlives Close (false for the memory store).
	Durable bool
}

// Run runs every test of the suite.
func Run(t *testing.T, s Suite) {
	t.Run("AppendRead", s.appendRead)
	t.Run("Dedup", s.dedup)
	t.Run("ReadWaits", s.readWaits)
	t.Run("Cursors", s.cursors)
	t.Run("BadCursor", s.badCursor)
	t.Run("RetentionEntries", s.retentionEntries)
	t.Run("RetentionAge", s.retentionAge)
	t.Run("Table", s.table)
	t.Run("Concurrent", s.concurrent)
	t.Run("Closed", s.closed)
	t.Run("Tail", s.tail)
	if s.Durable {
		t.Run("Reopen", s.reopen)
	}
}

func (s Suite) open(t *testing.T, r store.Retention) (store.Store, Opener) {
	t.Helper()
	o := s.New(t, r)
	st, err := o()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, o
}

func recs(prefix string, n int) []store.Record {
	out := make([]store.Record, n)
	for i := range out {
		out[i] = store.Record{Key: fmt.Sprintf("%s-%d", prefix, i), Data: fmt.Appendf(nil, "%s data %d", prefix, i)}
	}
	return out
}

type result[T any] struct {
	v   T
	err error
}

// try holds a call's results for must: try(st.Read(...)).must(t).
func try[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func (s Suite) appendRead(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	app := try(st.Append(ctx, "orders", recs("a", 5)...)).must(t)
	if len(app) != 5 {
		t.Fatalf("Append returned %d results for 5 records", len(app))
	}
	got := try(st.Read(ctx, "orders", "", 100, 0)).must(t)
	if len(got) != 5 {
		t.Fatalf("Read returned %d entries, want 5", len(got))
	}
	for i, e := range got {
		if e.Cursor != app[i].Cursor || app[i].Duplicate {
			t.Errorf("entry %d: cursor %q, Append said %+v", i, e.Cursor, app[i])
		}
		if want := fmt.Sprintf("a data %d", i); string(e.Data) != want || e.Key != fmt.Sprintf("a-%d", i) {
			t.Errorf("entry %d = %q/%q, want %q", i, e.Key, e.Data, want)
		}
		if e.Time.IsZero() || time.Since(e.Time) > time.Minute {
			t.Errorf("entry %d time %v", i, e.Time)
		}
	}
	// after a cursor, with a limit
	part := try(st.Read(ctx, "orders", got[1].Cursor, 2, 0)).must(t)
	if len(part) != 2 || part[0].Cursor != got[2].Cursor || part[1].Cursor != got[3].Cursor {
		t.Fatalf("Read after entry 1, limit 2 = %v", part)
	}
	if rest := try(st.Read(ctx, "orders", got[4].Cursor, 10, 0)).must(t); len(rest) != 0 {
		t.Fatalf("Read after the last entry = %v", rest)
	}
	// more appends come after
	more := try(st.Append(ctx, "orders", store.Record{Data: []byte("no key")}, store.Record{Data: []byte("no key")})).must(t)
	if more[0].Duplicate || more[1].Duplicate || more[0].Cursor == more[1].Cursor {
		t.Fatalf("records without a key were de-duplicated: %+v", more)
	}
	if next := try(st.Read(ctx, "orders", got[4].Cursor, 10, 0)).must(t); len(next) != 2 || next[0].Cursor != more[0].Cursor {
		t.Fatalf("Read after the last entry = %v, want the 2 new ones", next)
	}
	// topics are separate
	if other := try(st.Read(ctx, "invoices", "", 10, 0)).must(t); len(other) != 0 {
		t.Fatalf("another topic holds %v", other)
	}
	// the data handed to Append is copied
	buf := []byte("mutable")
	app2 := try(st.Append(ctx, "copy", store.Record{Data: buf})).must(t)
	copy(buf, "XXXXXXX")
	if e := try(st.Read(ctx, "copy", "", 1, 0)).must(t); len(e) != 1 || string(e[0].Data) != "mutable" || e[0].Cursor != app2[0].Cursor {
		t.Fatalf("stored data changed with the caller's buffer: %v", e)
	}
}

func (s Suite) dedup(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	first := try(st.Append(ctx, "hooks", store.Record{Key: "evt-1", Data: []byte("one")}, store.Record{Key: "evt-2", Data: []byte("two")}, store.Record{Key: "evt-1", Data: []byte("again")})).must(t)
	if first[0].Duplicate || first[1].Duplicate || !first[2].Duplicate || first[2].Cursor != first[0].Cursor {
		t.Fatalf("a key repeated within one Append: %+v", first)
	}
	again := try(st.Append(ctx, "hooks", store.Record{Key: "evt-2", Data: []byte("two again")}, store.Record{Key: "evt-3", Data: []byte("three")})).must(t)
	if !again[0].Duplicate || again[0].Cursor != first[1].Cursor || again[1].Duplicate {
		t.Fatalf("a key repeated in a later Append: %+v", again)
	}
	got := try(st.Read(ctx, "hooks", "", 10, 0)).must(t)
	if len(got) != 3 || string(got[0].Data) != "one" || string(got[1].Data) != "two" || string(got[2].Data) != "three" {
		t.Fatalf("stored %v, want one, two, three", got)
	}
	// keys are per topic
	if other := try(st.Append(ctx, "other", store.Record{Key: "evt-1"})).must(t); other[0].Duplicate {
		t.Fatal("a key of another topic was taken as a duplicate")
	}
}

func (s Suite) readWaits(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	start := try(st.Append(ctx, "live", store.Record{Data: []byte("before")})).must(t)
	got := make(chan []store.Entry, 1)
	errs := make(chan error, 1)
	go func() {
		e, err := st.Read(ctx, "live", start[0].Cursor, 10, time.Minute)
		got <- e
		errs <- err
	}()
	app := try(st.Append(ctx, "live", store.Record{Data: []byte("after")})).must(t)
	select {
	case e := <-got:
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if len(e) != 1 || e[0].Cursor != app[0].Cursor {
			t.Fatalf("waiting Read returned %v", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a waiting Read did not return after an Append")
	}
	// nothing arrives: it returns empty once wait is over
	e, err := st.Read(ctx, "live", app[0].Cursor, 10, 20*time.Millisecond)
	if err != nil || len(e) != 0 {
		t.Fatalf("Read with nothing new = %v, %v", e, err)
	}
	// the context ends first: it returns
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = st.Read(cctx, "live", app[0].Cursor, 10, time.Hour)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a waiting Read did not return when its context ended")
	}
}

func (s Suite) cursors(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	if c := try(st.Acked(ctx, "t", "g")).must(t); c != "" {
		t.Fatalf("Acked before any Ack = %q", c)
	}
	app := try(st.Append(ctx, "t", recs("c", 3)...)).must(t)
	if err := st.Ack(ctx, "t", "g", app[1].Cursor); err != nil {
		t.Fatal(err)
	}
	if err := st.Ack(ctx, "t", "g", app[0].Cursor); err != nil {
		t.Fatal(err)
	}
	if c := try(st.Acked(ctx, "t", "g")).must(t); c != app[1].Cursor {
		t.Fatalf("Acked = %q after acking %q then the earlier %q", c, app[1].Cursor, app[0].Cursor)
	}
	if c := try(st.Acked(ctx, "t", "other")).must(t); c != "" {
		t.Fatalf("another group's cursor = %q", c)
	}
	if c := try(st.Acked(ctx, "u", "g")).must(t); c != "" {
		t.Fatalf("another topic's cursor = %q", c)
	}
	// A cursor after the topic's last entry was never handed out for it: acknowledging it would
	// skip entries not yet written. A later topic's cursor is one.
	later := try(st.Append(ctx, "u", recs("u", 5)...)).must(t)
	if err := st.Ack(ctx, "t", "g", later[4].Cursor); !errors.Is(err, store.ErrCursor) {
		t.Fatalf("Ack past the topic's last entry: %v, want ErrCursor", err)
	}
	if err := st.Ack(ctx, "empty", "g", app[0].Cursor); !errors.Is(err, store.ErrCursor) {
		t.Fatalf("Ack on a topic with no entries: %v, want ErrCursor", err)
	}
	if c := try(st.Acked(ctx, "t", "g")).must(t); c != app[1].Cursor {
		t.Fatalf("a refused Ack moved the cursor to %q", c)
	}
	rest := try(st.Read(ctx, "t", try(st.Acked(ctx, "t", "g")).must(t), 10, 0)).must(t)
	if len(rest) != 1 || rest[0].Cursor != app[2].Cursor {
		t.Fatalf("Read from the acked cursor = %v", rest)
	}
}

func (s Suite) badCursor(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	if _, err := st.Read(ctx, "t", "not a cursor", 1, 0); !errors.Is(err, store.ErrCursor) {
		t.Fatalf("Read with a malformed cursor: %v, want ErrCursor", err)
	}
	if err := st.Ack(ctx, "t", "g", "not a cursor"); !errors.Is(err, store.ErrCursor) {
		t.Fatalf("Ack with a malformed cursor: %v, want ErrCursor", err)
	}
}

// tail checks store.Tailer, for a store that has it: Last is the newest entry's cursor, ""
// for a topic that holds none, and Read after it returns only what is appended later.
func (s Suite) tail(t *testing.T) {
	st, _ := s.open(t, store.Retention{MaxEntries: 3})
	tl, ok := st.(store.Tailer)
	if !ok {
		t.Skip("the store does not implement store.Tailer")
	}
	ctx := t.Context()
	if last := try(tl.Last(ctx, "t")).must(t); last != "" {
		t.Fatalf("Last of an empty topic = %q, want \"\"", last)
	}
	app := try(st.Append(ctx, "t", recs("t", 7)...)).must(t)
	last := try(tl.Last(ctx, "t")).must(t)
	if last != app[6].Cursor {
		t.Fatalf("Last = %q, want the newest entry's cursor %q", last, app[6].Cursor)
	}
	try(st.Append(ctx, "other", recs("o", 2)...)).must(t)
	if again := try(tl.Last(ctx, "t")).must(t); again != last {
		t.Fatalf("Last after appending to another topic = %q, want %q", again, last)
	}
	if e := try(st.Read(ctx, "t", last, 10, 0)).must(t); len(e) != 0 {
		t.Fatalf("Read after Last = %v, want nothing", e)
	}
	dup := try(st.Append(ctx, "t", store.Record{Key: "t-6"})).must(t)
	if !dup[0].Duplicate || try(tl.Last(ctx, "t")).must(t) != last {
		t.Fatalf("a duplicate moved Last: %+v", dup)
	}
	more := try(st.Append(ctx, "t", recs("u", 2)...)).must(t)
	e := try(st.Read(ctx, "t", last, 10, 0)).must(t)
	if len(e) != 2 || e[0].Cursor != more[0].Cursor || e[1].Cursor != more[1].Cursor {
		t.Fatalf("Read after Last = %v, want the 2 appended since", e)
	}
	if l := try(tl.Last(ctx, "t")).must(t); l != more[1].Cursor {
		t.Fatalf("Last = %q, want %q", l, more[1].Cursor)
	}
}

func (s Suite) retentionEntries(t *testing.T) {
	st, _ := s.open(t, store.Retention{MaxEntries: 5})
	ctx := t.Context()
	app := try(st.Append(ctx, "r", recs("r", 8)...)).must(t)
	app = append(app, try(st.Append(ctx, "r", recs("s", 4)...)).must(t)...)
	got := try(st.Read(ctx, "r", "", 100, 0)).must(t)
	if len(got) != 5 {
		t.Fatalf("a topic bounded to 5 entries holds %d", len(got))
	}
	for i, e := range got {
		if e.Cursor != app[len(app)-5+i].Cursor {
			t.Fatalf("entry %d is %q, want the newest five", i, e.Cursor)
		}
	}
	// a cursor of a removed entry still reads what follows it
	if e := try(st.Read(ctx, "r", app[0].Cursor, 100, 0)).must(t); len(e) != 5 {
		t.Fatalf("Read after a trimmed cursor returned %d entries, want 5", len(e))
	}
}

func (s Suite) retentionAge(t *testing.T) {
	st, _ := s.open(t, store.Retention{MaxAge: 300 * time.Millisecond})
	ctx := t.Context()
	old := try(st.Append(ctx, "age", store.Record{Data: []byte("old")})).must(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// appending is what trims in some stores; a fresh entry must stay
		fresh := try(st.Append(ctx, "age", store.Record{Data: []byte("fresh")})).must(t)
		got := try(st.Read(ctx, "age", "", 1, 0)).must(t)
		if len(got) == 0 {
			t.Fatal("a fresh entry was trimmed")
		}
		if got[0].Cursor != old[0].Cursor {
			if got[0].Time.Before(time.Now().Add(-5 * time.Second)) {
				t.Fatalf("an entry older than MaxAge is still read: %v", got[0])
			}
			_ = fresh
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an entry older than MaxAge was never removed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s Suite) table(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	if _, err := st.Get(ctx, "jobs", "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	var kvs []store.KV
	for i := range 20 {
		kvs = append(kvs, store.KV{Key: fmt.Sprintf("item/%04d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := st.Put(ctx, "jobs", kvs...); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "jobs", store.KV{Key: "job", Value: []byte("running")}, store.KV{Key: "item/0003", Value: []byte("changed")}); err != nil {
		t.Fatal(err)
	}
	if v := try(st.Get(ctx, "jobs", "item/0003")).must(t); string(v) != "changed" {
		t.Fatalf("Get after Put = %q", v)
	}
	page := try(st.Scan(ctx, "jobs", "item/0005", "item/0010", 3)).must(t)
	if len(page) != 3 || page[0].Key != "item/0005" || page[2].Key != "item/0007" || string(page[1].Value) != "v6" {
		t.Fatalf("Scan [item/0005, item/0010) limit 3 = %v", page)
	}
	all := try(st.Scan(ctx, "jobs", "item/", "item0", 1000)).must(t)
	if len(all) != 20 {
		t.Fatalf("Scan of the item/ range = %d pairs, want 20", len(all))
	}
	tail := try(st.Scan(ctx, "jobs", "item/0019", "", 1000)).must(t)
	if len(tail) != 2 || tail[1].Key != "job" {
		t.Fatalf("Scan with no upper bound = %v", tail)
	}
	if other := try(st.Scan(ctx, "other", "", "", 10)).must(t); len(other) != 0 {
		t.Fatalf("another table holds %v", other)
	}
	if err := st.Delete(ctx, "jobs", "item/0000", "never-there"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "jobs", "item/0000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := st.Delete(ctx, "jobs"); err != nil {
		t.Fatal(err)
	}
	if left := try(st.Scan(ctx, "jobs", "", "", 100)).must(t); len(left) != 0 {
		t.Fatalf("a deleted table still holds %d pairs", len(left))
	}
}

func (s Suite) concurrent(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// every writer also repeats the keys of writer 0
				rs := []store.Record{{Key: fmt.Sprintf("w%d-%d", w, i), Data: []byte("x")}, {Key: fmt.Sprintf("w0-%d", i), Data: []byte("x")}}
				if _, err := st.Append(ctx, "busy", rs...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	after := ""
	for {
		page := try(st.Read(ctx, "busy", after, 64, 0)).must(t)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if seen[e.Key] {
				t.Fatalf("key %s stored twice", e.Key)
			}
			seen[e.Key] = true
		}
		after = page[len(page)-1].Cursor
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*each)
	}
}

func (s Suite) closed(t *testing.T) {
	st, _ := s.open(t, store.Retention{})
	ctx := t.Context()
	done := make(chan error, 1)
	go func() {
		_, err := st.Read(ctx, "t", "", 1, time.Hour)
		done <- err
	}()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("a Read waiting at Close returned %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("a waiting Read did not return on Close")
	}
	if _, err := st.Append(ctx, "t", store.Record{}); err == nil {
		t.Fatal("Append after Close succeeded")
	}
}

func (s Suite) reopen(t *testing.T) {
	o := s.New(t, store.Retention{})
	ctx := t.Context()
	st := try(o()).must(t)
	app := try(st.Append(ctx, "kept", recs("k", 3)...)).must(t)
	if err := st.Ack(ctx, "kept", "g", app[0].Cursor); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "jobs", store.KV{Key: "j1", Value: []byte("state")}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = try(o()).must(t)
	t.Cleanup(func() { _ = st.Close() })
	if got := try(st.Read(ctx, "kept", "", 10, 0)).must(t); len(got) != 3 || got[2].Cursor != app[2].Cursor {
		t.Fatalf("after reopening, the log holds %v", got)
	}
	if c := try(st.Acked(ctx, "kept", "g")).must(t); c != app[0].Cursor {
		t.Fatalf("after reopening, the cursor is %q", c)
	}
	if v := try(st.Get(ctx, "jobs", "j1")).must(t); string(v) != "state" {
		t.Fatalf("after reopening, the table holds %q", v)
	}
	if d := try(st.Append(ctx, "kept", store.Record{Key: "k-1"})).must(t); !d[0].Duplicate {
		t.Fatal("after reopening, a stored key was not a duplicate")
	}
	more := try(st.Append(ctx, "kept", store.Record{Key: "new"})).must(t)
	if got := try(st.Read(ctx, "kept", app[2].Cursor, 10, 0)).must(t); len(got) != 1 || got[0].Cursor != more[0].Cursor {
		t.Fatalf("after reopening, a new entry does not come after the old ones: %v", got)
	}
}
