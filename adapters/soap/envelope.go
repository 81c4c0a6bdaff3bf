package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Envelope namespaces.
const (
	NamespaceSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NamespaceSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

// Version is a SOAP version.
type Version int

// The SOAP versions.
const (
	V11 Version = 11
	V12 Version = 12
)

func versionOf(v agentbridgev1.SoapVersion) Version {
	if v == agentbridgev1.SoapVersion_SOAP_VERSION_1_2 {
		return V12
	}
	return V11
}

// Namespace is the envelope namespace of the version.
func (v Version) Namespace() string {
	if v == V12 {
		return NamespaceSOAP12
	}
	return NamespaceSOAP11
}

// Header returns the HTTP headers of a request: text/xml and SOAPAction for 1.1,
// application/soap+xml with the action as a media type parameter for 1.2 (and no SOAPAction).
// The action is always a quoted string, as SOAP stacks that split on quotes expect even for
// a token such as sayHiAction; see quoteAction for how odd characters are kept out of it.
func (v Version) Header(action string) http.Header {
	h := http.Header{}
	if v == V12 {
		ct := "application/soap+xml; charset=utf-8"
		if action != "" {
			ct += "; action=" + quoteAction(action)
		}
		h.Set("Content-Type", ct)
		h.Set("Accept", "application/soap+xml, multipart/related")
		return h
	}
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Accept", "text/xml, multipart/related")
	h.Set("SOAPAction", quoteAction(action))
	return h
}

// quoteAction returns the action as a quoted string. An action is a URI, which cannot hold a
// quote, a backslash, a control character, a space or a non-ASCII byte, so those are
// percent-encoded, as a URI would carry them: no backslash escapes (which many SOAP stacks do
// not undo) and nothing that could end the header or the parameter early.
// mime.FormatMediaType is not used: it leaves tokens unquoted and switches to the RFC 2231
// form (action*=utf-8 followed by the encoded value) for non-ASCII, which SOAP servers do not
// read.
func quoteAction(action string) string {
	var b strings.Builder
	b.Grow(len(action) + 2)
	b.WriteByte('"')
	for i := 0; i < len(action); i++ {
		c := action[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// appendEnvelope writes a complete envelope whose body is msg written as the element name.
// header, when not empty, is the content of soap:Header (a wsse:Security element).
func appendEnvelope(dst []byte, v Version, header []byte, name xmlcodec.Name, plan *xmlcodec.Plan, msg proto.Message) ([]byte, error) {
	dst = append(dst, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="`...)
	dst = append(dst, v.Namespace()...)
	dst = append(dst, `">`...)
	if len(header) > 0 {
		dst = append(dst, `<soap:Header>`...)
		dst = append(dst, header...)
		dst = append(dst, `</soap:Header>`...)
	}
	dst = append(dst, `<soap:Body>`...)
	dst, err := plan.AppendElement(dst, name, msg)
	if err != nil {
		return nil, err
	}
	return append(dst, `</soap:Body></soap:Envelope>`...), nil
}

// errNotEnvelope marks a reply that is not a SOAP envelope at all (an HTML error page, JSON,
// an empty body).
var errNotEnvelope = errors.New("not a SOAP envelope")

// openBody reads a reply up to the first element inside soap:Body and returns the decoder
// positioned after that element's start tag. A reply that is not well-formed XML or not an
// envelope gives errNotEnvelope. It reads no further than that start tag, so the rest of a
// streamed body is still to come.
func openBody(body io.Reader) (*xml.Decoder, xml.StartElement, error) {
	d := xmlcodec.NewDecoder(body)
	depth := 0 // 0 outside the envelope, 1 inside Envelope, 2 inside Body
	for {
		tok, err := d.Token()
		if err != nil {
			if depth == 0 || errors.Is(err, io.EOF) {
				return nil, xml.StartElement{}, errNotEnvelope
			}
			return nil, xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			isSOAP := t.Name.Space == NamespaceSOAP11 || t.Name.Space == NamespaceSOAP12
			switch {
			case depth == 0 && isSOAP && t.Name.Local == "Envelope":
				depth = 1
			case depth == 0:
				return nil, xml.StartElement{}, errNotEnvelope
			case depth == 1 && isSOAP && t.Name.Local == "Body":
				depth = 2
			case depth == 1: // Header and anything else before Body
				if err := d.Skip(); err != nil {
					return nil, xml.StartElement{}, err
				}
			default:
				return d, t, nil
			}
		case xml.EndElement:
			return nil, xml.StartElement{}, errEmptyBody
		case xml.Directive:
			if depth == 0 { // an HTML5 page's <!DOCTYPE html>, or a DTD declaring entities
				return nil, xml.StartElement{}, errDoctype
			}
			return nil, xml.StartElement{}, errors.New("document type declarations are not allowed in SOAP")
		}
	}
}

// errEmptyBody marks an envelope without a body element: well-formed SOAP whose content does
// not fit the response, unlike errNotEnvelope.
var errEmptyBody = errors.New("the envelope's Body holds no element")

// errDoctype is a document type declaration before any element. SOAP forbids them, and they
// are how HTML pages start and how entity expansion attacks are declared; the reply is not a
// SOAP envelope. (Entities are never expanded: the decoder knows only XML's five.)
var errDoctype = fmt.Errorf("%w: it starts with a document type declaration", errNotEnvelope)

// checkWellFormed reads a whole reply and returns its first syntax error, or an error for a
// document type declaration anywhere, which SOAP forbids. It runs only after decoding failed,
// to tell a malformed reply from one that does not fit the proto.
func checkWellFormed(body []byte) error {
	return readWellFormed(xmlcodec.NewDecoder(bytes.NewReader(body)))
}

// readWellFormed reads the rest of d's input as checkWellFormed reads a whole reply. A decoder
// that has failed returns its failure again (encoding/xml's errors stick).
func readWellFormed(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.Directive); ok {
			return errors.New("a document type declaration inside the envelope")
		}
	}
}
