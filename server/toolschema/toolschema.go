package toolschema

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// Dialect is the JSON Schema dialect of every schema this package returns.
const Dialect = "https://json-schema.org/draft/2020-12/schema"

// WrapperKey is the one property of a tool's arguments or result when the message's JSON form is
// not an object (see [Wrapped]): the arguments are {"value": <the message's JSON>}.
const WrapperKey = "value"

// Options configure schema generation.
type Options struct {
	// Describe returns the leading comment of a message, field, oneof, enum or enum value by full
	// name, or "" if it has none. Comments become descriptions; without Describe, or where it
	// returns "", a schema has no description. Enum values are named as protobuf scopes them,
	// beside their enum (pkg.VALUE for pkg.Enum's VALUE).
	Describe func(protoreflect.FullName) string
}

// Input returns the JSON Schema (draft 2020-12, as a map ready for json.Marshal) of the JSON
// arguments a tool accepts for the request message md: protojson's JSON form of md, narrowed by
// md's buf.validate rules. An instance the schema accepts is accepted by protojson and by
// protovalidate, except where the package documentation says otherwise.
func Input(md protoreflect.MessageDescriptor, o Options) (map[string]any, error) {
	return newBuilder(md, o, true).build()
}

// Output returns the JSON Schema (draft 2020-12) of the JSON a tool returns for the response
// message md: what protojson writes with EmitDefaultValues, so fields without presence are
// always there. buf.validate rules are not applied to outputs.
func Output(md protoreflect.MessageDescriptor, o Options) (map[string]any, error) {
	return newBuilder(md, o, false).build()
}

// Wrapped reports whether md's JSON form is not an object: Timestamp, Duration, FieldMask, Value,
// ListValue and the wrapper types. A tool taking or returning such a message carries it as
// {"value": <the JSON>} (see [WrapperKey]), and the schema's description says so.
func Wrapped(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case timestampName, durationName, fieldMaskName, valueName, listValueName:
		return true
	}
	return isWrapper(md.FullName())
}

type builder struct {
	opts  Options
	input bool
	root  protoreflect.MessageDescriptor
	// shared holds the messages written once under $defs: those used more than once and those
	// that contain themselves. The root is never shared; it refers to itself as "#".
	shared map[protoreflect.FullName]bool
	defs   map[string]any
	err    error
}

func newBuilder(md protoreflect.MessageDescriptor, o Options, input bool) *builder {
	b := &builder{opts: o, input: input, root: md, defs: map[string]any{}}
	b.shared = sharedMessages(md)
	return b
}

func (b *builder) build() (map[string]any, error) {
	var s map[string]any
	if Wrapped(b.root) {
		verb := "takes"
		if !b.input {
			verb = "returns"
		}
		s = map[string]any{
			"type":                 "object",
			"properties":           map[string]any{WrapperKey: b.wellKnown(b.root, nil)},
			"required":             []string{WrapperKey},
			"additionalProperties": false,
		}
		note := fmt.Sprintf("The JSON form of %s is not an object, so the tool %s it as {%q: <%s>}.",
			b.root.FullName(), verb, WrapperKey, b.root.Name())
		setDescription(s, joinText(b.describe(b.root.FullName()), note))
	} else {
		s = b.message(b.root)
	}
	s["$schema"] = Dialect
	if len(b.defs) > 0 {
		s["$defs"] = b.defs
	}
	if b.err != nil {
		return nil, b.err
	}
	return s, nil
}

func (b *builder) describe(name protoreflect.FullName) string {
	if b.opts.Describe == nil {
		return ""
	}
	return strings.TrimSpace(b.opts.Describe(name))
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// message returns the schema of a message's JSON, with the message's description.
func (b *builder) message(md protoreflect.MessageDescriptor) map[string]any {
	if isWellKnown(md.FullName()) {
		s := b.wellKnown(md, nil)
		setDescription(s, joinText(b.describe(md.FullName()), stringOf(s["description"])))
		return s
	}
	return b.object(md)
}

// messageRef returns the schema of a field's message value: a $ref for shared messages, else
// the schema itself.
func (b *builder) messageRef(md protoreflect.MessageDescriptor) map[string]any {
	name := md.FullName()
	if name == b.root.FullName() && !Wrapped(b.root) {
		return map[string]any{"$ref": "#"}
	}
	if !b.shared[name] {
		return b.message(md)
	}
	if _, done := b.defs[string(name)]; !done {
		b.defs[string(name)] = true // placeholder while a recursive message is being built
		b.defs[string(name)] = b.message(md)
	}
	return map[string]any{"$ref": "#/$defs/" + string(name)}
}

// object returns the schema of an ordinary message: an object of its fields by JSON name.
func (b *builder) object(md protoreflect.MessageDescriptor) map[string]any {
	s := map[string]any{"type": "object"}
	props := map[string]any{}
	var required []string
	var absentRejected map[protoreflect.FieldNumber]bool
	if b.input {
		var err error
		if absentRejected, err = rejectedWhenAbsent(md); err != nil {
			b.fail(err)
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		props[fd.JSONName()] = b.field(fd)
		// Output: protojson with EmitDefaultValues writes every field without presence.
		// Input: a field is required where protovalidate rejects the message without it, or
		// where (google.api.field_behavior) = REQUIRED makes the server reject it.
		if (b.input && (absentRejected[fd.Number()] || Required(fd))) || (!b.input && !fd.HasPresence()) {
			required = append(required, fd.JSONName())
		}
	}
	s["properties"] = props
	if len(required) > 0 {
		s["required"] = required
	}
	s["additionalProperties"] = false
	var allOf []any
	oneofs := md.Oneofs()
	for i := range oneofs.Len() {
		if od := oneofs.Get(i); !od.IsSynthetic() {
			allOf = append(allOf, b.oneof(od))
		}
	}
	if len(allOf) > 0 {
		s["allOf"] = allOf
	}
	var rules []string
	if b.input {
		rules = messageRuleText(md)
	}
	setDescription(s, joinText(b.describe(md.FullName()), rules...))
	return s
}

// oneof returns the constraint that at most one member of od is set (protojson rejects two),
// and, where buf.validate requires the oneof, at least one. It is written without "required" in
// subschemas, which Ajv's strict mode rejects: dependentSchemas forbids the other members once
// one is present, and "not" of all members being absent asks for one.
func (b *builder) oneof(od protoreflect.OneofDescriptor) map[string]any {
	fields := od.Fields()
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = fields.Get(i).JSONName()
	}
	s := map[string]any{}
	if len(names) > 1 {
		dependent := map[string]any{}
		for _, n := range names {
			others := map[string]any{}
			for _, o := range names {
				if o != n {
					others[o] = false
				}
			}
			dependent[n] = map[string]any{"properties": others}
		}
		s["dependentSchemas"] = dependent
	}
	rule := "At most one of " + strings.Join(names, ", ") + " may be set."
	if b.input && oneofRequired(od) {
		absent := map[string]any{}
		for _, n := range names {
			absent[n] = false
		}
		s["not"] = map[string]any{"properties": absent}
		rule = "Exactly one of " + strings.Join(names, ", ") + " must be set."
	}
	if len(names) == 1 && rule[0] == 'A' {
		rule = ""
	}
	setDescription(s, joinText(b.describe(od.FullName()), rule))
	return s
}

// field returns the schema of one field's JSON value, with the field's description.
func (b *builder) field(fd protoreflect.FieldDescriptor) map[string]any {
	var r *fieldRules
	if b.input {
		r = rulesOf(fd)
	}
	var s map[string]any
	var notes []string
	switch {
	case fd.IsMap():
		s, notes = b.mapField(fd, r)
	case fd.IsList():
		s, notes = b.listField(fd, r)
	default:
		s, notes = b.value(fd, r)
	}
	desc := b.describe(fd.FullName())
	if of := fd.ContainingMessage().Fields().ByName(xmlcodec.NilOf(fd)); of != nil {
		notes = append(notes, fmt.Sprintf("null: the backend's %s element is nil (xsi:nil), which is neither absent nor empty; "+
			"set to null to send it so.", of.JSONName()))
	}
	if fd.Enum() != nil || (fd.IsMap() && fd.MapValue().Enum() != nil) {
		ed := fd.Enum()
		if fd.IsMap() {
			ed = fd.MapValue().Enum()
		}
		desc = joinText(desc, b.enumValuesText(ed))
	}
	if md := fd.Message(); md != nil && !fd.IsMap() {
		if _, isRef := s["$ref"]; !isRef {
			switch {
			case isWellKnown(md.FullName()):
				// Keep the note on the well-known type's JSON form.
				desc = joinText(desc, stringOf(s["description"]))
			case desc == "":
				desc = stringOf(s["description"])
			case b.input:
				// The message's own rules, which its description would have carried.
				desc = joinText(desc, messageRuleText(md)...)
			}
		}
	}
	if b.input {
		notes = append(notes, behaviorNotes(fd, s)...)
	}
	setDescription(s, joinText(desc, notes...))
	return s
}

// value returns the schema of a single (not repeated, not map) value of fd's type, with rules r
// applied, and the text of the rules it could not write as keywords.
func (b *builder) value(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		if isWrapper(md.FullName()) {
			// Inline, so that the wrapped scalar's rules apply to it.
			s, notes := b.scalar(md.Fields().ByNumber(1), r)
			return withLexicalForm(s, notes, fd)
		}
		var notes []string
		if r != nil {
			notes = r.messageText(md)
		}
		if isWellKnown(md.FullName()) && !b.shared[md.FullName()] {
			return b.wellKnown(md, r), notes
		}
		return b.messageRef(md), notes
	case protoreflect.EnumKind:
		return b.enum(fd.Enum(), r)
	default:
		return b.scalar(fd, r)
	}
}

func (b *builder) listField(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	items, notes := b.value(fd, r.items())
	if _, isRef := items["$ref"]; !isRef {
		delete(items, "description")
	}
	s := map[string]any{"type": "array", "items": items}
	notes = append(notes, r.repeated(s)...)
	return b.ignoreIfZero(s, r, map[string]any{"type": "array", "maxItems": 0}), notes
}

func (b *builder) mapField(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	values, notes := b.value(fd.MapValue(), r.values())
	if _, isRef := values["$ref"]; !isRef {
		delete(values, "description")
	}
	s := map[string]any{"type": "object", "additionalProperties": values}
	keys, keyNotes := b.mapKey(fd.MapKey(), r.keys())
	if keys != nil {
		s["propertyNames"] = keys
	}
	for _, n := range keyNotes {
		notes = append(notes, "Keys: "+n)
	}
	notes = append(notes, r.mapPairs(s)...)
	return b.ignoreIfZero(s, r, map[string]any{"type": "object", "maxProperties": 0}), notes
}

// enumValuesText lists the enum's values with their comments, for values that have one.
func (b *builder) enumValuesText(ed protoreflect.EnumDescriptor) string {
	var lines []string
	values := ed.Values()
	for i := range values.Len() {
		v := values.Get(i)
		if c := b.describe(v.FullName()); c != "" {
			lines = append(lines, fmt.Sprintf("- %s: %s", v.Name(), oneLine(c)))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return joinText(oneLine(b.describe(ed.FullName())), strings.Join(lines, "\n"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func setDescription(s map[string]any, d string) {
	if d == "" {
		delete(s, "description")
		return
	}
	s["description"] = d
}

// joinText joins non-empty paragraphs of a description.
func joinText(first string, more ...string) string {
	parts := make([]string, 0, 1+len(more))
	for _, p := range append([]string{first}, more...) {
		if p = strings.TrimSpace(p); p != "" && !containsString(parts, p) {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "\n")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// sharedMessages finds the messages reachable from root that are used by more than one field or
// that contain themselves. Wrapper types are never shared: a field's rules apply to them inline.
func sharedMessages(root protoreflect.MessageDescriptor) map[protoreflect.FullName]bool {
	uses := map[protoreflect.FullName]int{}
	edges := map[protoreflect.FullName][]protoreflect.FullName{}
	seen := map[protoreflect.FullName]bool{}
	var visit func(md protoreflect.MessageDescriptor)
	visit = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		if isWellKnown(md.FullName()) {
			return
		}
		fields := md.Fields()
		for i := range fields.Len() {
			m := messageOf(fields.Get(i))
			if m == nil || isWrapper(m.FullName()) {
				continue
			}
			uses[m.FullName()]++
			edges[md.FullName()] = append(edges[md.FullName()], m.FullName())
			visit(m)
		}
	}
	visit(root)
	shared := map[protoreflect.FullName]bool{}
	for name, n := range uses {
		if n > 1 || reaches(edges, name, name) {
			shared[name] = true
		}
	}
	delete(shared, root.FullName())
	return shared
}

func messageOf(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd.IsMap() {
		return fd.MapValue().Message()
	}
	return fd.Message()
}

// reaches reports whether to is reachable from from by one or more edges.
func reaches(edges map[protoreflect.FullName][]protoreflect.FullName, from, to protoreflect.FullName) bool {
	seen := map[protoreflect.FullName]bool{}
	stack := append([]protoreflect.FullName(nil), edges[from]...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		if !seen[n] {
			seen[n] = true
			stack = append(stack, edges[n]...)
		}
	}
	return false
}
