// Package rest carries out methods bound to one HTTP call of an old REST API (kind "rest"): the
// verb, a URL template with path-escaped parameters, query parameters and headers from request
// fields, a request body as JSON, form-urlencoded, multipart or XML, and a reply read as JSON
// or XML into the response message by descriptor, into one field of it (response_body), or by
// mxj paths for values deep in a document (reply_paths). HTTP statuses go through the one table
// of package adapters (HTTPStatus with Resource: true); an error a backend reports in a 2xx
// body (body_error) goes through the fault rules. Pagination of every common style is exposed
// as page_token and next_page_token fields. A backend that wants a session logs in once (the
// kind's config section rest: login), keeps its cookies, and logs in again once when the
// session ends. See agentbridge.v1.RestCall and docs/rest.md.
package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Kind is the backend kind this package registers.
const Kind = "rest"

func init() {
	adapters.Register(Kind, func(b adapters.Backend) (adapters.Adapter, error) {
		a, err := New(b, nil)
		if err != nil {
			return nil, err
		}
		return a, nil
	})
}

// Settings is the kind's own config section (backends.NAME.rest).
type Settings struct {
	// Login makes the bridge log in to the backend and keep the session's cookies; see Login.
	Login *Login `yaml:"login"`
	// BodyError is the backend's way of reporting an error in a 2xx reply, for methods whose
	// binding gives none.
	BodyError *BodyError `yaml:"body_error"`
	// ErrorMessagePath is where the backend's message is in an error reply (mxj path), for
	// methods whose binding gives none.
	ErrorMessagePath string `yaml:"error_message_path"`
}

// BodyError is the YAML form of agentbridge.v1.RestBodyError.
type BodyError struct {
	Path        string `yaml:"path"`
	Value       string `yaml:"value"`
	CodePath    string `yaml:"code_path"`
	MessagePath string `yaml:"message_path"`
}

func (e *BodyError) proto() *agentbridgev1.RestBodyError {
	if e == nil {
		return nil
	}
	return &agentbridgev1.RestBodyError{Path: e.Path, Value: e.Value, CodePath: e.CodePath, MessagePath: e.MessagePath}
}

// Adapter calls the REST operations of one backend.
type Adapter struct {
	backend   adapters.Backend
	settings  Settings
	transport *adapters.Transport
	redact    *adapters.Redactor // hides the endpoint and the credentials in backend text
	faults    adapters.FaultRules
	skipped   func(path string) // lenient backends: records a skipped member; nil: strict
	session   *session          // nil without login
}

var (
	_ io.Closer        = (*Adapter)(nil)
	_ adapters.Adapter = (*Adapter)(nil)
)

// New returns an adapter for a backend; a nil client gets the pooled default of
// adapters.NewTransport. It fails when the backend's rest: section, fault rules or credentials
// cannot be used, so a mistake stops the server at start.
func New(b adapters.Backend, client *http.Client) (*Adapter, error) {
	b = b.WithDefaults()
	var s Settings
	if err := b.DecodeSettings(&s); err != nil {
		return nil, err
	}
	faults, err := b.FaultRules()
	if err != nil {
		return nil, err
	}
	t := adapters.NewTransport(b, client)
	if err := t.Err(); err != nil {
		_ = t.Close()
		return nil, err
	}
	a := &Adapter{backend: b, settings: s, transport: t, redact: t.Redactor(), faults: faults}
	if b.Lenient {
		a.skipped = adapters.NewSkipLog(b.Name, nil).Skipped
	}
	if s.BodyError != nil {
		if err := checkBodyError(s.BodyError.proto()); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("backend %q: rest: body_error: %w", b.Name, err)
		}
	}
	if s.Login != nil {
		ses, err := newSession(b, s.Login, t)
		if err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("backend %q: rest: login: %w", b.Name, err)
		}
		a.session = ses
	}
	return a, nil
}

// Close lets go of the adapter's idle connections, and of the others as their calls end.
func (a *Adapter) Close() error { return a.transport.Close() }

// Bind plans a method bound to a RestCall of this backend. Mistakes in the binding (a field the
// template or an option names that the message lacks, a body format the message cannot be
// written in) are reported here.
func (a *Adapter) Bind(method protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (adapters.Unary, error) {
	call := binding.GetRest()
	if call == nil {
		return nil, fmt.Errorf("backend %q is of kind rest but the binding has no rest call", a.backend.Name)
	}
	if method.IsStreamingClient() || method.IsStreamingServer() {
		return nil, errors.New("the rest kind carries out unary methods only")
	}
	faults, err := adapters.CompileBindingFaultRules(method, binding.GetFaults())
	if err != nil {
		return nil, err
	}
	if len(faults.DetailTypes()) > 0 {
		return nil, errors.New("the rest kind has no fault detail to decode into a fault rule's detail_type")
	}
	if call.GetBodyError() == nil && a.settings.BodyError != nil {
		call = proto.CloneOf(call)
		call.BodyError = a.settings.BodyError.proto()
	}
	if call.GetErrorMessagePath() == "" && a.settings.ErrorMessagePath != "" {
		call = proto.CloneOf(call)
		call.ErrorMessagePath = a.settings.ErrorMessagePath
	}
	op, err := newOperation(call, method.Input(), method.Output())
	if err != nil {
		return nil, err
	}
	op.faults = faults
	newOut := adapters.MessageType(method.Output())
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		resp := newOut.New().Interface()
		if err := a.call(ctx, op, req, resp); err != nil {
			return nil, err
		}
		return resp, nil
	}, nil
}

// call performs op: the request, a login first when the backend needs one, the request again
// once when the session has ended, and the reply.
func (a *Adapter) call(ctx context.Context, op *operation, req, resp proto.Message) error {
	r, err := op.request(a, req.ProtoReflect())
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var gen uint64
		if a.session != nil {
			if gen, err = a.session.ensure(ctx); err != nil {
				return err
			}
			r.http.Header = a.session.withCookies(r.http.Header)
		}
		reply, err := a.transport.Do(ctx, r.http)
		if err != nil {
			return err
		}
		if a.session != nil {
			a.session.keepCookies(reply.Header)
		}
		err = op.readReply(a, r, reply, resp.ProtoReflect())
		if a.session != nil && attempt == 0 && a.session.ended(reply, err) {
			a.session.expire(gen)
			continue
		}
		return err
	}
}

// invalid is the status of a request the bridge cannot send as asked: the caller's to fix.
func invalid(backend, format string, args ...any) error {
	return adapters.Errorf(backend, adapters.ReasonRequestNotEncodable, map[string]string{adapters.MetaRequestSent: "false"}, format, args...)
}

// absLink resolves a next page link the backend gave against its endpoint and reports whether
// it stays on the endpoint's scheme and host, as credentials go with it.
func (a *Adapter) absLink(link string) (string, bool) {
	base, err := url.Parse(a.backend.Endpoint)
	if err != nil {
		return "", false
	}
	u, err := base.Parse(link)
	if err != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return "", false
	}
	u.User = nil
	u.Fragment = ""
	return u.String(), true
}
