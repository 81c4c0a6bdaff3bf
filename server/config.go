package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/server/contract"
	"github.com/agentbridge/agentbridge/server/store"
)

// Config is the runtime config (YAML): listeners, the services to serve, and the backends
// their bindings name. The proto says what to call; the config says where.
type Config struct {
	// GRPCAddr is the gRPC listener's address; "off" turns it off. Default 127.0.0.1:9090.
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is the HTTP listener's address. Default 127.0.0.1:8080.
	HTTPAddr string `yaml:"http_addr"`
	// TLS serves the HTTP listener over TLS when set.
	TLS *TLSConfig `yaml:"tls"`
	// ShutdownGrace is how long calls in flight may finish after SIGINT/SIGTERM. Default 15s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// ShutdownDrain is how long the server keeps serving after SIGINT/SIGTERM while it reports
	// not ready, so load balancers stop sending calls before the listeners close; the grace
	// period starts after it. Default 0.
	ShutdownDrain time.Duration `yaml:"shutdown_drain"`
	// MaxBodyBytes bounds request bodies on every surface. Default 4 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// AllowedOrigins lists browser origins allowed on every HTTP surface besides loopback ones;
	// see WithAllowedOrigins.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts lists Host names the HTTP listener answers besides loopback names; see
	// WithAllowedHosts.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// MCP configures the MCP surface (toolsets, allowed origins, result budgets).
	MCP MCPOptions `yaml:"mcp"`
	// Audit configures the audit log: one JSON line per call. Default: on, to stderr.
	Audit AuditOptions `yaml:"audit"`
	// Limits bound connections, streams, body upload time and idle time on the listeners.
	Limits Limits `yaml:"limits"`
	// ProtoPaths are the import roots of Protos, as protoc -I; relative to the config file.
	// Default: the config file's directory.
	ProtoPaths []string `yaml:"proto_paths"`
	// Protos are .proto files, relative to an import root, compiled at start-up.
	// agentbridge's options, google/api (annotations, http, field_behavior), buf/validate and the
	// well-known types are built in.
	Protos []string `yaml:"protos"`
	// DescriptorSets are FileDescriptorSets or buf images (buf build -o x.binpb), relative to
	// the config file.
	DescriptorSets []string `yaml:"descriptor_sets"`
	// Services lists the full names of the proto services to serve: from the contracts above,
	// or linked into the binary.
	Services []string `yaml:"services"`
	// Backends names the legacy systems that method bindings refer to.
	Backends map[string]adapters.Backend `yaml:"backends"`
	// Auth authenticates callers and checks method scopes on every surface; required when a
	// listener binds beyond loopback (see AuthConfig).
	Auth *AuthConfig `yaml:"auth"`
	// Redis keeps shared state (inbound and outbound rate budgets) in Redis, so replicas share
	// it. Default: none, each process keeps its own in memory.
	Redis *redisstore.Config `yaml:"redis"`
	// Idempotency configures idempotency keys (see IdempotencyOptions): on by default, kept in
	// Redis with redis:, else in memory.
	Idempotency IdempotencyOptions `yaml:"idempotency"`
	// Events are the sources legacy systems push events to, kept in the store and read by
	// agents through EventService (see EventsConfig).
	Events EventsConfig `yaml:"events"`
	// Batches serves BatchService, which runs one method for many inputs in the background
	// (see BatchesConfig, docs/batches.md).
	Batches *BatchesConfig `yaml:"batches"`
	// Store keeps events and batch jobs durably: embedded by default, or in Redis for replicas
	// (see StoreConfig). Opened only when the config has something to keep.
	Store StoreConfig `yaml:"store"`
	// Telemetry exports OpenTelemetry traces by OTLP when otlp_endpoint is set. Default: no
	// tracing.
	Telemetry TelemetryOptions `yaml:"telemetry"`

	// path is the file the config was read from; its directory is where relative paths start.
	path string
	dir  string
}

// Path returns the file the config was read from, or "" for a config made in Go.
func (c *Config) Path() string { return c.path }

// TLSConfig names a certificate and key in PEM files.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// LoadConfig reads a YAML config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path, c.dir = path, filepath.Dir(path)
	return c, nil
}

// ParseConfig decodes a YAML config strictly: an unknown key is an error, not ignored.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &c, c.Validate()
}

// Validate checks what can be checked without building anything.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Services) == 0 {
		errs = append(errs, errors.New("config: services is empty"))
	}
	for name, b := range c.Backends {
		if b.Kind == "" {
			errs = append(errs, fmt.Errorf("config: backend %q has no kind", name))
		}
		b.Name = name
		if b.Endpoint == "" {
			errs = append(errs, fmt.Errorf("config: backend %q has no endpoint", name))
		} else if err := b.CheckEndpoint(); err != nil {
			errs = append(errs, fmt.Errorf("config: %w", err))
		}
		if err := b.CheckSections(); err != nil {
			for _, err := range unjoin(err) {
				errs = append(errs, fmt.Errorf("config: %w", err))
			}
		}
		// Fault rules are checked at load, so a bad pattern or status names its backend
		// before anything is built.
		// A literal secret or a half-given credential is a config error, reported without
		// reading any secret; missing variables and files are found when the backend is built.
		if err := b.Auth.Check(fmt.Sprintf("config: backend %q: auth", name)); err != nil {
			errs = append(errs, unjoin(err)...)
		}
		if u, err := url.Parse(b.WSDL); b.WSDL != "" && (err != nil || (strings.Contains(b.WSDL, "://") && u.Scheme != "http" && u.Scheme != "https")) {
			errs = append(errs, fmt.Errorf("config: backend %q: wsdl %q: use an http(s) URL or a file path", name, b.WSDL))
		}
		if _, err := b.FaultRules(); err != nil {
			for _, err := range unjoin(err) {
				errs = append(errs, fmt.Errorf("config: %w", err))
			}
		}
		errs = append(errs, checkResilience(name, b))
	}
	if err := checkRateRules(c.Limits.Rate); err != nil {
		for _, err := range unjoin(err) {
			errs = append(errs, fmt.Errorf("config: %w", err))
		}
	}
	if err := c.Telemetry.Check(); err != nil {
		errs = append(errs, fmt.Errorf("config: %w", err))
	}
	if err := c.Idempotency.Check(); err != nil {
		errs = append(errs, fmt.Errorf("config: %w", err))
	}
	if err := c.Redis.Check(); err != nil {
		for _, err := range unjoin(err) {
			errs = append(errs, fmt.Errorf("config: %w", err))
		}
	}
	if err := c.Store.check(c.Redis != nil); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if err := c.checkEvents(); err != nil { // events_config.go
		errs = append(errs, unjoin(err)...)
	}
	if c.ShutdownDrain < 0 {
		errs = append(errs, fmt.Errorf("config: shutdown_drain %s must not be negative", c.ShutdownDrain))
	}
	errs = append(errs, c.Auth.Validate(), c.validateExposure())
	if c.Auth != nil && c.Auth.MTLS != nil && c.TLS == nil {
		errs = append(errs, errors.New("config: auth.mtls needs tls (cert_file, key_file): client certificates are sent only over TLS"))
	}
	return errors.Join(errs...)
}

// unjoin returns the errors errors.Join joined, so each can be given a prefix of its own.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Options turns the listener settings into server options.
func (c *Config) Options() ([]Option, error) {
	var opts []Option
	switch c.GRPCAddr {
	case "":
	case "off":
		opts = append(opts, WithGRPCAddr(""))
	default:
		opts = append(opts, WithGRPCAddr(c.GRPCAddr))
	}
	if c.HTTPAddr != "" {
		opts = append(opts, WithHTTPAddr(c.HTTPAddr))
	}
	if c.ShutdownGrace > 0 {
		opts = append(opts, WithShutdownGrace(c.ShutdownGrace))
	}
	if c.MaxBodyBytes > 0 {
		opts = append(opts, WithMaxBodyBytes(c.MaxBodyBytes))
	}
	if c.ShutdownDrain > 0 {
		opts = append(opts, WithDrainDelay(c.ShutdownDrain))
	}
	opts = append(opts, WithAudit(c.Audit), WithLimits(c.Limits), WithIdempotency(c.Idempotency), WithMCP(c.mcpOptions()), WithAllowedOrigins(c.AllowedOrigins...), WithAllowedHosts(c.AllowedHosts...))
	if c.TLS != nil {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: tls: %w", err)
		}
		tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if err := c.Auth.applyMTLS(tlsCfg); err != nil {
			return nil, err
		}
		opts = append(opts, WithTLS(tlsCfg))
	}
	if c.Auth != nil {
		opts = append(opts, WithAuth(*c.Auth))
	}
	return opts, nil
}

// Sources returns the config's contract sources, with paths made relative to the config file.
func (c *Config) Sources() contract.Sources {
	dir := c.dir
	if dir == "" {
		dir = "."
	}
	return contract.Sources{ProtoPaths: c.ProtoPaths, Protos: c.Protos, DescriptorSets: c.DescriptorSets}.Resolve(dir)
}

// BuildServices loads the contracts, makes an adapter per backend and binds every method of
// every listed service. It is everything serving needs but the listeners, so config validate
// and serve build the same thing.
//
// Outbound rate budgets are kept in memory here; Build keeps them in Redis when the config
// has a redis: section.
func (c *Config) BuildServices() ([]Service, error) { return c.buildServices(nil, nil, nil) }

// buildServices is BuildServices keeping the guards in keep (by backend name) of backends whose
// settings did not change, so a reload does not close an open breaker or reset counters. New
// guards keep their outbound budget in limiter (nil: in memory). Built-in services (events)
// keep their state in the store durable returns when called (nil: none).
func (c *Config) buildServices(keep map[string]*adapters.Guard, limiter adapters.Limiter, durable func() store.Store) ([]Service, error) {
	set, err := contract.Load(context.Background(), c.Sources())
	if err != nil {
		return nil, err
	}
	backends := make(map[string]adapters.Adapter, len(c.Backends))
	guards := make(map[string]*adapters.Guard, len(c.Backends))
	names := make([]string, 0, len(c.Backends))
	for name := range c.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := c.Backends[name]
		b.Name = name
		b.Auth = b.Auth.RelativeTo(c.dir)
		b.Dir = c.dir
		a, err := adapters.New(b)
		if err != nil {
			closeAdapters(backends, nil)
			return nil, c.errorf(err)
		}
		backends[name] = a
		if g := keep[name]; g != nil && reflect.DeepEqual(g.Backend(), b.WithDefaults()) {
			guards[name] = g
		} else {
			var opts []adapters.GuardOption
			if limiter != nil {
				opts = append(opts, adapters.WithGuardLimiter(limiter))
			}
			guards[name] = adapters.NewGuard(b, opts...)
		}
	}
	services := make([]Service, 0, len(c.Services))
	var errs []error
	for _, name := range c.Services {
		sd, err := set.Service(name)
		if err != nil {
			if known := set.Services(); len(known) > 0 {
				err = fmt.Errorf("%w; the contracts declare %s", err, strings.Join(known, ", "))
			}
			errs = append(errs, fmt.Errorf("config: %w", err))
			continue
		}
		methods, streams, err := adapters.BindService(sd, backends)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		services = append(services, guardService(Service{Desc: sd, Methods: methods, Streams: streams, Closers: adapterClosers(sd, backends)}, guards))
	}
	if events, err := c.eventService(set, durable); err != nil {
		errs = append(errs, err)
	} else if events != nil {
		services = append(services, *events)
	}
	if err := errors.Join(errs...); err != nil {
		closeAdapters(backends, nil)
		return nil, err
	}
	// A backend no served method names is built (its config is checked) and let go at once.
	used := collectClosers(services)
	closeAdapters(backends, used)
	return services, nil
}

// errorf prefixes an error with the config file's name, when the config came from one.
func (c *Config) errorf(err error) error {
	if c.path != "" {
		return fmt.Errorf("config %s: %w", c.path, err)
	}
	return fmt.Errorf("config: %w", err)
}

// adapterClosers returns the adapters a service's methods bind to that hold resources.
func adapterClosers(sd protoreflect.ServiceDescriptor, backends map[string]adapters.Adapter) []io.Closer {
	var out []io.Closer
	methods := sd.Methods()
	for i := range methods.Len() {
		if c, ok := backends[adapters.BindingOf(methods.Get(i)).GetBackend()].(io.Closer); ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// closeAdapters closes the adapters that hold resources, except those in keep.
func closeAdapters(backends map[string]adapters.Adapter, keep []io.Closer) {
	var all []io.Closer
	for _, a := range backends {
		if c, ok := a.(io.Closer); ok {
			all = append(all, c)
		}
	}
	_ = closeAll(all, keep)
}

// Build makes the server the config describes, ready to serve: contracts loaded, every binding
// bound, every surface built; opts come after the config's own. config validate and serve both
// call it, so a config that validates is one that serves.
//
// With a redis: section, Build opens the shared store (without connecting: Redis is dialled by
// the first call that needs it) and the server closes it when it stops (Serve) or on Close.
func (c *Config) Build(opts ...Option) (*Server, error) {
	var shared *redisstore.Store
	var limiter adapters.Limiter
	if c.Redis != nil {
		var err error
		rc := c.Redis.RelativeTo(c.dir)
		if c.Store.engine() == StoreRedis {
			rc.Retention = c.Store.Retention // events are kept in Redis Streams
		}
		if shared, err = redisstore.Open(rc); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		limiter = shared
	}
	tp, err := c.Telemetry.tracerProvider()
	if err != nil {
		if shared != nil {
			_ = shared.Close()
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	var durable store.Store
	var sharedLog store.Store // the redis store, as the event and job store too
	if shared != nil {
		sharedLog = shared
	}
	fail := func(err error) (*Server, error) {
		if durable != nil && durable != sharedLog {
			_ = durable.Close()
		}
		if shared != nil {
			_ = shared.Close()
		}
		if tp != nil {
			_ = tp.Shutdown(context.Background())
		}
		return nil, err
	}
	var srv *Server // built below; EventService reads the store it holds
	services, err := c.buildServices(nil, limiter, func() store.Store { return srv.durable() })
	if err != nil {
		return fail(err)
	}
	own, err := c.Options()
	if err != nil {
		return fail(err)
	}
	own = append(own, func(o *options) { o.telemetry = c.Telemetry })
	if tp != nil {
		own = append(own, withOwnedTracer(tp))
	}
	if shared != nil {
		own = append(own, WithLimiter(shared), WithIdempotencyStore(shared), withShared(c.Redis, shared))
	}
	hooks, err := c.webhookOption() // event sources (webhooks.go)
	if err != nil {
		return fail(err)
	}
	own = append(own, hooks)
	probe := defaultOptions()
	for _, opt := range opts {
		opt(&probe)
	}
	if durable, err = c.openStore(sharedLog, probe.checkOnly); err != nil {
		return fail(err)
	}
	if is, ok := durable.(IdempotencyStore); ok && shared == nil {
		own = append(own, WithIdempotencyStore(is)) // idempotency records survive a restart too
	}
	switch durable {
	case nil:
	case sharedLog: // closed with the redis: section's store
		own = append(own, WithStore(durable))
	default:
		own = append(own, withOwnedStore(durable))
	}
	if srv, err = New(services, append(own, opts...)...); err != nil {
		return fail(err)
	}
	if err := srv.startBatches(c); err != nil { // BatchService, and the jobs to resume (batch.go)
		_ = srv.Close()
		return nil, err
	}
	return srv, nil
}

// ReloadConfig serves what c describes from now on (see Reload). Settings a running listener
// cannot change (addresses, TLS, the body bound, the shutdown grace) are kept, with a warning
// naming each one that differs.
func (s *Server) ReloadConfig(c *Config) error {
	keep := map[string]*adapters.Guard{}
	for _, g := range s.guards() {
		keep[g.Name()] = g
	}
	services, err := s.eventsInForce(c).buildServices(keep, s.opts.sharedLimiter(), s.durable) // events as the intake serves them (events.go)
	if err != nil {
		return err
	}
	services = s.withBatchService(c, services) // the running BatchService is kept (batch.go)
	own, err := c.Options()
	if err != nil {
		return err
	}
	o := defaultOptions()
	for _, opt := range own {
		opt(&o)
	}
	for _, d := range []struct {
		name      string
		was, want any
	}{
		{"grpc_addr", s.opts.grpcAddr, o.grpcAddr},
		{"http_addr", s.opts.httpAddr, o.httpAddr},
		{"tls", s.opts.tls != nil, o.tls != nil},
		{"max_body_bytes", s.opts.maxBody, o.maxBody},
		{"shutdown_grace", s.opts.grace, o.grace},
		{"limits", s.opts.limits, o.limits},
		{"shutdown_drain", s.opts.drain, o.drain},
		{"audit", fmt.Sprint(s.opts.audit), fmt.Sprint(o.audit)}, // the sink is opened once, by New
		{"mcp.stateless", s.opts.mcp.Stateless, o.mcp.Stateless},
		{"mcp.session_idle_timeout", s.opts.mcp.sessionIdleTimeout(), o.mcp.sessionIdleTimeout()},
		{"redis", s.opts.redis, c.Redis}, // the store is opened once, by Build
		{"idempotency", s.opts.idempotency, o.idempotency},
		{"telemetry", s.opts.telemetry, c.Telemetry},
		{"events", s.opts.webhooks.config(), c.Events.config()}, // the intake is built once, by Build
	} {
		if !reflect.DeepEqual(d.was, d.want) { // limits holds rate rules: not comparable with !=
			s.log.Warn("a reload cannot change this setting; restart to apply it", "setting", d.name, "serving", d.was, "config", d.want)
		}
	}
	if !reflect.DeepEqual(s.opts.auth, o.auth) {
		s.log.Warn("a reload cannot change auth (keys, issuer, scopes); restart to apply it", "setting", "auth")
	}
	return s.Reload(services, c.mcpOptions())
}

// mcpOptions is the config's mcp section with the WSDL location of every backend that names
// one, file paths made relative to the config file.
func (c *Config) mcpOptions() MCPOptions {
	o := c.MCP
	o.WSDL = nil
	for name, b := range c.Backends {
		if b.WSDL == "" {
			continue
		}
		if o.WSDL == nil {
			o.WSDL = map[string]string{}
		}
		src := b.WSDL
		if u, err := url.Parse(src); (err != nil || (u.Scheme != "http" && u.Scheme != "https")) && !filepath.IsAbs(src) && c.dir != "" {
			src = filepath.Join(c.dir, src)
		}
		o.WSDL[name] = src
	}
	return o
}

// guardService wraps every method of svc in the guard of the backend its binding names, so
// limits, the breaker and retries hold for every kind of backend, and lists those guards.
func guardService(svc Service, guards map[string]*adapters.Guard) Service {
	methods := svc.Desc.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		g := guards[adapters.BindingOf(md).GetBackend()]
		if g == nil {
			continue
		}
		if u, ok := svc.Methods[md.Name()]; ok {
			svc.Methods[md.Name()] = g.Unary(md, u)
		}
		if st, ok := svc.Streams[md.Name()]; ok {
			svc.Streams[md.Name()] = g.Stream(md, st)
		}
		if !slices.Contains(svc.Guards, g) {
			svc.Guards = append(svc.Guards, g)
		}
	}
	return svc
}

// checkResilience checks a backend's limits, retry policy and breaker.
func checkResilience(name string, b adapters.Backend) error {
	var errs []error
	if b.MaxConnections < 0 || b.Concurrency < 0 || b.QueueTimeout < 0 {
		errs = append(errs, errors.New("max_connections, concurrency and queue_timeout must not be negative"))
	}
	if err := b.Rate.Check(); err != nil {
		errs = append(errs, fmt.Errorf("rate: %w", err))
	}
	errs = append(errs, b.Retry.Check(), b.Breaker.Check(), b.Probe.Check())
	var out []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, err := range unjoin(err) {
			out = append(out, fmt.Errorf("config: backend %q: %w", name, err))
		}
	}
	return errors.Join(out...)
}
