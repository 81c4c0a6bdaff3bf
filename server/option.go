package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/server/store"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	grpcAddr     string
	httpAddr     string
	tls          *tls.Config
	grace        time.Duration
	maxBody      int64
	interceptors []grpc.UnaryServerInterceptor
	logger       *slog.Logger
	mcp          MCPOptions
	origins      []string // browser origins allowed on every HTTP surface, beside loopback ones
	hosts        []string // Host names allowed on the HTTP listener, beside loopback names
	auth         *AuthConfig
	limits       Limits
	audit        *AuditOptions                // nil: no audit log
	auditWriter  io.Writer                    // overrides audit.Sink
	principal    func(context.Context) string // names the caller in the audit log
	wsdlTimeout  time.Duration
	wsdlMaxBytes int64
	limiter      adapters.Limiter   // inbound rate budgets; nil: in memory
	redis        *redisstore.Config // the redis: section Build opened store from
	store        *redisstore.Store  // shared state; closed by Close
	idempotency  IdempotencyOptions
	tracer       trace.TracerProvider     // nil: no tracing
	ownedTracer  *sdktrace.TracerProvider // made by Config.Build; shut down by Close
	telemetry    TelemetryOptions         // the config's, for reloads to compare
	idemStore    IdempotencyStore         // nil: in memory
	durable      store.Store              // events and batch jobs; nil: none configured
	ownDurable   bool                     // Close closes durable (Config.Build opened it)
	checkOnly    bool                     // config validate: open no resource a running bridge holds
	drain        time.Duration            // serve on, not ready, before closing listeners
	drainDone    chan struct{}            // ends the drain early (tests)
	webhooks     *webhookSet              // the event sources taken in (webhooks.go); nil: none
}

// Defaults of the options.
const (
	DefaultGRPCAddr     = "127.0.0.1:9090"
	DefaultHTTPAddr     = "127.0.0.1:8080"
	DefaultGrace        = 15 * time.Second
	DefaultMaxBodyBytes = 4 << 20
)

func defaultOptions() options {
	return options{
		grpcAddr: DefaultGRPCAddr,
		httpAddr: DefaultHTTPAddr,
		grace:    DefaultGrace,
		maxBody:  DefaultMaxBodyBytes,
		logger:   slog.Default(),
		limits:   Limits{}.withDefaults(),
		// Bounds on fetching a backend's WSDL for an MCP resource; tests shorten them.
		wsdlTimeout:  defaultWSDLTimeout,
		wsdlMaxBytes: defaultWSDLMaxBytes,
	}
}

// WithGRPCAddr sets the gRPC listener's address. Default 127.0.0.1:9090; empty turns the gRPC
// listener off (the HTTP listener still speaks gRPC).
func WithGRPCAddr(addr string) Option { return func(o *options) { o.grpcAddr = addr } }

// WithHTTPAddr sets the HTTP listener's address. Default 127.0.0.1:8080; empty turns it off.
func WithHTTPAddr(addr string) Option { return func(o *options) { o.httpAddr = addr } }

// WithTLS serves the HTTP listener over TLS (HTTP/1.1 and HTTP/2 by ALPN) instead of
// cleartext HTTP/1.1 and h2c. Default: no TLS.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithShutdownGrace sets how long calls in flight may run after a shutdown starts. Default 15s.
func WithShutdownGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithMaxBodyBytes bounds request bodies and messages on every surface. Default 4 MiB.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithInterceptors adds interceptors to the chain every surface calls through, outermost
// first, ahead of request validation. Default: none.
func WithInterceptors(i ...grpc.UnaryServerInterceptor) Option {
	return func(o *options) { o.interceptors = append(o.interceptors, i...) }
}

// WithMCP configures the MCP surface: toolsets, allowed origins and results. Default: every
// tool at /mcp, loopback origins only, results of at most 64 KiB and a fields argument.
func WithMCP(o MCPOptions) Option { return func(opts *options) { opts.mcp = o } }

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAllowedOrigins lists browser origins (scheme://host[:port]) allowed to call the HTTP
// listener's surfaces (REST, Connect, gRPC-Web, MCP) besides loopback origins. A request that
// carries any other Origin is refused with 403, so a page on another site cannot make a
// visitor's browser call a bridge it can reach (CSRF). Default: loopback origins only.
func WithAllowedOrigins(origins ...string) Option {
	return func(o *options) { o.origins = append(o.origins, origins...) }
}

// WithAllowedHosts lists the Host names the HTTP listener answers besides localhost, 127.0.0.1
// and ::1. When the listener is bound to a loopback address, a request for any other host is
// refused with 403: a DNS-rebinding page reaches the listener under its own host name. Bound
// beyond loopback, hosts are checked only when this lists some. Default: none.
func WithAllowedHosts(hosts ...string) Option {
	return func(o *options) { o.hosts = append(o.hosts, hosts...) }
}

// withShared records the shared store Config.Build opened from c: a reload's new guards keep
// their budgets in it, and the server closes it.
func withShared(c *redisstore.Config, store *redisstore.Store) Option {
	return func(o *options) { o.redis, o.store = c, store }
}

// sharedLimiter is the shared store as a Limiter, or nil when there is none.
func (o *options) sharedLimiter() adapters.Limiter {
	if o.store == nil {
		return nil
	}
	return o.store
}

// withOwnedTracer traces with tp and shuts it down (flushing its spans) on Close.
func withOwnedTracer(tp *sdktrace.TracerProvider) Option {
	return func(o *options) { o.tracer, o.ownedTracer = tp, tp }
}
