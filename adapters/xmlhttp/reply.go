package xmlhttp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/clbanning/mxj/v2"
	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/pathmap"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// replyContext is what reading a reply needs of its adapter.
type replyContext struct {
	backend string
	redact  *adapters.Redactor
	faults  adapters.FaultRules // the backend's, tried after the binding's
	skipped func(string)        // a lenient backend's skip log; nil: strict
}

// errorDocument is a compiled XmlHttpErrorDocument.
type errorDocument struct {
	root, path, codePath, messagePath string
	value                             *string
}

func compileErrorDocument(e *agentbridgev1.XmlHttpErrorDocument) (*errorDocument, error) {
	if e == nil {
		return nil, nil
	}
	if e.GetRoot() == "" && e.GetPath() == "" {
		return nil, errors.New("the xml_http binding's error_document needs root, path or both")
	}
	if e.Value != nil && e.GetPath() == "" {
		return nil, errors.New("the xml_http binding's error_document has a value but no path to compare it with")
	}
	ed := &errorDocument{root: e.GetRoot(), path: e.GetPath(), codePath: e.GetCodePath(), messagePath: e.GetMessagePath()}
	if e.Value != nil {
		v := strings.TrimSpace(e.GetValue())
		ed.value = &v
	}
	return ed, nil
}

// decodeReply judges a reply and decodes a successful one into resp.
func (op *Operation) decodeReply(rc replyContext, reply *adapters.Reply, resp proto.Message) error {
	name := rc.backend
	md := map[string]string{"http_status": strconv.Itoa(reply.StatusCode)}
	ct := reply.Header.Get("Content-Type")
	if reply.StatusCode < 200 || reply.StatusCode >= 300 {
		return adapters.HTTPStatus{Backend: name, Redactor: rc.redact, Resource: op.resource, Detail: op.errorMessage(reply)}.Err(reply)
	}
	if len(bytes.TrimSpace(reply.Body)) == 0 {
		md["content_type"] = ct
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s answered HTTP %d with an empty body where an XML document was expected", name, reply.StatusCode)
	}
	if err := checkXMLType(reply); err != nil {
		md["content_type"] = ct
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s %v", name, err)
	}
	body, err := xmlcodec.ToUTF8(reply.Body, ct)
	if err != nil {
		md["content_type"] = ct
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent a reply the bridge cannot read: %v", name, err)
	}
	malformed := func(err error) error {
		return adapters.Errorf(name, adapters.ReasonBackendBadReply, md, "backend %s sent malformed XML: %v", name, rc.redact.Replace(describeMalformed(err)))
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(body))
	root, err := xmlcodec.OpenRoot(d)
	if err != nil {
		return malformed(err)
	}
	var (
		doc     mxj.Map
		details []adapters.DetailElement
	)
	readDoc := func() error {
		if doc != nil {
			return nil
		}
		var err error
		if doc, details, err = readTree(d, root); err != nil {
			if errors.Is(err, xmlcodec.ErrLimit) {
				md["element"] = root.Name.Local
				return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply the bridge does not read: %v", name, err)
			}
			return malformed(err)
		}
		return nil
	}
	if ed := op.errDoc; ed != nil && (ed.root == "" || ed.root == root.Name.Local) {
		if err := readDoc(); err != nil {
			return err
		}
		if ed.matches(doc) {
			return op.fault(rc, md, root, doc, details)
		}
	}
	if op.response.Local != "" {
		if root.Name.Local != op.response.Local {
			md["element"] = root.Name.Local
			return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s answered with root element %s, expected %s", name, root.Name.Local, op.response.Local)
		}
		if op.response.Space != "" && root.Name.Space != "" && root.Name.Space != op.response.Space {
			if rc.skipped == nil {
				md["element"] = root.Name.Local
				return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s answered with root element %s in namespace %q, expected namespace %q; set lenient: true on the backend if it is known to qualify its reply so",
					name, root.Name.Local, root.Name.Space, op.response.Space)
			}
			rc.skipped(fmt.Sprintf("%s (namespace %q, expected %q)", root.Name.Local, root.Name.Space, op.response.Space))
		}
	}
	if op.paths != nil {
		if err := readDoc(); err != nil {
			return err
		}
		if err := op.paths.Decode(doc, resp.ProtoReflect()); err != nil {
			var pe *pathmap.Error
			if errors.As(err, &pe) {
				md["field"], md["path"] = pe.Field, pe.Path
			}
			return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply that does not fit %s: %s", name, resp.ProtoReflect().Descriptor().FullName(), rc.redact.Replace(err.Error()))
		}
		return nil
	}
	if doc != nil { // read for the error document's check: decode from the start again
		d = xmlcodec.NewDecoder(bytes.NewReader(body))
		if root, err = xmlcodec.OpenRoot(d); err != nil {
			return malformed(err)
		}
	}
	var opts xmlcodec.DecodeOptions
	if rc.skipped != nil {
		where := root.Name.Local
		opts.Skipped = func(path string) { rc.skipped(where + "/" + path) }
	}
	if err := op.out.DecodeWith(d, root, resp, opts); err != nil {
		if errors.Is(err, xmlcodec.ErrMalformed) {
			return malformed(err)
		}
		if !errors.Is(err, xmlcodec.ErrLimit) {
			if werr := wellFormed(body); werr != nil {
				// Cut off or broken further on: the transfer's fault, not a disagreement.
				return malformed(werr)
			}
		}
		path, cause := root.Name.Local, err
		var de *xmlcodec.DecodeError
		if errors.As(err, &de) {
			if de.Path != "" {
				path += "/" + de.Path
			}
			cause = de.Err
		}
		md["element"] = path
		return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a reply that does not fit %s: element %s: %s",
			name, resp.ProtoReflect().Descriptor().FullName(), path, rc.redact.Replace(cause.Error()))
	}
	return nil
}

// checkXMLType refuses a reply whose Content-Type is not XML's (text/xml, application/xml or a
// +xml type), saying what came instead. A reply without a Content-Type passes when its body
// starts as an XML document does and not as an HTML page.
func checkXMLType(reply *adapters.Reply) error {
	ct := reply.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		if bytes.HasPrefix(reply.Body, []byte{0xFE, 0xFF}) || bytes.HasPrefix(reply.Body, []byte{0xFF, 0xFE}) {
			return nil // UTF-16 with its byte order mark
		}
		head := bytes.TrimLeft(bytes.TrimPrefix(reply.Body, []byte{0xEF, 0xBB, 0xBF}), " \t\r\n")
		if len(head) > 0 && head[0] == '<' && !adapters.LooksLikeHTML(reply) {
			return nil
		}
		return fmt.Errorf("answered without a Content-Type and with a body that is not an XML document (%s)", bodyKind(reply))
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("answered with an unreadable Content-Type %q where an XML document was expected", ct)
	}
	if mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml") && mt != "application/xhtml+xml" {
		return nil
	}
	return fmt.Errorf("answered with Content-Type %q (%s) where an XML document was expected (text/xml, application/xml or a +xml type)", ct, bodyKind(reply))
}

// bodyKind names what a reply body looks like, for messages.
func bodyKind(reply *adapters.Reply) string {
	head := bytes.TrimSpace(reply.Body[:min(len(reply.Body), 256)])
	switch {
	case len(head) == 0:
		return "an empty body"
	case adapters.LooksLikeHTML(reply):
		return "an HTML page"
	case head[0] == '{' || head[0] == '[':
		return "JSON, by the look of it"
	case head[0] == '<':
		return "markup"
	}
	return "text"
}

// describeMalformed says what was wrong with a document that is not well-formed XML, without
// Go's wrapping.
func describeMalformed(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Msg, "unexpected EOF") {
			return fmt.Sprintf("the document ends before it is complete (line %d); it was cut off", se.Line)
		}
		return fmt.Sprintf("line %d: %s", se.Line, se.Msg)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the document ends before it is complete; it was cut off"
	}
	s := err.Error()
	s = strings.TrimPrefix(s, xmlcodec.ErrMalformed.Error()+": ")
	if strings.Contains(s, "unexpected EOF") {
		return "the document ends before it is complete; it was cut off"
	}
	return s
}

// wellFormed reads a whole document and returns its first syntax error, a document type
// declaration anywhere included. It stops, judging nothing, where elements nest deeper than
// any decode reads (encoding/xml keeps every open element).
func wellFormed(body []byte) error {
	d := xmlcodec.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > xmlcodec.MaxDepth {
				return nil
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return errDoctype
		}
	}
}

// errorMessage finds the backend's own message in an error reply's XML body by the binding's
// error_message_path, or "".
func (op *Operation) errorMessage(reply *adapters.Reply) string {
	if op.errMsg == "" || checkXMLType(reply) != nil {
		return ""
	}
	body, err := xmlcodec.ToUTF8(reply.Body, reply.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(body))
	root, err := xmlcodec.OpenRoot(d)
	if err != nil {
		return ""
	}
	doc, _, err := readTree(d, root)
	if err != nil {
		return ""
	}
	return firstText(doc, op.errMsg)
}

// firstText returns the text of the first value at path, or "".
func firstText(doc mxj.Map, path string) string {
	values, err := doc.ValuesForPath(path)
	if err != nil || len(values) == 0 {
		return ""
	}
	switch v := values[0].(type) {
	case string:
		return v
	case map[string]any:
		if s, ok := v["#text"].(string); ok {
			return s
		}
	}
	return ""
}

// matches reports whether doc is an error document: its root was checked by the caller; the
// value at path, when the rule has one, must be there (and equal value, when given).
func (ed *errorDocument) matches(doc mxj.Map) bool {
	if ed.path == "" {
		return true
	}
	values, err := doc.ValuesForPath(ed.path)
	if err != nil || len(values) == 0 {
		return false
	}
	if ed.value == nil {
		return true
	}
	for _, v := range values {
		s := ""
		switch t := v.(type) {
		case string:
			s = t
		case map[string]any:
			s, _ = t["#text"].(string)
		}
		if strings.TrimSpace(s) == *ed.value {
			return true
		}
	}
	return false
}

// fault renders an error document as a status: by the first fault rule that matches it (the
// binding's, then the backend's), else as BACKEND_FAULT. Its ErrorInfo metadata has fault_code,
// which also tells the guard that the backend answered (no retry, no breaker failure).
func (op *Operation) fault(rc replyContext, md map[string]string, root xml.StartElement, doc mxj.Map, details []adapters.DetailElement) error {
	name := rc.backend
	code := root.Name.Local
	if op.errDoc.codePath != "" {
		if c := strings.TrimSpace(firstText(doc, op.errDoc.codePath)); c != "" {
			code = c
		}
	}
	text := ""
	if op.errDoc.messagePath != "" {
		text = strings.TrimSpace(firstText(doc, op.errDoc.messagePath))
	}
	code, text = rc.redact.Replace(code), rc.redact.Replace(text)
	for i := range details {
		details[i].Text = rc.redact.Replace(details[i].Text)
	}
	md["fault_code"], md["fault_string"] = code, text
	if text == "" {
		text = "no message given"
	}
	view := adapters.FaultView{Code: code, String: md["fault_string"], Detail: details}
	o := adapters.Outcome{Reason: adapters.ReasonBackendFault, Backend: name, Metadata: md,
		Message: fmt.Sprintf("backend %s reported an error (%s): %s", name, code, text)}
	return adapters.FaultStatus(o, &view, text, rc.redact, op.faults, rc.faults)
}
