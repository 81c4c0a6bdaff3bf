package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// This file traces calls with OpenTelemetry, once in the interceptor chain, so every surface
// is traced alike: a server span per call (continuing the caller's W3C trace context from the
// traceparent header or metadata) covering the interceptors, an adapter span around the method
// implementation, and a client span per attempt at the backend (adapters' transport), which
// sends traceparent on to the backend. Without a tracer provider none of this runs.

// TelemetryOptions configure tracing (config telemetry:).
type TelemetryOptions struct {
	// OTLPEndpoint is where spans are exported with OTLP over HTTP, as a URL
	// (http://collector:4318; the path /v1/traces is added when there is none). Empty: no
	// tracing.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// ServiceName names the bridge in traces (service.name). Default "agentbridge".
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of traces started here that are recorded, 0 to 1; a call that
	// continues a caller's trace follows the caller's decision. Default 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
}

// Check reports settings that cannot be used.
func (o TelemetryOptions) Check() error {
	var errs []error
	if o.OTLPEndpoint != "" {
		if u, err := url.Parse(o.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("telemetry.otlp_endpoint %q: use an http(s) URL such as http://otel-collector:4318", o.OTLPEndpoint))
		}
	}
	if r := o.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		errs = append(errs, fmt.Errorf("telemetry.sample_ratio %v: use 0 to 1", *r))
	}
	return errors.Join(errs...)
}

// tracerProvider makes the SDK provider exporting by OTLP/HTTP, or nil when no endpoint is
// set. The exporter connects when it first exports.
func (o TelemetryOptions) tracerProvider() (*sdktrace.TracerProvider, error) {
	if o.OTLPEndpoint == "" {
		return nil, nil
	}
	endpoint := o.OTLPEndpoint
	if u, err := url.Parse(endpoint); err == nil && (u.Path == "" || u.Path == "/") {
		endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	name := o.ServiceName
	if name == "" {
		name = "agentbridge"
	}
	ratio := 1.0
	if o.SampleRatio != nil {
		ratio = *o.SampleRatio
	}
	res := resource.NewSchemaless(attribute.String("service.name", name))
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	), nil
}

// WithTracerProvider traces every call with tp (tests pass one with an in-memory exporter).
// Default: no tracing; Config.Build sets one when telemetry.otlp_endpoint is set.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

const tracerName = "github.com/agentbridge/agentbridge/server"

// traceContext is the W3C trace context propagator; incoming calls are read with it whatever
// the process-wide propagator is.
var traceContext = propagation.TraceContext{}

// metadataCarrier reads the incoming metadata (HTTP headers on every HTTP surface) as a
// propagation carrier.
type metadataCarrier struct{ ctx context.Context }

func (c metadataCarrier) Get(key string) string {
	if vs := metadata.ValueFromIncomingContext(c.ctx, key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}
func (c metadataCarrier) Set(string, string) {}
func (c metadataCarrier) Keys() []string     { return nil }

// methodTrace is what tracing needs of one method, made once per generation so that a call
// builds no span name or attribute list of its own.
type methodTrace struct {
	name        string                              // the server span's, package.Service/Method
	bySurface   map[Surface][]trace.SpanStartOption // the server span's options, per surface
	adapterName string
	adapterOpts []trace.SpanStartOption
}

var tracedSurfaces = []Surface{SurfaceGRPC, SurfaceConnect, SurfaceGRPCWeb, SurfaceREST, SurfaceMCP}

func newMethodTrace(m *method) *methodTrace {
	service, name := string(m.desc.Parent().FullName()), string(m.desc.Name())
	mt := &methodTrace{name: service + "/" + name, bySurface: map[Surface][]trace.SpanStartOption{}, adapterName: "adapter " + m.backend}
	for _, sf := range tracedSurfaces {
		mt.bySurface[sf] = serverSpanOptions(service, name, sf)
	}
	mt.adapterOpts = []trace.SpanStartOption{trace.WithAttributes(attribute.String("agentbridge.backend", m.backend))}
	return mt
}

func serverSpanOptions(service, method string, surface Surface) []trace.SpanStartOption {
	return []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("rpc.system", "agentbridge"),
		attribute.String("rpc.service", service),
		attribute.String("rpc.method", method),
		attribute.String("agentbridge.surface", string(surface)),
	)}
}

// traceOf returns the method's tracing data, made on the spot for a method the current
// generation does not know (a reload between the call's start and here).
func (s *Server) traceOf(fullMethod string) *methodTrace {
	if m := s.gen.Load().methods[fullMethod]; m != nil && m.trace != nil {
		return m.trace
	}
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return &methodTrace{name: service + "/" + method, bySurface: map[Surface][]trace.SpanStartOption{}, adapterName: "adapter "}
}

// traceInterceptor starts the call's server span, continuing the caller's trace, and records
// its outcome.
func (s *Server) traceInterceptor(tracer trace.Tracer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx = traceContext.Extract(ctx, metadataCarrier{ctx})
		mt := s.traceOf(info.FullMethod)
		surface := SurfaceFromContext(ctx)
		opts, ok := mt.bySurface[surface]
		if !ok {
			service, method, _ := strings.Cut(mt.name, "/")
			opts = serverSpanOptions(service, method, surface)
		}
		ctx, span := tracer.Start(ctx, mt.name, opts...)
		defer span.End()
		resp, err := handler(ctx, req)
		if err == nil {
			// The span's status says OK; rpc.grpc.status_code is set on failures only, which
			// saves growing the span's attributes on every successful call.
			span.SetStatus(codes.Ok, "")
			return resp, nil
		}
		st, _ := status.FromError(err)
		span.SetAttributes(attribute.String("rpc.grpc.status_code", st.Code().String()))
		span.SetStatus(codes.Error, st.Message())
		return resp, err
	}
}

// adapterTraceInterceptor runs last: its span covers the method implementation (the adapter:
// encoding, the guard, the backend attempts, decoding).
func (s *Server) adapterTraceInterceptor(tracer trace.Tracer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		mt := s.traceOf(info.FullMethod)
		ctx, span := tracer.Start(ctx, mt.adapterName, mt.adapterOpts...)
		defer span.End()
		resp, err := handler(ctx, req)
		if err != nil {
			span.SetStatus(codes.Error, status.Convert(err).Message())
		}
		return resp, err
	}
}

// traceID returns the call's trace id for the audit line, "" outside a trace.
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
