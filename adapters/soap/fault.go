package soap

import (
	"bytes"
	"encoding/xml"
	"strings"

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

func readFault(d *xml.Decoder, start xml.StartElement) (*Fault, error) {
	var fx faultXML
	if err := d.DecodeElement(&fx, &start); err != nil {
		return nil, err
	}
	f := &Fault{Code: fx.FaultCode, String: fx.FaultString, Actor: fx.FaultActor, Detail: detailText(fx.Detail11.XML)}
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
		f.Detail = detailText(fx.Detail12.XML)
	}
	f.Code, f.Subcode, f.String, f.Actor = strings.TrimSpace(f.Code), strings.TrimSpace(f.Subcode), strings.TrimSpace(f.String), strings.TrimSpace(f.Actor)
	return f, nil
}

// redact applies r, which hides the backend's endpoint, to every text of the fault.
func (f *Fault) redact(r *strings.Replacer) {
	if r == nil {
		return
	}
	f.Code, f.Subcode, f.String = r.Replace(f.Code), r.Replace(f.Subcode), r.Replace(f.String)
	f.Actor, f.Detail = r.Replace(f.Actor), r.Replace(f.Detail)
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
	var msg string
	switch f.Reason() {
	case adapters.ReasonSOAPClientFault:
		msg = "backend " + backend + " rejected the request: " + text
	case adapters.ReasonSOAPVersionMismatch, adapters.ReasonSOAPMustUnderstand:
		msg = "backend " + backend + " does not accept the bridge's SOAP message (" + f.Code + "): " + text + "; check the binding's SOAP version"
	default:
		msg = "backend " + backend + " failed: " + text
	}
	if f.Detail != "" && len(f.Detail) < 200 {
		msg += " (" + f.Detail + ")"
	}
	return adapters.Outcome{Reason: f.Reason(), Backend: backend, Message: msg, Metadata: md}.Err()
}

// detailText turns fault detail XML into "path: value" pairs, one per leaf element, joined by
// "; ". Text-only detail is returned trimmed. Undecodable detail is returned as raw, trimmed
// XML: it still tells an operator something.
func detailText(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(raw))
	var (
		path  []string
		parts []string
		text  strings.Builder
		leaf  bool
		top   strings.Builder
	)
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
			leaf = true
		case xml.CharData:
			if len(path) == 0 {
				top.Write(t)
			} else {
				text.Write(t)
			}
		case xml.EndElement:
			if leaf && len(path) > 0 {
				parts = append(parts, strings.Join(path, "/")+": "+strings.TrimSpace(text.String()))
			}
			leaf = false
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		}
	}
	if len(parts) == 0 {
		if s := strings.TrimSpace(top.String()); s != "" {
			return s
		}
		return string(raw)
	}
	return strings.Join(parts, "; ")
}
