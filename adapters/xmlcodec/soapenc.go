package xmlcodec

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The namespaces of SOAP encoding (use="encoded"): SOAP 1.1 section 5 and SOAP 1.2 part 2.
// Each is also the encodingStyle URI that names it.
const (
	SOAP11Encoding = "http://schemas.xmlsoap.org/soap/encoding/"
	SOAP12Encoding = "http://www.w3.org/2003/05/soap-encoding"
)

const xsdNamespace = "http://www.w3.org/2001/XMLSchema"

// SOAPEncoding says how AppendEncoded writes a SOAP-encoded body.
type SOAPEncoding struct {
	// Envelope is the envelope's namespace (SOAP 1.1's or 1.2's), in which the
	// encodingStyle attribute is written.
	Envelope string
	// Namespace is the encoding's: SOAP11Encoding or SOAP12Encoding. It is the encodingStyle
	// written, and says how arrays are written: soapenc:Array with soapenc:arrayType="T[n]"
	// (SOAP 1.1), or enc:itemType and enc:arraySize (SOAP 1.2).
	Namespace string
}

// soapEncoding is an encoder's state under SOAP encoding.
type soapEncoding struct {
	SOAPEncoding
	bare  bool // the message's fields are written without its element: each is a part
	depth int  // of the element being written; 1 is the outermost
}

// typed reports whether the element being opened carries an xsi:type: every part (the
// children of the operation's element, or the elements of a body without one) and everything
// below, but not the operation's element itself.
func (s *soapEncoding) typed() bool { return s.bare || s.depth > 1 }

// AppendEncoded appends m as AppendElement does, under SOAP encoding (a binding with use
// ENCODED, as rpc/encoded WSDLs have): the outermost element (the operation's, or with an empty
// name.Local each of m's fields written without it, as AppendChildren does) carries
// encodingStyle and declares the xsi, xsd and soapenc prefixes; every element below carries an
// xsi:type: a scalar's XSD built-in from its xsd_type or its proto kind (xsd:string, xsd:int,
// xsd:long, xsd:boolean, xsd:double, xsd:float, xsd:base64Binary, xsd:dateTime, ...), a
// message's XmlMessage.type (none when it has no type). A repeated field with an item element
// is written as an encoded array (see SOAPEncoding.Namespace).
func (p *Plan) AppendEncoded(dst []byte, name Name, m proto.Message, enc SOAPEncoding) ([]byte, error) {
	e := encoder{buf: dst, enc: &soapEncoding{SOAPEncoding: enc, bare: name.Local == ""}}
	rm := m.ProtoReflect()
	if name.Local != "" {
		if err := e.element(p, xmlName{name.Space, name.Local}, rm); err != nil {
			return dst, err
		}
		return e.buf, nil
	}
	if err := p.ChildrenOnly(); err != nil {
		return dst, err
	}
	for _, fp := range p.fields {
		if err := e.field(fp, rm); err != nil {
			return dst, err
		}
	}
	return e.buf, nil
}

// encodingStyle writes, into the start tag of an outermost element, the encodingStyle
// attribute and the prefixes the elements below use for xsi:type and arrays.
func (e *encoder) encodingStyle() {
	enc := e.enc
	e.buf = append(e.buf, ` xmlns:soapenv="`...)
	e.buf, _ = appendEscaped(e.buf, enc.Envelope, true)
	e.buf = append(e.buf, `" soapenv:encodingStyle="`...)
	e.buf, _ = appendEscaped(e.buf, enc.Namespace, true)
	e.buf = append(e.buf, `" xmlns:xsi="`+xsiNamespace+`" xmlns:xsd="`+xsdNamespace+`" xmlns:soapenc="`...)
	e.buf, _ = appendEscaped(e.buf, enc.Namespace, true)
	e.buf = append(e.buf, '"')
	e.scopes = append(e.scopes, scope{xsiNamespace, "xsi"}, scope{xsdNamespace, "xsd"}, scope{enc.Namespace, "soapenc"})
}

// qname appends a QName for an attribute value; its namespace's prefix must be in scope.
func (e *encoder) qname(dst []byte, name xmlName) []byte {
	if name.space != "" {
		prefix, _ := e.prefix(name.space)
		dst = append(dst, prefix...)
		dst = append(dst, ':')
	}
	return append(dst, name.local...)
}

// xsiType writes xsi:type="name" into the start tag being written.
func (e *encoder) xsiType(name xmlName) {
	if name.space != "" {
		if _, ok := e.prefix(name.space); !ok {
			e.appendXmlns(e.declare(name.space), name.space)
		}
	}
	e.buf = append(e.buf, ` xsi:type="`...)
	e.buf = e.qname(e.buf, name)
	e.buf = append(e.buf, '"')
}

// arrayAttrs writes the attributes of an encoded array of n items of fp's type into the start
// tag of fp's wrapper element.
func (e *encoder) arrayAttrs(fp *fieldPlan, n int) {
	item := xmlName{xsdNamespace, "anyType"}
	switch {
	case fp.kind == kindMessage && fp.msg.typ.local != "":
		item = fp.msg.typ
	case fp.kind != kindMessage:
		item = xmlName{xsdNamespace, fp.xsdTypeName()}
	}
	if item.space != "" {
		if _, ok := e.prefix(item.space); !ok {
			e.appendXmlns(e.declare(item.space), item.space)
		}
	}
	if e.enc.Namespace == SOAP12Encoding {
		e.buf = append(e.buf, ` soapenc:itemType="`...)
		e.buf = e.qname(e.buf, item)
		e.buf = append(e.buf, `" soapenc:arraySize="`...)
		e.buf = strconv.AppendInt(e.buf, int64(n), 10)
		e.buf = append(e.buf, '"')
		return
	}
	e.buf = append(e.buf, ` xsi:type="soapenc:Array" soapenc:arrayType="`...)
	e.buf = e.qname(e.buf, item)
	e.buf = append(e.buf, '[')
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, `]"`...)
}

// xsdTypeName is the local name of the XSD built-in a non-message field's values are written
// as: its xsd_type, else the one its proto type maps to.
func (fp *fieldPlan) xsdTypeName() string {
	if fp.xsdName != "" {
		return fp.xsdName
	}
	switch fp.kind {
	case kindEnum:
		return "string"
	case kindTimestamp:
		return "dateTime"
	case kindDuration:
		return "duration"
	case kindWrapper:
		return kindXSD(fp.valueFD.Kind())
	}
	return kindXSD(fp.fd.Kind())
}

// kindXSD is the XSD built-in a proto scalar kind is written as.
func kindXSD(k protoreflect.Kind) string {
	switch k {
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "int"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "long"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "unsignedInt"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "unsignedLong"
	case protoreflect.FloatKind:
		return "float"
	case protoreflect.DoubleKind:
		return "double"
	case protoreflect.BytesKind:
		return "base64Binary"
	}
	return "string"
}

// DecodeEncoded reads a SOAP-encoded element as Decode does, after its references (href,
// multiRef) have been resolved into place: an encoded array (an element with an arrayType,
// itemType or arraySize attribute of either SOAP encoding, or whose xsi:type is
// soapenc:Array) fills a repeated field whatever its items are named, and xsi:type is checked
// loosely: an XSD built-in for a message field, or an array for a single scalar, is an error.
// xsi:type values are QNames in Clark notation ({namespace}local), as the soap package writes
// them once it has resolved their prefixes; a prefixed value is read by its local name alone.
func (p *Plan) DecodeEncoded(d Tokens, start xml.StartElement, m proto.Message) error {
	return p.DecodeEncodedWith(d, start, m, DecodeOptions{})
}

// DecodeEncodedWith is DecodeEncoded with options (see DecodeWith).
func (p *Plan) DecodeEncodedWith(d Tokens, start xml.StartElement, m proto.Message, o DecodeOptions) error {
	dec := newDecoder(o)
	defer dec.release()
	dec.encoded = true
	dec.source(d)
	return dec.message(p, start, m.ProtoReflect(), 0)
}

// xsiTypeOf returns the namespace and local name of start's xsi:type, if it has one.
func xsiTypeOf(start xml.StartElement) (space, local string, ok bool) {
	for _, a := range start.Attr {
		if a.Name.Space == xsiNamespace && a.Name.Local == "type" {
			v := trimXMLSpace(a.Value)
			if rest, found := strings.CutPrefix(v, "{"); found {
				if space, local, found := strings.Cut(rest, "}"); found {
					return space, local, true
				}
			}
			if i := strings.IndexByte(v, ':'); i >= 0 {
				v = v[i+1:]
			}
			return "", v, true
		}
	}
	return "", "", false
}

// isEncodedArray reports whether start is an encoded array (see DecodeEncoded).
func isEncodedArray(start xml.StartElement) bool {
	for _, a := range start.Attr {
		if a.Name.Space == SOAP11Encoding || a.Name.Space == SOAP12Encoding {
			switch a.Name.Local {
			case "arrayType", "itemType", "arraySize":
				return true
			}
		}
	}
	space, local, ok := xsiTypeOf(start)
	return ok && local == "Array" && (space == SOAP11Encoding || space == SOAP12Encoding)
}

// checkEncodedType is the loose check of an element's xsi:type against its field.
func checkEncodedType(fp *fieldPlan, start xml.StartElement) error {
	space, local, ok := xsiTypeOf(start)
	switch {
	case ok && space == xsdNamespace && fp.kind == kindMessage && local != "anyType":
		return fmt.Errorf("xsi:type is xsd:%s, a simple type, but field %s holds message %s", local, fp.fd.FullName(), fp.msg.desc.FullName())
	case !fp.fd.IsList() && fp.kind != kindMessage && fp.kind != kindMap && isEncodedArray(start):
		return fmt.Errorf("an encoded array, but field %s is a single value; make it repeated", fp.fd.FullName())
	}
	return nil
}
