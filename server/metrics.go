package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// This file counts and times every call at /metrics (Prometheus text format), as the outermost
// interceptor, so calls refused by authentication or a limit are counted too. Each Server has a
// registry of its own: two servers in one process (tests, a library user) do not collide.

// metrics are a server's Prometheus collectors.
type metrics struct {
	registry   *prometheus.Registry
	calls      *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	rejections *prometheus.CounterVec
	limiterErr *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	idem       *prometheus.CounterVec
	attemptDur *prometheus.HistogramVec
	// skippedHeaders counts REST request headers not passed on as metadata, by reason.
	skippedHeaders *prometheus.CounterVec
	bound          sync.Map // *method → *methodSeries: label lookups done once per method and surface
}

// methodSeries are a method's series on each surface (see surfaceIndex), bound on first use.
type methodSeries [6]atomic.Pointer[callMetrics]

// surfaceIndex numbers the surfaces for methodSeries; 0 is any other.
func surfaceIndex(s Surface) int {
	switch s {
	case SurfaceGRPC:
		return 1
	case SurfaceConnect:
		return 2
	case SurfaceGRPCWeb:
		return 3
	case SurfaceREST:
		return 4
	case SurfaceMCP:
		return 5
	}
	return 0
}

// callMetrics are the series a call of one method on one surface updates, looked up once.
type callMetrics struct {
	surface Surface
	backend string
	ok      prometheus.Counter
	latency prometheus.Observer
}

// latencyBuckets span a fast cached answer to a legacy system at its timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_calls_total",
			Help: "Calls served, by method, surface, backend and gRPC status code.",
		}, []string{"method", "surface", "backend", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentbridge_call_duration_seconds",
			Help:    "Time from the call entering the interceptor chain to its result, by method, surface and backend.",
			Buckets: latencyBuckets,
		}, []string{"method", "surface", "backend"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_rejections_total",
			Help: "Calls refused by an inbound limit before reaching a backend, by limit and method.",
		}, []string{"limit", "method"}),
		limiterErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_limiter_errors_total",
			Help: "Rate checks that failed (a shared store unreachable) and let the call through.",
		}, []string{"where"}),
		idem: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_idempotency_total",
			Help: "Calls with an idempotency key, by outcome: executed, replayed, released (refused before the backend; the key is free again), conflict (the key was used for another request) or store_error.",
		}, []string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_backend_attempts_total",
			Help: "Attempts sent to the backend (a retried call makes several), by gRPC status code of the outcome.",
		}, []string{"backend", "code"}),
		attemptDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentbridge_backend_attempt_duration_seconds",
			Help:    "Time one attempt spent at the backend: encoding, the HTTP exchange and decoding.",
			Buckets: latencyBuckets,
		}, []string{"backend"}),
		skippedHeaders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_rest_headers_skipped_total",
			Help: "REST request headers not passed to the chain as metadata, by reason (a name that is not a metadata key, a value that is not printable ASCII, a name that would set the gateway's own x-forwarded-*).",
		}, []string{"reason"}),
	}
	m.registry.MustRegister(m.calls, m.latency, m.rejections, m.limiterErr, m.idem, m.attempts, m.attemptDur, m.skippedHeaders, adapters.SkippedReplyElements,
		&backendCollector{s: s},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentbridge_mcp_sessions",
			Help: "Live MCP sessions (initialized) over Streamable HTTP.",
		}, func() float64 { return float64(s.liveMCPSessions()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// observe records a guard's attempts.
func (m *metrics) observe(g *adapters.Guard) {
	name := g.Name()
	ok := m.attempts.WithLabelValues(name, "OK")
	dur := m.attemptDur.WithLabelValues(name)
	g.SetObserver(func(d time.Duration, err error) {
		if err == nil {
			ok.Inc()
		} else {
			m.attempts.WithLabelValues(name, status.Code(err).String()).Inc()
		}
		dur.Observe(d.Seconds())
	})
}

func (m *metrics) rejected(limit, method string) {
	m.rejections.WithLabelValues(limit, method).Inc()
}

func (m *metrics) limiterError(where string) { m.limiterErr.WithLabelValues(where).Inc() }

func (m *metrics) idempotency(outcome string) { m.idem.WithLabelValues(outcome).Inc() }

// interceptor counts and times every call.
func (m *metrics) interceptor(s *Server) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		cm := m.series(s, info.FullMethod, SurfaceFromContext(ctx))
		if err == nil {
			cm.ok.Inc()
		} else {
			m.calls.WithLabelValues(info.FullMethod, string(SurfaceFromContext(ctx)), cm.backend, status.Code(err).String()).Inc()
		}
		cm.latency.Observe(time.Since(start).Seconds())
		return resp, err
	}
}

// series returns the series of a method on a surface, binding their labels on first use.
func (m *metrics) series(s *Server, procedure string, surface Surface) *callMetrics {
	me := s.gen.Load().methods[procedure]
	var ms *methodSeries
	if v, ok := m.bound.Load(me); ok {
		ms = v.(*methodSeries)
	} else {
		v, _ := m.bound.LoadOrStore(me, new(methodSeries))
		ms = v.(*methodSeries)
	}
	i := surfaceIndex(surface)
	if cm := ms[i].Load(); cm != nil && (i != 0 || cm.surface == surface) {
		return cm
	}
	backend := ""
	if me != nil {
		backend = me.backend
	}
	cm := &callMetrics{
		surface: surface,
		backend: backend,
		ok:      m.calls.WithLabelValues(procedure, string(surface), backend, "OK"),
		latency: m.latency.WithLabelValues(procedure, string(surface), backend),
	}
	if i != 0 {
		ms[i].CompareAndSwap(nil, cm)
	}
	return cm
}

// backendCollector reports each backend guard's state at scrape time.
type backendCollector struct{ s *Server }

var (
	descInFlight = prometheus.NewDesc("agentbridge_backend_in_flight",
		"Calls in flight to the backend (holding a concurrency slot when a cap is set).", []string{"backend"}, nil)
	descConcurrency = prometheus.NewDesc("agentbridge_backend_concurrency_limit",
		"The backend's concurrency cap; 0 for none.", []string{"backend"}, nil)
	descBreaker = prometheus.NewDesc("agentbridge_backend_breaker_state",
		"The backend's circuit breaker: 0 closed, 1 half-open, 2 open.", []string{"backend"}, nil)
	descOpened = prometheus.NewDesc("agentbridge_backend_breaker_opened_total",
		"Times the backend's circuit breaker opened.", []string{"backend"}, nil)
	descRetries = prometheus.NewDesc("agentbridge_backend_retries_total",
		"Backend call attempts after the first (retries judged safe).", []string{"backend"}, nil)
	descBackendRejected = prometheus.NewDesc("agentbridge_backend_rejections_total",
		"Calls not sent to the backend, by why: rate (outbound rate limit), concurrency (bulkhead full), circuit_open.", []string{"backend", "limit"}, nil)
	descLimiterErr = prometheus.NewDesc("agentbridge_backend_limiter_errors_total",
		"Outbound rate checks that failed and let the call through.", []string{"backend"}, nil)
)

func (c *backendCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInFlight, descConcurrency, descBreaker, descOpened, descRetries, descBackendRejected, descLimiterErr} {
		ch <- d
	}
}

func (c *backendCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.s.guards() {
		name := g.Name()
		st := g.Stats()
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight), name)
		ch <- prometheus.MustNewConstMetric(descConcurrency, prometheus.GaugeValue, float64(st.Concurrency), name)
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, breakerValue(g.Breaker().State), name)
		ch <- prometheus.MustNewConstMetric(descOpened, prometheus.CounterValue, float64(st.BreakerOpened), name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(st.Retries), name)
		ch <- prometheus.MustNewConstMetric(descLimiterErr, prometheus.CounterValue, float64(st.LimiterErrored), name)
		for limit, n := range st.Rejected {
			ch <- prometheus.MustNewConstMetric(descBackendRejected, prometheus.CounterValue, float64(n), name, limit)
		}
	}
}

func breakerValue(state string) float64 {
	switch state {
	case "half-open":
		return 1
	case "open":
		return 2
	}
	return 0
}
