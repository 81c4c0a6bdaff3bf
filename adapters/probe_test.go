package adapters_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
)

// TestGuardProbe: failed probes in a row mark a backend down, one passing probe marks it up, and
// any answer below HTTP 500 passes (a SOAP endpoint answers GET with 405).
func TestGuardProbe(t *testing.T) {
	t.Parallel()
	var code atomic.Int64
	code.Store(http.StatusServiceUnavailable)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	t.Cleanup(backend.Close)
	changes := make(chan struct{}, 4)
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Endpoint: backend.URL, Probe: adapters.ProbePolicy{Interval: time.Hour, Failures: 2}}, quiet())
	g.OnChange(func() { changes <- struct{}{} })
	if err := g.Probe(t.Context()); err == nil || !g.Ready() {
		t.Fatalf("one failed probe of two: err %v, ready %v", err, g.Ready())
	}
	if err := g.Probe(t.Context()); err == nil || g.Ready() {
		t.Fatalf("two failed probes: err %v, ready %v", err, g.Ready())
	}
	<-changes
	if st := g.ProbeState(); !st.Down || st.Since.IsZero() || st.Err != "answered HTTP 503" {
		t.Errorf("probe state %+v", st)
	}
	code.Store(http.StatusMethodNotAllowed)
	if err := g.Probe(t.Context()); err != nil || !g.Ready() {
		t.Fatalf("a 405: err %v, ready %v", err, g.Ready())
	}
	<-changes
	if st := g.ProbeState(); st.Down || st.Err != "" {
		t.Errorf("probe state after a pass %+v", st)
	}
}

// TestGuardProbeUnreachable: an unreachable backend fails the probe with a message that does
// not repeat the URL (it may carry credentials).
func TestGuardProbeUnreachable(t *testing.T) {
	t.Parallel()
	endpoint := strings.Replace(refusedEndpoint(t), "http://", "http://user:secret@", 1)
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Endpoint: endpoint, Probe: adapters.ProbePolicy{Interval: time.Hour, Failures: 1}}, quiet())
	err := g.Probe(t.Context())
	if err == nil || g.Ready() || strings.Contains(err.Error(), "secret") || strings.Contains(g.ProbeState().Err, "secret") {
		t.Errorf("probe of a refused endpoint: %v, ready %v", err, g.Ready())
	}
}

// TestGuardRunProbes: the loop probes at once, then on its interval, and returns when its
// context ends.
func TestGuardRunProbes(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(backend.Close)
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Endpoint: backend.URL, Probe: adapters.ProbePolicy{Interval: time.Hour, Failures: 1}}, quiet())
	changes := make(chan struct{}, 1)
	g.OnChange(func() { changes <- struct{}{} })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { g.RunProbes(ctx); close(done) }()
	<-changes
	if g.Ready() {
		t.Error("the first probe failed, and the backend is ready")
	}
	cancel()
	<-done
	unprobed := adapters.NewGuard(adapters.Backend{Name: "x", Endpoint: backend.URL}, quiet())
	unprobed.RunProbes(t.Context()) // no interval: returns at once
	if unprobed.Probes() || !unprobed.Ready() {
		t.Error("a backend without a probe is probed")
	}
}
