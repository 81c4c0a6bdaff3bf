package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/agentbridge/agentbridge/adapters"
)

// This file says whether the server is ready, for load balancers and orchestrators: /readyz and
// the gRPC health service (on both listeners, and over Connect). A service is not ready while a
// backend its methods call has an open circuit breaker; the server as a whole is not ready when
// no service is, or once shutdown has begun. On shutdown readiness flips first, then the server
// keeps serving for the drain delay so load balancers stop sending calls before the listeners
// close.

// WithDrainDelay sets how long the server keeps serving after it starts to shut down and reports
// not ready, before it closes its listeners: long enough for load balancers to see /readyz fail
// (their probe period, times their failure threshold). Default 0: close at once.
func WithDrainDelay(d time.Duration) Option { return func(o *options) { o.drain = d } }

// guards returns the guards of the backends the current services call, by name.
func (s *Server) guards() []*adapters.Guard {
	return s.gen.Load().guards
}

// collectGuards returns the services' guards, each once, sorted by backend name.
func collectGuards(services []Service) []*adapters.Guard {
	var out []*adapters.Guard
	for _, svc := range services {
		for _, g := range svc.Guards {
			if g != nil && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// serviceReady reports whether a service's backends all take calls: none has an open breaker
// or a probe that finds it down. A half-open breaker is ready: its trial calls must be able to
// arrive.
func serviceReady(svc Service) bool {
	for _, g := range svc.Guards {
		if g != nil && !g.Ready() {
			return false
		}
	}
	return true
}

// startProbes runs the probes of g's guards while the server serves, and stops those of guards
// g no longer has (after a reload).
func (s *Server) startProbes(g *generation) {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if s.probeCtx == nil {
		return // not serving (yet, or any more)
	}
	for gd, stop := range s.probeStops {
		if !slices.Contains(g.guards, gd) {
			stop()
			delete(s.probeStops, gd)
		}
	}
	for _, gd := range g.guards {
		if !gd.Probes() || s.probeStops[gd] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(s.probeCtx)
		s.probeStops[gd] = cancel
		s.probeWG.Go(func() { gd.RunProbes(ctx) })
	}
}

// serveProbes starts the probes for as long as the server serves; the returned function stops
// them and waits until they have.
func (s *Server) serveProbes() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	s.probeMu.Lock()
	s.probeCtx, s.probeStops = ctx, map[*adapters.Guard]context.CancelFunc{}
	s.probeMu.Unlock()
	s.startProbes(s.gen.Load())
	return func() {
		s.probeMu.Lock()
		s.probeCtx, s.probeStops = nil, nil
		s.probeMu.Unlock()
		cancel()
		s.probeWG.Wait()
	}
}

// readiness is the server's state: ready overall, and per service.
func (s *Server) readiness() (ready bool, services map[string]bool) {
	g := s.gen.Load()
	services = make(map[string]bool, len(g.services))
	anyReady := len(g.services) == 0
	for _, svc := range g.services {
		r := serviceReady(svc)
		services[string(svc.Desc.FullName())] = r
		anyReady = anyReady || r
	}
	return s.ready.Load() && anyReady, services
}

// updateHealth sets the gRPC health service's statuses from readiness. After shutdown has begun
// the health server ignores it: everything stays NOT_SERVING.
func (s *Server) updateHealth() {
	ready, services := s.readiness()
	for name, r := range services {
		s.health.SetServingStatus(name, servingStatus(r))
	}
	s.health.SetServingStatus("", servingStatus(ready))
}

func servingStatus(ready bool) healthpb.HealthCheckResponse_ServingStatus {
	if ready {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// watchGuards makes every guard of g tell the health service when its breaker changes.
func (s *Server) watchGuards(g *generation) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	watched := make(map[*adapters.Guard]bool, len(g.guards)) // guards of older generations are let go
	for _, gd := range g.guards {
		watched[gd] = true
		if s.watched[gd] {
			continue
		}
		gd.SetLogger(s.log)
		s.metrics.observe(gd)
		gd.OnChange(s.updateHealth)
	}
	s.watched = watched
}

// serveReadyz answers /readyz: 200 when ready, else 503; the body names each backend's breaker
// state and each service's readiness, so an operator sees why. ?service=NAME asks about one
// service.
func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ready, services := s.readiness()
	var b strings.Builder
	if want := r.URL.Query().Get("service"); want != "" {
		r, known := services[want]
		switch {
		case !known:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(&b, "unknown service %s\n", want)
			_, _ = w.Write([]byte(b.String()))
			return
		case !s.ready.Load():
			ready = false
		default:
			ready = r
		}
	}
	switch {
	case !s.ready.Load():
		b.WriteString("shutting down\n")
	case ready:
		b.WriteString("ready\n")
	default:
		b.WriteString("not ready: backends are failing\n")
	}
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "service %s ready=%t\n", n, services[n])
	}
	for _, g := range s.guards() {
		st := g.Breaker()
		fmt.Fprintf(&b, "backend %s breaker=%s", g.Name(), st.State)
		if !st.Since.IsZero() {
			fmt.Fprintf(&b, " since=%s", st.Since.UTC().Format(time.RFC3339))
		}
		if st.State == "open" {
			fmt.Fprintf(&b, " until=%s", st.Until.UTC().Format(time.RFC3339))
		}
		if g.Probes() {
			ps := g.ProbeState()
			fmt.Fprintf(&b, " probe=%s", map[bool]string{true: "down", false: "up"}[ps.Down])
			if !ps.Since.IsZero() {
				fmt.Fprintf(&b, " probe_since=%s", ps.Since.UTC().Format(time.RFC3339))
			}
			if ps.Err != "" {
				fmt.Fprintf(&b, " probe_error=%q", ps.Err)
			}
		}
		b.WriteString("\n")
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(b.String()))
}

// drain keeps serving for the drain delay after readiness flipped, so load balancers stop
// sending calls before the listeners close; it ends early when ctx is done.
func (s *Server) drain(ctx context.Context) {
	if s.opts.drain <= 0 {
		return
	}
	s.log.Info("not ready; draining before the listeners close", "drain", s.opts.drain)
	t := time.NewTimer(s.opts.drain)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.opts.drainDone:
	}
}

// closeMCPSessions ends every MCP session, so open streams (a client's GET stream waiting for
// notifications) close now instead of holding the HTTP listener's shutdown for the whole grace
// period. The SDK lets calls in flight on a session finish before it closes; ctx bounds the
// wait.
func (s *Server) closeMCPSessions(ctx context.Context) {
	s.mcpMu.Lock()
	var sessions []*mcp.ServerSession
	for _, srv := range s.mcp {
		for ss := range srv.Sessions() {
			sessions = append(sessions, ss)
		}
	}
	s.mcpMu.Unlock()
	if len(sessions) == 0 {
		return
	}
	s.log.Info("closing MCP sessions for shutdown", "sessions", len(sessions))
	var wg sync.WaitGroup
	for _, ss := range sessions {
		wg.Go(func() { _ = ss.Close() })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// A call still running holds its session's Close; the HTTP shutdown ends it at the
		// same moment, and the closes finish then.
		s.log.Warn("MCP sessions still had calls running at the end of the grace period")
	}
}

// liveHealth is the gRPC health service with Check answered from readiness as it is now, so a
// breaker that opened or closed a moment ago is reported without waiting for the health
// server's statuses to be updated. Watch and List come from the health server, which
// watchGuards keeps up to date.
type liveHealth struct {
	*health.Server
	s *Server
}

func (h liveHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := h.Server.Check(ctx, req) // NotFound for a service not served
	if err != nil {
		return nil, err
	}
	ready, services := h.s.readiness()
	if req.GetService() != "" {
		ready = h.s.ready.Load() && services[req.GetService()]
	}
	resp.Status = servingStatus(ready)
	return resp, nil
}
