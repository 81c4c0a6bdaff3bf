package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	"github.com/agentbridge/agentbridge/server"
)

// restGets makes n concurrent REST GETs of url, alternating between the bridges, and returns
// how many got HTTP 200 and how many 429.
func restGets(t *testing.T, bridges []*bridge, path string, n int) (ok, limited int64) {
	t.Helper()
	var okN, limitedN atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		b := bridges[i%len(bridges)]
		wg.Go(func() {
			code, _, st := restCall(t, b.httpURL+path)
			switch code {
			case http.StatusOK:
				okN.Add(1)
			case http.StatusTooManyRequests:
				limitedN.Add(1)
			default:
				t.Errorf("HTTP %d: %v", code, st)
			}
		})
	}
	wg.Wait()
	return okN.Load(), limitedN.Load()
}

// TestRedisSharedBudgets: two bridges built from one config with redis: (two replicas) share
// one inbound budget and one outbound budget per backend, exactly: of 60 concurrent calls
// spread over both, as many pass as the one budget's burst.
func TestRedisSharedBudgets(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	legacy := newFlakyLegacy(t)
	pair := func(edit func(c *server.Config, b *adapters.Backend)) []*bridge {
		var out []*bridge
		for range 2 {
			out = append(out, startConfigured(t, legacy.url, func(c *server.Config, b *adapters.Backend) {
				c.Redis = &redisstore.Config{Address: r.Socket, KeyPrefix: t.Name() + ":", Timeout: 2 * time.Second}
				edit(c, b)
			}))
		}
		return out
	}
	t.Run("inbound", func(t *testing.T) {
		bridges := pair(func(c *server.Config, _ *adapters.Backend) {
			c.Limits.Rate = []server.RateRule{{Per: server.PerAll, Rate: adapters.Rate{PerSecond: 0.001, Burst: 10}}}
		})
		if ok, limited := restGets(t, bridges, "/v1/items/A-100", 60); ok != 10 || limited != 50 {
			t.Errorf("%d calls passed and %d were refused; want 10 and 50 (one budget of 10 for both bridges)", ok, limited)
		}
	})
	t.Run("outbound", func(t *testing.T) {
		bridges := pair(func(_ *server.Config, b *adapters.Backend) {
			b.Rate = adapters.Rate{PerSecond: 0.001, Burst: 7}
		})
		before := legacy.calls.Load()
		if ok, limited := restGets(t, bridges, "/v1/items/A-100", 60); ok != 7 || limited != 53 {
			t.Errorf("%d calls passed and %d were refused; want 7 and 53 (one backend budget of 7 for both bridges)", ok, limited)
		}
		if n := legacy.calls.Load() - before; n != 7 {
			t.Errorf("the backend got %d calls, want 7", n)
		}
	})
}

// TestRedisDownRateLimitsFailOpen: with Redis gone, rate limits cannot be checked; calls go
// through (rate limits fail open), and every unchecked limit is counted at /metrics.
func TestRedisDownRateLimitsFailOpen(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, func(c *server.Config, be *adapters.Backend) {
		c.Redis = &redisstore.Config{Address: r.Socket, Timeout: 200 * time.Millisecond}
		c.Limits.Rate = []server.RateRule{{Per: server.PerAll, Rate: adapters.Rate{PerSecond: 0.001, Burst: 1}}}
		be.Rate = adapters.Rate{PerSecond: 0.001, Burst: 1}
	})
	if code, _, st := restCall(t, b.httpURL+"/v1/items/A-100"); code != http.StatusOK {
		t.Fatalf("first call: HTTP %d %v", code, st)
	}
	if code, _, _ := restCall(t, b.httpURL+"/v1/items/A-100"); code != http.StatusTooManyRequests {
		t.Fatalf("second call: HTTP %d, want 429 while Redis is up", code)
	}
	r.Stop()
	for range 3 {
		if code, _, st := restCall(t, b.httpURL+"/v1/items/A-100"); code != http.StatusOK {
			t.Fatalf("with Redis down: HTTP %d %v; rate limits fail open", code, st)
		}
	}
	fams := scrape(t, b.httpURL)
	if v := counterValue(fams, "agentbridge_limiter_errors_total", map[string]string{"where": "inbound"}); v != 3 {
		t.Errorf("agentbridge_limiter_errors_total{where=inbound} = %v, want 3", v)
	}
	if v := counterValue(fams, "agentbridge_backend_limiter_errors_total", map[string]string{"backend": "inventory"}); v != 3 {
		t.Errorf("agentbridge_backend_limiter_errors_total = %v, want 3", v)
	}
}

// TestRedisConfig: the redis: section is decoded strictly and checked at load; a clear-text
// password is refused without being repeated.
func TestRedisConfig(t *testing.T) {
	t.Parallel()
	const base = "services: [agentbridge.demo.v1.InventoryService]\n"
	c, err := server.ParseConfig([]byte(base + "redis: {address: 'redis:6379', password: '${REDIS_PASSWORD}', db: 2, key_prefix: 'bridge-a:', timeout: 100ms, tls: {ca_file: ca.pem}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Redis; r == nil || r.Address != "redis:6379" || r.DB != 2 || r.KeyPrefix != "bridge-a:" || r.Timeout != 100*time.Millisecond || r.TLS == nil || r.TLS.CAFile != "ca.pem" {
		t.Errorf("decoded %+v", c.Redis)
	}
	for yaml, want := range map[string]string{
		"redis: {password: '${P}'}\n":                    "redis.address: missing",
		"redis: {address: 'r:6379', password: s3cr3t}\n": "cannot be written in the config in clear",
		"redis: {address: 'r:6379', pool: 3}\n":          "field pool not found",
	} {
		_, err := server.ParseConfig([]byte(base + yaml))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: %v; want an error containing %q", yaml, err, want)
		}
	}
}

// TestRedisBudgetSurvivesReload: a reload that changes a backend's settings gives it a new
// guard, whose outbound budget is still the shared one in Redis, not a fresh one in memory.
func TestRedisBudgetSurvivesReload(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	legacy := newFlakyLegacy(t)
	config := func(timeout time.Duration) *server.Config {
		cfg := demo.InventoryConfig(legacy.url)
		cfg.Redis = &redisstore.Config{Address: r.Socket, KeyPrefix: t.Name() + ":", Timeout: 2 * time.Second}
		b := cfg.Backends["inventory"]
		b.WSDL = ""
		b.Timeout = timeout
		b.Rate = adapters.Rate{PerSecond: 0.001, Burst: 3}
		cfg.Backends["inventory"] = b
		return cfg
	}
	srv, err := config(5 * time.Second).Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, true, &counter{n: map[string]int{}}, new(atomic.Int64))
	if ok, _ := restGets(t, []*bridge{b}, "/v1/items/A-100", 2); ok != 2 {
		t.Fatalf("%d of 2 calls passed before the reload", ok)
	}
	if err := srv.ReloadConfig(config(6 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, limited := restGets(t, []*bridge{b}, "/v1/items/A-100", 5); ok != 1 || limited != 4 {
		t.Errorf("after the reload %d calls passed and %d were refused; want 1 and 4 (the budget of 3 in Redis, 2 spent)", ok, limited)
	}
}
