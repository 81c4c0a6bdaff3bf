// Package xmlhttp carries out methods bound to plain XML over HTTP (agentbridge.v1.XmlHttpCall):
// a GET whose reply is an XML document, or a POST or PUT of an XML document built from the
// request message. The request message becomes the content of the request root element by
// descriptor (adapters/xmlcodec); a GET sends the fields the URL template does not use as
// query parameters instead, and no body. The reply's root element is checked and its
// content decoded into the response message by descriptor, strictly as SOAP replies are, or by
// paths (adapters/pathmap) for documents whose shape the message does not mirror.
//
// Replies other than XML (JSON, an HTML page), charsets, documents cut off or over the bound,
// redirects, 429s and other HTTP statuses each become a clear status through the adapters'
// outcome table; an error document a backend sends with a 2xx status becomes a fault, mapped by
// the binding's and the backend's fault rules. docs/xml-over-http.md is the user's guide.
package xmlhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/pathmap"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Kind is the backend kind this package registers.
const Kind = "xmlhttp"

func init() {
	adapters.Register(Kind, func(b adapters.Backend) (adapters.Adapter, error) {
		var s Settings
		if err := b.DecodeSettings(&s); err != nil {
			return nil, err
		}
		a := New(b, s, nil)
		if a.err != nil {
			_ = a.Close()
			return nil, a.err
		}
		return a, nil
	})
}

// Settings is the kind's own section of a backend's config (xmlhttp:).
type Settings struct {
	// ContentType is the Content-Type of request documents. Default
	// "application/xml; charset=utf-8".
	ContentType string `yaml:"content_type"`
	// Accept is the Accept header of every call. Default
	// "application/xml, text/xml;q=0.9, */*;q=0.1".
	Accept string `yaml:"accept"`
}

// Defaults of Settings.
const (
	DefaultContentType = "application/xml; charset=utf-8"
	DefaultAccept      = "application/xml, text/xml;q=0.9, */*;q=0.1"
)

// Adapter calls the XML-over-HTTP operations of one backend.
type Adapter struct {
	backend   adapters.Backend
	settings  Settings
	transport *adapters.Transport
	redact    *adapters.Redactor
	faults    adapters.FaultRules
	err       error             // why the backend cannot be used: its fault rules or credentials
	skipped   func(path string) // a lenient backend's skip log; nil: strict
}

var (
	_ io.Closer        = (*Adapter)(nil)
	_ adapters.Adapter = (*Adapter)(nil)
)

// New returns an adapter for a backend with the kind's settings. A nil client gets a pooled
// default (see adapters.NewTransport). When the backend's fault rules or credentials cannot be
// used, every Bind fails with the reason.
func New(b adapters.Backend, s Settings, client *http.Client) *Adapter {
	b = b.WithDefaults()
	if s.ContentType == "" {
		s.ContentType = DefaultContentType
	}
	if s.Accept == "" {
		s.Accept = DefaultAccept
	}
	faults, err := b.FaultRules()
	t := adapters.NewTransport(b, client)
	err = errors.Join(err, t.Err())
	a := &Adapter{backend: b, settings: s, transport: t, redact: t.Redactor(), faults: faults, err: err}
	if b.Lenient {
		a.skipped = adapters.NewSkipLog(b.Name, nil).Skipped
	}
	return a
}

// Close lets go of the adapter's idle connections, and of the others as their calls end.
func (a *Adapter) Close() error { return a.transport.Close() }

// Operation is a planned XML-over-HTTP call.
type Operation struct {
	method   string
	path     *adapters.PathTemplate
	resource bool
	request  xmlcodec.Name // empty for GET
	response xmlcodec.Name // empty: any root (paths only)
	in, out  *xmlcodec.Plan
	paths    *pathmap.Plan // nil: the reply is decoded by descriptor
	query    []queryField  // GET: the request fields sent as query parameters
	errMsg   string        // path to the backend's message in an error body
	errDoc   *errorDocument
	faults   adapters.FaultRules
	newOut   func() proto.Message
}

// NewOperation plans a call for a request and response message type (see XmlHttpCall).
func NewOperation(call *agentbridgev1.XmlHttpCall, in, out protoreflect.MessageDescriptor) (*Operation, error) {
	op := &Operation{
		request:  xmlcodec.Name{Space: call.GetRequest().GetNamespace(), Local: call.GetRequest().GetName()},
		response: xmlcodec.Name{Space: call.GetResponse().GetNamespace(), Local: call.GetResponse().GetName()},
		errMsg:   call.GetErrorMessagePath(),
	}
	for _, n := range []struct {
		what string
		name xmlcodec.Name
	}{{"request", op.request}, {"response", op.response}} {
		if n.name.Local == "" && n.name.Space != "" {
			return nil, fmt.Errorf("the xml_http binding's %s has a namespace but no name", n.what)
		}
		if strings.ContainsAny(n.name.Local, ": \t\r\n<>&\"'") {
			return nil, fmt.Errorf("the xml_http binding's %s name %q is not an XML local name (give the namespace apart, without a prefix)", n.what, n.name.Local)
		}
	}
	op.method = strings.ToUpper(call.GetMethod())
	if op.method == "" {
		op.method = http.MethodGet
		if op.request.Local != "" {
			op.method = http.MethodPost
		}
	}
	switch op.method {
	case http.MethodGet:
		if op.request.Local != "" {
			return nil, errors.New("the xml_http binding is a GET, which sends no document; leave request unset (the request's fields go in the URL)")
		}
	case http.MethodPost, http.MethodPut:
		if op.request.Local == "" {
			return nil, fmt.Errorf("the xml_http binding is a %s; it needs request.name, the root element of the document it sends", op.method)
		}
	default:
		return nil, fmt.Errorf("the xml_http binding's method %q is not GET, POST or PUT", call.GetMethod())
	}
	tmpl, err := adapters.CompileTemplate(call.GetPath(), in)
	if err != nil {
		return nil, err
	}
	op.path = tmpl
	if call.Resource != nil {
		op.resource = call.GetResource()
	} else {
		before, _, _ := strings.Cut(call.GetPath(), "?")
		op.resource = strings.Contains(before, "{")
	}
	if op.method == http.MethodGet {
		if op.query, err = planQuery(in, tmpl.Fields); err != nil {
			return nil, err
		}
	} else if op.in, err = xmlcodec.For(in); err != nil {
		return nil, err
	}
	if len(call.GetReplyPaths()) > 0 {
		if op.paths, err = pathmap.Compile(call.GetReplyPaths(), out); err != nil {
			return nil, fmt.Errorf("the xml_http binding's %w", err)
		}
	} else {
		if op.response.Local == "" {
			return nil, errors.New("the xml_http binding needs response.name, the root element of the reply, or reply_paths")
		}
		if op.out, err = xmlcodec.For(out); err != nil {
			return nil, err
		}
	}
	if op.errDoc, err = compileErrorDocument(call.GetErrorDocument()); err != nil {
		return nil, err
	}
	mt := adapters.MessageType(out)
	op.newOut = func() proto.Message { return mt.New().Interface() }
	return op, nil
}

// Bind implements adapters.Adapter.
func (a *Adapter) Bind(method protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (adapters.Unary, error) {
	if binding.GetXmlHttp() == nil {
		return nil, fmt.Errorf("backend %q is of kind xmlhttp but the binding has no xml_http call", a.backend.Name)
	}
	if method.IsStreamingClient() || method.IsStreamingServer() {
		return nil, errors.New("the method streams; the xmlhttp kind carries out unary methods only")
	}
	if a.err != nil {
		return nil, a.err
	}
	faults, err := adapters.CompileBindingFaultRules(method, binding.GetFaults())
	if err != nil {
		return nil, err
	}
	if len(faults.DetailTypes()) > 0 {
		return nil, errors.New("a fault rule's detail_type is not supported by the xmlhttp kind; leave it unset (the error document's elements are in fault_detail)")
	}
	op, err := NewOperation(binding.GetXmlHttp(), method.Input(), method.Output())
	if err != nil {
		return nil, err
	}
	op.faults = faults
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		resp := op.newOut()
		if err := a.Call(ctx, op, req, resp); err != nil {
			return nil, err
		}
		return resp, nil
	}, nil
}

// Call performs op with req and decodes the reply into resp. Go implementations of methods use
// it to get the same transport, bounds and error mapping as declarative bindings.
func (a *Adapter) Call(ctx context.Context, op *Operation, req, resp proto.Message) error {
	name := a.backend.Name
	notSent := map[string]string{adapters.MetaRequestSent: "false"}
	m := req.ProtoReflect()
	target, err := op.path.Expand(m)
	if err != nil {
		return adapters.Errorf(name, adapters.ReasonRequestNotEncodable, notSent, "the call to backend %s cannot be made: %v", name, err)
	}
	header := http.Header{"Accept": {a.settings.Accept}}
	r := &adapters.Request{Method: op.method, Header: header}
	if op.method == http.MethodGet {
		q, err := op.queryString(m)
		if err != nil {
			return adapters.Errorf(name, adapters.ReasonRequestNotEncodable, notSent, "the call to backend %s cannot be made: %v", name, err)
		}
		target = joinQuery(target, q)
	} else {
		body, err := op.document(req)
		if err != nil {
			return adapters.Errorf(name, adapters.ReasonRequestNotEncodable, notSent, "the request cannot be sent to backend %s: %v", name, err)
		}
		r.Body = body
		header.Set("Content-Type", a.settings.ContentType)
	}
	r.URL = target
	reply, err := a.transport.Do(ctx, r)
	if err != nil {
		return err
	}
	return op.decodeReply(a.replyContext(), reply, resp)
}

// document writes the request document: the XML declaration and the request root element,
// holding the whole request message, the fields the URL carries too (xmlcodec writes every
// field without presence, so the document has the shape its schema gives whatever the URL).
func (op *Operation) document(req proto.Message) ([]byte, error) {
	dst := append(make([]byte, 0, 512), `<?xml version="1.0" encoding="UTF-8"?>`...)
	return op.in.AppendElement(dst, op.request, req)
}

// joinQuery adds a query string to a URL that may have one already.
func joinQuery(target, q string) string {
	switch {
	case q == "":
		return target
	case strings.Contains(target, "?"):
		if strings.HasSuffix(target, "?") || strings.HasSuffix(target, "&") {
			return target + q
		}
		return target + "&" + q
	}
	return target + "?" + q
}

// replyContext is what reading a reply needs of the adapter.
func (a *Adapter) replyContext() replyContext {
	return replyContext{backend: a.backend.Name, redact: a.redact, faults: a.faults, skipped: a.skipped}
}
