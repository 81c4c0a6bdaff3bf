package xmlrpc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// valueType is the type of an XML-RPC value, as its type element names it.
type valueType uint8

const (
	tString valueType = iota
	tInt              // int, i4, i8 and the Apache extensions ex:i1, ex:i2, ex:i8
	tBool
	tDouble // double, and Apache's ex:float
	tDateTime
	tBase64
	tStruct
	tArray
	tNil
)

var typeNames = [...]string{
	tString: "string", tInt: "int", tBool: "boolean", tDouble: "double", tDateTime: "dateTime.iso8601",
	tBase64: "base64", tStruct: "struct", tArray: "array", tNil: "nil",
}

func (t valueType) String() string { return typeNames[t] }

// value is one XML-RPC value as the reply held it. Scalars keep their text (trimmed, except a
// string's), so each is parsed once, against the field it lands in.
type value struct {
	typ     valueType
	elem    string // the type element's local name as sent (i4, i8, ex:float's float...)
	text    string
	members []member // struct, in document order
	items   []*value // array
}

type member struct {
	name string
	v    *value
}

// typesByName maps a type element's local name to its type. Namespaced extensions (Apache's
// ex:i8, ex:nil) are read by local name: the prefix and namespace are the sender's choice.
var typesByName = map[string]valueType{
	"string": tString, "int": tInt, "i4": tInt, "i8": tInt, "i1": tInt, "i2": tInt,
	"boolean": tBool, "double": tDouble, "float": tDouble, "dateTime.iso8601": tDateTime,
	"dateTime": tDateTime, "base64": tBase64, "struct": tStruct, "array": tArray, "nil": tNil,
}

// response is a parsed methodResponse: the return value, or the fault's value.
type response struct {
	result *value
	fault  *value
}

// errNotXMLRPC marks a reply that is not an XML-RPC methodResponse at all (JSON, an HTML page,
// another XML document): the transfer's or a proxy's doing, a bad reply. A methodResponse
// that breaks the protocol inside is a protocolError instead.
var errNotXMLRPC = errors.New("not an XML-RPC methodResponse")

// protocolError is a well-formed methodResponse that breaks XML-RPC's rules (no params and no
// fault, two params, a fault without faultCode, an unknown type): the backend and the bridge
// disagree.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

func protocolf(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// parser reads a methodResponse within limits: value nesting at most MaxDepth deep, at most
// MaxElements elements, at most MaxTextBytes of text per element; a DOCTYPE is refused.
type parser struct {
	d        *xml.Decoder
	limits   xmlcodec.Limits
	elements int
}

// parseResponse parses a methodResponse. A body that is not XML, or whose root is not
// methodResponse, wraps errNotXMLRPC; malformed XML wraps xmlcodec.ErrMalformed; a limit
// exceeded wraps xmlcodec.ErrLimit; a protocol violation is a *protocolError.
func parseResponse(body []byte, limits xmlcodec.Limits) (*response, error) {
	p := &parser{d: xmlcodec.NewDecoder(bytes.NewReader(body)), limits: limits.WithDefaults()}
	root, err := p.root()
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "methodResponse" {
		return nil, fmt.Errorf("%w: the document's root element is %s", errNotXMLRPC, root.Name.Local)
	}
	var resp response
	seen := false
	for {
		start, end, err := p.child()
		if err != nil {
			return nil, err
		}
		if end {
			break
		}
		if seen {
			return nil, protocolf("a methodResponse holds one params or one fault element, but it also holds %s", start.Name.Local)
		}
		seen = true
		switch start.Name.Local {
		case "params":
			v, err := p.params()
			if err != nil {
				return nil, err
			}
			resp.result = v
		case "fault":
			v, err := p.single("fault")
			if err != nil {
				return nil, err
			}
			resp.fault = v
		default:
			return nil, protocolf("a methodResponse holds params or fault, not %s", start.Name.Local)
		}
	}
	if !seen {
		return nil, protocolf("the methodResponse holds neither params nor a fault")
	}
	if err := p.trailer(); err != nil {
		return nil, err
	}
	return &resp, nil
}

// root reads up to the document's root element. Anything but an XML declaration, comments,
// processing instructions and white space before it means the body is not an XML document.
func (p *parser) root() (xml.StartElement, error) {
	for {
		tok, err := p.token()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return xml.StartElement{}, fmt.Errorf("%w: the body is empty", errNotXMLRPC)
			case errors.Is(err, errDoctype), errors.Is(err, xmlcodec.ErrLimit):
				return xml.StartElement{}, err
			}
			// Not XML from its first bytes on: JSON, plain text.
			return xml.StartElement{}, fmt.Errorf("%w: %w", errNotXMLRPC, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, fmt.Errorf("%w: the body starts with text, not an element", errNotXMLRPC)
			}
		}
	}
}

// trailer reads what follows the root element: only white space, comments and processing
// instructions may.
func (p *parser) trailer() error {
	for {
		tok, err := p.token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return fmt.Errorf("%w: a second root element %s after methodResponse", xmlcodec.ErrMalformed, t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("%w: text after the methodResponse", xmlcodec.ErrMalformed)
			}
		}
	}
}

var errDoctype = fmt.Errorf("%w: document type declarations are not allowed", xmlcodec.ErrMalformed)

// token reads the next token within the limits. The end of input inside the document is
// malformed XML (a reply cut off).
func (p *parser) token() (xml.Token, error) {
	tok, err := p.d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w at line %d: %s", xmlcodec.ErrMalformed, se.Line, se.Msg)
		}
		return nil, fmt.Errorf("%w: %w", xmlcodec.ErrMalformed, err)
	}
	switch t := tok.(type) {
	case xml.StartElement:
		p.elements++
		if p.elements > p.limits.MaxElements {
			return nil, fmt.Errorf("%w: more than %d elements", xmlcodec.ErrLimit, p.limits.MaxElements)
		}
		if len(t.Attr) > p.limits.MaxAttrs {
			return nil, fmt.Errorf("%w: more than %d attributes on one element", xmlcodec.ErrLimit, p.limits.MaxAttrs)
		}
	case xml.CharData:
		if len(t) > p.limits.MaxTextBytes {
			return nil, fmt.Errorf("%w: text of more than %d bytes", xmlcodec.ErrLimit, p.limits.MaxTextBytes)
		}
	case xml.Directive:
		return nil, errDoctype
	}
	return tok, nil
}

// child reads the next child element of the element being read, or its end (end true).
// Text other than white space between elements is a protocol error.
func (p *parser) child() (xml.StartElement, bool, error) {
	for {
		tok, err := p.token()
		if err != nil {
			return xml.StartElement{}, false, eofMalformed(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return xml.StartElement{}, true, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, false, protocolf("text %q where XML-RPC has only elements", clip(string(bytes.TrimSpace(t))))
			}
		}
	}
}

func eofMalformed(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the reply ends inside the methodResponse (cut off)", xmlcodec.ErrMalformed)
	}
	return err
}

// params reads <params> (its start read): exactly one param with one value.
func (p *parser) params() (*value, error) {
	var out *value
	for {
		start, end, err := p.child()
		if err != nil {
			return nil, err
		}
		if end {
			break
		}
		if start.Name.Local != "param" {
			return nil, protocolf("params holds param elements, not %s", start.Name.Local)
		}
		if out != nil {
			return nil, protocolf("the methodResponse holds more than one param; XML-RPC returns one value")
		}
		if out, err = p.single("param"); err != nil {
			return nil, err
		}
	}
	if out == nil {
		return nil, protocolf("the methodResponse's params holds no param")
	}
	return out, nil
}

// single reads an element (its start read) that holds exactly one value element: param,
// fault, member's value.
func (p *parser) single(what string) (*value, error) {
	var out *value
	for {
		start, end, err := p.child()
		if err != nil {
			return nil, err
		}
		if end {
			break
		}
		if start.Name.Local != "value" || out != nil {
			return nil, protocolf("%s holds one value element, not %s", what, start.Name.Local)
		}
		if out, err = p.value(0); err != nil {
			return nil, err
		}
	}
	if out == nil {
		return nil, protocolf("%s holds no value", what)
	}
	return out, nil
}

// value reads a <value> (its start read) at the given nesting depth.
func (p *parser) value(depth int) (*value, error) {
	if depth > p.limits.MaxDepth {
		return nil, fmt.Errorf("%w: values nested deeper than %d", xmlcodec.ErrLimit, p.limits.MaxDepth)
	}
	var text strings.Builder
	var typed *value
	for {
		tok, err := p.token()
		if err != nil {
			return nil, eofMalformed(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if text.Len()+len(t) > p.limits.MaxTextBytes {
				return nil, fmt.Errorf("%w: text of more than %d bytes", xmlcodec.ErrLimit, p.limits.MaxTextBytes)
			}
			text.Write(t)
		case xml.StartElement:
			if typed != nil {
				return nil, protocolf("a value holds one type element, but also %s", t.Name.Local)
			}
			typ, ok := typesByName[t.Name.Local]
			if !ok {
				return nil, protocolf("a value of type %s, which XML-RPC does not have", t.Name.Local)
			}
			if typed, err = p.typed(typ, t.Name.Local, depth); err != nil {
				return nil, err
			}
		case xml.EndElement:
			if typed == nil {
				// No type element: a string (XML-RPC's default type).
				return &value{typ: tString, elem: "string", text: text.String()}, nil
			}
			if strings.TrimSpace(text.String()) != "" {
				return nil, protocolf("a value holds text beside its %s element", typed.elem)
			}
			return typed, nil
		}
	}
}

// typed reads a type element (its start read).
func (p *parser) typed(typ valueType, elem string, depth int) (*value, error) {
	v := &value{typ: typ, elem: elem}
	switch typ {
	case tStruct:
		return v, p.structMembers(v, depth)
	case tArray:
		return v, p.array(v, depth)
	}
	var text strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			return nil, eofMalformed(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if text.Len()+len(t) > p.limits.MaxTextBytes {
				return nil, fmt.Errorf("%w: text of more than %d bytes", xmlcodec.ErrLimit, p.limits.MaxTextBytes)
			}
			text.Write(t)
		case xml.StartElement:
			return nil, protocolf("a %s value holds element %s; it holds only text", elem, t.Name.Local)
		case xml.EndElement:
			v.text = text.String()
			if typ != tString {
				v.text = strings.TrimSpace(v.text)
			}
			if typ == tNil && v.text != "" {
				return nil, protocolf("a nil value holds text")
			}
			return v, nil
		}
	}
}

func (p *parser) structMembers(v *value, depth int) error {
	for {
		start, end, err := p.child()
		if err != nil {
			return err
		}
		if end {
			return nil
		}
		if start.Name.Local != "member" {
			return protocolf("a struct holds member elements, not %s", start.Name.Local)
		}
		m, err := p.member(depth)
		if err != nil {
			return err
		}
		for _, prev := range v.members {
			if prev.name == m.name {
				return protocolf("a struct holds member %q twice", clip(m.name))
			}
		}
		v.members = append(v.members, m)
	}
}

func (p *parser) member(depth int) (member, error) {
	var m member
	hasName := false
	for {
		start, end, err := p.child()
		if err != nil {
			return m, err
		}
		if end {
			break
		}
		switch {
		case start.Name.Local == "name" && !hasName:
			if m.name, err = p.text(); err != nil {
				return m, err
			}
			hasName = true
		case start.Name.Local == "value" && m.v == nil:
			if m.v, err = p.value(depth + 1); err != nil {
				return m, err
			}
		default:
			return m, protocolf("a struct member holds one name and one value, not %s", start.Name.Local)
		}
	}
	switch {
	case !hasName:
		return m, protocolf("a struct member has no name")
	case m.v == nil:
		return m, protocolf("struct member %q has no value", clip(m.name))
	}
	return m, nil
}

// text reads the text of an element without children (a member's name).
func (p *parser) text() (string, error) {
	var text strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			return "", eofMalformed(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if text.Len()+len(t) > p.limits.MaxTextBytes {
				return "", fmt.Errorf("%w: text of more than %d bytes", xmlcodec.ErrLimit, p.limits.MaxTextBytes)
			}
			text.Write(t)
		case xml.StartElement:
			return "", protocolf("a member's name holds element %s", t.Name.Local)
		case xml.EndElement:
			return text.String(), nil
		}
	}
}

func (p *parser) array(v *value, depth int) error {
	hasData := false
	for {
		start, end, err := p.child()
		if err != nil {
			return err
		}
		if end {
			break
		}
		if start.Name.Local != "data" || hasData {
			return protocolf("an array holds one data element, not %s", start.Name.Local)
		}
		hasData = true
		for {
			start, end, err := p.child()
			if err != nil {
				return err
			}
			if end {
				break
			}
			if start.Name.Local != "value" {
				return protocolf("an array's data holds value elements, not %s", start.Name.Local)
			}
			item, err := p.value(depth + 1)
			if err != nil {
				return err
			}
			v.items = append(v.items, item)
		}
	}
	if !hasData {
		return protocolf("an array has no data element")
	}
	return nil
}

// clip shortens backend text quoted in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// article is the type's name with its indefinite article: "an int", "a struct".
func (t valueType) article() string {
	switch t {
	case tInt, tArray:
		return "an " + t.String()
	case tBase64, tNil:
		return t.String()
	}
	return "a " + t.String()
}
