package adapters

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// FaultRule is a fault rule of the runtime config (backends.NAME.faults): the YAML form of
// agentbridge.v1.FaultRule, field for field, so an operator can correct how a backend's faults
// reach agents without editing the proto. Status is a google.rpc.Code name such as
// INVALID_ARGUMENT (the proto's STATUS_CODE_INVALID_ARGUMENT is accepted too).
type FaultRule struct {
	// FaultCode is the fault code's local part (Server, Client, Sender, Receiver or the
	// service's own); it also matches dotted refinements (Server matches Server.userException).
	FaultCode string `yaml:"fault_code"`
	// FaultSubcode is the local part of a SOAP 1.2 fault's Subcode value.
	FaultSubcode string `yaml:"fault_subcode"`
	// FaultString is an RE2 regular expression searched for (unanchored) in the fault string.
	FaultString string `yaml:"fault_string"`
	// FaultDetail matches an element of the fault's detail.
	FaultDetail *FaultDetailMatch `yaml:"fault_detail"`
	// Status is the code to answer with; required.
	Status string `yaml:"status"`
	// Reason is the google.rpc.ErrorInfo reason, UPPER_SNAKE_CASE; required.
	Reason string `yaml:"reason"`
	// Message replaces the start of the status message ("backend NAME rejected the request").
	Message string `yaml:"message"`
	// Hint ends the status message: what the agent should do.
	Hint string `yaml:"hint"`
}

// FaultDetailMatch is the YAML form of agentbridge.v1.FaultDetailMatch.
type FaultDetailMatch struct {
	// Element is the local name of an element at any depth of the detail.
	Element string `yaml:"element"`
	// Path leads from Element to the element whose value counts, as local names joined by "/".
	Path string `yaml:"path"`
	// Value, when set, is the text that element must hold (trimmed); nil matches any.
	Value *string `yaml:"value"`
}

// Proto returns the rule as an agentbridge.v1.FaultRule, which is what CompileFaultRules
// compiles, so the config and the proto cannot drift apart in meaning.
// On an unknown status name it returns the error and the rule with status unset.
func (r FaultRule) Proto() (*agentbridgev1.FaultRule, error) {
	code, err := parseStatusCode(r.Status)
	p := &agentbridgev1.FaultRule{
		FaultCode:    r.FaultCode,
		FaultSubcode: r.FaultSubcode,
		FaultString:  r.FaultString,
		Status:       code,
		Reason:       r.Reason,
		Message:      r.Message,
		Hint:         r.Hint,
	}
	if d := r.FaultDetail; d != nil {
		p.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: d.Element, Path: d.Path, Value: d.Value}
	}
	return p, err
}

// parseStatusCode reads a code name as google.rpc.Code spells it, or as the proto's enum does.
func parseStatusCode(name string) (agentbridgev1.StatusCode, error) {
	if name == "" {
		return agentbridgev1.StatusCode_STATUS_CODE_UNSPECIFIED, nil // refused by compile, with the others
	}
	const prefix = "STATUS_CODE_"
	if v, ok := agentbridgev1.StatusCode_value[prefix+strings.TrimPrefix(name, prefix)]; ok && v != 0 {
		return agentbridgev1.StatusCode(v), nil
	}
	names := make([]string, 0, len(agentbridgev1.StatusCode_name)-1)
	for v := int32(1); v < int32(len(agentbridgev1.StatusCode_name)); v++ {
		names = append(names, strings.TrimPrefix(agentbridgev1.StatusCode_name[v], prefix))
	}
	return 0, fmt.Errorf("status %q is not a status code name (one of %s)", name, strings.Join(names, ", "))
}

// FaultRules returns the backend's fault rules from the config, compiled; rules are named
// backend:NAME:N. An error names the backend and the rule.
func (b Backend) FaultRules() (FaultRules, error) {
	if len(b.Faults) == 0 {
		return FaultRules{}, nil
	}
	rules := make([]*agentbridgev1.FaultRule, len(b.Faults))
	var errs []error
	for i, r := range b.Faults {
		p, err := r.Proto()
		if err != nil {
			errs = append(errs, fmt.Errorf("faults[%d]: %w", i, err))
			// Compiled anyway, so its other mistakes are reported too; a stand-in status
			// keeps "status is required" from being said as well. The rules are not used.
			p.Status = agentbridgev1.StatusCode_STATUS_CODE_INTERNAL
		}
		rules[i] = p
	}
	rs, cerrs := compileFaultRules("backend:"+b.Name, rules, nil)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("backend %q: %w", b.Name, err)
		}
		return FaultRules{}, errors.Join(errs...)
	}
	return rs, nil
}

// FaultRules is an ordered list of compiled fault rules. A binding's rules and its backend's
// are two lists, tried in that order, then the adapters' table. The zero value matches nothing.
// Rules are compiled once, when a method is bound or a config is loaded, never per call.
type FaultRules struct {
	rules []faultRule
}

type faultRule struct {
	code, subcode string
	text          *regexp.Regexp
	detail        []string // element, then the path below it
	value         *string
	mapping       FaultMapping
}

// FaultMapping is what a matching rule decides about a fault.
type FaultMapping struct {
	// Rule names the rule for ErrorInfo metadata fault_rule: "method:N" or "backend:NAME:N".
	Rule string
	// Code is the status code, never OK.
	Code codes.Code
	// Reason is the ErrorInfo reason.
	Reason Reason
	// Message, if not empty, starts the status message in place of the kind's own words.
	Message string
	// Hint, if not empty, ends the status message.
	Hint string
	// DetailType, if not nil, is the message that the detail element DetailElement decodes
	// into, to be attached to the status as a detail (FaultRule.detail_type). Only a
	// binding's rules have one (see CompileBindingFaultRules).
	DetailType protoreflect.MessageDescriptor
	// DetailElement is the local name of that detail element: the rule's fault_detail.element.
	DetailElement string
}

// FaultView is what fault rules see of a backend fault. Code and Subcode are as sent (a
// prefix, if any, is ignored); String is the text agents see, redacted.
type FaultView struct {
	Code    string
	Subcode string
	String  string
	// Detail lists the detail's elements, in document order.
	Detail []DetailElement
}

// DetailElement is one element of a fault's detail.
type DetailElement struct {
	// Path holds the local names from the detail's top-level element down to this one.
	Path []string
	// Text is the element's own character data (outside its child elements), trimmed.
	Text string
}

// reasonPattern is google.rpc.ErrorInfo's documented form of a reason.
var reasonPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*[A-Z0-9]$`)

const maxReasonLen = 63

// CompileFaultRules checks and compiles rules; source names them in fault_rule ("method" for a
// binding's, "backend:NAME" for a config's). Every broken rule is reported, each as
// faults[N]: what is wrong, so a mistake surfaces at start, not at the first fault.
//
// A rule with a detail_type is refused here: its type is a message of a method's contract,
// which only CompileBindingFaultRules knows.
func CompileFaultRules(source string, rules []*agentbridgev1.FaultRule) (FaultRules, error) {
	rs, errs := compileFaultRules(source, rules, nil)
	if len(errs) > 0 {
		return FaultRules{}, errors.Join(errs...)
	}
	return rs, nil
}

// CompileBindingFaultRules compiles the fault rules of method's binding, named "method" in
// fault_rule, as CompileFaultRules does. A rule's detail_type is resolved by full name among
// the messages of method's file and the files it imports, transitively (a contract loaded at
// run time has them nowhere else); it must name a message, and the rule must have a
// fault_detail.element, the element that decodes into it.
func CompileBindingFaultRules(method protoreflect.MethodDescriptor, rules []*agentbridgev1.FaultRule) (FaultRules, error) {
	file := method.ParentFile()
	rs, errs := compileFaultRules("method", rules, func(name protoreflect.FullName) protoreflect.MessageDescriptor {
		return findMessage(file, name, map[string]bool{})
	})
	if len(errs) > 0 {
		return FaultRules{}, errors.Join(errs...)
	}
	return rs, nil
}

// findMessage looks for the message named name in file, then in the files it imports, each
// file once.
func findMessage(file protoreflect.FileDescriptor, name protoreflect.FullName, seen map[string]bool) protoreflect.MessageDescriptor {
	if file == nil || seen[file.Path()] {
		return nil
	}
	seen[file.Path()] = true
	rel := string(name)
	if pkg := string(file.Package()); pkg != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(rel, pkg+"."); !ok {
			rel = ""
		}
	}
	if rel != "" {
		var md protoreflect.MessageDescriptor
		messages := file.Messages()
		for part := range strings.SplitSeq(rel, ".") {
			if md = messages.ByName(protoreflect.Name(part)); md == nil {
				break
			}
			messages = md.Messages()
		}
		if md != nil {
			return md
		}
	}
	imports := file.Imports()
	for i := range imports.Len() {
		if md := findMessage(imports.Get(i).FileDescriptor, name, seen); md != nil {
			return md
		}
	}
	return nil
}

// compileFaultRules returns each mistake as its own error, faults[N]: what, so a caller can
// name the source on every line. resolve finds a detail_type's message; nil refuses
// detail_type.
func compileFaultRules(source string, rules []*agentbridgev1.FaultRule, resolve func(protoreflect.FullName) protoreflect.MessageDescriptor) (FaultRules, []error) {
	var (
		out  = FaultRules{rules: make([]faultRule, 0, len(rules))}
		errs []error
	)
	for i, r := range rules {
		fr, ruleErrs := compileFaultRule(r, resolve)
		for _, err := range ruleErrs {
			errs = append(errs, fmt.Errorf("faults[%d]: %w", i, err))
		}
		fr.mapping.Rule = source + ":" + strconv.Itoa(i)
		out.rules = append(out.rules, fr)
	}
	return out, errs
}

func compileFaultRule(r *agentbridgev1.FaultRule, resolve func(protoreflect.FullName) protoreflect.MessageDescriptor) (faultRule, []error) {
	fr := faultRule{code: r.GetFaultCode(), subcode: r.GetFaultSubcode()}
	var errs []error
	for _, n := range []struct{ field, value string }{{"fault_code", fr.code}, {"fault_subcode", fr.subcode}} {
		if err := checkLocalName(n.value); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", n.field, n.value, err))
		}
	}
	if p := r.GetFaultString(); p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("fault_string %q is not an RE2 regular expression: %w", p, err))
		}
		fr.text = re
	}
	if d := r.GetFaultDetail(); d != nil {
		fr.detail = []string{d.GetElement()}
		if d.GetPath() != "" {
			fr.detail = append(fr.detail, strings.Split(d.GetPath(), "/")...)
		}
		if d.GetElement() == "" {
			errs = append(errs, errors.New("fault_detail needs element, the local name of a detail element"))
		} else if slices.ContainsFunc(fr.detail, func(name string) bool { return name == "" || checkLocalName(name) != nil }) {
			errs = append(errs, fmt.Errorf("fault_detail %q: element and path take local names, without prefixes, the path's joined by /", strings.Join(fr.detail, "/")))
		}
		if d.Value != nil {
			v := strings.TrimSpace(d.GetValue())
			fr.value = &v
		}
	}
	if fr.code == "" && fr.subcode == "" && r.GetFaultString() == "" && r.GetFaultDetail() == nil {
		errs = append(errs, errors.New(`the rule matches on nothing; set fault_code, fault_subcode, fault_string or fault_detail (fault_string ".*" matches every fault)`))
	}
	switch st := r.GetStatus(); {
	case st == agentbridgev1.StatusCode_STATUS_CODE_UNSPECIFIED:
		errs = append(errs, errors.New("status is required"))
	case agentbridgev1.StatusCode_name[int32(st)] == "":
		errs = append(errs, fmt.Errorf("status %d is not a status code", int32(st)))
	default:
		fr.mapping.Code = codes.Code(st) // numbered as google.rpc.Code, as grpc's codes are
	}
	switch reason := r.GetReason(); {
	case reason == "":
		errs = append(errs, errors.New("reason is required (an UPPER_SNAKE_CASE name agents can match on, such as INVALID_INPUT)"))
	case len(reason) > maxReasonLen || !reasonPattern.MatchString(reason):
		errs = append(errs, fmt.Errorf("reason %q must be UPPER_SNAKE_CASE ([A-Z][A-Z0-9_]*[A-Z0-9]), at most %d characters", reason, maxReasonLen))
	default:
		fr.mapping.Reason = Reason(reason)
	}
	fr.mapping.Message, fr.mapping.Hint = strings.TrimSpace(r.GetMessage()), strings.TrimSpace(r.GetHint())
	if t := r.GetDetailType(); t != "" {
		switch name := protoreflect.FullName(strings.TrimPrefix(t, ".")); {
		case resolve == nil:
			errs = append(errs, fmt.Errorf("detail_type %q: only a binding's fault rules can name a detail type, a message of the method's contract", t))
		case r.GetFaultDetail().GetElement() == "":
			errs = append(errs, fmt.Errorf("detail_type %q needs fault_detail.element, the detail element that decodes into it", t))
		case !name.IsValid():
			errs = append(errs, fmt.Errorf("detail_type %q is not a full message name (package.Message)", t))
		default:
			md := resolve(name)
			if md == nil {
				errs = append(errs, fmt.Errorf("detail_type %q names no message of the method's file or its imports", t))
				break
			}
			fr.mapping.DetailType, fr.mapping.DetailElement = md, r.GetFaultDetail().GetElement()
		}
	}
	return fr, errs
}

// checkLocalName refuses what cannot be an XML local name as rules compare them: a prefix
// (prefixes are the sender's choice, so a rule naming one would never mean what it says) or
// white space.
func checkLocalName(name string) error {
	if strings.Contains(name, ":") {
		_, local, _ := strings.Cut(name, ":")
		return fmt.Errorf("give the local part only (%s); prefixes are the sender's choice", local)
	}
	if strings.ContainsAny(name, " \t\r\n") {
		return errors.New("a name has no white space")
	}
	return nil
}

// DetailTypes lists the detail types of the rules, in order, for checking that each can be
// decoded when a method is bound.
func (rs FaultRules) DetailTypes() []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	for i := range rs.rules {
		if t := rs.rules[i].mapping.DetailType; t != nil {
			out = append(out, t)
		}
	}
	return out
}

// Match returns the mapping of the first rule that matches f.
func (rs FaultRules) Match(f *FaultView) (FaultMapping, bool) {
	if len(rs.rules) == 0 {
		return FaultMapping{}, false
	}
	code, subcode := localPart(f.Code), localPart(f.Subcode)
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.code != "" && code != r.code && !strings.HasPrefix(code, r.code+".") {
			continue
		}
		if r.subcode != "" && subcode != r.subcode {
			continue
		}
		if r.text != nil && !r.text.MatchString(f.String) {
			continue
		}
		if r.detail != nil && !r.matchDetail(f.Detail) {
			continue
		}
		return r.mapping, true
	}
	return FaultMapping{}, false
}

// matchDetail reports whether an element's path ends with the rule's element and path, and, if
// the rule gives a value, holds it.
func (r *faultRule) matchDetail(elems []DetailElement) bool {
	for _, e := range elems {
		if len(e.Path) < len(r.detail) {
			continue
		}
		tail := e.Path[len(e.Path)-len(r.detail):]
		match := true
		for i, name := range r.detail {
			if tail[i] != name {
				match = false
				break
			}
		}
		if match && (r.value == nil || e.Text == *r.value) {
			return true
		}
	}
	return false
}

// localPart drops a QName's prefix.
func localPart(qname string) string {
	if i := strings.LastIndexByte(qname, ':'); i >= 0 {
		return qname[i+1:]
	}
	return qname
}

// FaultStatus renders a fault a kind read in its protocol's terms (an XML-RPC fault, an error
// document, an error in a 200 body) as a status. The first of the rule sets (the method's, then
// the backend's) with a rule that matches view decides the code and reason, and starts the
// message with the rule's message, or "backend NAME rejected the request" / "failed" by the
// code (LeadIn); text, the fault's own words already redacted, ends it, then the rule's hint.
// Without a match, o stands as given: ReasonBackendFault and the kind's own message. A matched
// rule is named in o.Metadata's fault_rule.
func FaultStatus(o Outcome, view *FaultView, text string, redact *Redactor, ruleSets ...FaultRules) error {
	for _, rs := range ruleSets {
		m, ok := rs.Match(view)
		if !ok {
			continue
		}
		o.Reason, o.Override = m.Reason, m.Code
		if o.Metadata != nil {
			o.Metadata["fault_rule"] = m.Rule
		}
		lead := redact.Replace(m.Message)
		if lead == "" {
			lead = "backend " + o.Backend + LeadIn(m.Code)
		}
		o.Message = lead + ": " + text
		if m.Hint != "" {
			o.Message = strings.TrimRight(o.Message, ". ") + ". " + redact.Replace(m.Hint)
		}
		break
	}
	return o.Err()
}

// LeadIn is how a mapped fault's message goes on after "backend NAME" when its rule gives no
// message: whether the agent's request was refused (it can change it) or the backend failed.
func LeadIn(c codes.Code) string {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange, codes.NotFound, codes.AlreadyExists,
		codes.FailedPrecondition, codes.PermissionDenied, codes.Unauthenticated,
		codes.ResourceExhausted, codes.Aborted:
		return " rejected the request"
	}
	return " failed"
}
