//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
)

// startServe runs `agentbridge serve -config path` as a process until the test ends (stopped by
// SIGTERM to its pid, then waited for) and returns its bound HTTP address.
func startServe(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, agentbridgeBinary(t), "serve", "-config", path)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	logs := watchAddrs(serveHTTP)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	addr := logs.wait(t, done)[0]
	t.Cleanup(func() {
		cancel()
		// Wait reports the cancellation even when serve exits cleanly on SIGTERM.
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve exited with %v\n%s", err, logs.String())
		}
	})
	return addr
}

// TestTwoReplicasShareRedis runs two `agentbridge serve` processes with one config naming one
// redis-server, in front of the demo's legacy system: 1,000 concurrent retries of one
// ReserveItem with one Idempotency-Key, spread over both, make one reservation, and every
// caller gets it; an inbound budget of 10 is one budget for both processes.
func TestTwoReplicasShareRedis(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	var reservations atomic.Int64
	legacy := demo.NewLegacy(nil)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.Header.Get("SOAPAction"), "ReserveItem") {
			reservations.Add(1)
		}
		legacy.ServeHTTP(w, req)
	}))
	t.Cleanup(backend.Close)
	path := writeConfig(t, `
http_addr: 127.0.0.1:0
grpc_addr: "off"
shutdown_grace: 5s
audit: {sink: "off"}
services: [agentbridge.demo.v1.InventoryService]
redis: {address: "unix://`+r.Socket+`", timeout: 5s}
limits:
  rate:
    - {methods: agentbridge.demo.v1.InventoryService.ListItems, per: all, per_second: 0.001, burst: 10}
backends:
  inventory:
    kind: soap
    endpoint: `+backend.URL+`/inventory
    timeout: 20s
`)
	addrs := []string{startServe(t, path), startServe(t, path)}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 200, MaxIdleConnsPerHost: 200}}
	t.Cleanup(client.CloseIdleConnections)

	var mu sync.Mutex
	ids := map[string]int{}
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 1000 {
		addr := addrs[i%2]
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/items/A-100:reserve", strings.NewReader(`{"quantity": 1}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "order-4711")
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var out struct {
				ReservationID string `json:"reservationId"`
			}
			_ = json.Unmarshal(body, &out)
			mu.Lock()
			codes[resp.StatusCode]++
			ids[out.ReservationID]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := reservations.Load(); n != 1 {
		t.Errorf("the legacy system made %d reservations for one idempotency key, want 1", n)
	}
	if codes[http.StatusOK] != 1000 || len(ids) != 1 {
		t.Errorf("statuses %v, reservation ids %v; want 1,000 × 200 with one id", codes, ids)
	}

	ok := 0
	for i := range 40 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addrs[i%2]+"/v1/items?category=garden", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		} else if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("ListItems: HTTP %d", resp.StatusCode)
		}
	}
	if ok != 10 {
		t.Errorf("%d of 40 ListItems calls passed through two replicas; want 10, one shared budget", ok)
	}
}
