// Package soap carries out methods bound to SOAP 1.1 and 1.2 operations of every WSDL style:
// document/literal wrapped and bare, rpc/literal, rpc/encoded, and bodies of several parts
// without a wrapper element (see agentbridge.v1.SoapOperation and docs/xml-mapping.md, "SOAP
// styles"). The binding comes from the method's agentbridge.v1.binding option; the request
// message becomes the body element's content (or the Body's children) and the reply's body
// becomes the response, by descriptor through xmlcodec; fields marked as header blocks travel
// in soap:Header. Faults, HTTP errors and transport failures become statuses through the
// adapters' mapping table and the binding's fault rules, which may attach the fault's detail
// as a typed status detail (FaultRule.detail_type).
package soap

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Kind is the backend kind this package registers.
const Kind = "soap"

func init() {
	adapters.Register(Kind, func(b adapters.Backend) (adapters.Adapter, error) {
		a := New(b, nil)
		if a.faultsErr != nil {
			return nil, a.faultsErr
		}
		return a, nil
	})
}

// Adapter calls the SOAP operations of one backend.
type Adapter struct {
	backend   adapters.Backend
	transport *adapters.Transport
	redact    *adapters.Redactor   // hides the endpoint and the credentials in backend text
	wss       *adapters.WSSecurity // the WS-Security UsernameToken to send, if any
	faults    adapters.FaultRules  // the backend's fault rules, from the config
	faultsErr error                // why the fault rules do not compile or the credentials cannot be read; Bind reports it
	skipped   func(path string)    // for a lenient backend: records a skipped reply element; nil: strict
	ignored   func(path string)    // records reply content no output holds (a one-way operation's), for every backend
}

var (
	_ io.Closer             = (*Adapter)(nil)
	_ adapters.Adapter      = (*Adapter)(nil)
	_ adapters.StreamBinder = (*Adapter)(nil)
)

// New returns an adapter for a backend. A nil client gets a pooled default (see
// adapters.NewTransport). The backend's fault rules are compiled here, once; when they do not
// compile, every Bind fails with the reason (adapters.New reports it at once).
func New(b adapters.Backend, client *http.Client) *Adapter {
	b = b.WithDefaults()
	faults, err := b.FaultRules()
	t := adapters.NewTransport(b, client)
	if cerr := t.Err(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	a := &Adapter{backend: b, transport: t, redact: t.Redactor(), wss: t.Credentials().WSSecurity(), faults: faults, faultsErr: err}
	skips := adapters.NewSkipLog(b.Name, nil)
	a.ignored = skips.Skipped
	if b.Lenient {
		a.skipped = skips.Skipped
	}
	return a
}

// Close lets go of the adapter's idle connections, and of the others as their calls end.
func (a *Adapter) Close() error { return a.transport.Close() }

// header returns the SOAP header content of one request: a fresh wsse:Security element when
// the backend's auth has ws_security, else nothing.
func (a *Adapter) header() ([]byte, error) {
	if a.wss == nil {
		return nil, nil
	}
	h, err := securityHeader(a.wss)
	if err != nil {
		return nil, adapters.Errorf(a.backend.Name, adapters.ReasonBackendAuth, map[string]string{adapters.MetaRequestSent: "false"}, "backend %s: no random nonce for the WS-Security header", a.backend.Name)
	}
	return h, nil
}

// Operation is a planned SOAP operation: names, version and the XML plans of its messages.
type Operation struct {
	version  Version
	action   string
	header   http.Header   // version.Header(action), made once: the transport only reads it
	request  xmlcodec.Name // empty Local: the request's fields are the children of soap:Body
	response xmlcodec.Name // empty Local: the children of soap:Body are the response's fields
	item     xmlcodec.Name // for streaming operations: the response's child holding each message
	encoded  bool          // use ENCODED: SOAP encoding (rpc/encoded)
	oneWay   bool          // a one-way operation: success is any 2xx, with an empty body or Body
	ignored  func(string)  // records what a one-way reply carries anyway (counted and logged once per path)
	in, out  *xmlcodec.Plan
	// envelopeSize is the length of the last request envelope written, to size the next.
	envelopeSize atomic.Int64
	newOut       func() proto.Message
	faults       adapters.FaultRules // the method's fault rules, from its binding; tried before the backend's
}

// NewOperation plans an operation for a request and response message type. An operation whose
// SoapOperation names a stream_item is performed with Stream, others with Call.
//
// Every WSDL style maps to one SoapOperation (see its comment in options.proto): a request or
// response without a name has its message's fields as the children of soap:Body, so that
// message can have no attribute or text fields; use ENCODED writes and reads SOAP encoding;
// header fields of the request and response messages are SOAP header blocks. A streaming
// operation needs a response name, literal use and a response without header fields: its
// items are read one by one from the response element.
func NewOperation(op *agentbridgev1.SoapOperation, in, out protoreflect.MessageDescriptor) (*Operation, error) {
	for _, n := range []struct {
		what string
		name *agentbridgev1.XmlName
	}{{"request", op.GetRequest()}, {"response", op.GetResponse()}} {
		if n.name.GetName() == "" && n.name.GetNamespace() != "" {
			return nil, fmt.Errorf("the soap binding's %s has a namespace but no name; give the element's name, or neither for a body without a wrapper element", n.what)
		}
	}
	inPlan, err := xmlcodec.For(in)
	if err != nil {
		return nil, err
	}
	outPlan, err := xmlcodec.For(out)
	if err != nil {
		return nil, err
	}
	if op.GetRequest().GetName() == "" {
		if err := inPlan.ChildrenOnly(); err != nil {
			return nil, fmt.Errorf("the soap binding's request has no name, so the fields of %s are the children of soap:Body: %w", in.FullName(), err)
		}
	}
	if op.GetResponse().GetName() == "" {
		if err := outPlan.ChildrenOnly(); err != nil {
			return nil, fmt.Errorf("the soap binding's response has no name, so the children of soap:Body are the fields of %s: %w", out.FullName(), err)
		}
	}
	encoded := op.GetUse() == agentbridgev1.SoapUse_SOAP_USE_ENCODED
	if op.GetOneWay() {
		switch {
		case op.GetStreamItem().GetName() != "":
			return nil, errors.New("a one-way soap binding cannot stream: the backend answers nothing")
		case op.GetResponse().GetName() != "":
			return nil, errors.New("a one-way soap binding has no response element; leave response unset")
		case out.Fields().Len() > 0:
			return nil, fmt.Errorf("a one-way soap binding answers nothing, but its response %s has fields", out.FullName())
		}
	}
	if op.GetStreamItem().GetName() != "" {
		switch {
		case op.GetResponse().GetName() == "":
			return nil, errors.New("a streaming soap binding needs response.name, the element whose stream_item children are streamed")
		case encoded:
			return nil, errors.New("a streaming soap binding cannot have use ENCODED: encoded replies are read whole to resolve their references")
		case outPlan.HasHeaders():
			return nil, fmt.Errorf("%s has header fields, but it is the item of a streaming method; header blocks come once per reply", out.FullName())
		}
	}
	mt := adapters.MessageType(out)
	return &Operation{
		version:  versionOf(op.GetVersion()),
		action:   op.GetAction(),
		header:   versionOf(op.GetVersion()).Header(op.GetAction()),
		request:  xmlcodec.Name{Space: op.GetRequest().GetNamespace(), Local: op.GetRequest().GetName()},
		response: xmlcodec.Name{Space: op.GetResponse().GetNamespace(), Local: op.GetResponse().GetName()},
		item:     xmlcodec.Name{Space: op.GetStreamItem().GetNamespace(), Local: op.GetStreamItem().GetName()},
		encoded:  encoded,
		oneWay:   op.GetOneWay(),
		in:       inPlan,
		out:      outPlan,
		newOut:   func() proto.Message { return mt.New().Interface() },
	}, nil
}

// encoding is the SOAP encoding of the operation's version.
func (op *Operation) encoding() xmlcodec.SOAPEncoding {
	if op.version == V12 {
		return xmlcodec.SOAPEncoding{Envelope: NamespaceSOAP12, Namespace: xmlcodec.SOAP12Encoding}
	}
	return xmlcodec.SOAPEncoding{Envelope: NamespaceSOAP11, Namespace: xmlcodec.SOAP11Encoding}
}

// responseName is how messages name the reply's element: the response's, or soap:Body.
func (op *Operation) responseName() string {
	if op.response.Local == "" {
		return "Body"
	}
	return op.response.Local
}

// Bind implements adapters.Adapter.
func (a *Adapter) Bind(method protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (adapters.Unary, error) {
	if binding.GetSoap() == nil {
		return nil, fmt.Errorf("backend %q is of kind soap but the binding has no soap operation", a.backend.Name)
	}
	if method.IsStreamingClient() || method.IsStreamingServer() {
		return nil, errors.New("the method streams; server-streaming methods are bound with BindStream (adapters.BindService does so)")
	}
	if binding.GetSoap().GetStreamItem().GetName() != "" {
		return nil, errors.New("the soap binding names a stream_item, which only server-streaming methods use")
	}
	op, err := a.bindOperation(binding, method)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		resp := op.newOut()
		if err := a.Call(ctx, op, req, resp); err != nil {
			return nil, err
		}
		return resp, nil
	}, nil
}

// bindOperation plans the binding's operation with the method's fault rules, after checking
// the backend's rules compiled.
func (a *Adapter) bindOperation(binding *agentbridgev1.Binding, method protoreflect.MethodDescriptor) (*Operation, error) {
	if a.faultsErr != nil {
		return nil, a.faultsErr
	}
	faults, err := adapters.CompileBindingFaultRules(method, binding.GetFaults())
	if err != nil {
		return nil, err
	}
	for _, t := range faults.DetailTypes() {
		if _, err := xmlcodec.For(t); err != nil {
			return nil, fmt.Errorf("a fault rule's detail_type %s cannot be decoded from XML: %w", t.FullName(), err)
		}
	}
	op, err := NewOperation(binding.GetSoap(), method.Input(), method.Output())
	if err != nil {
		return nil, err
	}
	op.faults = faults
	op.ignored = a.ignored
	return op, nil
}

// Call performs op with req and decodes the reply into resp. Go implementations of methods use
// it to get the same transport, bounds and error mapping as declarative bindings.
func (a *Adapter) Call(ctx context.Context, op *Operation, req, resp proto.Message) error {
	name := a.backend.Name
	body, err := a.envelope(op, req)
	if err != nil {
		return err
	}
	reply, err := a.transport.Post(ctx, op.header, body)
	if err != nil {
		return err
	}
	return op.decodeReply(name, a.redact, a.faults, a.wss != nil, a.skipped, reply, resp)
}

// envelope writes the request envelope of op for req, with the backend's SOAP header; a value
// the envelope cannot carry is REQUEST_NOT_ENCODABLE.
func (a *Adapter) envelope(op *Operation, req proto.Message) ([]byte, error) {
	header, err := a.header()
	if err != nil {
		return nil, err
	}
	// The envelope is made the size of the operation's last one and an eighth: a call that
	// sends a few hundred bytes does not take a kilobyte, and one that sends more does not
	// grow its buffer step by step.
	size := int(op.envelopeSize.Load())
	if size == 0 {
		size = 1024
	}
	body, err := appendEnvelope(make([]byte, 0, size+size/8), op, header, req)
	if err != nil {
		name := a.backend.Name
		return nil, adapters.Errorf(name, adapters.ReasonRequestNotEncodable, nil, "the request cannot be sent to backend %s: %v", name, err)
	}
	op.envelopeSize.Store(int64(len(body)))
	return body, nil
}

// decodeReply reads a reply (see openReply) and decodes its response element (or its Body's
// children, or its encoded content) into resp, and its header blocks into resp's header
// fields. wss says the bridge sent a WS-Security header (see readHeaders). skipped, when not
// nil, makes decoding lenient (see Backend.Lenient) and is called with each skipped path.
func (op *Operation) decodeReply(backend string, redact *adapters.Redactor, faults adapters.FaultRules, wss bool, skipped func(string), reply *adapters.Reply, resp proto.Message) error {
	if op.oneWay && reply.StatusCode >= 200 && reply.StatusCode < 300 && len(bytes.TrimSpace(reply.Body)) == 0 {
		// WS-I Basic Profile: a one-way operation's success is HTTP 202 (some servers send
		// 200) with no envelope. An envelope, a fault included, is read as any reply.
		return nil
	}
	reply, attachments, unnamed, err := splitRelated(backend, reply)
	if err != nil {
		return err
	}
	// A body the bridge cannot read as UTF-8 is still classified by its HTTP status first (an
	// HTML error page in Latin-1 is the status's outcome); only where the status says success
	// does the charset explain the failure.
	body, cerr := xmlcodec.ToUTF8(reply.Body, reply.Header.Get("Content-Type"))
	if cerr != nil {
		body = reply.Body
	}
	charsetErr := func(md map[string]string) error {
		md["content_type"] = reply.Header.Get("Content-Type")
		return adapters.Errorf(backend, adapters.ReasonBackendBadReply, md, "backend %s sent a reply the bridge cannot read: %v", backend, cerr)
	}
	var headers *xmlcodec.Headers
	if op.out.HasHeaders() {
		var hopts xmlcodec.DecodeOptions
		if skipped != nil {
			hopts.Skipped = func(path string) { skipped("Header/" + path) }
		}
		headers = op.out.HeadersWith(resp, hopts)
	}
	sc := xmlcodec.NewScanner(body)
	defer sc.Release() // resp and the errors hold copies: strings and cloned bytes
	ob, md, err := op.openReply(backend, redact, faults, skipped, reply.StatusCode, reply.Header, sc, readHeaders(headers, wss))
	if err != nil {
		if cerr != nil && reply.StatusCode >= 200 && reply.StatusCode < 300 {
			return charsetErr(md)
		}
		return err
	}
	if op.oneWay {
		// A one-way operation has no output message: a backend that answers with an envelope
		// anyway (node-soap answers as for another operation) sends nothing the contract can
		// hold. The call succeeded; what came with it is counted and logged, not dropped
		// unseen. A fault was judged above.
		if op.ignored != nil && ob.first.Name.Local != "" {
			op.ignored("Body/" + ob.first.Name.Local + " (in the reply to a one-way operation)")
		}
		return nil
	}
	opts := op.decodeOptions(skipped)
	var used map[string]bool // the attachments a field took, for a multipart reply
	if attachments != nil {
		used = map[string]bool{}
		opts.Attachments = func(ref string) ([]byte, bool) {
			data, ok := attachments[ref]
			used[ref] = ok
			return data, ok
		}
	}
	switch {
	case op.encoded:
		err = op.decodeEncoded(ob, resp, 8*len(body)+1<<20, opts)
	case op.response.Local == "":
		err = op.out.DecodeWith(replay(ob), ob.body, resp, opts)
	default:
		err = op.out.DecodeWith(ob.d, ob.first, resp, opts)
	}
	if err == nil && op.ignored != nil {
		// Parts no field holds have nowhere to go: counted and logged, not dropped unseen.
		for ref := range attachments {
			if !used[ref] {
				op.ignored("attachment " + ref + " (no bytes field refers to it)")
			}
		}
		if unnamed > 0 {
			op.ignored("attachment part without a Content-ID")
		}
	}
	if err == nil && headers != nil {
		if err = headers.Done(); err != nil {
			return doesNotFit(backend, redact, md, "Header", err, resp.ProtoReflect().Descriptor().FullName(), "")
		}
	}
	if err != nil && cerr != nil {
		return charsetErr(md)
	}
	if err != nil {
		var re *referenceError
		if errors.As(err, &re) {
			return adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s sent an encoded reply that cannot be read: %s", backend, redactWith(redact, re.Error()))
		}
		// A reply that is cut off or not well-formed XML is a bad reply (usually transient: a
		// proxy or a crashed worker), not a disagreement between backend and proto. Checking
		// only on failure keeps the successful path to one pass.
		if werr := checkWellFormed(body); werr != nil && !errors.Is(err, xmlcodec.ErrLimit) {
			return adapters.Errorf(backend, adapters.ReasonBackendBadReply, md, "backend %s sent malformed XML: %v", backend, werr)
		}
		return doesNotFit(backend, redact, md, op.responseName(), err, resp.ProtoReflect().Descriptor().FullName(), "")
	}
	return nil
}

// decodeOptions are the options of decoding a reply of op: strict when skipped is nil, else
// lenient, with each skipped element's path given from the response element (or Body) down.
func (op *Operation) decodeOptions(skipped func(string)) xmlcodec.DecodeOptions {
	if skipped == nil {
		return xmlcodec.DecodeOptions{}
	}
	where := op.responseName()
	return xmlcodec.DecodeOptions{Skipped: func(path string) { skipped(where + "/" + path) }}
}

// readHeaders returns the headerFunc of a reply: the response's header fields, when it has
// any, read their blocks; with wss, the WS-Security Security block counts as read (skipped):
// the bridge takes part in WS-Security, whose replies mark it mustUnderstand.
func readHeaders(headers *xmlcodec.Headers, wss bool) headerFunc {
	if headers == nil && !wss {
		return nil
	}
	return func(d xmlcodec.Tokens, start xml.StartElement) (bool, error) {
		if headers != nil {
			if read, err := headers.Decode(d, start); read || err != nil {
				return read, err
			}
		}
		if wss && start.Name.Local == "Security" && start.Name.Space == NamespaceWSSE {
			return true, xmlcodec.Skip(d)
		}
		return false, nil
	}
}

// replay returns a token source that reads a reply's Body content again from its start: the
// first element's start tag that openBody has already read, then the rest. Decoding a response
// without a name reads it from the Body's start tag, which it takes as read.
func replay(ob openedBody) xmlcodec.Tokens {
	r := &replayReader{d: ob.d}
	if ob.first.Name.Local != "" {
		r.pending = []xml.Token{ob.first}
	} else { // an empty Body, whose end tag openBody has read
		r.pending, r.d = []xml.Token{xml.EndElement{Name: ob.body.Name}}, nil
	}
	return r
}

// replayReader gives pending tokens, then the rest of d's.
type replayReader struct {
	d       xmlcodec.Tokens
	pending []xml.Token
}

func (r *replayReader) Token() (xml.Token, error) {
	if len(r.pending) > 0 {
		t := r.pending[0]
		r.pending = r.pending[1:]
		return t, nil
	}
	if r.d == nil {
		return nil, io.EOF
	}
	return r.d.Token()
}

// openReply reads a reply up to the start of its body's content: a fault wins whatever the
// HTTP status (servers send faults with 200, 400 and 500); otherwise an error status or a body
// that is not an envelope is classified by status; otherwise, for a literal response with a
// name, the body element must be the operation's response. It returns the opened body (its
// decoder positioned after the first body element's start tag) and the metadata every outcome
// of the reply carries. Header blocks go to headers (see openBody). Backend text that
// reaches the status passes through redact (see adapters.NewRedactor). A fault is mapped by
// the operation's fault rules, then faults (the backend's), then the adapters' table.
func (op *Operation) openReply(backend string, redact *adapters.Redactor, faults adapters.FaultRules, skipped func(string), statusCode int, header http.Header, body xmlcodec.Tokens, headers headerFunc) (openedBody, map[string]string, error) {
	httpStatus := strconv.Itoa(statusCode)
	md := map[string]string{"http_status": httpStatus}
	fail := func(err error) (openedBody, map[string]string, error) {
		return openedBody{}, md, err
	}
	ob, err := openBody(body, headers)
	start := ob.first
	if err == nil && start.Name.Local == "Fault" && (start.Name.Space == NamespaceSOAP11 || start.Name.Space == NamespaceSOAP12) {
		f, ferr := readFault(ob.d, start)
		if ferr != nil {
			return fail(adapters.Errorf(backend, adapters.ReasonBackendBadReply, md, "backend %s sent a malformed SOAP fault (HTTP %s)", backend, httpStatus))
		}
		f.redact(redact)
		return fail(f.mapped(backend, httpStatus, redact, op.faults, faults))
	}
	if statusCode < 200 || statusCode >= 300 {
		// No fault: the HTTP status says what happened, judged as for every HTTP kind.
		return fail(adapters.HTTPStatus{Backend: backend, Redactor: redact, Lacking: "a SOAP fault"}.Err(&adapters.Reply{StatusCode: statusCode, Header: header}))
	}
	switch {
	case err == nil:
	case errors.Is(err, errNotEnvelope):
		ct := header.Get("Content-Type")
		md["content_type"] = ct
		why := ""
		if errors.Is(err, errDoctype) {
			why = "; it starts with a document type declaration, as HTML pages do"
		}
		return fail(adapters.Errorf(backend, adapters.ReasonBackendBadReply, md, "backend %s did not answer with a SOAP envelope (Content-Type %q%s)", backend, ct, why))
	case isDecodeError(err) && !errors.Is(err, xmlcodec.ErrMalformed):
		// A header block that does not fit its field.
		return fail(doesNotFit(backend, redact, md, "Header", err, op.out.Descriptor().FullName(), ""))
	case errors.Is(err, errEmptyBody) && op.response.Local == "" && ob.body.Name.Local != "":
		// No part at all: the response's fields are all absent, which decoding judges.
	case errors.Is(err, errEmptyBody):
		// A well-formed envelope without the expected element: the backend and the proto
		// disagree, as with a wrong element.
		if op.response.Local == "" { // no Body at all
			md["element"] = "Body"
			return fail(adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s answered with an envelope without a Body", backend))
		}
		md["element"] = op.response.Local
		return fail(adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s answered with an empty SOAP Body, expected element %s", backend, op.response.Local))
	case err != nil:
		return fail(adapters.Errorf(backend, adapters.ReasonBackendBadReply, md, "backend %s sent a malformed envelope: %v", backend, err))
	}
	if ob.headerErr != nil {
		return fail(adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s: %s", backend, redactWith(redact, ob.headerErr.Error())))
	}
	if op.response.Local != "" && !op.encoded && start.Name.Local != op.response.Local {
		return fail(adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s answered with element %s, expected %s", backend, start.Name.Local, op.response.Local))
	}
	if op.response.Space != "" && !op.encoded && start.Name.Space != "" && start.Name.Space != op.response.Space {
		// The same local name in another namespace is another element: a backend that answers
		// so is lenient's to accept. An unqualified element passes, as unqualified children do
		// (backends that leave out the namespace their WSDL gives are common, and the name
		// still says which element it is); a namespace of its own is a different claim.
		if skipped == nil {
			md["element"] = op.response.Local
			return fail(adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s answered with element %s in namespace %q, expected namespace %q; set lenient: true on the backend if it is known to qualify its reply so",
				backend, start.Name.Local, start.Name.Space, op.response.Space))
		}
		skipped(fmt.Sprintf("%s (namespace %q, expected %q)", op.response.Local, start.Name.Space, op.response.Space))
	}
	return ob, md, nil
}

// isDecodeError reports whether err is an *xmlcodec.DecodeError. It is a function of its own
// so that the successful path does not allocate the target errors.As needs.
func isDecodeError(err error) bool {
	var de *xmlcodec.DecodeError
	return errors.As(err, &de)
}

// doesNotFit is the outcome of a well-formed reply whose element at path where (extended by
// the decode error's own path) does not fit the message type desc. note, if not empty, ends
// the message.
func doesNotFit(backend string, redact *adapters.Redactor, md map[string]string, where string, err error, desc protoreflect.FullName, note string) error {
	path, cause := where, err
	var de *xmlcodec.DecodeError
	if errors.As(err, &de) {
		if de.Path != "" {
			path += "/" + de.Path
		}
		cause = de.Err
	}
	md["element"] = path
	return adapters.Errorf(backend, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply that does not fit %s: element %s: %s%s",
		backend, desc, path, redactWith(redact, cause.Error()), note)
}

func redactWith(r *adapters.Redactor, s string) string { return r.Replace(s) }
