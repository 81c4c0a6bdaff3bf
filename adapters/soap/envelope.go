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

// appendEnvelope writes the complete request envelope of op for msg. header, when not empty,
// is the backend's own SOAP header content (a wsse:Security element); msg's header fields
// ((agentbridge.v1.xml).header) are written after it, in soap:Header too. The body is msg as
// the request element, or msg's fields directly when the request has no name, under SOAP
// encoding when the operation's use is ENCODED.
func appendEnvelope(dst []byte, op *Operation, header []byte, msg proto.Message) ([]byte, error) {
	v := op.version
	dst = append(dst, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="`...)
	dst = append(dst, v.Namespace()...)
	dst = append(dst, `">`...)
	var err error
	if hasHeaders := op.in.HasHeaders(); len(header) > 0 || hasHeaders {
		dst = append(dst, `<soap:Header>`...)
		dst = append(dst, header...)
		if hasHeaders {
			if dst, err = op.in.AppendHeaders(dst, msg); err != nil {
				return nil, err
			}
		}
		dst = append(dst, `</soap:Header>`...)
	}
	dst = append(dst, `<soap:Body>`...)
	switch {
	case op.encoded:
		dst, err = op.in.AppendEncoded(dst, op.request, msg, op.encoding())
	case op.request.Local == "":
		dst, err = op.in.AppendChildren(dst, msg)
	default:
		dst, err = op.in.AppendElement(dst, op.request, msg)
	}
	if err != nil {
		return nil, err
	}
	return append(dst, `</soap:Body></soap:Envelope>`...), nil
}

// errNotEnvelope marks a reply that is not a SOAP envelope at all (an HTML error page, JSON,
// an empty body).
var errNotEnvelope = errors.New("not a SOAP envelope")

// openedBody is a reply read up to the first element inside soap:Body.
type openedBody struct {
	d        xmlcodec.Tokens
	envelope xml.StartElement // soap:Envelope's start tag
	body     xml.StartElement // soap:Body's start tag
	first    xml.StartElement // the first element inside soap:Body; d is positioned after its start tag
	// headerErr is why a header block could not be accepted (one the reply requires the
	// bridge to understand, and it does not); reported unless the body is a fault.
	headerErr error
}

// headerFunc reads one header block, the child of soap:Header that start opened, and reports
// whether it did (the decoder is then past its end tag); false leaves the block unread.
type headerFunc func(d xmlcodec.Tokens, start xml.StartElement) (bool, error)

// openBody reads a reply up to the first element inside soap:Body and returns the decoder
// positioned after that element's start tag. A reply that is not well-formed XML or not an
// envelope gives errNotEnvelope; an empty Body errEmptyBody, with envelope and body set (an
// envelope without a Body gives errEmptyBody too, with body unset). It
// reads no further than that start tag, so the rest of a streamed body is still to come.
//
// Each header block goes to headers first, when not nil; a block nobody reads is skipped,
// unless it is marked mustUnderstand for the bridge (no actor or role, or the next or
// ultimate receiver's), which SOAP requires a receiver to refuse: that is headerErr. An error
// from headers ends the reading.
func openBody(d xmlcodec.Tokens, headers headerFunc) (openedBody, error) {
	var ob openedBody
	depth := 0 // 0 outside the envelope, 1 inside Envelope, 2 inside Body
	for {
		tok, err := d.Token()
		if err != nil {
			if depth == 0 || errors.Is(err, io.EOF) {
				return ob, errNotEnvelope
			}
			return ob, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			isSOAP := t.Name.Space == NamespaceSOAP11 || t.Name.Space == NamespaceSOAP12
			switch {
			case depth == 0 && isSOAP && t.Name.Local == "Envelope":
				depth = 1
				ob.envelope = t // Token gives each start tag attributes of its own
			case depth == 0:
				return ob, errNotEnvelope
			case depth == 1 && isSOAP && t.Name.Local == "Body":
				depth = 2
				ob.body = t
			case depth == 1 && isSOAP && t.Name.Local == "Header":
				if err := readHeader(d, headers, &ob); err != nil {
					return ob, err
				}
			case depth == 1: // anything else before Body
				if err := xmlcodec.Skip(d); err != nil {
					return ob, err
				}
			default:
				ob.d, ob.first = d, t
				return ob, nil
			}
		case xml.EndElement:
			ob.d = d
			return ob, errEmptyBody
		case xml.CharData:
			// Text outside the Envelope's children is not SOAP: before the Envelope it is
			// another format (a multipart reply's framing sent as text/xml, a plain-text
			// error), which would otherwise be passed over without a word.
			if depth < 2 && len(bytes.TrimSpace(t)) > 0 {
				if depth == 0 {
					return ob, errNotEnvelope
				}
				return ob, fmt.Errorf("%w: text in the Envelope outside its Header and Body", xmlcodec.ErrMalformed)
			}
		case xml.Directive:
			if depth == 0 { // an HTML5 page's <!DOCTYPE html>, or a DTD declaring entities
				return ob, errDoctype
			}
			return ob, errors.New("document type declarations are not allowed in SOAP")
		}
	}
}

// namespaces returns the namespace declarations (xmlns attributes) of the Envelope and Body
// start tags, for resolving QNames in attribute values below them (xsi:type, under SOAP
// encoding).
func (ob *openedBody) namespaces() []xml.Attr {
	var spaces []xml.Attr
	for _, start := range []xml.StartElement{ob.envelope, ob.body} {
		for _, a := range start.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				spaces = append(spaces, a)
			}
		}
	}
	return spaces
}

// readHeader reads the children of soap:Header, up to its end tag (see openBody).
func readHeader(d xmlcodec.Tokens, headers headerFunc, ob *openedBody) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if headers != nil {
				read, err := headers(d, t)
				if err != nil {
					return err
				}
				if read {
					continue
				}
			}
			if ob.headerErr == nil && mustUnderstand(t) {
				ob.headerErr = fmt.Errorf("the reply's header block %s is marked mustUnderstand, and the binding's response message declares no header field of that name, so the bridge cannot process it as SOAP requires", t.Name.Local)
			}
			if err := xmlcodec.Skip(d); err != nil {
				return err
			}
		case xml.Directive:
			return errors.New("document type declarations are not allowed in SOAP")
		}
	}
}

// The roles (SOAP 1.2) and actor (SOAP 1.1) that name the bridge, the reply's receiver.
const (
	actorNext11            = "http://schemas.xmlsoap.org/soap/actor/next"
	roleNext12             = "http://www.w3.org/2003/05/soap-envelope/role/next"
	roleUltimateReceiver12 = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
)

// mustUnderstand reports whether a header block is marked mustUnderstand ("1" or "true") and
// targeted at the bridge: without an actor or role, or with the next or ultimate receiver's.
func mustUnderstand(start xml.StartElement) bool {
	must, forUs := false, true
	for _, a := range start.Attr {
		if a.Name.Space != NamespaceSOAP11 && a.Name.Space != NamespaceSOAP12 {
			continue
		}
		switch a.Name.Local {
		case "mustUnderstand":
			v := strings.TrimSpace(a.Value)
			must = v == "1" || v == "true"
		case "actor", "role":
			v := strings.TrimSpace(a.Value)
			forUs = v == "" || v == actorNext11 || v == roleNext12 || v == roleUltimateReceiver12
		}
	}
	return must && forUs
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
	return readWellFormed(xmlcodec.NewScanner(body))
}

// readWellFormed reads the rest of d's input as checkWellFormed reads a whole reply. A decoder
// that has failed returns its failure again (encoding/xml's errors stick).
//
// It stops, judging nothing, where elements nest deeper than any reply the codec decodes
// (encoding/xml keeps every open element, so reading a hostile reply of 500,000 nested
// elements to its end would cost 90 MB): the decoding error, a limit's, then stands.
func readWellFormed(d xmlcodec.Tokens) error {
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
			if depth++; depth > maxWellFormedDepth {
				return nil
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return errors.New("a document type declaration inside the envelope")
		}
	}
}

// maxWellFormedDepth is how deep readWellFormed follows nesting: the envelope, its Body, and
// more than the codec's depth limit below them.
const maxWellFormedDepth = 2*xmlcodec.MaxDepth + 8
