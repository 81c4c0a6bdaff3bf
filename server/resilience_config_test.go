package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
)

// TestConfigResilience checks limits.rate and the backends' limits, retry and breaker settings:
// decoded strictly, and checked at load so a mistake names where it is.
func TestConfigResilience(t *testing.T) {
	t.Parallel()
	const head = "services: [agentbridge.demo.v1.InventoryService]\n"
	const backend = "backends:\n  inventory:\n    kind: soap\n    endpoint: http://127.0.0.1:1/inventory\n"
	tests := []struct {
		name, yaml string
		want       string // an error it contains; "" for none
	}{
		{"every setting", `shutdown_drain: 10s
limits:
  rate:
    - {methods: "agentbridge.demo.v1.InventoryService.*", per: principal, per_second: 20, burst: 40}
    - {principals: [nightly-report], per_second: 2}
` + backend + `    max_connections: 32
    concurrency: 16
    queue_timeout: 500ms
    rate: {per_second: 50, burst: 10}
    retry: {max_attempts: 4, initial_backoff: 20ms, max_backoff: 2s}
    breaker: {failures: 3, open_for: 10s, half_open: 2}
    probe: {url: "http://127.0.0.1:1/health", interval: 5s, timeout: 1s, failures: 3}
`, ""},
		{"probe without an interval", backend + "    probe: {failures: 3}\n", `backend "inventory": probe: set interval to probe`},
		{"probe URL not http", backend + "    probe: {interval: 5s, url: 'ftp://x/y'}\n", `backend "inventory": probe.url "ftp://x/y": use an http(s) URL`},
		{"rule without a rate", "limits:\n  rate:\n    - {methods: '*'}\n" + backend, "limits.rate[0]: per_second is missing"},
		{"bad per", "limits:\n  rate:\n    - {per: caller, per_second: 1}\n" + backend, `limits.rate[0]: per "caller"`},
		{"bad glob", "limits:\n  rate:\n    - {methods: 'a[', per_second: 1}\n" + backend, `limits.rate[0]: methods: bad pattern "a["`},
		{"negative rate", "limits:\n  rate:\n    - {per_second: -1}\n" + backend, "limits.rate[0]: per_second -1"},
		{"unknown key in a rule", "limits:\n  rate:\n    - {per_second: 1, per_minute: 3}\n" + backend, "field per_minute not found"},
		{"too many attempts", backend + "    retry: {max_attempts: 50}\n", `backend "inventory": retry.max_attempts 50`},
		{"backoffs upside down", backend + "    retry: {initial_backoff: 2s, max_backoff: 1s}\n", `backend "inventory": retry.initial_backoff 2s is above max_backoff 1s`},
		{"negative concurrency", backend + "    concurrency: -1\n", `backend "inventory": max_connections, concurrency and queue_timeout must not be negative`},
		{"negative backend rate", backend + "    rate: {per_second: 1, burst: -2}\n", `backend "inventory": rate: burst -2`},
		{"negative breaker", backend + "    breaker: {failures: -1}\n", `backend "inventory": breaker:`},
		{"negative drain", "shutdown_drain: -1s\n" + backend, "shutdown_drain -1s must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := server.ParseConfig([]byte(head + tt.yaml))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := c.Backends["inventory"]
			want := adapters.Backend{Kind: "soap", Endpoint: "http://127.0.0.1:1/inventory", MaxConnections: 32, Concurrency: 16, QueueTimeout: 500 * time.Millisecond,
				Rate:    adapters.Rate{PerSecond: 50, Burst: 10},
				Retry:   adapters.RetryPolicy{MaxAttempts: 4, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 2 * time.Second},
				Breaker: adapters.BreakerPolicy{Failures: 3, OpenFor: 10 * time.Second, HalfOpen: 2}}
			if b.MaxConnections != want.MaxConnections || b.Concurrency != want.Concurrency || b.QueueTimeout != want.QueueTimeout ||
				b.Rate != want.Rate || b.Retry != want.Retry || b.Breaker != want.Breaker || b.Probe.Interval != 5*time.Second || b.Probe.Failures != 3 {
				t.Errorf("decoded %+v", b)
			}
			if r := c.Limits.Rate; len(r) != 2 || r[0].Per != server.PerPrincipal || r[0].Burst != 40 || r[1].Principals[0] != "nightly-report" || r[1].PerSecond != 2 {
				t.Errorf("limits.rate decoded as %+v", r)
			}
			if c.ShutdownDrain != 10*time.Second {
				t.Errorf("shutdown_drain %s", c.ShutdownDrain)
			}
		})
	}
}
