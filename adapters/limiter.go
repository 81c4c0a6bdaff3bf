package adapters

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token-bucket budget: PerSecond tokens are added each second, up to Burst.
type Rate struct {
	// PerSecond is the sustained rate. Zero means no limit.
	PerSecond float64 `yaml:"per_second"`
	// Burst is how many calls may come at once after a quiet spell. Default: PerSecond rounded
	// up, at least 1.
	Burst int `yaml:"burst"`
}

// Limited reports whether r limits anything.
func (r Rate) Limited() bool { return r.PerSecond > 0 }

// EffectiveBurst is Burst, or its default when Burst is zero.
func (r Rate) EffectiveBurst() int { return r.burst() }

// burst is Burst, or its default.
func (r Rate) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(math.Ceil(r.PerSecond)))
}

// Check reports a rate that cannot be used.
func (r Rate) Check() error {
	if r.PerSecond < 0 || math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) {
		return fmt.Errorf("per_second %v: use a positive number, or 0 for no limit", r.PerSecond)
	}
	if r.Burst < 0 {
		return fmt.Errorf("burst %d: use a positive number", r.Burst)
	}
	return nil
}

// Limiter keeps rate budgets by key. The in-memory one (NewMemoryLimiter) serves one process;
// a shared one (Redis, later) makes replicas share one budget. Both the server's inbound limits
// and a backend's outbound limit use it.
type Limiter interface {
	// Take takes one token from the budget named key, which refills at r. When the budget is
	// empty it takes nothing and returns ok false and how long until a token is free. An error
	// means the budget could not be consulted (a shared store down); callers let the call
	// through and count it.
	Take(ctx context.Context, key string, r Rate) (retryAfter time.Duration, ok bool, err error)
}

// MemoryLimiter is a Limiter in process memory (golang.org/x/time/rate), one token bucket per
// key.
type MemoryLimiter struct {
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	rate Rate
}

// maxBuckets bounds the buckets a MemoryLimiter keeps. Keys name principals, and an OIDC issuer
// can mint any number of them; past the bound, buckets that are full again (idle callers) are
// dropped, which loses nothing: a new bucket starts full.
const maxBuckets = 10000

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an in-memory Limiter reading time from now (time.Now when nil;
// tests pass a fake clock).
func NewMemoryLimiter(now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{now: now, buckets: map[string]*bucket{}}
}

// Take implements Limiter.
func (m *MemoryLimiter) Take(_ context.Context, key string, r Rate) (time.Duration, bool, error) {
	if !r.Limited() {
		return 0, true, nil
	}
	now := m.now()
	m.mu.Lock()
	b := m.buckets[key]
	if b == nil || b.rate != r {
		if len(m.buckets) >= maxBuckets {
			m.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(r.PerSecond), r.burst()), rate: r}
		b.lim.SetBurstAt(now, r.burst()) // starts full at now, not at the zero time
		m.buckets[key] = b
	}
	m.mu.Unlock()
	if b.lim.AllowN(now, 1) {
		return 0, true, nil
	}
	// The wait until a whole token has refilled; AllowN takes nothing when it refuses.
	missing := 1 - b.lim.TokensAt(now)
	return time.Duration(math.Ceil(missing / r.PerSecond * float64(time.Second))), false, nil
}

// Len returns how many budgets are kept.
func (m *MemoryLimiter) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}

// sweep drops buckets that are full at now; m.mu is held.
func (m *MemoryLimiter) sweep(now time.Time) {
	for k, b := range m.buckets {
		if b.lim.TokensAt(now) >= float64(b.rate.burst()) {
			delete(m.buckets, k)
		}
	}
}
