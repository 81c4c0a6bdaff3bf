package xmlrpc

import (
	"strings"

	"github.com/agentbridge/agentbridge/adapters"
)

// Fault is an XML-RPC fault: the struct of a methodResponse's fault element.
type Fault struct {
	// Code is faultCode: an int, as the spec says (a few servers send a string; it is kept as
	// sent).
	Code string
	// String is faultString.
	String string
	// Extra holds the fault struct's other members (Apache's faultCause, a server's own), by
	// name, as text: scalars as sent, others by their type.
	Extra []adapters.DetailElement
}

// readFault reads a fault's value: a struct with faultCode and faultString.
func readFault(v *value) (*Fault, error) {
	if v.typ != tStruct {
		return nil, protocolf("the fault's value is a %s, not a struct with faultCode and faultString", v.typ)
	}
	f := &Fault{}
	hasCode := false
	for _, m := range v.members {
		switch m.name {
		case "faultCode":
			if m.v.typ != tInt && m.v.typ != tString {
				return nil, protocolf("the fault's faultCode is a %s, not an int", m.v.typ)
			}
			f.Code, hasCode = strings.TrimSpace(m.v.text), true
		case "faultString":
			if m.v.typ != tString {
				return nil, protocolf("the fault's faultString is a %s, not a string", m.v.typ)
			}
			f.String = strings.TrimSpace(m.v.text)
		default:
			text := m.v.text
			if m.v.typ == tStruct || m.v.typ == tArray || m.v.typ == tNil {
				text = "(" + m.v.typ.String() + ")"
			}
			f.Extra = append(f.Extra, adapters.DetailElement{Path: []string{m.name}, Text: strings.TrimSpace(text)})
		}
	}
	if !hasCode {
		return nil, protocolf("the fault has no faultCode")
	}
	return f, nil
}

// fault renders a fault as a status: by the first rule of the method's, then the backend's,
// fault rules that matches it (fault_code matches faultCode's digits, fault_string
// faultString, fault_detail an extra member by name), else as BACKEND_FAULT (Internal). The
// metadata carries fault_code and fault_string, which also tell the guard that the backend
// answered (a fault is not retried, and is not a breaker failure).
func (a *Adapter) fault(m *method, v *value, md map[string]string) error {
	name := a.backend.Name
	f, err := readFault(v)
	if err != nil {
		return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, md, "backend %s sent a fault that breaks XML-RPC: %s", name, a.redact.Replace(err.Error()))
	}
	f.Code, f.String = a.redact.Replace(f.Code), a.redact.Replace(f.String)
	var detail []string
	for i := range f.Extra {
		f.Extra[i].Text = a.redact.Replace(f.Extra[i].Text)
		detail = append(detail, f.Extra[i].Path[0]+": "+f.Extra[i].Text)
	}
	md["fault_code"], md["fault_string"] = f.Code, f.String
	if len(detail) > 0 {
		md["fault_detail"] = strings.Join(detail, "; ")
	}
	text := f.String
	if text == "" {
		text = "no fault string given"
	}
	text += " (fault " + f.Code + ")"
	view := adapters.FaultView{Code: f.Code, String: f.String, Detail: f.Extra}
	o := adapters.Outcome{Reason: adapters.ReasonBackendFault, Backend: name, Metadata: md, Message: "backend " + name + " failed: " + text}
	return adapters.FaultStatus(o, &view, text, a.redact, m.faults, a.faults)
}
