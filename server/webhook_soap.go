package server

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
)

// This file reads SOAP notifications: Salesforce Outbound Messaging posts a SOAP 1.1 envelope
// whose body is a notifications element holding one or more Notification elements, each with
// an Id and an sObject (the record's fields). Each Notification becomes one event: its id is
// the Notification's Id, its data the sObject decoded into the source's message. The sender is
// told <Ack>true</Ack> only once every one of them is stored; anything else is a SOAP fault,
// which makes Salesforce send the message again later.

// Namespaces of Outbound Messaging.
const (
	soap11Namespace     = "http://schemas.xmlsoap.org/soap/envelope/"
	outboundNamespace   = "http://soap.sforce.com/2005/09/outbound"
	xmlSchemaInstanceNS = "http://www.w3.org/2001/XMLSchema-instance"
)

// soapAck is the reply that tells Salesforce the notifications are handled.
const soapAck = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>`

// notification is one decoded Notification.
type notification struct {
	id  string
	typ string // the sObject's xsi:type without its prefix, such as Account
	msg proto.Message
}

// decodeNotifications reads an Outbound Messaging envelope.
func (src *webhookSource) decodeNotifications(body []byte, ct string) ([]notification, string, *webhookFailure) {
	bad := func(format string, args ...any) *webhookFailure {
		return failf(http.StatusBadRequest, "invalid", "invalid SOAP notification: "+format, args...)
	}
	utf, err := xmlcodec.ToUTF8(body, ct)
	if err != nil {
		return nil, "", bad("%s", xmlCharsetError(err))
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(utf))
	env, err := xmlcodec.OpenRoot(d)
	if err != nil {
		return nil, "", bad("malformed XML: %v", err)
	}
	if env.Name.Space != soap11Namespace || env.Name.Local != "Envelope" {
		return nil, "", bad("the root element is {%s}%s, not a SOAP 1.1 Envelope", env.Name.Space, env.Name.Local)
	}
	var notes []notification
	var org string
	sawBody := false
	for {
		start, end, err := nextChild(d)
		if err != nil {
			return nil, "", bad("malformed XML: %v", err)
		}
		if end {
			break
		}
		switch {
		case start.Name.Space == soap11Namespace && start.Name.Local == "Header" && !sawBody:
			if err := d.Skip(); err != nil {
				return nil, "", bad("malformed XML: %v", err)
			}
		case start.Name.Space == soap11Namespace && start.Name.Local == "Body" && !sawBody:
			sawBody = true
			if notes, org, err = src.readNotificationsBody(d); err != nil {
				var f *webhookFailure
				if errors.As(err, &f) {
					return nil, "", f
				}
				return nil, "", bad("%v", err)
			}
		default:
			return nil, "", bad("unexpected element %s in the Envelope", start.Name.Local)
		}
	}
	if !sawBody {
		return nil, "", bad("the Envelope has no Body")
	}
	if err := onlyTrailingSpace(d); err != nil {
		return nil, "", bad("malformed XML: %v", err)
	}
	return notes, org, nil
}

// readNotificationsBody reads the Body: exactly one notifications element.
func (src *webhookSource) readNotificationsBody(d *xml.Decoder) ([]notification, string, error) {
	var notes []notification
	var org string
	seen := false
	for {
		start, end, err := nextChild(d)
		if err != nil {
			return nil, "", fmt.Errorf("malformed XML: %w", err)
		}
		if end {
			break
		}
		if seen || start.Name.Space != outboundNamespace || start.Name.Local != "notifications" {
			return nil, "", fmt.Errorf("the Body holds %s, not one notifications element of %s", start.Name.Local, outboundNamespace)
		}
		seen = true
		if notes, org, err = src.readNotifications(d); err != nil {
			return nil, "", err
		}
	}
	if !seen {
		return nil, "", errors.New("the Body holds no notifications element")
	}
	if len(notes) == 0 {
		return nil, "", errors.New("the notifications element holds no Notification")
	}
	return notes, org, nil
}

// readNotifications reads the notifications element's children. The organization, action and
// URLs are read over; the SessionId (a live session of the sending user) is never kept.
func (src *webhookSource) readNotifications(d *xml.Decoder) ([]notification, string, error) {
	var notes []notification
	var org string
	for {
		start, end, err := nextChild(d)
		if err != nil {
			return nil, "", fmt.Errorf("malformed XML: %w", err)
		}
		if end {
			return notes, org, nil
		}
		if start.Name.Space != outboundNamespace {
			return nil, "", fmt.Errorf("unexpected element notifications/%s", start.Name.Local)
		}
		switch start.Name.Local {
		case "OrganizationId":
			if err := d.DecodeElement(&org, &start); err != nil {
				return nil, "", fmt.Errorf("notifications/OrganizationId: %w", err)
			}
			org = strings.TrimSpace(org)
		case "ActionId", "SessionId", "EnterpriseUrl", "PartnerUrl":
			if err := d.Skip(); err != nil {
				return nil, "", fmt.Errorf("malformed XML: %w", err)
			}
		case "Notification":
			n, err := src.readNotification(d, len(notes))
			if err != nil {
				return nil, "", err
			}
			notes = append(notes, n)
		default:
			return nil, "", fmt.Errorf("unexpected element notifications/%s", start.Name.Local)
		}
	}
}

// readNotification reads one Notification: its Id and its sObject.
func (src *webhookSource) readNotification(d *xml.Decoder, index int) (notification, error) {
	var n notification
	where := fmt.Sprintf("notifications/Notification[%d]", index)
	for {
		start, end, err := nextChild(d)
		if err != nil {
			return n, fmt.Errorf("malformed XML: %w", err)
		}
		if end {
			break
		}
		switch {
		case start.Name.Local == "Id" && start.Name.Space == outboundNamespace:
			var id string
			if err := d.DecodeElement(&id, &start); err != nil {
				return n, fmt.Errorf("%s/Id: %w", where, err)
			}
			n.id = strings.TrimSpace(id)
		case start.Name.Local == "sObject" && start.Name.Space == outboundNamespace:
			if n.msg != nil {
				return n, fmt.Errorf("%s holds two sObject elements", where)
			}
			for _, a := range start.Attr {
				if a.Name.Space == xmlSchemaInstanceNS && a.Name.Local == "type" {
					n.typ = a.Value
					if _, local, ok := strings.Cut(a.Value, ":"); ok {
						n.typ = local
					}
				}
			}
			msg := src.mt.New().Interface()
			if err := src.plan.Decode(d, start, msg); err != nil {
				f := xmlFailure(msg, err)
				f.msg = "invalid SOAP notification: " + where + "/sObject: " + f.msg
				return n, f
			}
			n.msg = msg
		default:
			return n, fmt.Errorf("unexpected element %s/%s", where, start.Name.Local)
		}
	}
	if n.id == "" {
		return n, fmt.Errorf("%s has no Id", where)
	}
	if n.msg == nil {
		return n, fmt.Errorf("%s %s has no sObject", where, n.id)
	}
	return n, nil
}

// nextChild reads up to the next child element of the element being read, or its end tag;
// whitespace and comments between are passed over, other text is an error.
func nextChild(d *xml.Decoder) (xml.StartElement, bool, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return xml.StartElement{}, false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return xml.StartElement{}, true, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, false, errors.New("unexpected text between elements")
			}
		case xml.Directive:
			return xml.StartElement{}, false, errors.New("document type declarations are not allowed")
		}
	}
}

// organizationAllowed says whether a source takes notifications of organization org: any, when
// it lists none; else a listed id, an 18-character id matching a listed 15-character one by its
// first 15.
func (src *webhookSource) organizationAllowed(org string) bool {
	if len(src.orgIDs) == 0 {
		return true
	}
	for _, id := range src.orgIDs {
		if id == org || len(id) == 15 && len(org) == 18 && org[:15] == id {
			return true
		}
	}
	return false
}

// writeSOAPFault answers a refused notification with a SOAP 1.1 fault: Client for what the
// sender must change, Server for what may pass when sent again.
func writeSOAPFault(w http.ResponseWriter, f *webhookFailure) {
	code := "soapenv:Client"
	if f.code >= 500 {
		code = "soapenv:Server"
	}
	var msg bytes.Buffer
	_ = xml.EscapeText(&msg, []byte(f.msg))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(f.code)
	_, _ = fmt.Fprintf(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`, code, msg.String())
}
