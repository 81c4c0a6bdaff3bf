// Package xmlrpc carries out methods bound to XML-RPC methods (agentbridge.v1.XmlRpcCall): the
// request message becomes a methodCall's params, the methodResponse's value becomes the
// response message, and a fault a status through the binding's and the backend's fault rules.
// See docs/xmlrpc.md for the mapping of every type, the settings and the errors.
package xmlrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // the timezone setting names an IANA zone; a container may have no zoneinfo

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Kind is the backend kind this package registers.
const Kind = "xmlrpc"

func init() {
	adapters.Register(Kind, func(b adapters.Backend) (adapters.Adapter, error) {
		return New(b, nil)
	})
}

// Settings are the xmlrpc kind's own settings, the xmlrpc: section of a backend's config.
type Settings struct {
	// Timezone is the IANA zone (Europe/Berlin) that the backend's dateTime.iso8601 values,
	// which carry no zone, are in: Timestamps are written in it and read from it. Default UTC.
	Timezone string `yaml:"timezone"`
	// Nil says the backend accepts the nil extension (<nil/>): an unset parameter before a set
	// one, and a null google.protobuf.Value, are sent as <nil/>. Default false: such a call
	// fails with INVALID_ARGUMENT, as many servers refuse <nil/>. Replies may hold <nil/>
	// either way.
	Nil bool `yaml:"nil"`
	// I8 sends every 64-bit integer field as <i8>, whatever its value. Default false: <int>
	// when the value fits 32 bits, <i8> only when it does not (many servers refuse <i8>).
	I8 bool `yaml:"i8"`
}

// Adapter calls the XML-RPC methods of one backend.
type Adapter struct {
	backend   adapters.Backend
	transport *adapters.Transport
	redact    *adapters.Redactor
	faults    adapters.FaultRules
	settings  Settings
	loc       *time.Location
	skipped   func(path string) // lenient: records a skipped member; nil: strict
}

var (
	_ io.Closer        = (*Adapter)(nil)
	_ adapters.Adapter = (*Adapter)(nil)
)

// New returns an adapter for a backend; a nil client gets the pooled default (see
// adapters.NewTransport). Its settings, fault rules and credentials are checked here.
func New(b adapters.Backend, client *http.Client) (*Adapter, error) {
	b = b.WithDefaults()
	var s Settings
	if err := b.DecodeSettings(&s); err != nil {
		return nil, err
	}
	loc := time.UTC
	if s.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(s.Timezone); err != nil {
			return nil, fmt.Errorf("backend %q: xmlrpc: timezone %q is not an IANA time zone name (such as UTC or Europe/Berlin)", b.Name, s.Timezone)
		}
	}
	faults, err := b.FaultRules()
	if err != nil {
		return nil, err
	}
	t := adapters.NewTransport(b, client)
	if err := t.Err(); err != nil {
		return nil, err
	}
	a := &Adapter{backend: b, transport: t, redact: t.Redactor(), faults: faults, settings: s, loc: loc}
	if b.Lenient {
		a.skipped = adapters.NewSkipLog(b.Name, nil).Skipped
	}
	return a, nil
}

// Close lets go of the adapter's idle connections, and of the others as their calls end.
func (a *Adapter) Close() error { return a.transport.Close() }

// method is a bound XML-RPC method.
type method struct {
	name        string
	path        string
	asStruct    bool
	resultField protoreflect.FieldDescriptor
	codec       codec
	faults      adapters.FaultRules
	newOut      func() proto.Message
}

// Bind implements adapters.Adapter.
func (a *Adapter) Bind(md protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (adapters.Unary, error) {
	call := binding.GetXmlrpc()
	if call == nil {
		return nil, fmt.Errorf("backend %q is of kind xmlrpc but the binding has no xmlrpc call", a.backend.Name)
	}
	if md.IsStreamingClient() || md.IsStreamingServer() {
		return nil, errors.New("the method streams; an XML-RPC method returns one value")
	}
	if strings.TrimSpace(call.GetMethod()) == "" {
		return nil, errors.New("the xmlrpc binding needs method, the methodName to call")
	}
	if _, err := appendText(nil, call.GetMethod()); err != nil {
		return nil, fmt.Errorf("the xmlrpc binding's method %q: %w", call.GetMethod(), err)
	}
	faults, err := adapters.CompileBindingFaultRules(md, binding.GetFaults())
	if err != nil {
		return nil, err
	}
	if len(faults.DetailTypes()) > 0 {
		return nil, errors.New("a fault rule names a detail_type, but an XML-RPC fault has no detail element to decode; match fault_detail on the fault's extra members instead")
	}
	m := &method{
		name:     call.GetMethod(),
		path:     call.GetPath(),
		asStruct: call.GetRequestAsStruct(),
		faults:   faults,
		codec: codec{
			jsonNames: call.GetJsonNames(), enumsAsInt: call.GetEnumsAsInt(),
			nilExt: a.settings.Nil, alwaysI8: a.settings.I8, loc: a.loc, skipped: a.skipped,
		},
	}
	if rf := call.GetResultField(); rf != "" {
		if m.resultField = md.Output().Fields().ByName(protoreflect.Name(rf)); m.resultField == nil {
			return nil, fmt.Errorf("the xmlrpc binding's result_field %q is not a field of %s", rf, md.Output().FullName())
		}
	}
	for _, msg := range []protoreflect.MessageDescriptor{md.Input(), md.Output()} {
		if err := m.codec.check(msg, map[protoreflect.FullName]bool{}); err != nil {
			return nil, err
		}
	}
	mt := adapters.MessageType(md.Output())
	m.newOut = func() proto.Message { return mt.New().Interface() }
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		resp := m.newOut()
		if err := a.call(ctx, m, req, resp); err != nil {
			return nil, err
		}
		return resp, nil
	}, nil
}

// check refuses, at bind time, message types XML-RPC cannot carry and two fields of one
// message with the same member name.
func (c *codec) check(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) error {
	if seen[md.FullName()] {
		return nil
	}
	seen[md.FullName()] = true
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue":
		return nil
	case "google.protobuf.Duration", "google.protobuf.Any", "google.protobuf.FieldMask":
		return fmt.Errorf("%s has no XML-RPC form; use a string or a number field", md.FullName())
	}
	if isWrapper(md) {
		return nil
	}
	names := map[string]protoreflect.Name{}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := c.memberName(fd)
		if other, dup := names[name]; dup {
			return fmt.Errorf("fields %s and %s of %s have the same XML-RPC member name %q", other, fd.Name(), md.FullName(), name)
		}
		names[name] = fd.Name()
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if sub := fd.Message(); sub != nil {
			if err := c.check(sub, seen); err != nil {
				return fmt.Errorf("field %s: %w", fields.Get(i).FullName(), err)
			}
		}
	}
	return nil
}

// call sends one methodCall and decodes its reply into resp.
func (a *Adapter) call(ctx context.Context, m *method, req, resp proto.Message) error {
	name := a.backend.Name
	body, err := m.codec.appendCall(make([]byte, 0, 512), m.name, req.ProtoReflect(), m.asStruct)
	if err != nil {
		return adapters.Errorf(name, adapters.ReasonRequestNotEncodable, map[string]string{adapters.MetaRequestSent: "false"},
			"the request cannot be sent to backend %s as XML-RPC: %v", name, err)
	}
	header := http.Header{"Content-Type": {"text/xml; charset=utf-8"}, "Accept": {"text/xml, application/xml"}}
	reply, err := a.transport.Do(ctx, &adapters.Request{Method: http.MethodPost, URL: m.path, Header: header, Body: body})
	if err != nil {
		return err
	}
	return a.decodeReply(m, reply, resp.ProtoReflect())
}

// xmlContentType reports whether a reply's Content-Type says XML (text/xml, application/xml,
// any +xml type) or says nothing.
func xmlContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml")
}

// decodeReply judges a reply: a fault wins whatever the HTTP status; otherwise a non-2xx
// status is judged as for every HTTP kind; otherwise the body must be an XML methodResponse
// whose value fits the response message.
func (a *Adapter) decodeReply(m *method, reply *adapters.Reply, out protoreflect.Message) error {
	name := a.backend.Name
	httpStatus := fmt.Sprint(reply.StatusCode)
	md := map[string]string{"http_status": httpStatus}
	ct := reply.Header.Get("Content-Type")
	ok2xx := reply.StatusCode >= 200 && reply.StatusCode < 300
	judge := adapters.HTTPStatus{Backend: name, Redactor: a.redact, Lacking: "an XML-RPC fault"}
	if !xmlContentType(ct) || adapters.LooksLikeHTML(reply) {
		if !ok2xx {
			return judge.Err(reply)
		}
		md["content_type"] = ct
		what := fmt.Sprintf("Content-Type %q", ct)
		switch {
		case adapters.LooksLikeHTML(reply):
			what = "an HTML page (as proxies and servers send for errors)"
		case looksLikeJSON(reply.Body):
			what = fmt.Sprintf("JSON (Content-Type %q)", ct)
		}
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s answered with %s, not an XML-RPC methodResponse", name, what)
	}
	body, cerr := xmlcodec.ToUTF8(reply.Body, ct)
	if cerr != nil {
		if !ok2xx {
			return judge.Err(reply)
		}
		md["content_type"] = ct
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent a reply the bridge cannot read: %v", name, cerr)
	}
	r, err := parseResponse(body, xmlcodec.DefaultLimits)
	if err == nil && r.fault != nil {
		return a.fault(m, r.fault, md)
	}
	if !ok2xx {
		return judge.Err(reply)
	}
	var pe *protocolError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a methodResponse that breaks XML-RPC: %s", name, a.redact.Replace(pe.msg))
	case errors.Is(err, xmlcodec.ErrLimit):
		return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply beyond the bridge's decoding limits: %v", name, err)
	case errors.Is(err, errNotXMLRPC) && looksLikeJSON(body):
		md["content_type"] = ct
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s answered with JSON (Content-Type %q), not an XML-RPC methodResponse", name, ct)
	case errors.Is(err, errNotXMLRPC):
		md["content_type"] = ct
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s did not answer with an XML-RPC methodResponse: %s", name, a.redact.Replace(strings.TrimPrefix(err.Error(), errNotXMLRPC.Error()+": ")))
	default:
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent malformed XML: %v", name, err)
	}
	if err := m.codec.decodeResult(r.result, out, m.resultField); err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			md["path"] = de.path
		}
		return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply that does not fit %s: %s", name, out.Descriptor().FullName(), a.redact.Replace(err.Error()))
	}
	return nil
}

func looksLikeJSON(body []byte) bool {
	s := strings.TrimSpace(string(body[:min(len(body), 64)]))
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}
