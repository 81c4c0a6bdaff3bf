// Package server serves proto services on every surface agents use, through one in-process
// call path: gRPC (grpc-go, with reflection and health) on one listener, and on the HTTP
// listener Connect, gRPC and gRPC-Web (connectrpc.com/connect), REST/JSON (grpc-gateway, from
// google.api.http annotations), the OpenAPI document, /healthz and /readyz. Every surface
// decodes into the method's request message and calls the same interceptor chain and
// implementation; no surface calls another over the network.
//
// # Library use
//
// Most integrators need no Go: a config (LoadConfig) names the contracts, services and
// backends, and Config.Build makes the server. Integrators who need Go logic build a Server
// from services of their own: load contracts with package contract (or use generated code),
// implement methods as adapters.Unary or bind them with adapters.BindService, add
// interceptors with WithInterceptors, and call New. Reload swaps the services while serving.
//
// Stable: Service, New, the Option constructors, Server's exported methods, Config and its
// methods, MCPOptions, Toolset, Surface and SurfaceFromContext. The rest may change.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server/jsonplan"
	"github.com/agentbridge/agentbridge/server/toolschema"
	"github.com/agentbridge/agentbridge/server/wireplan"
)

// Service is one proto service and its implementation.
type Service struct {
	// Desc describes the service: linked into the binary (generated Go code) or loaded at run
	// time (see package contract). Messages without a linked Go type are dynamic.
	Desc protoreflect.ServiceDescriptor
	// Methods implements each unary method, by name. Declarative bindings come from
	// adapters.BindService.
	Methods map[protoreflect.Name]adapters.Unary
	// Streams implements each server-streaming method, by name. Declarative bindings come from
	// adapters.BindService.
	Streams map[protoreflect.Name]adapters.ServerStream
	// Guards are the guards of the backends the methods call (see adapters.Guard), which
	// Config.BuildServices wraps them in. The server reports their circuit breakers in
	// readiness (/readyz, gRPC health) and their state at /metrics. Optional.
	Guards []*adapters.Guard
	// Closers release what the service's adapters hold (connection pools, sessions): the
	// server closes each once, when it stops, or after a reload once no new call can reach it.
	// Config.BuildServices fills it with the adapters that are io.Closers. Optional.
	Closers []io.Closer
	// Files are more files whose messages the service carries in Any fields (an event's data),
	// so every JSON surface can write them although no method's signature names them.
	// Optional.
	Files []protoreflect.FileDescriptor
}

// maxHeaderBytes bounds request headers on the HTTP listener and metadata on the gRPC listener.
const maxHeaderBytes = 64 << 10

// Server serves services on every surface. Build it with New; serve with Serve, or use Handler
// and GRPCServer with listeners of your own. Reload swaps the services while serving.
type Server struct {
	opts      options
	closeOnce sync.Once // Close
	log       *slog.Logger
	chain     grpc.UnaryServerInterceptor
	// interceptors make up chain, outermost first; each method binds them once (bindChain).
	interceptors []grpc.UnaryServerInterceptor
	validator    protovalidate.Validator
	audit        *auditor
	// skippedHeaders remembers the (header, reason) pairs of REST request headers already
	// logged as not passed on (see skippedHeader).
	skippedHeaders struct {
		sync.Mutex
		seen map[string]struct{}
	}
	grpc   *grpc.Server
	health *health.Server
	http   http.Handler
	ready  atomic.Bool

	gen      atomic.Pointer[generation]   // what new calls are served by
	reloadMu sync.Mutex                   // one Reload at a time
	mcpMu    sync.Mutex                   // guards mcp
	mcp      map[string]*mcp.Server       // by toolset, "" for all tools; they outlive generations
	mcpTools map[string]map[string][]byte // by toolset: the tools each server has, as JSON
	mcpHTTP  http.Handler                 // Streamable HTTP; outlives generations, as sessions do
	auth     *authenticator               // nil when no credentials are configured
	metrics  *metrics

	watchMu sync.Mutex
	watched map[*adapters.Guard]bool // guards whose changes update gRPC health

	probeMu    sync.Mutex
	probeCtx   context.Context                        // while serving; nil otherwise
	probeStops map[*adapters.Guard]context.CancelFunc // running probes, by guard
	probeWG    sync.WaitGroup

	// by toolset: the resources each server has; see updateMCPResources
	mcpResources map[string]map[string]servedResource
	mcpEvents    mcpEvents // event sources as MCP resources, and their subscriptions (mcp_events.go)
}

// generation is one immutable build of the served services and every surface's routes. A call
// keeps the generation it started on to the end; Reload makes a new one for new calls.
type generation struct {
	services   []Service
	guards     []*adapters.Guard  // of every service, each once, by backend name
	closers    []io.Closer        // of every service, each once
	names      []string           // the services' full names, sorted
	methods    map[string]*method // by procedure, /package.Service/Method
	files      *protoregistry.Files
	tools      []*mcpTool // in procedure order
	toolByName map[string]*mcpTool
	toolsets   map[string]Toolset // "" selects every tool
	mcpOpts    MCPOptions
	comments   Comments // of agentbridge's own protos, while g is built (newGeneration)
	http       http.Handler

	openapi   []byte         // the OpenAPI document /openapi.json serves
	resources []*mcpResource // the contract as MCP resources, sorted by URI

	// types resolves the served files' messages, then the linked ones: the types of status
	// details (a typed SOAP fault's, FaultRule.detail_type) and of Any fields, for JSON.
	types detailTypes
	// errorJSON writes error statuses, with their details, on REST and MCP (see errorJSON).
	errorJSON *runtime.JSONPb
	// json writes messages in the JSON form every surface speaks (see jsonMarshal), from
	// plans compiled once per message type of this generation.
	json *jsonplan.Encoder
	// jsonIn reads JSON requests as jsonUnmarshal does (Connect, MCP; REST shares its plans
	// with its own options), from plans compiled once per message type of this generation.
	jsonIn *jsonplan.Decoder
	// wire writes messages in the binary format (gRPC, Connect's proto codec) and measures
	// them (the audit line), from plans compiled once per message type of this generation.
	wire *wireplan.Encoder
	// noRequired caches, by message descriptor, whether no message reachable from it has a
	// required field (see marshalBinary).
	noRequired sync.Map
}

// New builds a server for services. It fails when a method has no implementation, a contract
// cannot be served on some surface (a REST route, a tool schema), or an option is invalid.
func New(services []Service, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{opts: o, log: o.logger, mcp: map[string]*mcp.Server{}, mcpTools: map[string]map[string][]byte{}, watched: map[*adapters.Guard]bool{}}
	s.metrics = newMetrics(s)
	s.mcpHTTP = s.newMCPHTTP()
	// (google.api.field_behavior) = REQUIRED, then buf.validate; protovalidate's validator (the
	// one tool schemas use) is made when a message with rules first needs it.
	s.validator = newBehaviorValidator(toolschema.Validator)
	var err error
	if s.audit, err = newAuditor(&o); err != nil {
		return nil, err
	}
	// Metrics come first, so every call is counted and timed, refused ones included.
	interceptors := []grpc.UnaryServerInterceptor{s.metrics.interceptor(s)}
	if o.tracer != nil {
		// The call's span is outermost, so authentication, limits and the audit line (which
		// carries the trace id) are inside it.
		interceptors = append([]grpc.UnaryServerInterceptor{s.traceInterceptor(o.tracer.Tracer(tracerName))}, interceptors...)
	}
	if o.auth.enabled() {
		if s.auth, err = newAuthenticator(*o.auth); err != nil {
			return nil, err
		}
		interceptors = append(interceptors, s.authInterceptor(s.auth)) // first: nothing runs for an unknown caller
	}
	// Audit comes next, after authentication when that is configured: every call it lets
	// through is logged once, with its principal, whatever later interceptors decide.
	interceptors = append(interceptors, s.auditInterceptor(s.audit))
	// Inbound rate limits come after authentication (budgets are per principal) and the audit
	// log (a refusal is logged like any outcome), before anything that does work for the call.
	if len(o.limits.Rate) > 0 {
		if err := checkRateRules(o.limits.Rate); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		limiter := o.limiter
		if limiter == nil {
			limiter = adapters.NewMemoryLimiter(nil)
		}
		interceptors = append(interceptors, s.rateInterceptor(o.limits.Rate, limiter))
	}
	interceptors = append(append(interceptors, o.interceptors...), validateInterceptor(s.validator))
	// Idempotency keys last: a call refused before this point never ran and holds no key.
	if !o.idempotency.Disabled {
		if err := o.idempotency.Check(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		store := o.idemStore
		if store == nil {
			store = newMemoryIdempotency()
		}
		interceptors = append(interceptors, s.idempotencyInterceptor(o.idempotency, store))
	}
	if o.tracer != nil {
		interceptors = append(interceptors, s.adapterTraceInterceptor(o.tracer.Tracer(tracerName)))
	}
	s.interceptors = interceptors
	s.chain = chainUnary(interceptors)
	s.grpc, s.health = s.newGRPCServer()
	g, err := s.newGeneration(context.Background(), services, o.mcp)
	if err != nil {
		s.grpc.Stop() // its stream workers
		return nil, err
	}
	s.http = requestIDs(s.cors(s.authHTTP(s.originGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.gen.Load().http.ServeHTTP(w, r) })))))
	s.ready.Store(true) // before install, which sets gRPC health from readiness
	s.install(g)
	return s, nil
}

// Reload serves services, with the MCP options mcpOpts, from now on: calls in flight finish on
// the services they started with, new calls use the new ones, and MCP clients are told the tool
// list changed. When the new services cannot be built (a missing implementation, a bad route),
// nothing changes and the error says why. Listener settings (addresses, TLS, body bound) and
// interceptors stay as New set them.
func (s *Server) Reload(services []Service, mcpOpts MCPOptions) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	g, err := s.newGeneration(context.Background(), services, mcpOpts)
	if err != nil {
		_ = closeAll(collectClosers(services), nil) // the new adapters serve nothing
		return err
	}
	s.install(g)
	s.log.Info("reloaded", "services", g.names, "methods", len(g.methods), "tools", len(g.tools))
	return nil
}

// newGeneration builds everything the services need on every surface, without serving it.
func (s *Server) newGeneration(ctx context.Context, services []Service, mcpOpts MCPOptions) (*generation, error) {
	g := &generation{services: services, guards: collectGuards(services), closers: collectClosers(services), methods: map[string]*method{}, files: new(protoregistry.Files), mcpOpts: mcpOpts}
	// The comments of agentbridge's own protos describe tools and OpenAPI operations, which are
	// built here and only here. Read for each build and let go after, rather than kept: kept,
	// they held about 140 KB of the 2.9 MB a serving program keeps live, which the garbage
	// collector marks on every cycle.
	var err error
	if g.comments, err = EmbeddedComments(); err != nil {
		return nil, err
	}
	defer func() { g.comments = nil }()
	for _, svc := range services {
		if svc.Desc == nil {
			return nil, errors.New("server: a service has no descriptor")
		}
		g.names = append(g.names, string(svc.Desc.FullName()))
		if err := registerFile(g.files, svc.Desc.ParentFile()); err != nil {
			return nil, fmt.Errorf("server: %s: %w", svc.Desc.FullName(), err)
		}
		for _, fd := range svc.Files {
			if err := registerFile(g.files, fd); err != nil {
				return nil, fmt.Errorf("server: %s: %w", svc.Desc.FullName(), err)
			}
		}
		methods := svc.Desc.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			if md.IsStreamingClient() {
				return nil, fmt.Errorf("server: %s streams requests; only unary and server-streaming methods are served", md.FullName())
			}
			input := adapters.MessageType(md.Input())
			var m *method
			if md.IsStreamingServer() {
				impl := svc.Streams[md.Name()]
				if impl == nil {
					return nil, fmt.Errorf("server: %s has no implementation in Streams", md.FullName())
				}
				m = newStreamMethod(md, input, impl)
			} else {
				impl := svc.Methods[md.Name()]
				if impl == nil {
					return nil, fmt.Errorf("server: %s has no implementation", md.FullName())
				}
				m = newMethod(md, input, impl)
			}
			if m.handler != nil {
				m.chained = bindChain(s.interceptors, m.info, m.handler)
			}
			if s.opts.tracer != nil {
				m.trace = newMethodTrace(m)
			}
			if _, dup := g.methods[m.procedure]; dup {
				return nil, fmt.Errorf("server: %s served twice", md.Parent().FullName())
			}
			g.methods[m.procedure] = m
		}
	}
	sort.Strings(g.names)
	g.types = newDetailTypes(g.files)
	g.errorJSON = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{Resolver: g.types}}
	g.json = newJSONEncoder(g.types)
	g.jsonIn = jsonplan.NewDecoder(jsonUnmarshal)
	g.wire = wireplan.New()
	if g.tools, err = s.buildTools(g); err != nil {
		return nil, err
	}
	g.toolByName = make(map[string]*mcpTool, len(g.tools))
	for _, t := range g.tools {
		g.toolByName[t.tool.Name] = t
	}
	if g.toolsets, err = toolsets(g, mcpOpts); err != nil {
		return nil, err
	}
	if g.http, err = s.newHTTPHandler(g); err != nil {
		return nil, err
	}
	g.resources = s.buildResources(g)
	return g, nil
}

// install makes g the generation new calls use, on every surface.
func (s *Server) install(g *generation) {
	old := s.gen.Swap(g)
	s.updateMCP(g)
	s.updateMCPResources(g)
	s.watchGuards(g)
	s.startProbes(g)
	s.updateHealth()
	if old != nil {
		// New calls reach only g from here; calls in flight on old finish, as Close allows.
		_ = closeAll(old.closers, g.closers)
		for _, gd := range old.guards {
			if !slices.Contains(g.guards, gd) {
				gd.Close() // its timer only; calls still in flight on the old services keep it
			}
		}
		for _, name := range old.names {
			if !slices.Contains(g.names, name) {
				s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
			}
		}
	}
}

// registerFile adds a file and its imports to files, once each. Two different files under one
// path (a linked file and an edited copy loaded at run time) cannot be served together.
func registerFile(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if have, err := files.FindFileByPath(fd.Path()); err == nil {
		if have != fd {
			return fmt.Errorf("two different files are named %s; serve one of them", fd.Path())
		}
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		if err := registerFile(files, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

// describe returns the leading comment of a served element: from the source info its file
// carries (contracts loaded at run time), else from agentbridge's embedded comments. It is
// called while g is built (newGeneration), the only time g holds those.
func (g *generation) describe(name protoreflect.FullName) string {
	if d, err := g.files.FindDescriptorByName(name); err == nil {
		if loc := d.ParentFile().SourceLocations().ByDescriptor(d); loc.LeadingComments != "" {
			return cleanComment(loc.LeadingComments)
		}
	}
	return g.comments.Describe(name)
}

// Handler returns the HTTP surface: Connect, gRPC and gRPC-Web, REST/JSON, MCP (/mcp),
// /openapi.json, /healthz and /readyz. Serve it over HTTP/2 (h2c or TLS) for gRPC.
func (s *Server) Handler() http.Handler { return s.http }

// GRPCServer returns the grpc-go server with the services, reflection and health registered.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Serve listens on the configured addresses and serves until ctx is done, then shuts down
// gracefully: it stops accepting, lets calls in flight finish within the grace period, and
// returns nil after a clean stop.
func (s *Server) Serve(ctx context.Context) error {
	var grpcLis, httpLis net.Listener
	var err error
	var lc net.ListenConfig
	if s.opts.grpcAddr != "" {
		if grpcLis, err = lc.Listen(ctx, "tcp", s.opts.grpcAddr); err != nil {
			return fmt.Errorf("gRPC listener: %w", err)
		}
	}
	if s.opts.httpAddr != "" {
		if httpLis, err = lc.Listen(ctx, "tcp", s.opts.httpAddr); err != nil {
			if grpcLis != nil {
				_ = grpcLis.Close()
			}
			return fmt.Errorf("HTTP listener: %w", err)
		}
	}
	return s.ServeListeners(ctx, grpcLis, httpLis)
}

// ServeListeners is Serve on listeners the caller opened; either may be nil to leave that
// listener off.
func (s *Server) ServeListeners(ctx context.Context, grpcLis, httpLis net.Listener) error {
	if err := s.checkExposure(grpcLis, httpLis); err != nil {
		for _, l := range []net.Listener{grpcLis, httpLis} {
			if l != nil {
				_ = l.Close()
			}
		}
		return err
	}
	stopProbes := s.serveProbes()
	defer stopProbes()
	errc := make(chan error, 2)
	var httpSrv *http.Server
	if httpLis != nil {
		handler := s.http
		if isLoopback(httpLis.Addr()) || len(s.opts.hosts) > 0 {
			handler = s.hostGuard(handler) // DNS rebinding reaches loopback under a foreign name
		}
		limits := s.opts.limits
		httpSrv = &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			// Bounds a request's body as well as its headers: 300 clients each sending a
			// body a byte at a time once held 300 connections for as long as they liked.
			// net/http lifts the deadline when the body has been read, so calls and MCP
			// streams may run longer (TestLongCallOutlivesBodyTimeout).
			ReadTimeout:    limits.BodyTimeout,
			IdleTimeout:    limits.IdleTimeout,
			MaxHeaderBytes: maxHeaderBytes,
			ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			HTTP2:          &http.HTTP2Config{MaxConcurrentStreams: int(limits.MaxConcurrentStreams)},
		}
		httpLis = limits.limitListener(httpLis)
		protocols := new(http.Protocols)
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
		if s.opts.tls == nil {
			protocols.SetUnencryptedHTTP2(true) // h2c, so gRPC works on this listener too
		} else {
			httpSrv.TLSConfig = s.opts.tls.Clone()
			if len(httpSrv.TLSConfig.NextProtos) == 0 {
				httpSrv.TLSConfig.NextProtos = []string{"h2", "http/1.1"} // ALPN: gRPC needs h2
			}
			httpLis = tls.NewListener(httpLis, httpSrv.TLSConfig)
		}
		httpSrv.Protocols = protocols
		s.log.Info("serving HTTP", "addr", httpLis.Addr().String(), "surfaces", "connect grpc grpc-web rest openapi mcp", "tls", s.opts.tls != nil)
		go func() { errc <- ignoreClosed(httpSrv.Serve(httpLis)) }()
	}
	if grpcLis != nil {
		grpcLis = s.opts.limits.limitListener(grpcLis)
		s.log.Info("serving gRPC", "addr", grpcLis.Addr().String(), "tls", s.opts.tls != nil)
		go func() {
			err := s.grpc.Serve(grpcLis)
			if errors.Is(err, grpc.ErrServerStopped) {
				err = nil // a shutdown that came before Serve started: nothing was served, nothing failed
			}
			errc <- err
		}()
	}
	running := 0
	if httpLis != nil {
		running++
	}
	if grpcLis != nil {
		running++
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		running--
		if err != nil {
			s.shutdown(httpSrv)
			return err
		}
	}
	s.shutdown(httpSrv)
	for range running {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// Close releases what the server holds besides its listeners: the connections to a shared
// store (redis:), the gRPC server's stream workers. Serve closes it when it returns; a server
// built and never served (config validate, tests) should call it. Calling it again does
// nothing.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.grpc.Stop() // after Serve's GracefulStop, this only ends the stream workers
		var errs []error
		if g := s.gen.Load(); g != nil {
			errs = append(errs, closeAll(g.closers, nil))
		}
		if s.opts.durable != nil && s.opts.ownDurable {
			errs = append(errs, s.opts.durable.Close())
		}
		if s.opts.store != nil {
			errs = append(errs, s.opts.store.Close())
		}
		if tp := s.opts.ownedTracer; tp != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			errs = append(errs, tp.Shutdown(ctx)) // exports the spans still buffered
		}
		err = errors.Join(errs...)
	})
	return err
}

func (s *Server) shutdown(httpSrv *http.Server) {
	defer s.Close() // last: calls finishing in the grace period still use the shared store
	// Not ready first, then serve on for the drain delay: load balancers see /readyz and gRPC
	// health fail and stop sending calls before the listeners close.
	s.ready.Store(false)
	s.health.Shutdown()
	s.drain(context.Background())
	s.log.Info("shutting down", "grace", s.opts.grace)
	graceCtx, cancel := context.WithTimeout(context.Background(), s.opts.grace)
	defer cancel()
	defer func() {
		for _, g := range s.guards() {
			g.Close()
		}
	}()
	var wg sync.WaitGroup
	// MCP streams stay open as long as their client wants; closing the sessions ends them, so
	// they do not hold the HTTP shutdown for the whole grace period.
	wg.Go(func() { s.closeMCPSessions(graceCtx) })
	if httpSrv != nil {
		wg.Go(func() {
			if err := httpSrv.Shutdown(graceCtx); err != nil {
				s.log.Warn("HTTP calls still running at the end of the grace period; closing", "err", err)
				_ = httpSrv.Close()
			}
		})
	}
	wg.Go(func() {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-graceCtx.Done():
			s.log.Warn("gRPC calls still running at the end of the grace period; stopping")
			s.grpc.Stop()
		}
	})
	wg.Wait()
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Services returns the services being served (the current generation's).
func (s *Server) Services() []Service { return slices.Clone(s.gen.Load().services) }

// collectClosers lists the closers of services, each once.
func collectClosers(services []Service) []io.Closer {
	var out []io.Closer
	for _, svc := range services {
		for _, c := range svc.Closers {
			if c != nil && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// closeAll closes every closer not in keep.
func closeAll(closers, keep []io.Closer) error {
	var errs []error
	for _, c := range closers {
		if !slices.Contains(keep, c) {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
