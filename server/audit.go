package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
)

// AuditOptions configure the audit log: one JSON line per call, on every surface, written
// once in the interceptor chain (config `audit:`).
type AuditOptions struct {
	// Sink is where lines go: stderr, stdout, off, or a file path (appended to, created with
	// mode 0600). Default stderr when the server is built from a config: an audit trail that
	// must be switched on is missing on the day it is needed, and stdout is the protocol
	// channel of `mcp --stdio`. Servers built in Go with New have none unless WithAudit says.
	Sink string `yaml:"sink"`
	// Headers lists request headers (gRPC metadata) recorded in each line. Default none.
	Headers []string `yaml:"headers"`
	// RedactHeaders lists headers whose values are written as [redacted] when Headers names
	// them, besides authorization, proxy-authorization, cookie and x-api-key, which always are.
	RedactHeaders []string `yaml:"redact_headers"`
	// Bodies records the request and response messages as JSON, without the fields marked
	// [debug_redact = true]. Default false: bodies hold what callers and backends consider
	// private, and the log is read by more people than the data is.
	Bodies bool `yaml:"bodies"`
}

// Audit sinks.
const (
	AuditStderr = "stderr"
	AuditStdout = "stdout"
	AuditOff    = "off"
)

// HeaderRequestID carries a call's request id: accepted from the caller, else generated, and
// returned on every surface (an HTTP response header; gRPC response metadata).
const HeaderRequestID = "x-request-id"

// alwaysRedacted are headers whose values are never logged.
var alwaysRedacted = []string{"authorization", "proxy-authorization", "cookie", "x-api-key"}

// WithAudit writes the audit log as o says. Default: no audit log (Config.Build turns it on,
// to stderr, unless the config says off).
func WithAudit(o AuditOptions) Option {
	return func(opts *options) { opts.audit = &o }
}

// WithAuditWriter writes the audit log to w, overriding AuditOptions.Sink. Default: see
// WithAudit.
func WithAuditWriter(w io.Writer) Option {
	return func(opts *options) { opts.auditWriter = w }
}

// WithAuditPrincipal sets how the audit log names the caller of a call. Default: the
// principal authentication put in the context, if any.
func WithAuditPrincipal(f func(context.Context) string) Option {
	return func(opts *options) { opts.principal = f }
}

// principalOf names the caller in the audit line when WithAuditPrincipal does not: the
// authentication interceptor, which runs before audit, puts the principal in the context.
func principalOf(ctx context.Context) string {
	if p := PrincipalFromContext(ctx); p != nil {
		return p.ID
	}
	return ""
}

// auditor writes audit lines. A nil logger writes none; request ids are still given out.
type auditor struct {
	log       *slog.Logger
	line      *lineWriter     // writes the line itself, as log would, when no headers or bodies are recorded
	headers   []string        // lower-case names of headers to record
	redact    map[string]bool // lower-case names of headers whose values are hidden
	bodies    bool
	principal func(context.Context) string
	close     func() error
}

// newAuditor opens the sink the options name.
func newAuditor(o *options) (*auditor, error) {
	a := &auditor{principal: o.principal, close: func() error { return nil }}
	if a.principal == nil {
		a.principal = principalOf
	}
	w := o.auditWriter
	if w == nil && o.audit != nil {
		switch sink := o.audit.Sink; sink {
		case "", AuditStderr:
			w = os.Stderr
		case AuditStdout:
			w = os.Stdout
		case AuditOff:
		default:
			f, err := os.OpenFile(sink, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return nil, fmt.Errorf("server: audit sink: %w", err)
			}
			w, a.close = f, f.Close
		}
	}
	if w != nil {
		a.log = slog.New(slog.NewJSONHandler(w, nil))
		a.line = &lineWriter{w: w}
	}
	a.redact = map[string]bool{}
	for _, h := range alwaysRedacted {
		a.redact[h] = true
	}
	if o.audit != nil {
		for _, h := range o.audit.RedactHeaders {
			a.redact[strings.ToLower(h)] = true
		}
		for _, h := range o.audit.Headers {
			a.headers = append(a.headers, strings.ToLower(h))
		}
		a.bodies = o.audit.Bodies
	}
	return a, nil
}

type requestIDKey struct{}

// requestIDs gives every HTTP request a request id before any surface sees it: the caller's
// X-Request-Id when it is usable, else a new one. It is returned as a response header and
// passed on in the request's headers, so the chain's audit line and the caller agree on it on
// REST, Connect, gRPC-Web, gRPC over HTTP and MCP alike.
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !usableRequestID(id) {
			id = newRequestID()
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// usableRequestID accepts ids of up to 128 visible ASCII characters; anything else from a
// caller is replaced rather than logged.
func usableRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// newRequestID returns 16 hex digits. Ids need to be unique, not secret, so math/rand.
func newRequestID() string {
	const hex = "0123456789abcdef"
	var b [16]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = hex[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// requestID returns the call's request id and whether the HTTP listener already returned it
// to the caller.
func requestID(ctx context.Context) (id string, returned bool) {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id, true
	}
	// ValueFromIncomingContext copies one key's values; FromIncomingContext would copy all.
	if vs := metadata.ValueFromIncomingContext(ctx, HeaderRequestID); len(vs) > 0 && usableRequestID(vs[0]) {
		return vs[0], false
	}
	return newRequestID(), false
}

// interceptor writes one line per call after it ends. It runs right after authentication,
// so a line names the principal, and outside validation, so refused requests are logged too.
func (s *Server) auditInterceptor(a *auditor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		id, returned := requestID(ctx)
		if !returned {
			_ = grpc.SetHeader(ctx, metadata.MD{HeaderRequestID: {id}}) // the key is lower case already, as Pairs would make it
		}
		resp, err := handler(ctx, req)
		if a.log != nil {
			a.write(ctx, s.gen.Load(), info.FullMethod, id, start, req, resp, err)
		}
		return resp, err
	}
}

func (a *auditor) write(ctx context.Context, g *generation, procedure, id string, start time.Time, req, resp any, err error) {
	if a.line != nil && len(a.headers) == 0 && !a.bodies {
		a.writeLine(ctx, g, procedure, id, start, req, resp, err)
		return
	}
	surface := SurfaceFromContext(ctx)
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", id),
		slog.String("principal", a.principal(ctx)),
		slog.String("surface", string(surface)),
		slog.String("method", procedure),
	)
	m := g.methods[procedure]
	if surface == SurfaceMCP {
		attrs = append(attrs, slog.String("tool", toolName(g, m)))
	}
	attrs = append(attrs, slog.String("backend", a.backend(m)))
	if id := traceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	st, _ := status.FromError(err)
	attrs = append(attrs, slog.String("code", st.Code().String()))
	if err != nil {
		if r := reasonOf(st); r != "" {
			attrs = append(attrs, slog.String("reason", r))
		}
	}
	attrs = append(attrs,
		// Whole microseconds: slog writes floats through encoding/json, which costs more than
		// the rest of the line.
		slog.Int64("latency_us", time.Since(start).Microseconds()),
		slog.Int("request_bytes", g.sizeOf(req)),
		slog.Int("response_bytes", g.sizeOf(resp)),
	)
	if len(a.headers) > 0 {
		attrs = append(attrs, a.headerAttr(ctx))
	}
	if a.bodies {
		attrs = append(attrs, slog.Any("request", bodyOf(req)), slog.Any("response", bodyOf(resp)))
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "call", attrs...)
}

// backend names the backend a method's binding calls, "" for methods implemented in Go.
func (a *auditor) backend(m *method) string {
	if m == nil {
		return ""
	}
	return m.backend
}

func toolName(g *generation, m *method) string {
	for _, t := range g.tools {
		if t.method == m {
			return t.tool.Name
		}
	}
	return ""
}

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// sizeOf is the size of a message in the binary format, from g's plans (protobuf's own
// measure walks a dynamic message through reflection): the audit line's request_bytes and
// response_bytes.
func (g *generation) sizeOf(v any) int {
	if m, ok := v.(proto.Message); ok && m != nil && v != streamDone {
		return g.wireEncoder().Size(m)
	}
	return 0
}

func (a *auditor) headerAttr(ctx context.Context) slog.Attr {
	var attrs []any
	for _, h := range a.headers {
		vs := metadata.ValueFromIncomingContext(ctx, h)
		if len(vs) == 0 {
			continue
		}
		v := strings.Join(vs, ", ")
		if a.redact[h] {
			v = adapters.RedactedSecret
		}
		attrs = append(attrs, slog.String(h, v))
	}
	return slog.Group("headers", attrs...)
}

// bodyOf is a message as protojson, without the fields marked debug_redact.
func bodyOf(v any) any {
	m, ok := v.(proto.Message)
	if !ok || m == nil || v == streamDone {
		return nil
	}
	m = proto.Clone(m)
	clearRedacted(m.ProtoReflect())
	data, err := protojson.Marshal(m)
	if err != nil {
		return nil
	}
	return jsonRaw(data)
}

// jsonRaw is JSON that slog's JSON handler writes as it is.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

// clearRedacted clears, in m and every message inside it, the fields marked
// [debug_redact = true].
func clearRedacted(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if isDebugRedact(fd) {
			m.Clear(fd)
			return true
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				clearRedacted(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				clearRedacted(mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			clearRedacted(v.Message())
		}
		return true
	})
}

func isDebugRedact(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(interface{ GetDebugRedact() bool })
	return ok && opts.GetDebugRedact()
}
