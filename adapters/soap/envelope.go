package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
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
// application/soap+xml with the action as a media type parameter for 1.2.
func (v Version) Header(action string) http.Header {
	h := http.Header{}
	if v == V12 {
		params := map[string]string{"charset": "utf-8"}
		if action != "" {
			params["action"] = action
		}
		h.Set("Content-Type", mime.FormatMediaType("application/soap+xml", params))
		h.Set("Accept", "application/soap+xml, multipart/related")
		return h
	}
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Accept", "text/xml, multipart/related")
	h.Set("SOAPAction", `"`+strings.ReplaceAll(action, `"`, `%22`)+`"`)
	return h
}

// appendEnvelope writes a complete envelope whose body is msg written as the element name.
func appendEnvelope(dst []byte, v Version, name xmlcodec.Name, plan *xmlcodec.Plan, msg proto.Message) ([]byte, error) {
	dst = append(dst, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="`...)
	dst = append(dst, v.Namespace()...)
	dst = append(dst, `"><soap:Body>`...)
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
// envelope gives errNotEnvelope.
func openBody(body []byte) (*xml.Decoder, xml.StartElement, error) {
	d := xmlcodec.NewDecoder(bytes.NewReader(body))
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
			return nil, xml.StartElement{}, errors.New("document type declarations are not allowed in SOAP")
		}
	}
}

var errEmptyBody = errors.New("the envelope's Body holds no element")
