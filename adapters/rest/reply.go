package rest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/clbanning/mxj/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// replyPlan is how a method's reply is read.
type replyPlan struct {
	format    agentbridgev1.RestReplyFormat
	bodyField protoreflect.FieldDescriptor // response_body; nil: the body is the response
	paths     []pathField                  // reply_paths; when set, the body is read by them only
	headers   []param                      // reply_headers, fields of the response
	// filled are the top-level response fields the bridge fills itself (the next page token,
	// reply headers, reply paths): a reply member of the same name is not theirs.
	filled map[protoreflect.FieldNumber]bool
	// consumed are the top-level members of a JSON reply the bridge reads itself (a next
	// cursor or link), which no field needs to name.
	consumed map[string]bool
	xmlPlan  *xmlcodec.Plan // the plan of the message the XML root element holds
	out      protoreflect.MessageDescriptor

	errPath string                       // error_message_path
	bodyErr *agentbridgev1.RestBodyError // an error in a 2xx body
}

// pathField is one reply_paths entry: the response field (through nested messages) and where
// its value is.
type pathField struct {
	fields []protoreflect.FieldDescriptor
	name   string
	path   string
}

func newReplyPlan(call *agentbridgev1.RestCall, out protoreflect.MessageDescriptor, page *pager) (replyPlan, error) {
	rp := replyPlan{format: call.GetReplyFormat(), out: out, filled: map[protoreflect.FieldNumber]bool{}, errPath: call.GetErrorMessagePath(), bodyErr: call.GetBodyError()}
	var errs []error
	if page != nil {
		rp.filled[page.next.Number()] = true
		if page.nextPath != "" {
			first, _, _ := strings.Cut(page.nextPath, ".")
			first, _, _ = strings.Cut(first, "[")
			rp.consumed = map[string]bool{first: true}
		}
	}
	for i, p := range call.GetReplyHeaders() {
		fd := out.Fields().ByName(protoreflect.Name(p.GetField()))
		if fd == nil || fd.Message() != nil || fd.IsMap() {
			errs = append(errs, fmt.Errorf("rest: reply_headers[%d]: %s has no scalar field %q", i, out.FullName(), p.GetField()))
			continue
		}
		name := p.GetName()
		if name == "" {
			name = string(fd.Name())
		}
		rp.headers = append(rp.headers, param{fd: fd, name: name})
		rp.filled[fd.Number()] = true
	}
	for i, p := range call.GetReplyPaths() {
		pf, err := resolvePathField(out, p.GetField())
		if err != nil {
			errs = append(errs, fmt.Errorf("rest: reply_paths[%d]: %w", i, err))
			continue
		}
		if p.GetPath() == "" {
			errs = append(errs, fmt.Errorf("rest: reply_paths[%d]: path is required", i))
		}
		pf.path = p.GetPath()
		rp.paths = append(rp.paths, pf)
		rp.filled[pf.fields[0].Number()] = true
	}
	if b := call.GetResponseBody(); b != "" {
		fd := out.Fields().ByName(protoreflect.Name(b))
		switch {
		case fd == nil:
			errs = append(errs, fmt.Errorf("rest: response_body %q: %s has no such field", b, out.FullName()))
		case len(rp.paths) > 0:
			errs = append(errs, errors.New("rest: response_body and reply_paths exclude each other: paths read the whole reply"))
		case rp.filled[fd.Number()]:
			errs = append(errs, fmt.Errorf("rest: response_body %q is a field the bridge fills itself (a reply header or page token)", b))
		default:
			rp.bodyField = fd
		}
	}
	if err := checkBodyError(rp.bodyErr); err != nil {
		errs = append(errs, fmt.Errorf("rest: body_error: %w", err))
	}
	if rp.format != agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_JSON && rp.format != agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_NONE && len(rp.paths) == 0 {
		md := out
		if rp.bodyField != nil {
			md = rp.bodyField.Message()
			if md == nil || rp.bodyField.IsList() || rp.bodyField.IsMap() {
				md = nil
				if rp.format == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_XML {
					errs = append(errs, fmt.Errorf("rest: response_body %q: an XML reply's root element decodes into a singular message field", rp.bodyField.Name()))
				}
			}
		}
		if md != nil {
			p, err := xmlcodec.For(md)
			if err != nil && rp.format == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_XML {
				errs = append(errs, fmt.Errorf("rest: the XML reply: %w", err))
			}
			rp.xmlPlan = p
		}
	}
	return rp, errors.Join(errs...)
}

func checkBodyError(e *agentbridgev1.RestBodyError) error {
	if e == nil {
		return nil
	}
	if e.GetPath() == "" {
		return errors.New("path is required: where the error marker is")
	}
	return nil
}

// resolvePathField finds a dotted field name in md: singular messages on the way, then a
// scalar, enum or repeated scalar field.
func resolvePathField(md protoreflect.MessageDescriptor, name string) (pathField, error) {
	pf := pathField{name: name}
	cur := md
	parts := strings.Split(name, ".")
	for i, part := range parts {
		if cur == nil {
			return pf, fmt.Errorf("field %q: %s is not a message field", name, parts[i-1])
		}
		fd := cur.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return pf, fmt.Errorf("field %q: %s has no field %q", name, cur.FullName(), part)
		}
		if i < len(parts)-1 && (fd.IsList() || fd.IsMap()) {
			return pf, fmt.Errorf("field %q: %s is repeated; a path reaches through singular messages", name, part)
		}
		pf.fields = append(pf.fields, fd)
		cur = fd.Message()
	}
	if last := pf.fields[len(pf.fields)-1]; last.Message() != nil || last.IsMap() {
		return pf, fmt.Errorf("field %q is a message or map; a path fills scalar fields (or repeated scalars)", name)
	}
	return pf, nil
}

// reply reads a backend's reply into m: the HTTP status, an error in a 2xx body, the body by
// descriptor or by paths, reply headers and the next page token.
func (op *operation) readReply(a *Adapter, r *request, reply *adapters.Reply, m protoreflect.Message) error {
	name := a.backend.Name
	rp := &op.reply
	md := map[string]string{"http_status": strconv.Itoa(reply.StatusCode)}
	if reply.StatusCode < 200 || reply.StatusCode > 299 {
		detail := ""
		path := rp.errPath
		if path == "" && rp.bodyErr != nil {
			path = rp.bodyErr.GetMessagePath()
		}
		if path != "" && !adapters.LooksLikeHTML(reply) {
			if doc, _, err := docOf(reply, agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_UNSPECIFIED); err == nil {
				detail = textAt(doc, path)
			}
		}
		return adapters.HTTPStatus{Backend: name, Redactor: a.redact, Resource: true, Detail: a.hide(detail)}.Err(reply)
	}
	format := rp.format
	if format == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_NONE {
		return op.finish(a, r, reply, nil, m)
	}
	if len(bytes.TrimSpace(reply.Body)) == 0 {
		if rp.bodyErr == nil && len(rp.paths) == 0 && !op.needsBody() {
			return op.finish(a, r, reply, nil, m)
		}
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent an empty reply where a body was expected (HTTP %d)", name, reply.StatusCode)
	}
	if adapters.LooksLikeHTML(reply) {
		md["content_type"] = reply.Header.Get("Content-Type")
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent an HTML page where %s was expected (HTTP %d), as proxies and servers send for errors", name, expected(format), reply.StatusCode)
	}
	doc, isXML, err := docOf(reply, format)
	if err != nil {
		md["content_type"] = reply.Header.Get("Content-Type")
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent a reply the bridge cannot read: %v", name, err)
	}
	if rp.bodyErr != nil {
		if err := op.bodyError(a, doc, md); err != nil {
			return err
		}
	}
	if len(rp.paths) > 0 {
		if err := rp.fillPaths(doc.m, m); err != nil {
			return op.doesNotFit(a, md, err)
		}
		return op.finish(a, r, reply, doc, m)
	}
	if isXML {
		err = rp.decodeXML(a.skipped, doc.body, m)
	} else {
		err = rp.decodeJSON(a.skipped, doc.json, m)
	}
	if err != nil {
		return op.doesNotFit(a, md, err)
	}
	return op.finish(a, r, reply, doc, m)
}

// needsBody reports whether the response has fields only a body fills.
func (op *operation) needsBody() bool {
	fields := op.out.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !op.reply.filled[fd.Number()] && !fd.HasPresence() && !fd.IsList() && !fd.IsMap() {
			return true
		}
	}
	return false
}

func expected(f agentbridgev1.RestReplyFormat) string {
	if f == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_XML {
		return "XML"
	}
	if f == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_JSON {
		return "JSON"
	}
	return "JSON or XML"
}

// doesNotFit is the status of a reply that does not fit the response message.
func (op *operation) doesNotFit(a *Adapter, md map[string]string, err error) error {
	name := a.backend.Name
	var fe *fitError
	if errors.As(err, &fe) && fe.path != "" {
		md["path"] = fe.path
	}
	return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply that does not fit %s: %s", name, op.out.FullName(), a.hide(err.Error()))
}

// finish fills what the bridge takes from outside the body's mapping: reply headers and the
// next page token.
func (op *operation) finish(a *Adapter, r *request, reply *adapters.Reply, doc *document, m protoreflect.Message) error {
	for _, h := range op.reply.headers {
		v := reply.Header.Get(h.name)
		if v == "" {
			continue
		}
		val, err := scalarValue(h.fd, v)
		if err != nil {
			return op.doesNotFit(a, map[string]string{"http_status": strconv.Itoa(reply.StatusCode)}, &fitError{"header " + h.name, err.Error()})
		}
		setScalar(m, h.fd, val)
	}
	if op.page != nil {
		return op.page.setNext(a, op, r, reply, doc, m)
	}
	return nil
}

// document is a parsed reply body: as JSON (json), and as the map mxj paths read (m).
type document struct {
	body []byte // UTF-8
	json any
	m    mxj.Map
	xml  bool
}

// maxXMLDepth bounds the nesting of an XML reply read as a map.
const maxXMLDepth = 256

// docOf parses a reply body as the format says, or as its Content-Type says (XML for */xml
// and +xml, else JSON). A body in the other format than expected, cut off or not well formed
// is an error.
func docOf(reply *adapters.Reply, format agentbridgev1.RestReplyFormat) (*document, bool, error) {
	ct := strings.ToLower(reply.Header.Get("Content-Type"))
	isXML := format == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_XML
	if format == agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_UNSPECIFIED {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.TrimSpace(mt)
		isXML = strings.HasSuffix(mt, "/xml") || strings.HasSuffix(mt, "+xml")
	}
	body := reply.Body
	head := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if isXML {
		if len(head) > 0 && (head[0] == '{' || head[0] == '[') {
			return nil, true, errors.New("it sent JSON where XML was expected")
		}
		utf8, err := xmlcodec.ToUTF8(body, reply.Header.Get("Content-Type"))
		if err != nil {
			return nil, true, err
		}
		if err := checkXML(utf8); err != nil {
			return nil, true, err
		}
		m, err := mxj.NewMapXml(utf8)
		if err != nil {
			return nil, true, fmt.Errorf("malformed XML: %w", err)
		}
		return &document{body: utf8, m: m, xml: true}, true, nil
	}
	if len(head) > 0 && head[0] == '<' {
		return nil, false, errors.New("it sent XML or HTML where JSON was expected")
	}
	var v any
	if err := unmarshalJSON(body, &v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, false, errors.New("the JSON is cut off (a partial reply)")
		}
		return nil, false, fmt.Errorf("malformed JSON: %w", err)
	}
	doc := &document{body: body, json: v}
	switch x := v.(type) {
	case map[string]any:
		doc.m = x
	default:
		// mxj reads a top-level array as the member "object", as its NewMapJson does.
		doc.m = mxj.Map{"object": x}
	}
	return doc, false, nil
}

// checkXML reads an XML document through the hardened decoder once: well formed, one root
// element, no DOCTYPE, nesting within bounds. mxj then reads it into a map.
func checkXML(body []byte) error {
	d := xmlcodec.NewDecoder(bytes.NewReader(body))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
				return errors.New("the XML is cut off (a partial reply)")
			}
			return fmt.Errorf("malformed XML: %w", err)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			if depth > maxXMLDepth {
				return fmt.Errorf("the XML nests deeper than %d elements", maxXMLDepth)
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return errors.New("malformed XML: document type declarations are not allowed")
		}
	}
	if depth != 0 {
		return errors.New("the XML is cut off (a partial reply)")
	}
	if roots != 1 {
		return errors.New("malformed XML: not one root element")
	}
	return nil
}

// textAt is the text at an mxj path, or "".
func textAt(doc *document, path string) string {
	vals, _ := doc.m.ValuesForPath(path) // an error only for a malformed path: nothing there
	if len(vals) == 0 || vals[0] == nil {
		return ""
	}
	return valueText(vals[0])
}

// valueText writes a value read from a document as text: strings as they are, numbers as
// written, an element with attributes by its text content.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case map[string]any:
		if t, ok := x["#text"]; ok {
			return valueText(t)
		}
		b, _ := json.Marshal(x)
		return string(b)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// bodyError reports the error a backend put in a 2xx reply, through the fault rules.
func (op *operation) bodyError(a *Adapter, doc *document, md map[string]string) error {
	be := op.reply.bodyErr
	vals, _ := doc.m.ValuesForPath(be.GetPath()) // an error only for a malformed path: no marker
	if len(vals) == 0 || vals[0] == nil {
		return nil
	}
	marker := valueText(vals[0])
	if be.GetValue() != "" && marker != be.GetValue() {
		return nil
	}
	code := marker
	if be.GetCodePath() != "" {
		code = textAt(doc, be.GetCodePath())
	}
	text := ""
	if be.GetMessagePath() != "" {
		text = a.hide(textAt(doc, be.GetMessagePath()))
	}
	return a.fault(op, code, text, md)
}

// fault renders an error the backend reported in its body: by the first matching rule (the
// method's, then the backend's), else as BACKEND_FAULT. Its code is in fault_code metadata, so
// the guard treats it as the backend's answer, not a failure to retry.
func (a *Adapter) fault(op *operation, code, text string, md map[string]string) error {
	name := a.backend.Name
	text = adapters.Sanitize(a.redact.Replace(text), 1024)
	md["fault_code"] = code
	md["fault_string"] = text
	o := adapters.Outcome{Reason: adapters.ReasonBackendFault, Backend: name, Metadata: md}
	if text == "" {
		text = "no message given"
	}
	view := adapters.FaultView{Code: code, String: text}
	o.Message = fmt.Sprintf("backend %s reported an error (%s): %s", name, code, text)
	return adapters.FaultStatus(o, &view, text, a.redact, op.faults, a.faults)
}

// decodeJSON reads a JSON reply into m by descriptor (see jsonFit).
func (rp *replyPlan) decodeJSON(skipped func(string), v any, m protoreflect.Message) error {
	fit := &jsonFit{skipped: skipped}
	if obj, ok := v.(map[string]any); ok && len(rp.consumed) > 0 {
		// A shallow copy without what pagination reads, which stays in the document.
		rest := make(map[string]any, len(obj))
		for k, val := range obj {
			if !rp.consumed[k] {
				rest[k] = val
			}
		}
		v = rest
	}
	filled := rp.filled
	if rp.bodyField != nil {
		// The body is the value of one field: checked as the response message holding only it.
		filled = map[protoreflect.FieldNumber]bool{}
		fields := rp.out.Fields()
		for i := range fields.Len() {
			if fd := fields.Get(i); fd != rp.bodyField {
				filled[fd.Number()] = true
			}
		}
		v = map[string]any{rp.bodyField.JSONName(): v}
	}
	if err := fit.message(rp.out, v, "", filled); err != nil {
		return err
	}
	return fillJSON(v, m)
}

// decodeXML reads an XML reply's root element into m (or into its response_body field) by
// descriptor, with xmlcodec.
func (rp *replyPlan) decodeXML(skipped func(string), body []byte, m protoreflect.Message) error {
	if rp.xmlPlan == nil {
		return fmt.Errorf("%s cannot be read from XML", rp.out.FullName())
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("no root element: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		target := m
		if rp.bodyField != nil {
			target = m.Mutable(rp.bodyField).Message()
		}
		var opts xmlcodec.DecodeOptions
		if skipped != nil {
			opts.Skipped = func(p string) { skipped(start.Name.Local + "/" + p) }
		}
		if err := rp.xmlPlan.DecodeWith(d, start, target.Interface(), opts); err != nil {
			var de *xmlcodec.DecodeError
			if errors.As(err, &de) {
				return &fitError{start.Name.Local + "/" + de.Path, de.Err.Error()}
			}
			return err
		}
		return nil
	}
}

// fillPaths sets each reply_paths field from the value at its path. A path that finds nothing
// leaves a field with presence unset; for a field without presence it is an error, as a zero
// would say the backend sent one.
func (rp *replyPlan) fillPaths(doc mxj.Map, m protoreflect.Message) error {
	for _, pf := range rp.paths {
		vals, err := doc.ValuesForPath(pf.path)
		if err != nil {
			return &fitError{pf.path, err.Error()}
		}
		last := pf.fields[len(pf.fields)-1]
		// Flatten: a path that ends on a list gives its items.
		var flat []any
		for _, v := range vals {
			if l, ok := v.([]any); ok {
				flat = append(flat, l...)
			} else {
				flat = append(flat, v)
			}
		}
		if len(flat) == 0 {
			if last.HasPresence() || last.IsList() {
				continue
			}
			return &fitError{pf.path, fmt.Sprintf("finds nothing in the reply, and field %s has no presence to say so; make it optional if the backend may leave it out", pf.name)}
		}
		if !last.IsList() && len(flat) > 1 {
			return &fitError{pf.path, fmt.Sprintf("finds %d values for the single field %s", len(flat), pf.name)}
		}
		target := m
		for _, fd := range pf.fields[:len(pf.fields)-1] {
			target = target.Mutable(fd).Message()
		}
		for _, v := range flat {
			if v == nil {
				if last.HasPresence() {
					continue
				}
				return &fitError{pf.path, fmt.Sprintf("is null, which field %s (without presence) cannot hold", pf.name)}
			}
			if _, isMap := v.(map[string]any); isMap {
				if _, hasText := v.(map[string]any)["#text"]; !hasText {
					return &fitError{pf.path, fmt.Sprintf("finds an object or element, not a value for field %s", pf.name)}
				}
			}
			val, err := scalarValue(last, valueText(v))
			if err != nil {
				return &fitError{pf.path, fmt.Sprintf("field %s: %v", pf.name, err)}
			}
			if last.IsList() {
				target.Mutable(last).List().Append(val)
			} else {
				setScalar(target, last, val)
			}
		}
	}
	return nil
}

func setScalar(m protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	if fd.IsList() {
		m.Mutable(fd).List().Append(v)
		return
	}
	m.Set(fd, v)
}

// scalarValue parses text as a value of a scalar or enum field.
func scalarValue(fd protoreflect.FieldDescriptor, text string) (protoreflect.Value, error) {
	t := strings.TrimSpace(text)
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(text), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(text)), nil
	case protoreflect.BoolKind:
		if t == "" {
			// A present flag with no value: an empty attribute (MediaWiki's missing="") or an
			// empty element says yes; absence says nothing.
			return protoreflect.ValueOfBool(true), nil
		}
		b, err := strconv.ParseBool(t)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not true or false", t)
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(t)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		if n, err := strconv.ParseInt(t, 10, 32); err == nil {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%q is not a value of enum %s", t, fd.Enum().FullName())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if fd.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		f, err := strconv.ParseFloat(t, bits)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a number", t)
		}
		if bits == 32 {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := parseInt(t, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := parseInt(t, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(t, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a whole number in range", t)
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a whole number in range", t)
		}
		return protoreflect.ValueOfUint64(n), nil
	}
	return protoreflect.Value{}, fmt.Errorf("field kind %s is not a scalar", fd.Kind())
}

// parseInt reads a whole number; a JSON number written as 3.0 or 1e3 is accepted when whole.
func parseInt(t string, bits int) (int64, error) {
	if n, err := strconv.ParseInt(t, 10, bits); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f != math.Trunc(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%q is not a whole number", t)
	}
	if bits == 32 && (f > math.MaxInt32 || f < math.MinInt32) {
		return 0, fmt.Errorf("%s is out of range for a 32-bit field", t)
	}
	return int64(f), nil
}
