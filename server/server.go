// Package server serves proto services on every surface agents use, through one in-process
// call path: gRPC (grpc-go, with reflection and health) on one listener, and on the HTTP
// listener Connect, gRPC and gRPC-Web (connectrpc.com/connect), REST/JSON (grpc-gateway, from
// google.api.http annotations), the OpenAPI document, /healthz and /readyz. Every surface
// decodes into the method's request message and calls the same interceptor chain and
// implementation; no surface calls another over the network.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
)

// Service is one proto service and its implementation.
type Service struct {
	// Desc describes the service; it must be linked into the binary (generated Go code).
	Desc protoreflect.ServiceDescriptor
	// Methods implements each unary method, by name. Declarative bindings come from
	// adapters.BindService.
	Methods map[protoreflect.Name]adapters.Unary
	// Streams implements each server-streaming method, by name. Declarative bindings come from
	// adapters.BindService.
	Streams map[protoreflect.Name]adapters.ServerStream
	// Gateway registers the service's REST routes on the gateway mux: wrap grpc-gateway's
	// generated RegisterXHandlerClient with the generated client over cc. Nil serves no REST
	// routes for the service.
	Gateway func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error
}

// Server serves services on every surface. Build it with New; serve with Serve, or use Handler
// and GRPCServer with listeners of your own.
type Server struct {
	opts      options
	log       *slog.Logger
	services  []Service
	methods   map[string]*method // by procedure, /package.Service/Method
	chain     grpc.UnaryServerInterceptor
	grpc      *grpc.Server
	http      http.Handler
	mcp       map[string]*mcp.Server // by toolset, "" for all tools
	comments  Comments
	validator protovalidate.Validator
	ready     atomic.Bool
}

// New builds a server for services. It fails when a service is not linked into the binary, a
// method has no implementation, or an option is invalid.
func New(services []Service, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{opts: o, log: o.logger, services: services, methods: map[string]*method{}}
	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("server: protovalidate: %w", err)
	}
	s.validator = validator
	interceptors := append(append([]grpc.UnaryServerInterceptor{}, o.interceptors...), validateInterceptor(validator))
	s.chain = chainUnary(interceptors)

	for _, svc := range services {
		if svc.Desc == nil {
			return nil, errors.New("server: a service has no descriptor")
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
			if _, dup := s.methods[m.procedure]; dup {
				return nil, fmt.Errorf("server: %s served twice", md.Parent().FullName())
			}
			s.methods[m.procedure] = m
		}
	}
	if s.comments, err = EmbeddedComments(); err != nil {
		return nil, err
	}
	tools, err := s.buildTools()
	if err != nil {
		return nil, err
	}
	if s.mcp, err = s.newMCPServers(tools); err != nil {
		return nil, err
	}
	s.grpc = s.newGRPCServer()
	h, err := s.newHTTPHandler(context.Background())
	if err != nil {
		return nil, err
	}
	s.http = h
	s.ready.Store(true)
	return s, nil
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
	errc := make(chan error, 2)
	var httpSrv *http.Server
	if httpLis != nil {
		httpSrv = &http.Server{
			Handler:           s.http,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
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
		s.log.Info("serving gRPC", "addr", grpcLis.Addr().String())
		go func() { errc <- s.grpc.Serve(grpcLis) }()
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

func (s *Server) shutdown(httpSrv *http.Server) {
	s.ready.Store(false)
	s.log.Info("shutting down", "grace", s.opts.grace)
	graceCtx, cancel := context.WithTimeout(context.Background(), s.opts.grace)
	defer cancel()
	var wg sync.WaitGroup
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
