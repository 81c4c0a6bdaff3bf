//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
)

// TestLoad is the load test, run only when AGENTBRIDGE_LOADTEST=1 (make test does not):
// two `agentbridge serve` processes sharing one redis-server, behind a round-robin proxy,
// N agents (AGENTBRIDGE_LOADTEST_AGENTS, default 200) calling as fast as they can for a fixed
// time (AGENTBRIDGE_LOADTEST_DURATION, default 60s) in front of the demo's legacy system, which
// fails 5% of requests with HTTP 503 and restarts once halfway (every open connection dropped,
// then 2s of 503). Agents read items (GetItem, ListItems) and make reservations with an
// idempotency key each, retried once with the same key. It reports throughput, p50/p99, results
// by HTTP status, and each bridge's RSS and goroutines over time (from /metrics).
//
//	AGENTBRIDGE_LOADTEST=1 go test ./cmd/agentbridge -run TestLoad -v -timeout 10m
func TestLoad(t *testing.T) {
	if os.Getenv("AGENTBRIDGE_LOADTEST") != "1" {
		t.Skip("the load test runs with AGENTBRIDGE_LOADTEST=1")
	}
	agents, duration := 200, 60*time.Second
	if v, err := strconv.Atoi(os.Getenv("AGENTBRIDGE_LOADTEST_AGENTS")); err == nil && v > 0 {
		agents = v
	}
	if v, err := time.ParseDuration(os.Getenv("AGENTBRIDGE_LOADTEST_DURATION")); err == nil && v > 0 {
		duration = v
	}
	r := redistest.Start(t)

	// The legacy system: 5% of requests fail with 503; restarting drops every connection and
	// answers 503 for 2s.
	legacy := demo.NewLegacy(nil)
	var down atomic.Bool
	var backendRequests, injected, reservations atomic.Int64
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		backendRequests.Add(1)
		if down.Load() || rand.IntN(100) < 5 {
			injected.Add(1)
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		if strings.Contains(req.Header.Get("SOAPAction"), "ReserveItem") {
			reservations.Add(1)
		}
		legacy.ServeHTTP(w, req)
	}))
	backend.Start()
	t.Cleanup(backend.Close)

	path := writeConfig(t, `
http_addr: 127.0.0.1:0
grpc_addr: "off"
shutdown_grace: 5s
audit: {sink: "off"}
services: [agentbridge.demo.v1.InventoryService]
redis: {address: "unix://`+r.Socket+`", timeout: 500ms}
limits:
  rate:
    - {per: principal_method, per_second: 100000, burst: 100000}
backends:
  inventory:
    kind: soap
    endpoint: `+backend.URL+`/inventory
    timeout: 5s
    max_connections: 64
    concurrency: 48
    queue_timeout: 1s
    retry: {max_attempts: 3, initial_backoff: 20ms, max_backoff: 200ms}
    breaker: {failures: 20, open_for: 1s, half_open: 4}
`)
	bridges := []string{startServe(t, path), startServe(t, path)}

	// The round-robin proxy in front of both.
	var next atomic.Uint64
	targets := make([]*url.URL, len(bridges))
	for i, b := range bridges {
		targets[i], _ = url.Parse("http://" + b)
	}
	proxyTransport := &http.Transport{MaxIdleConnsPerHost: agents, MaxConnsPerHost: agents}
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[next.Add(1)%uint64(len(targets))])
			pr.Out.Host = pr.In.Host
		},
		Transport: proxyTransport,
	})
	t.Cleanup(proxy.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: agents}, Timeout: 30 * time.Second}

	// Resource samples of each bridge every 5s.
	type sample struct {
		at         time.Duration
		rss        [2]float64
		goroutines [2]float64
	}
	var samples []sample
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			s := sample{at: time.Since(start).Round(time.Second)}
			for i, b := range bridges {
				s.rss[i], s.goroutines[i] = scrapeProcess(t, client, b)
			}
			samples = append(samples, s)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	// One backend restart, halfway.
	sampler.Go(func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(duration / 2):
		}
		down.Store(true)
		backend.CloseClientConnections()
		time.Sleep(2 * time.Second)
		down.Store(false)
	})

	var mu sync.Mutex
	byStatus := map[string]int{}
	var latencies []time.Duration
	var wg sync.WaitGroup
	for a := range agents {
		wg.Go(func() {
			var mine []time.Duration
			statuses := map[string]int{}
			for n := 0; ctx.Err() == nil; n++ {
				var req *http.Request
				op := "GetItem"
				switch n % 10 {
				case 9: // a reservation, its retry reusing the key
					op = "ReserveItem"
					req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, proxy.URL+"/v1/items/A-100:reserve", strings.NewReader(`{"quantity": 1}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", fmt.Sprintf("agent-%d-%d", a, n/20))
				case 4:
					op = "ListItems"
					req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, proxy.URL+"/v1/items?category=garden", nil)
				default:
					req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, proxy.URL+"/v1/items/A-100", nil)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					statuses["transport error"]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				mine = append(mine, time.Since(t0))
				when := "steady"
				if since := time.Since(start); since >= duration/2 && since < duration/2+5*time.Second {
					when = "restart window" // the 2s outage, the breaker's open second, its trials
				}
				statuses[op+" HTTP "+strconv.Itoa(resp.StatusCode)+" ("+when+")"]++
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			for k, v := range statuses {
				byStatus[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	sampler.Wait()
	// A last sample after the load, with the idle keep-alive connections closed (each holds
	// goroutines in the bridges): what is left is what the load left behind.
	proxyTransport.CloseIdleConnections()
	client.CloseIdleConnections()
	backend.CloseClientConnections() // the bridges' pooled connections to the backend
	time.Sleep(2 * time.Second)
	last := sample{at: time.Since(start).Round(time.Second)}
	for i, b := range bridges {
		last.rss[i], last.goroutines[i] = scrapeProcess(t, client, b)
	}
	samples = append(samples, last)

	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	total := len(latencies)
	var report strings.Builder
	fmt.Fprintf(&report, "agents %d, %s: %d responses, %.0f/s; p50 %s, p99 %s, max %s\n", agents, elapsed.Round(time.Millisecond), total,
		float64(total)/elapsed.Seconds(), pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(time.Millisecond))
	keys := make([]string, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&report, "  %s: %d\n", k, byStatus[k])
	}
	fmt.Fprintf(&report, "backend: %d requests, %d injected 503s, %d reservations\n", backendRequests.Load(), injected.Load(), reservations.Load())
	fmt.Fprintf(&report, "  (the last row: 2s after the load, idle connections closed)\n")
	fmt.Fprintf(&report, "  t     rss A (MiB)  rss B (MiB)  goroutines A  goroutines B\n")
	for _, s := range samples {
		fmt.Fprintf(&report, "  %-5s %11.1f  %11.1f  %12.0f  %12.0f\n", s.at, s.rss[0]/(1<<20), s.rss[1]/(1<<20), s.goroutines[0], s.goroutines[1])
	}
	t.Log("\n" + report.String())
	if byStatus["transport error"] > 0 {
		t.Errorf("%d transport errors", byStatus["transport error"])
	}
}

// scrapeProcess reads a bridge's resident memory and goroutines from its /metrics.
func scrapeProcess(t *testing.T, client *http.Client, addr string) (rss, goroutines float64) {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Logf("scrape %s: %v", addr, err)
		return 0, 0
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Logf("scrape %s: %v", addr, err)
		return 0, 0
	}
	if f := fams["process_resident_memory_bytes"]; f != nil {
		rss = f.GetMetric()[0].GetGauge().GetValue()
	}
	if f := fams["go_goroutines"]; f != nil {
		goroutines = f.GetMetric()[0].GetGauge().GetValue()
	}
	return rss, goroutines
}
