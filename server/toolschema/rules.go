package toolschema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// fieldRules are the buf.validate rules of one field (or of a list's items, a map's keys or
// values). A nil *fieldRules has no rules; every method accepts nil.
type fieldRules struct {
	fr *validate.FieldRules
}

// rulesOf returns fd's rules, or nil if it has none that apply.
func rulesOf(fd protoreflect.FieldDescriptor) *fieldRules {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, validate.E_Field) {
		return nil
	}
	fr, _ := proto.GetExtension(opts, validate.E_Field).(*validate.FieldRules)
	return wrapRules(fr)
}

func wrapRules(fr *validate.FieldRules) *fieldRules {
	if fr == nil || fr.GetIgnore() == validate.Ignore_IGNORE_ALWAYS {
		return nil
	}
	return &fieldRules{fr: fr}
}

func (r *fieldRules) items() *fieldRules {
	if r == nil {
		return nil
	}
	return wrapRules(r.fr.GetRepeated().GetItems())
}

func (r *fieldRules) keys() *fieldRules {
	if r == nil {
		return nil
	}
	return wrapRules(r.fr.GetMap().GetKeys())
}

func (r *fieldRules) values() *fieldRules {
	if r == nil {
		return nil
	}
	return wrapRules(r.fr.GetMap().GetValues())
}

func (r *fieldRules) required() bool { return r != nil && r.fr.GetRequired() }

func (r *fieldRules) ignoreIfZero() bool {
	return r != nil && r.fr.GetIgnore() == validate.Ignore_IGNORE_IF_ZERO_VALUE
}

// typed returns the kind-specific rules (string, int32, repeated, timestamp, ...), or nil.
func (r *fieldRules) typed() protoreflect.Message {
	if r == nil {
		return nil
	}
	m := r.fr.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("type"))
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message()
}

// celText returns the field's custom CEL rules as sentences.
func (r *fieldRules) celText() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, c := range r.fr.GetCel() {
		out = append(out, celSentence(c))
	}
	for _, e := range r.fr.GetCelExpression() {
		out = append(out, "Must satisfy the CEL expression "+e+".")
	}
	return out
}

func celSentence(c *validate.Rule) string {
	if m := strings.TrimSpace(c.GetMessage()); m != "" {
		return sentence("Must satisfy: " + m)
	}
	return "Must satisfy the CEL expression " + c.GetExpression() + "."
}

func sentence(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// leftover describes each rule set in the kind-specific rules that is not in handled, so that
// no rule is dropped silently. example values are not rules.
func (r *fieldRules) leftover(handled ...string) []string {
	t := r.typed()
	if t == nil {
		return nil
	}
	var out []string
	t.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if fd.IsExtension() {
			name = "(" + string(fd.FullName()) + ")"
		}
		if name == "example" || slices.Contains(handled, name) {
			return true
		}
		out = append(out, fmt.Sprintf("Must satisfy the buf.validate rule %s.%s = %s.",
			t.Descriptor().Name(), name, ruleValueText(fd, v)))
		return true
	})
	return out
}

// ruleValueText writes a rule's value as protojson would.
func ruleValueText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch {
	case fd.IsList():
		list := v.List()
		parts := make([]string, list.Len())
		for i := range list.Len() {
			parts[i] = scalarText(fd, list.Get(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return scalarText(fd, v)
	}
}

func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		b, err := protojson.Marshal(v.Message().Interface())
		if err != nil {
			return fmt.Sprint(v.Interface())
		}
		return string(b)
	case protoreflect.StringKind:
		return fmt.Sprintf("%q", v.String())
	case protoreflect.BytesKind:
		return fmt.Sprintf("%q", v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
	}
	return fmt.Sprint(v.Interface())
}

// messageText describes the rules of a message-typed field (Timestamp, Duration, Any,
// FieldMask, custom CEL), which JSON Schema keywords cannot state.
func (r *fieldRules) messageText(md protoreflect.MessageDescriptor) []string {
	if r == nil {
		return nil
	}
	var out []string
	t := r.typed()
	if t != nil {
		kind := t.Descriptor().Name()
		t.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			name := string(fd.Name())
			if name == "example" {
				return true
			}
			out = append(out, wktRuleText(string(kind), name, fd, v))
			return true
		})
	}
	_ = md
	return append(out, r.celText()...)
}

// wktRuleText states one Timestamp, Duration, Any or FieldMask rule.
func wktRuleText(kind, name string, fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	val := ruleValueText(fd, v)
	switch name {
	case "const":
		return "Must be " + val + "."
	case "lt":
		return "Must be before (less than) " + val + "."
	case "lte":
		return "Must be at most " + val + "."
	case "gt":
		return "Must be after (greater than) " + val + "."
	case "gte":
		return "Must be at least " + val + "."
	case "lt_now":
		return "Must be in the past."
	case "gt_now":
		return "Must be in the future."
	case "within":
		return "Must be within " + val + " of now."
	case "in":
		if kind == "AnyRules" {
			return "The @type must be one of " + val + "."
		}
		return "Must be one of " + val + "."
	case "not_in":
		if kind == "AnyRules" {
			return "The @type must not be one of " + val + "."
		}
		return "Must not be one of " + val + "."
	}
	return fmt.Sprintf("Must satisfy the buf.validate rule %s.%s = %s.", kind, name, val)
}

// repeated applies min_items, max_items and unique to an array schema.
func (r *fieldRules) repeated(s map[string]any) []string {
	if r == nil {
		return nil
	}
	var out []string
	if rr := r.fr.GetRepeated(); rr != nil {
		if rr.HasMinItems() {
			s["minItems"] = rr.GetMinItems()
		}
		if rr.HasMaxItems() {
			s["maxItems"] = rr.GetMaxItems()
		}
		if rr.GetUnique() {
			s["uniqueItems"] = true
		}
		out = r.leftover("min_items", "max_items", "unique", "items")
	}
	if r.required() {
		if n, _ := s["minItems"].(uint64); n < 1 {
			s["minItems"] = uint64(1)
		}
	}
	return append(out, r.celText()...)
}

// mapPairs applies min_pairs and max_pairs to an object schema.
func (r *fieldRules) mapPairs(s map[string]any) []string {
	if r == nil {
		return nil
	}
	var out []string
	if mr := r.fr.GetMap(); mr != nil {
		if mr.HasMinPairs() {
			s["minProperties"] = mr.GetMinPairs()
		}
		if mr.HasMaxPairs() {
			s["maxProperties"] = mr.GetMaxPairs()
		}
		out = r.leftover("min_pairs", "max_pairs", "keys", "values")
	}
	if r.required() {
		if n, _ := s["minProperties"].(uint64); n < 1 {
			s["minProperties"] = uint64(1)
		}
	}
	return append(out, r.celText()...)
}

// ignoreIfZero lets a value through unchecked when it is its type's zero value, as
// IGNORE_IF_ZERO_VALUE asks.
func (b *builder) ignoreIfZero(s map[string]any, r *fieldRules, zero map[string]any) map[string]any {
	if !r.ignoreIfZero() || zero == nil {
		return s
	}
	return map[string]any{"anyOf": []any{zero, s}}
}

// oneofRequired reports whether buf.validate requires one member of od to be set.
func oneofRequired(od protoreflect.OneofDescriptor) bool {
	opts := od.Options()
	if opts == nil || !proto.HasExtension(opts, validate.E_Oneof) {
		return false
	}
	or, _ := proto.GetExtension(opts, validate.E_Oneof).(*validate.OneofRules)
	return or.GetRequired()
}

// messageRuleText states the rules on a whole message: custom CEL and message oneofs.
func messageRuleText(md protoreflect.MessageDescriptor) []string {
	opts := md.Options()
	if opts == nil || !proto.HasExtension(opts, validate.E_Message) {
		return nil
	}
	mr, _ := proto.GetExtension(opts, validate.E_Message).(*validate.MessageRules)
	var out []string
	for _, c := range mr.GetCel() {
		out = append(out, celSentence(c))
	}
	for _, e := range mr.GetCelExpression() {
		out = append(out, "Must satisfy the CEL expression "+e+".")
	}
	for _, o := range mr.GetOneof() {
		names := make([]string, len(o.GetFields()))
		for i, f := range o.GetFields() {
			names[i] = f
			if fd := md.Fields().ByName(protoreflect.Name(f)); fd != nil {
				names[i] = fd.JSONName()
			}
		}
		if o.GetRequired() {
			out = append(out, "Exactly one of "+strings.Join(names, ", ")+" must be set to a non-default value.")
		} else {
			out = append(out, "At most one of "+strings.Join(names, ", ")+" may be set to a non-default value.")
		}
	}
	return out
}

// Validator returns the process's protovalidate validator, made on first use: its CEL
// environment costs about 2 MB, so tool schemas and the server's request validation share one.
var Validator = sync.OnceValues(func() (protovalidate.Validator, error) { return protovalidate.New() })

// HasRules reports whether md itself carries buf.validate rules: on the message, on a oneof or
// on a field. Options holding fields protobuf could not resolve count as rules, since
// protovalidate reads rules from those too; so false means protovalidate has nothing to check
// in md's own fields (the messages they hold have their own answer).
func HasRules(md protoreflect.MessageDescriptor) bool {
	if mayHold(md.Options(), validate.E_Message) {
		return true
	}
	oneofs := md.Oneofs()
	for i := range oneofs.Len() {
		if mayHold(oneofs.Get(i).Options(), validate.E_Oneof) {
			return true
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		if mayHold(fields.Get(i).Options(), validate.E_Field) {
			return true
		}
	}
	return false
}

// mayHold reports whether opts has the extension xt set or fields it could not resolve.
func mayHold(opts proto.Message, xt protoreflect.ExtensionType) bool {
	if opts == nil {
		return false
	}
	m := opts.ProtoReflect()
	return len(m.GetUnknown()) > 0 || proto.HasExtension(opts, xt)
}

// rejectedWhenAbsent returns the fields of md whose absence protovalidate rejects: those marked
// required, and fields without presence whose zero value breaks a rule (a string with min_len 1,
// an int32 with gt 0, a repeated field with min_items 1). The schema makes them required.
func rejectedWhenAbsent(md protoreflect.MessageDescriptor) (map[protoreflect.FieldNumber]bool, error) {
	if !HasRules(md) {
		return nil, nil // the empty message's fields are all unset: only md's own rules apply
	}
	v, err := Validator()
	if err != nil {
		return nil, fmt.Errorf("toolschema: protovalidate: %w", err)
	}
	err = v.Validate(dynamicpb.NewMessage(md))
	if err == nil {
		return nil, nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return nil, fmt.Errorf("toolschema: rules of %s: %w", md.FullName(), err)
	}
	out := map[protoreflect.FieldNumber]bool{}
	for _, viol := range verr.Violations {
		if elems := viol.Proto.GetField().GetElements(); len(elems) > 0 {
			out[protoreflect.FieldNumber(elems[0].GetFieldNumber())] = true
		}
	}
	return out, nil
}
