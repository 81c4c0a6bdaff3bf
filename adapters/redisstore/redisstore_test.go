package redisstore_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
)

func open(t *testing.T, c redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Two stores (two bridges) on one Redis take from one budget: of 200 concurrent takes split
// between them, exactly burst succeed while the budget cannot refill.
func TestTwoStoresShareOneBudget(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	a := open(t, redisstore.Config{Address: r.Socket, Timeout: 2 * time.Second})
	b := open(t, redisstore.Config{Address: "unix://" + r.Socket, Timeout: 2 * time.Second})
	rate := adapters.Rate{PerSecond: 0.001, Burst: 25} // one token per 1,000 s: no refill during the test
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			after, ok, err := s.Take(context.Background(), "shared", rate)
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				allowed.Add(1)
			default:
				refused.Add(1)
				if after <= 0 || after > 1000*time.Second {
					t.Errorf("retry after %s, want in (0, 1000s]", after)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 25 || refused.Load() != 175 {
		t.Fatalf("allowed %d, refused %d; want 25 and 175", allowed.Load(), refused.Load())
	}
}

func TestRefillAndKeys(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := open(t, redisstore.Config{Address: r.Socket, KeyPrefix: "t1:", Timeout: 2 * time.Second})
	other := open(t, redisstore.Config{Address: r.Socket, KeyPrefix: "t2:", Timeout: 2 * time.Second})
	ctx := context.Background()
	rate := adapters.Rate{PerSecond: 20, Burst: 1} // a token every 50ms
	if _, ok, err := s.Take(ctx, "k", rate); !ok || err != nil {
		t.Fatalf("first take: ok %v, err %v", ok, err)
	}
	after, ok, err := s.Take(ctx, "k", rate)
	if ok || err != nil || after <= 0 || after > 50*time.Millisecond {
		t.Fatalf("second take: ok %v, err %v, after %s; want refused within 50ms", ok, err, after)
	}
	// Another key, and the same key under another prefix, are budgets of their own.
	if _, ok, _ := s.Take(ctx, "k2", rate); !ok {
		t.Fatal("another key was refused")
	}
	if _, ok, _ := other.Take(ctx, "k", rate); !ok {
		t.Fatal("the same key under another prefix was refused")
	}
	// After the wait it asked for, a token is back.
	time.Sleep(after + 5*time.Millisecond)
	if _, ok, err := s.Take(ctx, "k", rate); !ok || err != nil {
		t.Fatalf("take after the wait: ok %v, err %v", ok, err)
	}
	// An unlimited rate never reaches Redis.
	if _, ok, _ := s.Take(ctx, "k", adapters.Rate{}); !ok {
		t.Fatal("an unlimited rate refused")
	}
}

// Redis down is an error, returned within the timeout: the callers let the call through and
// count it.
func TestRedisDownIsAnError(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	s := open(t, redisstore.Config{Address: r.Socket, Timeout: 200 * time.Millisecond})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	start := time.Now()
	_, ok, err := s.Take(context.Background(), "k", adapters.Rate{PerSecond: 1})
	if err == nil || ok {
		t.Fatalf("Take with Redis down: ok %v, err %v; want an error", ok, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Take took %s with Redis down", d)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    redisstore.Config
		want string
	}{
		{"no address", redisstore.Config{}, "redis.address: missing"},
		{"clear password", redisstore.Config{Address: "x:6379", Password: "hunter2"}, "cannot be written in the config in clear"},
		{"both", redisstore.Config{Address: "x:6379", Password: "${P}", PasswordFile: "f"}, "not both"},
		{"db", redisstore.Config{Address: "x:6379", DB: -1}, "redis.db -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.c.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v; want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatal("the error repeats the secret")
			}
		})
	}
	t.Run("unset variable", func(t *testing.T) {
		// not parallel with Setenv-using tests; reads an unset variable only
		_, err := redisstore.Open(redisstore.Config{Address: "x:6379", Password: "${AGENTBRIDGE_TEST_UNSET_REDIS_PW}"})
		if err == nil || !strings.Contains(err.Error(), "AGENTBRIDGE_TEST_UNSET_REDIS_PW is not set") {
			t.Fatalf("Open: %v", err)
		}
	})
}
