package adapters_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
)

// TestMemoryLimiter: a bucket starts full, refills at the rate, says how long until the next
// token, and keys do not share tokens.
func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := adapters.NewMemoryLimiter(clock.Now)
	r := adapters.Rate{PerSecond: 2, Burst: 3}
	take := func(key string) (time.Duration, bool) {
		t.Helper()
		after, ok, err := l.Take(t.Context(), key, r)
		if err != nil {
			t.Fatal(err)
		}
		return after, ok
	}
	for i := range 3 {
		if _, ok := take("a"); !ok {
			t.Fatalf("token %d of a full bucket of 3 refused", i+1)
		}
	}
	if after, ok := take("a"); ok || after != 500*time.Millisecond {
		t.Errorf("empty bucket: ok %v, retry after %s; want refused, 500ms (2 per second)", ok, after)
	}
	if _, ok := take("b"); !ok {
		t.Error("key b was refused for a's use")
	}
	clock.Advance(500 * time.Millisecond)
	if _, ok := take("a"); !ok {
		t.Error("a token 500ms later was refused")
	}
	if _, ok := take("a"); ok {
		t.Error("a second token 500ms later was given")
	}
	if _, ok, _ := l.Take(t.Context(), "c", adapters.Rate{}); !ok {
		t.Error("a zero rate limits")
	}
}

// TestMemoryLimiterStaysBounded: buckets of callers that have gone quiet are dropped once there
// are many, so an issuer minting subjects cannot grow the limiter without bound; a dropped
// bucket comes back full, which is what it was.
func TestMemoryLimiterStaysBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := adapters.NewMemoryLimiter(clock.Now)
	r := adapters.Rate{PerSecond: 1000, Burst: 1}
	for i := range 50000 {
		if _, ok, _ := l.Take(t.Context(), "p"+strconv.Itoa(i), r); !ok {
			t.Fatalf("caller %d refused on its first call", i)
		}
		clock.Advance(time.Millisecond) // each bucket is full again by the next caller
	}
	if n := l.Len(); n > 10000 {
		t.Errorf("%d buckets kept", n)
	}
}
