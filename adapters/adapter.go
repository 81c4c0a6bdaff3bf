// Package adapters holds the contract between agentbridge's server and the code that carries
// out a method against a legacy backend, the registry of backend kinds, the shared HTTP
// transport, and the one table that turns backend outcomes into gRPC statuses.
//
// A kind (soap, and later rest, xmlhttp, xmlrpc) registers a Factory in init. The runtime
// config names backends and their kind; the proto's agentbridge.v1.binding option names, per
// method, the backend and the operation. Bind joins the two.
//
// Stable: Unary, ServerStream, Adapter, Factory, Register, Backend, BindingOf, BindService and
// MessageType. A kind written in Go registers itself in an init function of its package and is
// linked by a blank import, as adapters/standard does for the built-in kinds.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Unary carries out one method call. The request has the method's input type; the response
// must have its output type. Errors should be gRPC statuses (see Outcome).
type Unary func(ctx context.Context, req proto.Message) (proto.Message, error)

// ServerStream carries out one call of a server-streaming method: it calls send once per
// response message, in order, and returns when the stream is complete. send fails when the
// caller has gone or wants no more; the implementation should then return.
type ServerStream func(ctx context.Context, req proto.Message, send func(proto.Message) error) error

// Backend is one legacy system from the runtime config: where it is and how to reach it. The
// proto says what to call; this says where.
type Backend struct {
	// Name is how bindings refer to the backend.
	Name string `yaml:"-"`
	// Kind selects the adapter: soap.
	Kind string `yaml:"kind"`
	// Endpoint is the URL calls are sent to.
	Endpoint string `yaml:"endpoint"`
	// Timeout bounds one call when the caller's deadline is later or absent. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxReplyBytes bounds a reply body; a larger reply fails with REPLY_TOO_LARGE. For a
	// server-streaming method it bounds each streamed record instead, so a reply of any length
	// streams in bounded memory. Default 4 MiB.
	MaxReplyBytes int64 `yaml:"max_reply_bytes"`
	// Headers are sent with every call (for example a fixed API key header). A value may be a
	// ${ENV_VAR} reference, read at start; prefer auth.api_key for keys. Values are never
	// logged.
	Headers map[string]string `yaml:"headers"`
	// Faults map the backend's documented faults to statuses agents can act on, tried after a
	// method's own rules (its binding's faults) and before the table in status.go. Kinds
	// whose backends send faults (soap) apply them; see FaultRule.
	Faults []FaultRule `yaml:"faults"`
	// Auth is how the bridge authenticates to the backend (basic, API key, OAuth2 client
	// credentials, WS-Security, client TLS); secrets come from the environment or files. See
	// Auth.
	Auth *Auth `yaml:"auth"`
	// WSDL locates the backend's WSDL, an http(s) URL or a file (relative to the config file),
	// which the MCP surface offers agents as a resource. It is fetched with no credentials:
	// Headers are not sent. Default: none.
	WSDL string `yaml:"wsdl"`

	// MaxConnections bounds the connections open to the backend at once (the HTTP transport's
	// MaxConnsPerHost); a call beyond it waits for a free connection within its deadline.
	// Default 64. It protects a backend from a burst of calls opening a connection each.
	MaxConnections int `yaml:"max_connections"`
	// Concurrency caps the calls in flight to the backend (a bulkhead); a call beyond it waits
	// up to QueueTimeout for a slot, then fails with ResourceExhausted. Default 0: no cap.
	Concurrency int `yaml:"concurrency"`
	// QueueTimeout is how long a call waits for a slot under Concurrency. Default 1s.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// Rate limits calls sent to the backend, across all callers; a call over it fails at once
	// with ResourceExhausted and the time until the budget allows one. Default: no limit.
	Rate Rate `yaml:"rate"`
	// Retry repeats a failed call when that is safe; see RetryPolicy.
	Retry RetryPolicy `yaml:"retry"`
	// Breaker stops sending calls to a backend that keeps failing; see BreakerPolicy.
	Breaker BreakerPolicy `yaml:"breaker"`
	// Probe checks the backend on a schedule for readiness; see ProbePolicy. Default: none.
	Probe ProbePolicy `yaml:"probe"`
	// Lenient skips what a reply holds that the contract does not know (a child element no
	// field names, in a message without an any field; a response element in another
	// namespace) instead of failing the call with BACKEND_REPLY_INVALID. Each skip is logged
	// once per path and counted in agentbridge_backend_reply_skipped_elements_total. Default
	// false: strict, so nothing the backend sent is lost without a word. Limits on depth,
	// element count, attributes and text hold either way.
	Lenient bool `yaml:"lenient"`

	// Sections holds the keys of the backend's config that are not shared settings: the kind's
	// own section, named after the kind (rest:, xmlrpc:), which its factory decodes with
	// DecodeSettings. Any other key is an error with its line (see CheckSections).
	Sections map[string]yaml.Node `yaml:",inline"`

	// Dir is the directory relative file names in the backend's config start from: the config
	// file's (set by the server). A kind resolves the files of its own section with Path.
	Dir string `yaml:"-"`

	settingsRead *bool // set by DecodeSettings, so New can tell a section no one read
}

// Path resolves a file name from the backend's config: relative names start from Dir.
func (b Backend) Path(name string) string {
	if name == "" || filepath.IsAbs(name) || b.Dir == "" {
		return name
	}
	return filepath.Join(b.Dir, name)
}

// Defaults for Backend fields left zero.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxReplyBytes = 4 << 20
	// DefaultMaxConnections bounds the connections to one backend.
	DefaultMaxConnections = 64
	// DefaultQueueTimeout is how long a call waits for a bulkhead slot.
	DefaultQueueTimeout = time.Second
)

// WithDefaults returns b with zero fields set to their defaults.
func (b Backend) WithDefaults() Backend {
	if b.Timeout <= 0 {
		b.Timeout = DefaultTimeout
	}
	if b.MaxReplyBytes <= 0 {
		b.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if b.MaxConnections <= 0 {
		b.MaxConnections = DefaultMaxConnections
	}
	if b.QueueTimeout <= 0 {
		b.QueueTimeout = DefaultQueueTimeout
	}
	b.Retry = b.Retry.withDefaults()
	b.Breaker = b.Breaker.withDefaults()
	b.Probe = b.Probe.withDefaults()
	return b
}

// Adapter serves the methods bound to one backend.
type Adapter interface {
	// Bind returns the implementation of a method whose binding names this adapter's backend.
	// It fails when the method's options cannot be carried out (a missing element name, a
	// message with no XML mapping), so mistakes surface at start, not at the first call.
	Bind(method protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (Unary, error)
}

// StreamBinder is the optional ability of an Adapter to carry out server-streaming methods.
// BindService asks for it with a type assertion; a streaming method whose binding names a
// backend whose adapter lacks it fails to bind with ErrCannotStream.
type StreamBinder interface {
	// BindStream returns the implementation of a server-streaming method whose binding names
	// this adapter's backend. Like Bind, it fails at start when the options cannot be carried
	// out.
	BindStream(method protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (ServerStream, error)
}

// Factory makes an adapter for one configured backend of its kind. It decodes the kind's own
// settings with backend.DecodeSettings and checks them, so a mistake stops the server at start
// with the line it is on. An adapter that holds resources (connection pools, sessions,
// goroutines) implements io.Closer: the server closes it when it stops, and after a reload once
// the new adapters serve; Close must be safe while calls that started earlier finish.
type Factory func(backend Backend) (Adapter, error)

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Factory{}
)

// Register makes a kind of backend available by name. It panics when the name is taken, as
// two packages claiming one kind is a build mistake.
func Register(kind string, f Factory) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[kind]; dup {
		panic(fmt.Sprintf("adapters: kind %q registered twice", kind))
	}
	kinds[kind] = f
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// New makes the adapter for a configured backend.
func New(b Backend) (Adapter, error) {
	kindsMu.RLock()
	f, ok := kinds[b.Kind]
	kindsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("backend %q: unknown kind %q (registered: %v)", b.Name, b.Kind, Kinds())
	}
	if err := b.CheckEndpoint(); err != nil {
		return nil, err
	}
	if err := b.checkSections(); err != nil {
		return nil, err
	}
	read := false
	b = b.WithDefaults()
	b.settingsRead = &read
	a, err := f(b)
	if err != nil {
		return nil, err
	}
	if _, given := b.Sections[b.Kind]; given && !read {
		if c, ok := a.(io.Closer); ok {
			_ = c.Close()
		}
		return nil, fmt.Errorf("backend %q: line %d: the %s kind has no settings of its own; move these settings up, beside kind", b.Name, b.Sections[b.Kind].Line, b.Kind)
	}
	return a, nil
}

// CheckEndpoint reports an endpoint that is missing or not an absolute URL (an http(s) URL
// needs a host too): no kind could send anything to it. HTTP kinds refuse other schemes when
// their transport is made (see NewTransport).
func (b Backend) CheckEndpoint() error {
	if b.Endpoint == "" {
		return fmt.Errorf("backend %q: endpoint is required", b.Name)
	}
	u, err := url.Parse(b.Endpoint)
	if err != nil && !strings.Contains(b.Endpoint, "://") && !strings.Contains(b.Endpoint, "@") {
		return fmt.Errorf("backend %q: endpoint %q has no scheme; write it as an absolute URL such as http://host:port/path", b.Name, b.Endpoint)
	}
	if err != nil {
		return fmt.Errorf("backend %q: endpoint is not a URL: %w", b.Name, redactURLError(err))
	}
	if u.Scheme == "" || (u.Opaque != "" && u.Opaque[0] >= '0' && u.Opaque[0] <= '9') { // host:port reads as scheme:opaque
		return fmt.Errorf("backend %q: endpoint %q has no scheme; write it as an absolute URL such as http://host:port/path", b.Name, u.Redacted())
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return fmt.Errorf("backend %q: endpoint %s has no host", b.Name, u.Redacted())
	}
	return nil
}

// redactURLError keeps the reason url.Parse gave, without the URL it quotes (which may carry a
// password).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// BindingOf returns a method's agentbridge.v1.binding option, or nil.
func BindingOf(method protoreflect.MethodDescriptor) *agentbridgev1.Binding {
	opts := method.Options()
	if opts == nil {
		return nil
	}
	b, _ := proto.GetExtension(opts, agentbridgev1.E_Binding).(*agentbridgev1.Binding)
	if b == nil || b.GetBackend() == "" {
		return nil
	}
	return b
}

// ErrUnbound is returned by BindService for a method without a binding option.
var ErrUnbound = errors.New("method has no agentbridge.v1.binding option")

// ErrCannotStream is returned by BindService for a server-streaming method bound to a backend
// whose adapter is not a StreamBinder.
var ErrCannotStream = errors.New("the backend's kind cannot carry out server-streaming methods")

// BindService binds every method of a service to the adapters of the backends its options name:
// unary methods with Adapter.Bind, server-streaming methods with StreamBinder.BindStream.
// backends maps a backend name to its adapter. Every method that cannot be bound is reported,
// each error naming the method.
func BindService(service protoreflect.ServiceDescriptor, backends map[string]Adapter) (unary map[protoreflect.Name]Unary, streams map[protoreflect.Name]ServerStream, err error) {
	methods := service.Methods()
	unary = make(map[protoreflect.Name]Unary, methods.Len())
	streams = map[protoreflect.Name]ServerStream{}
	var errs []error
	for i := range methods.Len() {
		md := methods.Get(i)
		b := BindingOf(md)
		if b == nil {
			errs = append(errs, fmt.Errorf("%s: %w", md.FullName(), ErrUnbound))
			continue
		}
		a, ok := backends[b.GetBackend()]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: backend %q is not in the config", md.FullName(), b.GetBackend()))
			continue
		}
		switch {
		case md.IsStreamingClient():
			errs = append(errs, fmt.Errorf("%s: streams requests, which no backend binding carries out; implement it in Go", md.FullName()))
		case md.IsStreamingServer():
			sb, ok := a.(StreamBinder)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: backend %q: %w", md.FullName(), b.GetBackend(), ErrCannotStream))
				continue
			}
			s, err := sb.BindStream(md, b)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", md.FullName(), err))
				continue
			}
			streams[md.Name()] = s
		default:
			u, err := a.Bind(md, b)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", md.FullName(), err))
				continue
			}
			unary[md.Name()] = u
		}
	}
	return unary, streams, errors.Join(errs...)
}
