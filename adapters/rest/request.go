package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// operation is a planned RestCall: where each request field travels, how the body is written
// and how the reply is read. Built once per method, when it is bound.
type operation struct {
	call     *agentbridgev1.RestCall
	method   string
	template *adapters.PathTemplate
	in, out  protoreflect.MessageDescriptor

	query  []param // fields sent as query parameters
	header []param // fields sent as headers
	// body: nil for none; bodyField is set when one field is the body, else the message less
	// the fields sent elsewhere is.
	body      bool
	bodyField protoreflect.FieldDescriptor
	elsewhere map[protoreflect.FieldNumber]bool // fields the path, query or headers take
	format    agentbridgev1.RestBodyFormat
	xmlPlan   *xmlcodec.Plan
	xmlRoot   xmlcodec.Name

	reply replyPlan
	page  *pager
	// faults are the method's fault rules, tried before the backend's.
	faults adapters.FaultRules
}

// param is a scalar or repeated scalar field sent by name in the query or a header.
type param struct {
	fd   protoreflect.FieldDescriptor
	name string
}

func newOperation(call *agentbridgev1.RestCall, in, out protoreflect.MessageDescriptor) (*operation, error) {
	op := &operation{call: call, in: in, out: out, format: call.GetBodyFormat(), elsewhere: map[protoreflect.FieldNumber]bool{}}
	op.method = strings.ToUpper(call.GetMethod())
	switch op.method {
	case "":
		op.method = http.MethodGet
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		return nil, fmt.Errorf("rest: method %q is not an HTTP verb the kind sends (GET, POST, PUT, PATCH, DELETE, HEAD)", call.GetMethod())
	}
	if call.GetPath() == "" {
		return nil, errors.New("rest: path is required (\"/\" for the endpoint itself)")
	}
	t, err := adapters.CompileTemplate(call.GetPath(), in)
	if err != nil {
		return nil, fmt.Errorf("rest: %w", err)
	}
	op.template = t
	for n := range t.Fields {
		op.elsewhere[n] = true
	}
	var errs []error
	if op.page, err = newPager(call.GetPagination(), call, in, out); err != nil {
		errs = append(errs, err)
	}
	if op.page != nil {
		op.elsewhere[op.page.token.Number()] = true
		if op.page.size != nil {
			op.elsewhere[op.page.size.Number()] = true
		}
	}
	params := func(list []*agentbridgev1.RestParam, what string) []param {
		var out []param
		for i, p := range list {
			fd := in.Fields().ByName(protoreflect.Name(p.GetField()))
			switch {
			case fd == nil:
				errs = append(errs, fmt.Errorf("rest: %s[%d]: %s has no field %q", what, i, in.FullName(), p.GetField()))
				continue
			case fd.Message() != nil || fd.IsMap():
				errs = append(errs, fmt.Errorf("rest: %s[%d]: field %s is a message or map; a %s carries scalars", what, i, fd.Name(), strings.TrimSuffix(what, "_params")))
				continue
			}
			name := p.GetName()
			if name == "" {
				name = string(fd.Name())
			}
			op.elsewhere[fd.Number()] = true
			out = append(out, param{fd: fd, name: name})
		}
		return out
	}
	op.query = params(call.GetQueryParams(), "query_params")
	op.header = params(call.GetHeaderParams(), "header_params")

	body := call.GetBody()
	if body == "" {
		body = "-"
		if op.method == http.MethodPost || op.method == http.MethodPut || op.method == http.MethodPatch {
			body = "*"
		}
	}
	switch body {
	case "-":
	case "*":
		op.body = true
	default:
		fd := in.Fields().ByName(protoreflect.Name(body))
		if fd == nil {
			errs = append(errs, fmt.Errorf("rest: body %q: %s has no such field (give \"*\", a field's proto name or \"-\")", body, in.FullName()))
			break
		}
		if op.elsewhere[fd.Number()] {
			errs = append(errs, fmt.Errorf("rest: body %q: the field is already sent in the path, the query or a header", body))
		}
		op.body, op.bodyField = true, fd
		op.elsewhere[fd.Number()] = true
	}
	if !op.body && op.format != agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_UNSPECIFIED {
		errs = append(errs, fmt.Errorf("rest: body_format %s is set but the call sends no body (body %q)", op.format, body))
	}
	if op.body && op.bodyField == nil {
		// The fields left go in the body; the rest of the query is what the path, query_params and
		// headers take.
		errs = append(errs, op.checkBodyFields()...)
	}
	if !op.body {
		// Every field the path and headers do not take goes in the query, by its proto name.
		fields := in.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if op.elsewhere[fd.Number()] {
				continue
			}
			if fd.Message() != nil || fd.IsMap() {
				errs = append(errs, fmt.Errorf("rest: field %s is a message or map, which a query cannot carry; send it in a body or leave it out of the request message", fd.Name()))
				continue
			}
			op.query = append(op.query, param{fd: fd, name: string(fd.Name())})
		}
	}
	if op.format == agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_XML {
		md := in
		if op.bodyField != nil {
			if md = op.bodyField.Message(); md == nil || op.bodyField.IsList() || op.bodyField.IsMap() {
				errs = append(errs, fmt.Errorf("rest: body %q: an XML body is a message; the field is not a singular message field", body))
			}
		}
		if op.bodyField == nil && len(op.elsewhere) > 0 {
			errs = append(errs, errors.New(`rest: an XML body of body "*" would carry the fields the path, query or headers take too (XML writes every field); put the document in one message field and name it in body`))
		}
		if md != nil {
			if op.xmlPlan, err = xmlcodec.For(md); err != nil {
				errs = append(errs, fmt.Errorf("rest: the XML body: %w", err))
			}
			op.xmlRoot = xmlcodec.Name{Space: call.GetXmlNamespace(), Local: call.GetXmlRoot()}
			if op.xmlRoot.Local == "" {
				op.xmlRoot.Local = string(md.Name())
			}
		}
	} else if call.GetXmlRoot() != "" || call.GetXmlNamespace() != "" {
		errs = append(errs, errors.New("rest: xml_root and xml_namespace are for body_format XML"))
	}
	rp, err := newReplyPlan(call, out, op.page)
	if err != nil {
		errs = append(errs, err)
	}
	op.reply = rp
	return op, errors.Join(errs...)
}

// checkBodyFields checks that form and multipart bodies hold only scalars.
func (op *operation) checkBodyFields() []error {
	if op.format != agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_FORM && op.format != agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_MULTIPART {
		return nil
	}
	var errs []error
	fields := op.in.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !op.elsewhere[fd.Number()] && (fd.Message() != nil || fd.IsMap()) {
			errs = append(errs, fmt.Errorf("rest: field %s is a message or map, which a %s body cannot carry", fd.Name(), op.format))
		}
	}
	return errs
}

// request is one call's HTTP request, and what the reply needs to know of it.
type request struct {
	http *adapters.Request
	// page is the page this call asks for (PAGE: its number; OFFSET: its offset), for making
	// the next token.
	page int64
	size int64
}

// request builds the HTTP request for m.
func (op *operation) request(a *Adapter, m protoreflect.Message) (*request, error) {
	backend := a.backend.Name
	path, err := op.template.Expand(m)
	if err != nil {
		return nil, invalid(backend, "the call to backend %s cannot be made: %v", backend, err)
	}
	r := &request{http: &adapters.Request{Method: op.method, Header: http.Header{}}}
	q := url.Values{}
	for _, p := range op.query {
		addValues(q, p.name, p.fd, m)
	}
	for _, p := range op.header {
		vs := url.Values{}
		addValues(vs, p.name, p.fd, m)
		for _, v := range vs[p.name] {
			if strings.ContainsAny(v, "\r\n") {
				return nil, invalid(backend, "field %s cannot be sent to backend %s as header %s: it holds a line break", p.fd.Name(), backend, p.name)
			}
			r.http.Header.Add(p.name, v)
		}
	}
	link := ""
	if op.page != nil {
		if link, err = op.page.apply(a, m, q, r); err != nil {
			return nil, err
		}
	}
	switch {
	case link != "":
		// A next page's URL as the backend gave it: it holds the whole query.
		r.http.URL = link
	case len(q) == 0:
		r.http.URL = path
	case strings.Contains(path, "?"):
		r.http.URL = path + "&" + q.Encode()
	default:
		r.http.URL = path + "?" + q.Encode()
	}
	if op.body {
		body, ctype, err := op.encodeBody(m)
		if err != nil {
			return nil, invalid(backend, "the request cannot be sent to backend %s: %v", backend, err)
		}
		r.http.Body = body
		r.http.Header.Set("Content-Type", ctype)
	}
	if r.http.Header.Get("Accept") == "" {
		switch op.reply.format {
		case agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_JSON:
			r.http.Header.Set("Accept", "application/json")
		case agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_XML:
			r.http.Header.Set("Accept", "application/xml, text/xml")
		}
	}
	return r, nil
}

// addValues adds a scalar field's value, or each value of a repeated one, to vs. A field
// without presence holding its zero value is not sent: an empty filter would mean "only the
// empty ones" to most backends. A field with presence is sent when set.
func addValues(vs url.Values, name string, fd protoreflect.FieldDescriptor, m protoreflect.Message) {
	if fd.IsList() {
		l := m.Get(fd).List()
		for i := range l.Len() {
			vs.Add(name, adapters.ScalarText(fd, l.Get(i)))
		}
		return
	}
	if !m.Has(fd) {
		return
	}
	vs.Add(name, adapters.ScalarText(fd, m.Get(fd)))
}

// encodeBody writes the request body and returns its content type.
func (op *operation) encodeBody(m protoreflect.Message) ([]byte, string, error) {
	if op.bodyField != nil && op.format != agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_XML {
		return op.encodeField(m)
	}
	// The message less the fields sent elsewhere.
	var msg protoreflect.Message
	if op.bodyField != nil {
		msg = m.Get(op.bodyField).Message()
	} else {
		msg = proto.Clone(m.Interface()).ProtoReflect()
		for n := range op.elsewhere {
			if fd := op.in.Fields().ByNumber(n); fd != nil {
				msg.Clear(fd)
			}
		}
	}
	switch op.format {
	case agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_FORM:
		vs := url.Values{}
		eachField(msg, func(fd protoreflect.FieldDescriptor) { addValues(vs, string(fd.Name()), fd, msg) })
		return []byte(vs.Encode()), "application/x-www-form-urlencoded", nil
	case agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_MULTIPART:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		var err error
		eachField(msg, func(fd protoreflect.FieldDescriptor) {
			if err != nil {
				return
			}
			err = writePart(w, fd, msg)
		})
		if err == nil {
			err = w.Close()
		}
		return buf.Bytes(), w.FormDataContentType(), err
	case agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_XML:
		out, err := op.xmlPlan.AppendElement([]byte(xmlHeader), op.xmlRoot, msg.Interface())
		return out, "application/xml; charset=utf-8", err
	default:
		out, err := op.jsonOptions().Marshal(msg.Interface())
		return compact(out), "application/json", err
	}
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// jsonOptions write a JSON body with protojson's names. A PUT replaces the resource, so its
// body carries the fields' default values too; POST and PATCH send what is set.
func (op *operation) jsonOptions() protojson.MarshalOptions {
	return protojson.MarshalOptions{EmitDefaultValues: op.method == http.MethodPut}
}

// encodeField writes one field as the body: a message as a JSON object, a repeated field as a
// JSON array, a scalar as its JSON value; bytes as they are (application/octet-stream).
func (op *operation) encodeField(m protoreflect.Message) ([]byte, string, error) {
	fd := op.bodyField
	switch {
	case fd.Kind() == protoreflect.BytesKind && !fd.IsList():
		return m.Get(fd).Bytes(), "application/octet-stream", nil
	case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
		if op.format == agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_FORM || op.format == agentbridgev1.RestBodyFormat_REST_BODY_FORMAT_MULTIPART {
			return nil, "", fmt.Errorf("body field %s: a form body from one field is not supported; use body \"*\"", fd.Name())
		}
		out, err := op.jsonOptions().Marshal(m.Get(fd).Message().Interface())
		return compact(out), "application/json", err
	}
	// A repeated or scalar field: marshal the message holding only it and take its value.
	one := m.Type().New()
	if m.Has(fd) {
		one.Set(fd, m.Get(fd))
	}
	out, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(one.Interface())
	if err != nil {
		return nil, "", err
	}
	var wrapped map[string]jsonRaw
	if err := unmarshalJSON(out, &wrapped); err != nil {
		return nil, "", err
	}
	return wrapped[fd.JSONName()], "application/json", nil
}

// eachField calls f with each field of m's message in declaration order.
func eachField(m protoreflect.Message, f func(protoreflect.FieldDescriptor)) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f(fields.Get(i))
	}
}

// writePart writes a field as form-data parts: a bytes field as a file part named after the
// field, other scalars as plain values, a repeated field once per value.
func writePart(w *multipart.Writer, fd protoreflect.FieldDescriptor, m protoreflect.Message) error {
	if fd.Kind() == protoreflect.BytesKind {
		var values [][]byte
		if fd.IsList() {
			l := m.Get(fd).List()
			for i := range l.Len() {
				values = append(values, l.Get(i).Bytes())
			}
		} else if m.Has(fd) {
			values = append(values, m.Get(fd).Bytes())
		}
		for _, v := range values {
			pw, err := w.CreateFormFile(string(fd.Name()), string(fd.Name()))
			if err != nil {
				return err
			}
			if _, err := pw.Write(v); err != nil {
				return err
			}
		}
		return nil
	}
	vs := url.Values{}
	addValues(vs, string(fd.Name()), fd, m)
	for _, v := range vs[string(fd.Name())] {
		if err := w.WriteField(string(fd.Name()), v); err != nil {
			return err
		}
	}
	return nil
}

// compact drops the white space protojson puts in at random, so a backend (and its logs) sees
// the same bytes for the same request.
func compact(data []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return data
	}
	return b.Bytes()
}
