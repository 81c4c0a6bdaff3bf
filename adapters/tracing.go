package adapters

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracedTransport sends a request through OpenTelemetry's HTTP client instrumentation when its
// call is part of a trace: a client span per attempt, and the W3C trace context (traceparent,
// tracestate) in the request headers, so the backend's own traces join the caller's. The span
// is made by the tracer provider of the call's span, so two servers in one process keep their
// traces apart. A call outside any trace (tracing not configured) takes the plain transport
// and pays nothing.
type tracedTransport struct {
	plain, otel http.RoundTripper
}

func traced(base http.RoundTripper) http.RoundTripper {
	return &tracedTransport{plain: base, otel: otelhttp.NewTransport(base,
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "backend " + r.Method }),
	)}
}

func (t *tracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if trace.SpanContextFromContext(r.Context()).IsValid() {
		return t.otel.RoundTrip(r)
	}
	return t.plain.RoundTrip(r)
}

// CloseIdleConnections closes the plain transport's idle connections (the client's
// CloseIdleConnections reaches it through this).
func (t *tracedTransport) CloseIdleConnections() {
	if c, ok := t.plain.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
