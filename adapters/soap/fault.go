package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// Fault is a SOAP fault of either version, reduced to what agents and operators need.
type Fault struct {
	Code    string // the fault code as sent, such as soap:Client or soap:Receiver
	Subcode string // SOAP 1.2 Subcode/Value, if any
	String  string // faultstring (1.1) or Reason/Text (1.2; the English text when there are several)
	Actor   string // faultactor (1.1) or Role (1.2)
	Detail  string // the detail's content as text: leaf elements as path: value pairs

	details   []adapters.DetailElement // the detail's elements, for fault rules
	detailXML []byte                   // the detail's content as sent, for a rule's detail_type
}

// faultXML reads both versions' shapes; unqualified tags match any namespace, which also copes
// with servers that put 1.2 children into a 1.1 envelope (node-soap does for unknown
// operations).
type faultXML struct {
	FaultCode   string `xml:"faultcode"`
	FaultString string `xml:"faultstring"`
	FaultActor  string `xml:"faultactor"`
	Detail11    inner  `xml:"detail"`
	Code        struct {
		Value   string `xml:"Value"`
		Subcode struct {
			Value string `xml:"Value"`
		} `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text []struct {
			Lang  string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
			Value string `xml:",chardata"`
		} `xml:"Text"`
	} `xml:"Reason"`
	Role     string `xml:"Role"`
	Detail12 inner  `xml:"Detail"`
}

type inner struct {
	XML []byte `xml:",innerxml"`
}

func readFault(d xmlcodec.Tokens, start xml.StartElement) (*Fault, error) {
	xd, ok := d.(*xml.Decoder)
	if !ok {
		// encoding/xml reads the detail as sent (",innerxml") only from bytes of its own: the
		// scanner gives the Fault's content, which encoding/xml then reads; faultXML matches
		// unqualified names, so the Envelope's declarations are not needed.
		sc, ok := d.(*xmlcodec.Scanner)
		if !ok {
			return nil, fmt.Errorf("cannot read a fault from %T", d)
		}
		content, err := sc.InnerXML()
		if err != nil {
			return nil, err
		}
		xd = xmlcodec.NewDecoder(io.MultiReader(strings.NewReader("<Fault>"), bytes.NewReader(content), strings.NewReader("</Fault>")))
		tok, err := xd.Token()
		if err != nil {
			return nil, err
		}
		start = tok.(xml.StartElement)
	}
	var fx faultXML
	if err := xd.DecodeElement(&fx, &start); err != nil {
		return nil, err
	}
	f := &Fault{Code: fx.FaultCode, String: fx.FaultString, Actor: fx.FaultActor}
	f.Detail, f.details = detailText(fx.Detail11.XML)
	f.detailXML = fx.Detail11.XML
	if f.Code == "" {
		f.Code = fx.Code.Value
	}
	f.Subcode = fx.Code.Subcode.Value
	if f.String == "" {
		for i, t := range fx.Reason.Text {
			if i == 0 || strings.HasPrefix(t.Lang, "en") {
				f.String = t.Value
			}
		}
	}
	if f.Actor == "" {
		f.Actor = fx.Role
	}
	if f.Detail == "" {
		f.Detail, f.details = detailText(fx.Detail12.XML)
		f.detailXML = fx.Detail12.XML
	}
	f.Code, f.Subcode, f.String, f.Actor = strings.TrimSpace(f.Code), strings.TrimSpace(f.Subcode), strings.TrimSpace(f.String), strings.TrimSpace(f.Actor)
	return f, nil
}

// redact applies r, which hides the backend's endpoint, to every text of the fault, the detail
// values fault rules compare included.
func (f *Fault) redact(r *adapters.Redactor) {
	f.Code, f.Subcode, f.String = r.Replace(f.Code), r.Replace(f.Subcode), r.Replace(f.String)
	f.Actor, f.Detail = r.Replace(f.Actor), r.Replace(f.Detail)
	if len(f.detailXML) > 0 {
		f.detailXML = []byte(r.Replace(string(f.detailXML)))
	}
	for i := range f.details {
		f.details[i].Text = r.Replace(f.details[i].Text)
	}
}

// Reason classifies the fault by its code's local part (soap:Client.Auth → Client).
func (f *Fault) Reason() adapters.Reason {
	code := f.Code
	if i := strings.LastIndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	code, _, _ = strings.Cut(code, ".")
	switch code {
	case "Client", "Sender":
		return adapters.ReasonSOAPClientFault
	case "Server", "Receiver":
		return adapters.ReasonSOAPServerFault
	case "VersionMismatch":
		return adapters.ReasonSOAPVersionMismatch
	case "MustUnderstand":
		return adapters.ReasonSOAPMustUnderstand
	}
	return adapters.ReasonSOAPFault
}

// Err renders the fault as a status through the adapters' mapping table.
func (f *Fault) Err(backend string, httpStatus string) error {
	return f.err(backend, httpStatus, nil, nil)
}

// mapped renders the fault as a status: by the first of the rule lists' rules that matches it
// (a method's, then its backend's), else by the adapters' table. The fault must have been
// redacted already; redact is applied to a rule's own words (its message and hint), which an
// operator may have written with the endpoint in them.
func (f *Fault) mapped(backend, httpStatus string, redact *adapters.Redactor, rules ...adapters.FaultRules) error {
	view := adapters.FaultView{Code: f.Code, Subcode: f.Subcode, String: f.String, Detail: f.details}
	for _, rs := range rules {
		if m, ok := rs.Match(&view); ok {
			return f.err(backend, httpStatus, &m, redact)
		}
	}
	return f.err(backend, httpStatus, nil, redact)
}

// err renders the fault as a status: by m if not nil, else by the adapters' table.
func (f *Fault) err(backend, httpStatus string, m *adapters.FaultMapping, redact *adapters.Redactor) error {
	md := map[string]string{"fault_code": f.Code, "fault_string": f.String, "http_status": httpStatus}
	if f.Subcode != "" {
		md["fault_subcode"] = f.Subcode
	}
	if f.Actor != "" {
		md["fault_actor"] = f.Actor
	}
	if f.Detail != "" {
		md["fault_detail"] = f.Detail
	}
	text := f.String
	if text == "" {
		text = "no fault string given"
	}
	o := adapters.Outcome{Reason: f.Reason(), Backend: backend, Metadata: md}
	switch {
	case m != nil:
		o.Reason, o.Override = m.Reason, m.Code
		md["fault_rule"] = m.Rule
		lead := redactWith(redact, m.Message)
		if lead == "" {
			lead = "backend " + backend + adapters.LeadIn(m.Code)
		}
		o.Message = lead + ": " + text
	case o.Reason == adapters.ReasonSOAPClientFault:
		o.Message = "backend " + backend + " rejected the request: " + text
	case o.Reason == adapters.ReasonSOAPVersionMismatch, o.Reason == adapters.ReasonSOAPMustUnderstand:
		o.Message = "backend " + backend + " does not accept the bridge's SOAP message (" + f.Code + "): " + text + "; check the binding's SOAP version"
	default:
		o.Message = "backend " + backend + " failed: " + text
	}
	if f.Detail != "" && len(f.Detail) < 200 {
		o.Message += " (" + f.Detail + ")"
	}
	if m != nil && m.Hint != "" {
		o.Message = strings.TrimRight(o.Message, ". ") + ". " + redactWith(redact, m.Hint)
	}
	var detail *anypb.Any
	if m != nil && m.DetailType != nil {
		var err error
		if detail, err = f.typedDetail(m); err != nil {
			md[MetaFaultDetailError] = err.Error()
		}
	}
	err := o.Err()
	if detail == nil {
		return err
	}
	st, _ := status.FromError(err)
	p := st.Proto()
	p.Details = append(p.Details, detail)
	return status.FromProto(p).Err()
}

// MetaFaultDetailError is the ErrorInfo metadata key that says why a fault's detail did not
// decode into its rule's detail_type, so the typed detail is missing from the status: the
// status still has the detail as text (fault_detail), and the mismatch is not silent.
const MetaFaultDetailError = "fault_detail_error"

// typedDetail decodes the first element of the fault's detail whose local name is the rule's
// detail element (at any depth, as rules match it) into the rule's detail type, as a status
// detail. Prefixes declared outside the detail are unknown here, so elements are matched by
// local name where their namespace cannot be read, as replies are.
func (f *Fault) typedDetail(m *adapters.FaultMapping) (*anypb.Any, error) {
	plan, err := xmlcodec.For(m.DetailType)
	if err != nil {
		return nil, err
	}
	d := xmlcodec.NewDecoder(io.MultiReader(strings.NewReader("<detail>"), bytes.NewReader(f.detailXML), strings.NewReader("</detail>")))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("the detail has no element %s to decode into %s", m.DetailElement, m.DetailType.FullName())
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != m.DetailElement {
			continue
		}
		msg := adapters.MessageType(m.DetailType).New().Interface()
		if err := plan.Decode(d, start, msg); err != nil {
			return nil, fmt.Errorf("detail element %s does not fit %s: %w", m.DetailElement, m.DetailType.FullName(), err)
		}
		return anypb.New(msg)
	}
}

// Bounds on the detail elements fault rules see: a detail is at most a reply, but a deep or
// wide one must not cost more than the rules need.
const (
	maxDetailElements = 1024
	maxDetailDepth    = xmlcodec.MaxDepth
)

// detailText turns fault detail XML into "path: value" pairs, one per leaf element, joined by
// "; ". Text-only detail is returned trimmed. Undecodable detail is returned as raw, trimmed
// XML: it still tells an operator something. It also lists the detail's elements for fault
// rules, in document order: the first maxDetailElements, at most maxDetailDepth deep.
func detailText(raw []byte) (string, []adapters.DetailElement) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(raw))
	type open struct {
		text  strings.Builder
		leaf  bool
		index int // in elems, or -1 when not listed
	}
	var (
		path  []string
		stack []*open
		parts []string
		elems []adapters.DetailElement
		top   strings.Builder
	)
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if n := len(stack); n > 0 {
				stack[n-1].leaf = false
			}
			path = append(path, t.Name.Local)
			o := &open{leaf: true, index: -1}
			if len(path) <= maxDetailDepth && len(elems) < maxDetailElements {
				o.index = len(elems)
				elems = append(elems, adapters.DetailElement{Path: slices.Clone(path)})
			}
			stack = append(stack, o)
		case xml.CharData:
			if n := len(stack); n == 0 {
				top.Write(t)
			} else {
				stack[n-1].text.Write(t)
			}
		case xml.EndElement:
			n := len(stack)
			if n == 0 {
				break
			}
			o := stack[n-1]
			text := strings.TrimSpace(o.text.String())
			if o.index >= 0 {
				elems[o.index].Text = text
			}
			if o.leaf {
				parts = append(parts, strings.Join(path, "/")+": "+text)
			}
			stack, path = stack[:n-1], path[:n-1]
		}
	}
	if len(parts) == 0 {
		if s := strings.TrimSpace(top.String()); s != "" {
			return s, elems
		}
		return string(raw), elems
	}
	return strings.Join(parts, "; "), elems
}
