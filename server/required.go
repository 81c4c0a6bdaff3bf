package server

import (
	"errors"
	"fmt"
	"sync"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/server/toolschema"
)

// requiredRule is the rule id, and so the google.rpc.BadRequest reason, of a field marked
// (google.api.field_behavior) = REQUIRED that a request leaves unset.
const requiredRule = "field_behavior.required"

// behaviorValidator checks (google.api.field_behavior) = REQUIRED before the request's
// buf.validate rules, so that both are one check with one error on every surface: the chain's
// validate interceptor and the MCP surface's explanation of refused arguments both call it.
//
// A REQUIRED field is set when protobuf says it has a value (protoreflect's Has):
//   - a field with presence (a message, a oneof member, proto3 optional, proto2 and editions
//     explicit presence) is set when present, even with its zero value;
//   - a scalar or enum without presence is set when it is not its zero value ("", 0, false,
//     empty bytes, the enum's first value), since protobuf cannot tell zero from absent;
//   - a repeated field or a map is set when it has at least one element.
//
// Fields of a nested message are checked when the message is present: a set message field,
// every element of a repeated message field and every value of a map of messages. A missing
// parent is reported, not its fields.
//
// buf.validate runs only for messages that reach a rule (see toolschema.HasRules), and
// protovalidate's validator, whose CEL environment costs about 2 MB to build, is made on the
// first such message: a contract without rules never builds it, and its calls skip it.
type behaviorValidator struct {
	next  func() (protovalidate.Validator, error)
	mu    sync.Mutex
	plans map[protoreflect.MessageDescriptor]*requiredPlan
}

// requiredPlan is what a message type needs checked, found once per descriptor so that a call
// does not read field options.
type requiredPlan struct {
	required []protoreflect.FieldDescriptor
	nested   []nestedPlan // message-valued fields whose type has something to check
	rules    bool         // the message or one it can hold has buf.validate rules
}

type nestedPlan struct {
	field protoreflect.FieldDescriptor
	plan  *requiredPlan
}

func (p *requiredPlan) empty() bool { return len(p.required) == 0 && len(p.nested) == 0 }

// maxPlans bounds the plan cache: contracts reloaded many times bring new descriptors each time.
const maxPlans = 4096

// newBehaviorValidator returns a validator that makes protovalidate's with next once a message
// with rules needs it.
func newBehaviorValidator(next func() (protovalidate.Validator, error)) *behaviorValidator {
	return &behaviorValidator{next: sync.OnceValues(next), plans: map[protoreflect.MessageDescriptor]*requiredPlan{}}
}

var _ protovalidate.Validator = (*behaviorValidator)(nil)

// Validate reports the unset REQUIRED fields and then the buf.validate violations as one
// *protovalidate.ValidationError; a field already reported unset is not reported again by a
// buf.validate rule.
func (v *behaviorValidator) Validate(msg proto.Message, options ...protovalidate.ValidationOption) error {
	m := msg.ProtoReflect()
	plan := v.plan(m.Descriptor())
	var missing []*protovalidate.Violation
	if !plan.empty() {
		walkRequired(m, plan, nil, &missing)
	}
	var err error
	if plan.rules {
		next, nerr := v.next()
		if nerr != nil {
			return fmt.Errorf("protovalidate: %w", nerr)
		}
		err = next.Validate(msg, options...)
	}
	if len(missing) == 0 {
		return err
	}
	out := &protovalidate.ValidationError{Violations: missing}
	if err == nil {
		return out
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return err // rules that cannot be evaluated are the author's bug; that error wins
	}
	reported := map[string]bool{}
	for _, m := range missing {
		reported[protovalidate.FieldPathString(m.Proto.GetField())] = true
	}
	for _, viol := range ve.Violations {
		if !reported[protovalidate.FieldPathString(viol.Proto.GetField())] {
			out.Violations = append(out.Violations, viol)
		}
	}
	return out
}

// walkRequired lists the REQUIRED fields that m and the messages it holds leave unset, in
// field order, depth first.
func walkRequired(m protoreflect.Message, plan *requiredPlan, path []*validate.FieldPathElement, out *[]*protovalidate.Violation) {
	for _, fd := range plan.required {
		if !m.Has(fd) {
			*out = append(*out, requiredViolation(fd, appendPath(path, fd)))
		}
	}
	for _, n := range plan.nested {
		fd := n.field
		if !m.Has(fd) {
			continue
		}
		switch {
		case fd.IsList():
			list := m.Get(fd).List()
			for i := range list.Len() {
				el := appendPath(path, fd)
				el[len(el)-1].Subscript = &validate.FieldPathElement_Index{Index: uint64(i)}
				walkRequired(list.Get(i).Message(), n.plan, el, out)
			}
		case fd.IsMap():
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, val protoreflect.Value) bool {
				el := appendPath(path, fd)
				setMapKey(el[len(el)-1], fd.MapKey(), k)
				walkRequired(val.Message(), n.plan, el, out)
				return true
			})
		default:
			walkRequired(m.Get(fd).Message(), n.plan, appendPath(path, fd), out)
		}
	}
}

// plan returns md's plan, planning every message md reaches on first use.
func (v *behaviorValidator) plan(md protoreflect.MessageDescriptor) *requiredPlan {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.plans[md]; ok {
		return p
	}
	if len(v.plans) >= maxPlans {
		clear(v.plans)
	}
	// Messages may contain themselves, so first find every message md reaches and which of them
	// have REQUIRED fields, then which reach one of those: only fields towards them are walked.
	var reached []protoreflect.MessageDescriptor
	plans := map[protoreflect.MessageDescriptor]*requiredPlan{}
	var visit func(m protoreflect.MessageDescriptor)
	visit = func(m protoreflect.MessageDescriptor) {
		if _, seen := plans[m]; seen {
			return
		}
		p := &requiredPlan{rules: toolschema.HasRules(m)}
		plans[m] = p
		reached = append(reached, m)
		fields := m.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if toolschema.Required(fd) {
				p.required = append(p.required, fd)
			}
			if sub := messageOf(fd); sub != nil {
				visit(sub)
			}
		}
	}
	visit(md)
	checks := map[protoreflect.MessageDescriptor]bool{}
	ruled := map[protoreflect.MessageDescriptor]bool{}
	for changed := true; changed; {
		changed = false
		for _, m := range reached {
			if !checks[m] && (len(plans[m].required) > 0 || reachesCheck(m, checks)) {
				checks[m], changed = true, true
			}
			if !ruled[m] && (plans[m].rules || reachesCheck(m, ruled)) {
				ruled[m], changed = true, true
			}
		}
	}
	for _, m := range reached {
		plans[m].rules = ruled[m]
		fields := m.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if sub := messageOf(fd); sub != nil && checks[sub] {
				plans[m].nested = append(plans[m].nested, nestedPlan{field: fd, plan: plans[sub]})
			}
		}
		if _, have := v.plans[m]; !have {
			v.plans[m] = plans[m]
		}
	}
	return plans[md]
}

// reachesCheck reports whether one of m's fields holds a message already in checks.
func reachesCheck(m protoreflect.MessageDescriptor, checks map[protoreflect.MessageDescriptor]bool) bool {
	fields := m.Fields()
	for i := range fields.Len() {
		if sub := messageOf(fields.Get(i)); sub != nil && checks[sub] {
			return true
		}
	}
	return false
}

// messageOf returns the message type a field holds (a map's value type for a map), or nil.
func messageOf(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd.IsMap() {
		return fd.MapValue().Message()
	}
	return fd.Message()
}

func appendPath(path []*validate.FieldPathElement, fd protoreflect.FieldDescriptor) []*validate.FieldPathElement {
	out := make([]*validate.FieldPathElement, len(path), len(path)+1)
	copy(out, path)
	num := int32(fd.Number())
	name := string(fd.Name())
	kind := descriptorType(fd)
	el := &validate.FieldPathElement{FieldNumber: &num, FieldName: &name, FieldType: &kind}
	if fd.IsMap() {
		kt, vt := descriptorType(fd.MapKey()), descriptorType(fd.MapValue())
		el.KeyType, el.ValueType = &kt, &vt
	}
	return append(out, el)
}

// descriptorType is fd's type as descriptor.proto numbers it, which protoreflect's kinds share.
func descriptorType(fd protoreflect.FieldDescriptor) descriptorpb.FieldDescriptorProto_Type {
	return descriptorpb.FieldDescriptorProto_Type(fd.Kind())
}

// setMapKey makes el name one entry of a map, as protovalidate's paths do.
func setMapKey(el *validate.FieldPathElement, kd protoreflect.FieldDescriptor, k protoreflect.MapKey) {
	switch kd.Kind() {
	case protoreflect.BoolKind:
		el.Subscript = &validate.FieldPathElement_BoolKey{BoolKey: k.Bool()}
	case protoreflect.StringKind:
		el.Subscript = &validate.FieldPathElement_StringKey{StringKey: k.String()}
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		el.Subscript = &validate.FieldPathElement_UintKey{UintKey: k.Uint()}
	default:
		el.Subscript = &validate.FieldPathElement_IntKey{IntKey: k.Int()}
	}
}

// requiredViolation says what an unset REQUIRED field needs, in the words that fit its kind.
func requiredViolation(fd protoreflect.FieldDescriptor, path []*validate.FieldPathElement) *protovalidate.Violation {
	msg := "value is required"
	switch {
	case fd.IsList():
		msg += " (at least one item)"
	case fd.IsMap():
		msg += " (at least one entry)"
	case fd.HasPresence():
	case fd.Kind() == protoreflect.StringKind:
		msg += " (an empty string counts as not set)"
	case fd.Kind() == protoreflect.BytesKind:
		msg += " (empty bytes count as not set)"
	case fd.Kind() == protoreflect.BoolKind:
		msg += " (false counts as not set)"
	case fd.Kind() == protoreflect.EnumKind:
		msg += fmt.Sprintf(" (%s counts as not set)", fd.Enum().Values().Get(0).Name())
	default:
		msg += " (0 counts as not set)"
	}
	rule := requiredRule
	return &protovalidate.Violation{
		Proto:           &validate.Violation{Field: &validate.FieldPath{Elements: path}, RuleId: &rule, Message: &msg},
		FieldDescriptor: fd,
	}
}
