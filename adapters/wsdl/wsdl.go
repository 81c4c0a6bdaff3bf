package wsdl

import (
	"encoding/xml"
	"fmt"
	"path"
	"strings"
)

// definitions indexes the WSDL 1.1 components of every WSDL document read.
type definitions struct {
	messages  map[xml.Name]*node
	portTypes []*node
	bindings  []*node
	services  []*node
	tns       map[*node]string // component → its document's target namespace
	mainDocs  string           // the documentation of the WSDL's definitions (description)
}

func newDefinitions(docs []*document) *definitions {
	d := &definitions{messages: map[xml.Name]*node{}, tns: map[*node]string{}}
	for _, doc := range docs {
		root := doc.root
		tns := root.attr("targetNamespace")
		for _, c := range root.children {
			if c.name.Space != root.name.Space {
				continue
			}
			d.tns[c] = tns
			switch c.name.Local {
			case "message":
				d.messages[xml.Name{Space: tns, Local: c.attr("name")}] = c
			case "portType", "interface":
				d.portTypes = append(d.portTypes, c)
			case "binding":
				d.bindings = append(d.bindings, c)
			case "service":
				d.services = append(d.services, c)
			}
		}
	}
	return d
}

// bindingKind classifies a binding by its extension element.
type bindingKind int

const (
	kindOther bindingKind = iota
	kindSOAP11
	kindSOAP12
	kindHTTP
)

func (k bindingKind) String() string {
	switch k {
	case kindSOAP11:
		return "SOAP 1.1"
	case kindSOAP12:
		return "SOAP 1.2"
	case kindHTTP:
		return "HTTP"
	}
	return "non-SOAP"
}

func classify(b *node) bindingKind {
	if b.name.Space == nsWSDL2 {
		switch b.attr("type") {
		case nsWSOAP:
			if strings.TrimSpace(b.attrNS(nsWSOAP, "version")) == "1.1" {
				return kindSOAP11
			}
			return kindSOAP12
		case nsWHTTP:
			return kindHTTP
		}
		return kindOther
	}
	switch {
	case b.kid(nsSOAP11, "binding") != nil:
		return kindSOAP11
	case b.kid(nsSOAP12, "binding") != nil:
		return kindSOAP12
	case b.kid(nsHTTP, "binding") != nil:
		return kindHTTP
	}
	return kindOther
}

func (d *definitions) qname(n *node) xml.Name {
	return xml.Name{Space: d.tns[n], Local: n.attr("name")}
}

// endpoint finds the address of the port (endpoint) that uses binding b.
func (d *definitions) endpoint(b *node) (service, address string) {
	bq := d.qname(b)
	for _, s := range d.services {
		for _, p := range s.children {
			if p.name.Local != "port" && p.name.Local != "endpoint" {
				continue
			}
			q, err := p.qname(p.attr("binding"))
			if err != nil || q != bq {
				continue
			}
			if p.name.Space == nsWSDL2 {
				return s.attr("name"), p.attr("address")
			}
			for _, a := range p.children {
				if a.name.Local == "address" {
					return s.attr("name"), a.attr("location")
				}
			}
			return s.attr("name"), ""
		}
	}
	return "", ""
}

// opSpec is one operation as the binding and portType describe it.
type opSpec struct {
	name     string
	doc      string
	style    string // document or rpc
	action   string
	version  bindingKind
	input    *msgSpec
	output   *msgSpec
	faults   []faultSpec
	oneWay   bool
	skipWhy  string
	wsdl2    bool
	opNode   *node
	bindNode *node
	tns      string // the binding's target namespace: an rpc wrapper's when soap:body names none
}

// msgSpec is the input or output of an operation: its parts and how soap:body and
// soap:header use them.
type msgSpec struct {
	parts     []*node // body parts, in order
	headers   []headerPart
	use       string // literal or encoded
	namespace string // soap:body namespace (rpc)
	element   xml.Name
	message   *node
	// attachments is set when the message is SOAP with Attachments: parts outside the body
	// are MIME attachments, which are not carried.
	attachments bool
	dropped     []string
}

type headerPart struct {
	part *node
}

type faultSpec struct {
	name    string
	element xml.Name
	typ     xml.Name // for a part with a type rather than an element
	at      *node
}

// operations reads the operations of portType pt as binding b carries them.
func (d *definitions) operations(pt, b *node, kind bindingKind) ([]*opSpec, error) {
	if pt.name.Space == nsWSDL2 {
		return d.operations2(pt, b, kind)
	}
	soapNS := nsSOAP11
	if kind == kindSOAP12 {
		soapNS = nsSOAP12
	}
	style := "document"
	if sb := b.kid(soapNS, "binding"); sb != nil && sb.attr("style") != "" {
		style = sb.attr("style")
	}
	bops := map[string]*node{}
	for _, bo := range b.kids(nsWSDL, "operation") {
		if _, dup := bops[bo.attr("name")]; !dup {
			bops[bo.attr("name")] = bo
		}
	}
	var out []*opSpec
	for _, op := range pt.kids(nsWSDL, "operation") {
		spec := &opSpec{name: op.attr("name"), doc: documentation(op), style: style, version: kind, opNode: op, tns: d.tns[b]}
		bo := bops[spec.name]
		if bo == nil {
			spec.skipWhy = "the binding does not carry it"
			out = append(out, spec)
			continue
		}
		spec.bindNode = bo
		if spec.doc == "" {
			spec.doc = documentation(bo)
		}
		if so := bo.kid(soapNS, "operation"); so != nil {
			spec.action = so.attr("soapAction")
			if s := so.attr("style"); s != "" {
				spec.style = s
			}
		}
		in, outMsg := op.kid(nsWSDL, "input"), op.kid(nsWSDL, "output")
		switch {
		case in == nil:
			spec.skipWhy = "it is a notification (output only), which a request-response bridge cannot call"
			out = append(out, spec)
			continue
		case outMsg == nil:
			spec.oneWay = true
		case indexOf(op.children, outMsg) < indexOf(op.children, in):
			spec.skipWhy = "it is solicit-response (output before input), which a request-response bridge cannot call"
			out = append(out, spec)
			continue
		}
		var err error
		if spec.input, err = d.msgSpec(in, bo.kid(nsWSDL, "input"), soapNS); err != nil {
			return nil, err
		}
		if spec.oneWay {
			spec.output = &msgSpec{use: spec.input.use}
		} else if spec.output, err = d.msgSpec(outMsg, bo.kid(nsWSDL, "output"), soapNS); err != nil {
			return nil, err
		}
		for _, f := range op.kids(nsWSDL, "fault") {
			mq, err := f.qname(f.attr("message"))
			if err != nil {
				return nil, err
			}
			msg, ok := d.messages[mq]
			if !ok {
				return nil, f.errorf("fault %s names message %s, which no WSDL declares", f.attr("name"), xmlName(mq))
			}
			parts := msg.kids(nsWSDL, "part")
			if len(parts) != 1 {
				return nil, f.errorf("fault %s: its message must have one part (WSDL 1.1 section 3.6), it has %d", f.attr("name"), len(parts))
			}
			fs := faultSpec{name: f.attr("name"), at: f}
			if parts[0].hasAttr("element") {
				if fs.element, err = parts[0].qname(parts[0].attr("element")); err != nil {
					return nil, err
				}
			} else {
				// rpc style: the detail holds an unqualified element named after the part.
				fs.element = xml.Name{Local: parts[0].attr("name")}
				if fs.typ, _, err = parts[0].qnameAttr("type"); err != nil {
					return nil, err
				}
			}
			spec.faults = append(spec.faults, fs)
		}
		out = append(out, spec)
	}
	return out, nil
}

func indexOf(ns []*node, n *node) int {
	for i, c := range ns {
		if c == n {
			return i
		}
	}
	return -1
}

// msgSpec reads one direction of an operation: the portType's message and the binding's
// soap:body and soap:header.
func (d *definitions) msgSpec(ptMsg, bMsg *node, soapNS string) (*msgSpec, error) {
	mq, err := ptMsg.qname(ptMsg.attr("message"))
	if err != nil {
		return nil, err
	}
	msg, ok := d.messages[mq]
	if !ok {
		return nil, ptMsg.errorf("message %s is not declared in any WSDL read", xmlName(mq))
	}
	spec := &msgSpec{use: "literal", message: msg}
	all := msg.kids(nsWSDL, "part")
	bodyParts := all
	headerNames := map[string]bool{}
	if bMsg != nil {
		body := bMsg.kid(soapNS, "body")
		if mp := bMsg.kid(nsMIME, "multipartRelated"); body == nil && mp != nil {
			// SOAP with Attachments: the envelope is one MIME part, the other parts travel as
			// attachments, which the SOAP adapter does not send or read.
			for _, part := range mp.kids(nsMIME, "part") {
				if b := part.kid(soapNS, "body"); b != nil && body == nil {
					body = b
				}
			}
			if body != nil && !body.hasAttr("parts") {
				return nil, body.errorf("a soap:body inside mime:multipartRelated without parts")
			}
			spec.attachments = true
		}
		if body != nil {
			if u := body.attr("use"); u != "" {
				spec.use = u
			}
			spec.namespace = body.attr("namespace")
			if body.hasAttr("parts") {
				want := map[string]bool{}
				for _, p := range strings.Fields(body.attr("parts")) {
					want[p] = true
				}
				bodyParts = nil
				for _, p := range all {
					if want[p.attr("name")] {
						bodyParts = append(bodyParts, p)
					}
				}
			}
		}
		for _, h := range bMsg.kids(soapNS, "header") {
			hq, err := h.qname(h.attr("message"))
			if err != nil {
				return nil, err
			}
			hm, ok := d.messages[hq]
			if !ok {
				return nil, h.errorf("soap:header names message %s, which no WSDL declares", xmlName(hq))
			}
			for _, p := range hm.kids(nsWSDL, "part") {
				if p.attr("name") == h.attr("part") {
					spec.headers = append(spec.headers, headerPart{part: p})
					if hm == msg {
						headerNames[p.attr("name")] = true
					}
				}
			}
		}
	}
	inBody := map[*node]bool{}
	for _, p := range bodyParts {
		if !headerNames[p.attr("name")] {
			spec.parts = append(spec.parts, p)
			inBody[p] = true
		}
	}
	if spec.attachments {
		for _, p := range all {
			if !inBody[p] && !headerNames[p.attr("name")] {
				spec.dropped = append(spec.dropped, p.attr("name"))
			}
		}
	}
	return spec, nil
}

// operations2 reads a WSDL 2.0 interface's operations (document style with elements).
func (d *definitions) operations2(iface, b *node, kind bindingKind) ([]*opSpec, error) {
	faultEl := map[string]xml.Name{}
	for _, f := range iface.kids(nsWSDL2, "fault") {
		if q, ok, err := f.qnameAttr("element"); err != nil {
			return nil, err
		} else if ok {
			faultEl[f.attr("name")] = q
		}
	}
	bops := map[xml.Name]*node{}
	for _, bo := range b.kids(nsWSDL2, "operation") {
		q, err := bo.qname(bo.attr("ref"))
		if err != nil {
			return nil, err
		}
		bops[q] = bo
	}
	var out []*opSpec
	for _, op := range iface.kids(nsWSDL2, "operation") {
		spec := &opSpec{name: op.attr("name"), doc: documentation(op), style: "document", version: kind, wsdl2: true, opNode: op}
		bo := bops[xml.Name{Space: d.tns[iface], Local: spec.name}]
		if bo != nil {
			spec.bindNode = bo
			spec.action = bo.attrNS(nsWSOAP, "action")
		}
		in, outMsg := op.kid(nsWSDL2, "input"), op.kid(nsWSDL2, "output")
		if in == nil || outMsg == nil {
			spec.skipWhy = "its message exchange pattern is not in-out"
			out = append(out, spec)
			continue
		}
		for dir, m := range map[string]*node{"input": in, "output": outMsg} {
			ms := &msgSpec{use: "literal"}
			el := m.attr("element")
			if el != "" && el != "#any" && el != "#none" && el != "#other" {
				q, err := m.qname(el)
				if err != nil {
					return nil, err
				}
				ms.element = q
			} else if el == "#any" || el == "#other" {
				spec.skipWhy = "its " + dir + " is " + el + ", which has no schema to map"
			}
			if dir == "input" {
				spec.input = ms
			} else {
				spec.output = ms
			}
		}
		for _, of := range op.kids(nsWSDL2, "outfault") {
			q, err := of.qname(of.attr("ref"))
			if err != nil {
				return nil, err
			}
			if el, ok := faultEl[q.Local]; ok {
				spec.faults = append(spec.faults, faultSpec{name: q.Local, element: el, at: of})
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

// matchAny reports whether name matches one of the comma-separated glob patterns.
func matchAny(patterns []string, names ...string) bool {
	for _, p := range patterns {
		for _, n := range names {
			if ok, _ := path.Match(p, n); ok {
				return true
			}
		}
	}
	return false
}

// looksReadOnly says whether an operation's name suggests it only reads.
func looksReadOnly(name string) bool {
	ws := words(name)
	if len(ws) == 0 {
		return false
	}
	switch strings.ToLower(ws[0]) {
	case "get", "list", "find", "search", "query", "lookup", "describe", "read", "fetch", "count",
		"check", "is", "has", "validate", "verify", "show", "view", "retrieve", "browse", "say", "echo", "ping":
		return true
	}
	return false
}

// statusForFault picks the status of a declared fault from its name: names say more than
// nothing, and the user can change the rule in the proto.
func statusForFault(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "notfound") || strings.Contains(n, "nosuch") || strings.Contains(n, "unknown") || strings.Contains(n, "missing"):
		return "STATUS_CODE_NOT_FOUND"
	case strings.Contains(n, "invalid") || strings.Contains(n, "validation") || strings.Contains(n, "badarg") || strings.Contains(n, "illegal") || strings.Contains(n, "malformed") || strings.Contains(n, "format"):
		return "STATUS_CODE_INVALID_ARGUMENT"
	case strings.Contains(n, "exists") || strings.Contains(n, "duplicate"):
		return "STATUS_CODE_ALREADY_EXISTS"
	case strings.Contains(n, "auth") || strings.Contains(n, "permission") || strings.Contains(n, "denied") || strings.Contains(n, "forbidden") || strings.Contains(n, "access"):
		return "STATUS_CODE_PERMISSION_DENIED"
	case strings.Contains(n, "limit") || strings.Contains(n, "quota"):
		return "STATUS_CODE_RESOURCE_EXHAUSTED"
	case strings.Contains(n, "unavailable") || strings.Contains(n, "timeout") || strings.Contains(n, "busy"):
		return "STATUS_CODE_UNAVAILABLE"
	}
	return "STATUS_CODE_FAILED_PRECONDITION"
}

// reasonFor is the ErrorInfo reason of a declared fault: its name in UPPER_SNAKE_CASE.
func reasonFor(name string) string {
	r := upperSnake(name)
	if r == "" || r[0] < 'A' || r[0] > 'Z' {
		r = "FAULT_" + r
	}
	if len(r) > 63 {
		r = strings.TrimRight(r[:63], "_")
	}
	return r
}

func fmtName(q xml.Name) string {
	if q.Space == "" {
		return fmt.Sprintf("{name: %s}", quote(q.Local))
	}
	return fmt.Sprintf("{name: %s namespace: %s}", quote(q.Local), quote(q.Space))
}
