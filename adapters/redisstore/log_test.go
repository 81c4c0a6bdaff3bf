package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	"github.com/agentbridge/agentbridge/server/store"
	"github.com/agentbridge/agentbridge/server/store/storetest"
)

// TestStoreSuite runs the store conformance suite on one real Redis, a key prefix per test
// (a fresh store); reopening the same prefix is reopening the same data.
func TestStoreSuite(t *testing.T) {
	r := redistest.Start(t)
	n := 0
	storetest.Run(t, storetest.Suite{Durable: true, New: func(t *testing.T, ret store.Retention) storetest.Opener {
		n++
		prefix := fmt.Sprintf("suite%d:", n)
		return func() (store.Store, error) {
			return redisstore.Open(redisstore.Config{Address: r.Socket, KeyPrefix: prefix, Timeout: 2 * time.Second, Retention: ret})
		}
	}})
}

func TestRetentionMaxBytesRefused(t *testing.T) {
	c := redisstore.Config{Address: "/tmp/none.sock", Retention: store.Retention{MaxBytes: 1 << 20}}
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "max_bytes") {
		t.Fatalf("Check with max_bytes = %v", err)
	}
	if _, err := redisstore.Open(c); err == nil {
		t.Fatal("Open with max_bytes succeeded")
	}
}

func TestCursorsAreStreamIDs(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := open(t, redisstore.Config{Address: r.Socket, Timeout: 2 * time.Second})
	ctx := t.Context()
	for _, bad := range []string{"12", "a-1", "1-b", "-1", "1-", "00000000000000000001"} {
		if _, err := s.Read(ctx, "t", bad, 1, 0); !errors.Is(err, store.ErrCursor) {
			t.Errorf("Read after %q: %v, want ErrCursor", bad, err)
		}
	}
	app, err := s.Append(ctx, "t", store.Record{Key: "a"}, store.Record{Key: "b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range app {
		if ms, _, ok := strings.Cut(a.Cursor, "-"); !ok || len(ms) < 13 {
			t.Fatalf("cursor %q is not a stream ID", a.Cursor)
		}
	}
	// acks compare as numbers: 10-0 is after 9-5 (an entry of now is after both)
	if _, err := s.Append(ctx, "n", store.Record{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, "n", "g", "10-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, "n", "g", "9-5"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, "n", "g", "10-00"); err != nil { // parsed, written without leading zeros
		t.Fatal(err)
	}
	if c, _ := s.Acked(ctx, "n", "g"); c != "10-0" {
		t.Fatalf("Acked = %q, want 10-0", c)
	}
	if err := s.Ack(ctx, "n", "g", "10-11"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Acked(ctx, "n", "g"); c != "10-11" {
		t.Fatalf("Acked = %q, want 10-11", c)
	}
}

// Two stores (two bridges) on one Redis share the log: a key appended through one is a
// duplicate through the other, and a Read waiting on one wakes for an append through the other.
func TestTwoStoresShareLog(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	a := open(t, redisstore.Config{Address: r.Socket, Timeout: 2 * time.Second})
	b := open(t, redisstore.Config{Address: r.Socket, Timeout: 2 * time.Second})
	ctx := t.Context()
	first, err := a.Append(ctx, "hooks", store.Record{Key: "evt", Data: []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Append(ctx, "hooks", store.Record{Key: "evt", Data: []byte("2")})
	if err != nil || !again[0].Duplicate || again[0].Cursor != first[0].Cursor {
		t.Fatalf("append of the same key through another store = %v, %v", again, err)
	}
	got := make(chan []store.Entry, 1)
	go func() {
		e, _ := b.Read(ctx, "hooks", first[0].Cursor, 10, time.Minute)
		got <- e
	}()
	next, err := a.Append(ctx, "hooks", store.Record{Key: "evt2", Data: []byte("3")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if len(e) != 1 || e[0].Cursor != next[0].Cursor {
			t.Fatalf("the waiting Read returned %v", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a Read waiting on one store did not wake for an append through another")
	}
}

// A Redis that is down fails calls within a bounded time, waiting Reads included.
func TestLogRedisDown(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := open(t, redisstore.Config{Address: r.Socket, Timeout: 200 * time.Millisecond})
	ctx := t.Context()
	app, err := s.Append(ctx, "t", store.Record{Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := s.Read(ctx, "t", app[0].Cursor, 10, time.Hour)
		waiting <- err
	}()
	waitBlocked(t, r.Socket)
	r.Stop()
	start := time.Now()
	if _, err := s.Append(ctx, "t", store.Record{Data: []byte("y")}); err == nil {
		t.Fatal("Append with Redis down succeeded")
	}
	if _, err := s.Read(ctx, "t", "", 10, time.Hour); err == nil {
		t.Fatal("Read with Redis down succeeded")
	}
	select {
	case err := <-waiting:
		if err == nil {
			t.Fatal("a waiting Read returned no error when Redis went down")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a waiting Read did not fail when Redis went down")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("failing took %v", d)
	}
}

// waitBlocked returns once Redis reports a client blocked (in XREAD BLOCK).
func waitBlocked(t *testing.T, sock string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(t.Context(), "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, "blocked_clients:0") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no client blocked in Redis within 20s")
		}
		<-time.After(5 * time.Millisecond) // a bounded poll of Redis's own count
	}
}

func TestTableAtomicPut(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := open(t, redisstore.Config{Address: r.Socket, Timeout: 2 * time.Second})
	ctx := context.Background()
	var kvs []store.KV
	for i := range 1200 { // more than one HMGET chunk of the scan script
		kvs = append(kvs, store.KV{Key: fmt.Sprintf("k%05d", i), Value: fmt.Appendf(nil, "%d", i)})
	}
	kvs = append(kvs, store.KV{Key: "", Value: []byte("empty key")}, store.KV{Key: "zz", Value: nil})
	if err := s.Put(ctx, "big", kvs...); err != nil {
		t.Fatal(err)
	}
	all, err := s.Scan(ctx, "big", "", "", 5000)
	if err != nil || len(all) != 1202 || all[0].Key != "" || all[1].Key != "k00000" || string(all[1200].Value) != "1199" || all[1201].Key != "zz" || len(all[1201].Value) != 0 {
		t.Fatalf("Scan of 1202 pairs: %d, %v", len(all), err)
	}
}
