package store

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is a clock tests move.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *fakeClock               { c := &fakeClock{}; c.ns.Store(time.Now().UnixNano()); return c }
func openTest(t *testing.T, r Retention, c *fakeClock, path string) *Bolt {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "idem.db")
	}
	b, err := OpenBolt(path, r, boltClock(c.now), BoltSweepEvery(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestBoltIdempotency mirrors adapters/redisstore's Claim and Replace: a claim holds for its
// lease, only the holder's value is replaced, nil deletes, expiry is honoured on read.
func TestBoltIdempotency(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "idem.db")
	b := openTest(t, Retention{}, clock, path)
	ctx := t.Context()
	if _, ok, err := b.Claim(ctx, "k", []byte("pending-1"), time.Minute); !ok || err != nil {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if v, ok, err := b.Claim(ctx, "k", []byte("pending-2"), time.Minute); ok || err != nil || string(v) != "pending-1" {
		t.Fatalf("second claim = %q, %v, %v; want the first's value", v, ok, err)
	}
	// a replace by one that does not hold the claim changes nothing
	if err := b.Replace(ctx, "k", []byte("pending-2"), []byte("done-2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := b.Claim(ctx, "k", []byte("x"), time.Minute); string(v) != "pending-1" {
		t.Fatalf("after a foreign replace the record is %q", v)
	}
	if err := b.Replace(ctx, "k", []byte("pending-1"), []byte("done-1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	// the lease is over but the outcome's ttl is not
	clock.add(2 * time.Minute)
	if v, ok, _ := b.Claim(ctx, "k", []byte("x"), time.Minute); ok || string(v) != "done-1" {
		t.Fatalf("after replace the record is %q (claimed %v)", v, ok)
	}
	// it survives a restart
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, Retention{}, clock, path)
	if v, ok, _ := b.Claim(ctx, "k", []byte("x"), time.Minute); ok || string(v) != "done-1" {
		t.Fatalf("after reopening the record is %q (claimed %v)", v, ok)
	}
	// expired: claimable again, and a replace of the expired value does nothing
	clock.add(2 * time.Hour)
	if err := b.Replace(ctx, "k", []byte("done-1"), []byte("late"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Claim(ctx, "k", []byte("pending-3"), time.Minute); !ok || err != nil {
		t.Fatalf("a claim of an expired key: %v, %v", ok, err)
	}
	// nil deletes
	if err := b.Replace(ctx, "k", []byte("pending-3"), nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Claim(ctx, "k", []byte("pending-4"), time.Minute); !ok {
		t.Fatal("a deleted key could not be claimed")
	}
	if _, _, err := b.Claim(ctx, "", []byte("x"), time.Minute); err == nil {
		t.Fatal("an empty key was claimed")
	}
}

func TestBoltIdempotencyConcurrent(t *testing.T) {
	b := openTest(t, Retention{}, newClock(), "")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, ok, err := b.Claim(context.Background(), "same", []byte{byte(i)}, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims won, want 1", wins.Load())
	}
}

// TestBoltSweep checks the sweeper removes expired idempotency records and entries older than
// MaxAge of a topic no one appends to, with their de-duplication keys.
func TestBoltSweep(t *testing.T) {
	clock := newClock()
	b := openTest(t, Retention{MaxAge: time.Hour}, clock, "")
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if _, _, err := b.Claim(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.Claim(ctx, "long", []byte("v"), 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, "idle", Record{Key: "e1", Data: []byte("x")}, Record{Key: "e2", Data: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	clock.add(2 * time.Hour)
	if err := b.sweep(); err != nil {
		t.Fatal(err)
	}
	err := b.db.View(func(tx *bolt.Tx) error {
		var keys []string
		_ = tx.Bucket(bucketIdem).ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
		if len(keys) != 1 || keys[0] != "long" {
			t.Errorf("idempotency records after the sweep: %v", keys)
		}
		if n := tx.Bucket(bucketIdemExp).Stats().KeyN; n != 1 {
			t.Errorf("%d expiry index entries after the sweep, want 1", n)
		}
		tb := tx.Bucket(bucketLogs).Bucket(named("idle"))
		if n := tb.Bucket(bucketEntries).Stats().KeyN; n != 0 {
			t.Errorf("%d old entries after the sweep", n)
		}
		if n := tb.Bucket(bucketKeys).Stats().KeyN; n != 0 {
			t.Errorf("%d de-duplication keys after the sweep", n)
		}
		if getUint(tb, keyCount) != 0 || getUint(tb, keyBytes) != 0 {
			t.Errorf("counters after the sweep: %d entries, %d bytes", getUint(tb, keyCount), getUint(tb, keyBytes))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// sequence numbers go on after an emptied topic
	app, err := b.Append(ctx, "idle", Record{Key: "e1"})
	if err != nil || app[0].Duplicate || app[0].Cursor != FormatSeq(3) {
		t.Fatalf("append after the sweep = %v, %v", app, err)
	}
}
