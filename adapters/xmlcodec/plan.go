// Package xmlcodec converts between XML and protobuf messages by descriptor, without a detour
// through maps or JSON. A Plan is built once per message descriptor, from agentbridge's XML
// options, and reused for every call.
//
// Besides a message as one element (AppendElement, Decode), a plan writes a message's fields
// without their element (AppendChildren, for a SOAP body without a wrapper), its SOAP header
// fields (AppendHeaders, Headers), and SOAP-encoded XML (AppendEncoded, DecodeEncoded); the
// literal path pays nothing for these.
package xmlcodec

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// valueKind says how one field's values are written as XML text or content.
type valueKind uint8

const (
	kindScalar    valueKind = iota // a proto scalar, written as XSD lexical text
	kindEnum                       // an enum, written as its XML text
	kindTimestamp                  // google.protobuf.Timestamp as xsd:dateTime
	kindDuration                   // google.protobuf.Duration as xsd:duration
	kindWrapper                    // google.protobuf.*Value wrappers, as their scalar
	kindMessage                    // a nested message, as child elements
	kindMap                        // a map, as a wrapper of entries holding a key and a value
)

// The element names a map field gets when its options name none: JAXB's and .NET's for a
// dictionary, <entry><key>…</key><value>…</value></entry>.
const (
	defaultMapEntry = "entry"
	defaultMapKey   = "key"
	defaultMapValue = "value"
)

// Plan maps one message type to XML. Plans are immutable once built and safe for concurrent use.
type Plan struct {
	sizeHint atomic.Int64 // what the last encoding by the plan wrote (see grow)

	desc   protoreflect.MessageDescriptor
	fields []*fieldPlan // element fields, in declaration order (the XSD sequence order)
	attrs  []*fieldPlan // attribute fields
	text   *fieldPlan   // the field holding the element's text content, if any

	// headers are the fields marked (agentbridge.v1.xml).header: SOAP header blocks, written
	// and read outside the message's element (see AppendHeaders and Headers). Only the
	// top-level message of a request or response has them; nested messages are refused.
	headers []*fieldPlan

	// anyField holds the child elements no other field names ((agentbridge.v1.xml).any), as
	// XML text; nil skips them.
	anyField *fieldPlan
	// typ is the XSD type the message was made from (XmlMessage.type), written as xsi:type
	// under SOAP encoding.
	typ xmlName

	// goType is the pointer type of the message's generated Go struct, whose fields the
	// decoder writes directly (see gostruct.go); nil for run-time messages.
	goType reflect.Type

	// spaces are the namespaces of the fields' elements and attributes, declared once on the
	// message's element rather than on each child.
	spaces []string

	// byName finds element fields by namespace and local name; byLocal by local name alone,
	// for backends that qualify elements differently from their WSDL.
	byName  map[xmlName]*fieldPlan
	byLocal map[string]*fieldPlan

	// required are the indexes in fields, and requiredAttrs the attribute fields, of the fields
	// without presence (proto3 scalars and enums not marked optional, outside a oneof): a reply
	// that leaves one out is an error, as decoding it would print a zero the backend never sent.
	// So are fields marked (google.api.field_behavior) = REQUIRED, which the WSDL importer
	// writes for elements with minOccurs of 1 or more: the contract says they are always there.
	required      []int
	requiredAttrs []*fieldPlan
}

type xmlName struct{ space, local string }

type fieldPlan struct {
	fd        protoreflect.FieldDescriptor
	name      xmlName
	item      string // for repeated fields in a wrapper element and maps: the item (entry) element's local name
	kind      valueKind
	valueFD   protoreflect.FieldDescriptor // for wrappers: the wrapped "value" field
	msg       *Plan                        // for kindMessage
	enumText  map[protoreflect.EnumNumber]string
	enumValue map[string]protoreflect.EnumNumber

	zeroHasText bool // the enum's zero value has an xml_value, so it is written like any other

	index int // the field's position in its plan's fields, for telling which elements were seen

	// list and inOneof are fd.IsList() and fd.ContainingOneof() != nil, which decoding asks of
	// every element: asked once here rather than through the descriptor's interface each time.
	list, inOneof bool

	// For Timestamps and Durations: the seconds and nanos fields of fd's message.
	secondsFD, nanosFD protoreflect.FieldDescriptor

	// xsd is the lexical type a string (or StringValue) field keeps exactly, from xsd_type; hex
	// says a bytes field is xsd:hexBinary rather than base64Binary.
	xsd     *XSDType
	hex     bool
	xsdName string // the xsd_type as given, for xsi:type under SOAP encoding
	// bounds is the range of the XSD integer type an integer field's xsd_type names (xsd:short
	// on an int32), checked in both directions; nil without one.
	bounds *intBounds
	// dayTime says a Duration field's xsd_type is dayTimeDuration, whose form has no years
	// or months, not even zero ones.
	dayTime bool
	// nilFD is the google.protobuf.NullValue field marked nil_of this one: set when the
	// element came with xsi:nil="true", and written as such.
	nilFD protoreflect.FieldDescriptor

	// For maps: the plans of the entry's key and value fields, named as their elements.
	mapKey, mapValue *fieldPlan
	// For a map's value: the map field, whose Map makes new message values.
	mapOf *fieldPlan

	// gf writes the field of the plan's generated Go struct directly; its op is goNone when
	// it is written through protoreflect.
	gf goField
}

// plans caches complete plans by descriptor, not by full name: a contract loaded at run time
// may declare a message under a name another descriptor already has (a reloaded contract, two
// contracts with the same package), and a plan only fits the descriptor it was built from.
var plans sync.Map // protoreflect.MessageDescriptor → *Plan

// planMu serialises plan building, so recursive message types resolve to one Plan each.
var planMu sync.Mutex

// For returns the plan for a message descriptor, building and caching it on first use. It fails
// for messages that have no XML mapping (groups, well-known types other than timestamps,
// durations and wrappers) or whose options contradict each other.
func For(md protoreflect.MessageDescriptor) (*Plan, error) {
	if p, ok := plans.Load(md); ok {
		return p.(*Plan), nil
	}
	planMu.Lock()
	defer planMu.Unlock()
	if p, ok := plans.Load(md); ok {
		return p.(*Plan), nil
	}
	building := map[protoreflect.MessageDescriptor]*Plan{}
	p, err := build(md, building)
	if err != nil {
		return nil, err
	}
	for d, bp := range building {
		plans.Store(d, bp)
	}
	return p, nil
}

func build(md protoreflect.MessageDescriptor, building map[protoreflect.MessageDescriptor]*Plan) (*Plan, error) {
	if p, ok := building[md]; ok {
		return p, nil
	}
	if p, ok := plans.Load(md); ok {
		return p.(*Plan), nil
	}
	p := &Plan{desc: md, byName: map[xmlName]*fieldPlan{}, byLocal: map[string]*fieldPlan{}}
	building[md] = p

	var elementNS string
	if opts := md.Options(); opts != nil {
		if xm, ok := proto.GetExtension(opts, agentbridgev1.E_XmlMessage).(*agentbridgev1.XmlMessage); ok && xm != nil {
			elementNS = xm.GetNamespace()
			p.typ = xmlName{xm.GetType().GetNamespace(), xm.GetType().GetName()}
			if p.typ.local == "" && p.typ.space != "" {
				return nil, fmt.Errorf("xmlcodec: message %s names an XSD type namespace without a name", md.FullName())
			}
		}
	}
	nils, err := planNils(md)
	if err != nil {
		return nil, err
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if _, isNil := nils[fd.Name()]; isNil {
			continue // carried by the element of the field it is the nil of
		}
		fp, err := planField(fd, elementNS, building)
		if err != nil {
			return nil, err
		}
		xf := fieldOption(fd)
		if nfd := nilFieldOf(nils, fd); nfd != nil {
			if xf.GetAttribute() || xf.GetText() {
				return nil, fmt.Errorf("xmlcodec: field %s has a nil_of field, but only elements can be nil, not attributes or text", fd.FullName())
			}
			fp.nilFD = nfd
		}
		switch {
		case xf.GetAny():
			switch {
			case !fd.IsList() || fd.Kind() != protoreflect.StringKind:
				return nil, fmt.Errorf("xmlcodec: field %s holds unnamed elements (any), so it must be a repeated string", fd.FullName())
			case xf.GetAttribute() || xf.GetText() || xf.GetHeader() || xf.GetItem() != "" || xf.GetName() != "" || xf.GetNamespace() != "" || xf.GetXsdType() != "":
				return nil, fmt.Errorf("xmlcodec: field %s holds unnamed elements (any); it takes no other XML option", fd.FullName())
			case p.anyField != nil:
				return nil, fmt.Errorf("xmlcodec: message %s has two fields for unnamed elements (any): %s and %s", md.FullName(), p.anyField.fd.Name(), fd.Name())
			}
			p.anyField = fp
		case xf.GetHeader() && (xf.GetAttribute() || xf.GetText()):
			return nil, fmt.Errorf("xmlcodec: field %s is a SOAP header block, which is an element; it cannot also be an attribute or text", fd.FullName())
		case xf.GetHeader():
			fp.index = len(p.headers)
			p.headers = append(p.headers, fp)
		case xf.GetAttribute() && xf.GetText():
			return nil, fmt.Errorf("xmlcodec: field %s is marked both attribute and text", fd.FullName())
		case xf.GetAttribute():
			if fd.IsList() || fp.kind == kindMessage || fp.kind == kindMap {
				return nil, fmt.Errorf("xmlcodec: field %s is an attribute but not a single scalar", fd.FullName())
			}
			fp.name.space = xf.GetNamespace() // attributes are unqualified unless named
			p.attrs = append(p.attrs, fp)
			if withoutPresence(fd) || behaviorRequired(fd) {
				p.requiredAttrs = append(p.requiredAttrs, fp)
			}
		case xf.GetText():
			if fd.IsList() || fp.kind == kindMessage || fp.kind == kindMap || p.text != nil {
				return nil, fmt.Errorf("xmlcodec: field %s is text content but not the only single scalar text field", fd.FullName())
			}
			p.text = fp
		default:
			fp.index = len(p.fields)
			if withoutPresence(fd) || behaviorRequired(fd) {
				p.required = append(p.required, fp.index)
			}
			p.fields = append(p.fields, fp)
			if _, dup := p.byName[fp.name]; dup {
				return nil, fmt.Errorf("xmlcodec: two fields of %s map to element %q", md.FullName(), fp.name.local)
			}
			p.byName[fp.name] = fp
			if _, dup := p.byLocal[fp.name.local]; !dup {
				p.byLocal[fp.name.local] = fp
			}
		}
	}
	for _, fp := range append(p.attrs[:len(p.attrs):len(p.attrs)], p.fields...) {
		if fp.name.space != "" && !slices.Contains(p.spaces, fp.name.space) {
			p.spaces = append(p.spaces, fp.name.space)
		}
	}
	if p.text != nil && (len(p.fields) > 0 || p.anyField != nil) {
		return nil, fmt.Errorf("xmlcodec: message %s has both text content and child elements", md.FullName())
	}
	p.planGoStruct()
	return p, nil
}

// planGoStruct finds, for a message with a generated Go struct, how to write each field the
// decoder sets into it directly.
func (p *Plan) planGoStruct() {
	gs := goStructOf(p.desc)
	if gs == nil {
		return
	}
	p.goType = gs.ptr
	planned := append(p.attrs[:len(p.attrs):len(p.attrs)], p.fields...)
	if p.text != nil {
		planned = append(planned, p.text)
	}
	for _, fp := range planned {
		if fp.kind == kindMap {
			continue
		}
		fp.gf = gs.field(fp.fd)
		if fp.gf.op != goMessage {
			continue
		}
		switch fp.kind {
		case kindTimestamp, kindDuration:
			fp.gf.wkt = goWKTFields(fp.gf.mt, 1, 2)
		case kindWrapper:
			fp.gf.wkt = goWKTFields(fp.gf.mt, 1)
		}
		if fp.kind != kindMessage && fp.gf.wkt == nil {
			fp.gf = goField{} // a well-known type not written directly: all through protoreflect
		}
	}
}

// withoutPresence reports whether a single field cannot tell "not sent" from its zero value:
// a proto3 scalar or enum that is not optional and not in a oneof.
func withoutPresence(fd protoreflect.FieldDescriptor) bool {
	return !fd.HasPresence() && !fd.IsList() && !fd.IsMap()
}

// planNils finds md's nil_of fields and checks each: a google.protobuf.NullValue field in a
// oneof, naming a sibling of that oneof which is not itself a nil field, one nil per sibling.
// It returns a map from each nil field's name to the name of the field it is the nil of.
func planNils(md protoreflect.MessageDescriptor) (map[protoreflect.Name]protoreflect.Name, error) {
	var nils map[protoreflect.Name]protoreflect.Name
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		xf := fieldOption(fd)
		of := xf.GetNilOf()
		if of == "" {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("xmlcodec: field %s is nil_of %q, but %s", fd.FullName(), of, fmt.Sprintf(format, args...))
		}
		oneof := fd.ContainingOneof()
		target := fields.ByName(protoreflect.Name(of))
		switch {
		case fd.Enum() == nil || fd.Enum().FullName() != "google.protobuf.NullValue" || fd.IsList():
			return nil, fail("it is not a single google.protobuf.NullValue field")
		case oneof == nil || oneof.IsSynthetic():
			return nil, fail("it is not in a oneof with that field (nil and a value exclude each other)")
		case target == nil:
			return nil, fail("%s has no field of that name (nil_of takes the proto name, such as trader_name)", md.FullName())
		case target.ContainingOneof() != oneof:
			return nil, fail("%s is not in the same oneof %s", target.Name(), oneof.Name())
		case fieldOption(target).GetNilOf() != "":
			return nil, fail("%s is itself a nil field", target.Name())
		case xf.GetName() != "" || xf.GetNamespace() != "" || xf.GetAttribute() || xf.GetText() || xf.GetItem() != "" || xf.GetXsdType() != "":
			return nil, fail("it also has other XML options; a nil field takes its element from the field it is the nil of")
		}
		for other, t := range nils {
			if t == target.Name() {
				return nil, fail("%s already has a nil field, %s", target.Name(), other)
			}
		}
		if nils == nil {
			nils = map[protoreflect.Name]protoreflect.Name{}
		}
		nils[fd.Name()] = target.Name()
	}
	return nils, nil
}

// nilFieldOf returns the nil field of fd among nils, or nil.
func nilFieldOf(nils map[protoreflect.Name]protoreflect.Name, fd protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	for nilName, of := range nils {
		if of == fd.Name() {
			return fd.ContainingMessage().Fields().ByName(nilName)
		}
	}
	return nil
}

// headerField returns the first field of md marked as a SOAP header block, or nil.
func headerField(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	fields := md.Fields()
	for i := range fields.Len() {
		if fieldOption(fields.Get(i)).GetHeader() {
			return fields.Get(i)
		}
	}
	return nil
}

func fieldOption(fd protoreflect.FieldDescriptor) *agentbridgev1.XmlField {
	if opts := fd.Options(); opts != nil {
		if xf, ok := proto.GetExtension(opts, agentbridgev1.E_Xml).(*agentbridgev1.XmlField); ok {
			return xf
		}
	}
	return nil
}

func planField(fd protoreflect.FieldDescriptor, elementNS string, building map[protoreflect.MessageDescriptor]*Plan) (*fieldPlan, error) {
	if fd.Kind() == protoreflect.GroupKind {
		return nil, fmt.Errorf("xmlcodec: group field %s has no XML mapping", fd.FullName())
	}
	xf := fieldOption(fd)
	fp := &fieldPlan{fd: fd, name: xmlName{space: elementNS, local: fd.JSONName()},
		list: fd.IsList(), inOneof: fd.ContainingOneof() != nil}
	if xf.GetName() != "" {
		fp.name.local = xf.GetName()
	}
	if xf.GetNamespace() != "" {
		fp.name.space = xf.GetNamespace()
	}
	if (xf.GetMapKey() != "" || xf.GetMapValue() != "") && !fd.IsMap() {
		return nil, fmt.Errorf("xmlcodec: field %s names a map key or value element but is not a map", fd.FullName())
	}
	if fd.IsMap() {
		if xf.GetXsdType() != "" {
			return nil, fmt.Errorf("xmlcodec: map field %s has an xsd_type, which applies to single and repeated fields only; use a map of messages with an annotated field", fd.FullName())
		}
		return planMap(fd, fp, xf, building)
	}
	if xf.GetItem() != "" {
		if !fd.IsList() {
			return nil, fmt.Errorf("xmlcodec: field %s names an item element but is not repeated", fd.FullName())
		}
		fp.item = xf.GetItem()
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		fp.kind = kindEnum
		fp.enumText, fp.enumValue = enumTexts(fd.Enum())
		if zero := fd.Enum().Values().ByNumber(0); zero != nil {
			x, _ := proto.GetExtension(zero.Options(), agentbridgev1.E_XmlValue).(string)
			fp.zeroHasText = x != ""
		}
	case protoreflect.MessageKind:
		switch md := fd.Message(); md.FullName() {
		case "google.protobuf.Timestamp":
			fp.kind = kindTimestamp
			fp.secondsFD, fp.nanosFD = md.Fields().ByNumber(1), md.Fields().ByNumber(2)
		case "google.protobuf.Duration":
			fp.kind = kindDuration
			fp.secondsFD, fp.nanosFD = md.Fields().ByNumber(1), md.Fields().ByNumber(2)
		case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
			"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
			"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
			fp.kind = kindWrapper
			fp.valueFD = md.Fields().ByNumber(1)
		default:
			if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
				return nil, fmt.Errorf("xmlcodec: field %s has type %s, which has no XML mapping", fd.FullName(), md.FullName())
			}
			fp.kind = kindMessage
			if hfd := headerField(md); hfd != nil {
				return nil, fmt.Errorf("xmlcodec: field %s holds message %s, whose field %s is a SOAP header block (agentbridge.v1.xml).header; "+
					"only top-level fields of a method's request or response message can be header blocks", fd.FullName(), md.FullName(), hfd.Name())
			}
			sub, err := build(md, building)
			if err != nil {
				return nil, err
			}
			fp.msg = sub
		}
	default:
		fp.kind = kindScalar
	}
	if err := planXSD(fp, xf.GetXsdType()); err != nil {
		return nil, err
	}
	return fp, nil
}

// planXSD checks a field's xsd_type against its proto type, refusing every pairing in which
// the codec would have to change a value on its way through, with the mapping that keeps it.
func planXSD(fp *fieldPlan, name string) error {
	if name == "" {
		return nil
	}
	fp.xsdName = name
	fd := fp.fd
	kind := fd.Kind()
	if fp.kind == kindWrapper {
		kind = fp.valueFD.Kind()
	}
	fail := func(why string) error {
		return fmt.Errorf("xmlcodec: field %s has xsd_type %q, but %s", fd.FullName(), name, why)
	}
	lexical, isLexical := LookupXSDType(name)
	switch {
	case fp.kind == kindTimestamp:
		switch name {
		case "dateTime", "dateTimeStamp":
			return nil // checked when decoding: only a UTC value fits a Timestamp exactly
		case "date", "time", "gYear", "gYearMonth", "gMonth", "gMonthDay", "gDay":
			return fail(fmt.Sprintf("a google.protobuf.Timestamp is an instant and an xsd:%s is not; map the field as string with xsd_type %q, which keeps the value as written", name, name))
		}
		return fail("a google.protobuf.Timestamp field takes xsd_type dateTime or dateTimeStamp only")
	case fp.kind == kindDuration:
		switch name {
		case "duration":
			return nil // checked when decoding: years and months have no length in seconds
		case "dayTimeDuration":
			// Its lexical rule has no Y or M at all, so "P0Y1D" (which a Duration could hold)
			// is refused as not a dayTimeDuration, after the advice for non-zero years. Writing
			// needs no check: a Duration is written as seconds, which is one.
			fp.dayTime = true
			return nil
		case "yearMonthDuration":
			return fail(`years and months have no fixed length in seconds; map the field as string with xsd_type "yearMonthDuration"`)
		}
		return fail("a google.protobuf.Duration field takes xsd_type duration or dayTimeDuration only")
	case kind == protoreflect.BytesKind && (fp.kind == kindScalar || fp.kind == kindWrapper):
		switch name {
		case "base64Binary":
			return nil
		case "hexBinary":
			fp.hex = true
			return nil
		}
		return fail("a bytes field takes xsd_type base64Binary or hexBinary only")
	case fp.kind == kindScalar || fp.kind == kindWrapper:
		kb, isInt := kindBounds(kind)
		b, isBounded := integerBounds[name]
		switch {
		case isInt && isBounded && kb.within(b):
			fp.bounds = &b
			return nil
		case isInt && isBounded:
			return fail(fmt.Sprintf("xsd:%s holds %d to %d, beyond %s; use a proto integer type that holds it", name, b.lo, b.hi, kind))
		case isBounded:
			return fail(fmt.Sprintf("xsd:%s is an integer type; map it to a proto integer type that holds it", name))
		}
	}
	switch {
	case kind == protoreflect.StringKind && (fp.kind == kindScalar || fp.kind == kindWrapper):
		if !isLexical {
			return fail("a string field takes an xsd_type whose lexical form it keeps: one of " + lexicalNames())
		}
		fp.xsd = lexical
		return nil
	case isLexical:
		return fail(fmt.Sprintf("the field is %s; map it as string with xsd_type %q, which keeps the value as written", kind, name))
	}
	return fail("xsd_type applies to string, bytes, integer, google.protobuf.Timestamp and google.protobuf.Duration fields; other types map their XSD built-ins by value (docs/xml-mapping.md)")
}

// lexicalNames lists the xsd_type values a string field takes, in a fixed order.
func lexicalNames() string {
	names := make([]string, 0, len(xsdTypes))
	for name := range xsdTypes {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// planMap plans a map field as a wrapper element of entries, each holding a key element and a
// value element, all in the field's namespace. The key and value are planned as the fields of
// the map's entry message that they are, so values may be anything a field may be.
func planMap(fd protoreflect.FieldDescriptor, fp *fieldPlan, xf *agentbridgev1.XmlField, building map[protoreflect.MessageDescriptor]*Plan) (*fieldPlan, error) {
	fp.kind = kindMap
	fp.item = cmp.Or(xf.GetItem(), defaultMapEntry)
	key, err := planField(fd.MapKey(), fp.name.space, building)
	if err != nil {
		return nil, err
	}
	value, err := planField(fd.MapValue(), fp.name.space, building)
	if err != nil {
		return nil, err
	}
	key.name.local = cmp.Or(xf.GetMapKey(), defaultMapKey)
	value.name.local = cmp.Or(xf.GetMapValue(), defaultMapValue)
	if key.name.local == value.name.local {
		return nil, fmt.Errorf("xmlcodec: map field %s names its key and value elements both %q", fd.FullName(), key.name.local)
	}
	value.mapOf = fp
	fp.mapKey, fp.mapValue = key, value
	return fp, nil
}

// enumTexts lists the XML text of each value (its xml_value option, or its name without the
// enum's UPPER_SNAKE prefix) and every text accepted when decoding (that text, the full value
// name, and the name without prefix).
func enumTexts(ed protoreflect.EnumDescriptor) (map[protoreflect.EnumNumber]string, map[string]protoreflect.EnumNumber) {
	prefix := upperSnake(string(ed.Name())) + "_"
	toText := map[protoreflect.EnumNumber]string{}
	toValue := map[string]protoreflect.EnumNumber{}
	values := ed.Values()
	for i := range values.Len() {
		v := values.Get(i)
		name := string(v.Name())
		short := strings.TrimPrefix(name, prefix)
		text := short
		if opts := v.Options(); opts != nil {
			if x, ok := proto.GetExtension(opts, agentbridgev1.E_XmlValue).(string); ok && x != "" {
				text = x
			}
		}
		if _, seen := toText[v.Number()]; !seen { // aliases: the first name wins
			toText[v.Number()] = text
		}
		for _, s := range []string{text, name, short} {
			if _, taken := toValue[s]; !taken {
				toValue[s] = v.Number()
			}
		}
	}
	return toText, toValue
}

// upperSnake turns ItemStatus into ITEM_STATUS, as buf's ENUM_VALUE_PREFIX rule expects.
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(s[i-1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Descriptor returns the message descriptor the plan maps.
func (p *Plan) Descriptor() protoreflect.MessageDescriptor { return p.desc }

// HasHeaders reports whether the message has fields marked as SOAP header blocks.
func (p *Plan) HasHeaders() bool { return len(p.headers) > 0 }

// ChildrenOnly returns an error unless the message maps to child elements only, with no
// attribute and no text field: the condition for writing or reading its fields directly as
// the children of another element (soap:Body, for a message without a wrapper element),
// which has no place for its attributes or text.
func (p *Plan) ChildrenOnly() error {
	switch {
	case len(p.attrs) > 0:
		return fmt.Errorf("xmlcodec: message %s has attribute field %s, but its fields are the children of another element, which has no place for it", p.desc.FullName(), p.attrs[0].fd.Name())
	case p.text != nil:
		return fmt.Errorf("xmlcodec: message %s has text field %s, but its fields are the children of another element, which has no place for it", p.desc.FullName(), p.text.fd.Name())
	}
	return nil
}

// behaviorRequired reports whether a singular field is marked REQUIRED (see MarkedRequired):
// a list or map may be empty however it is marked.
func behaviorRequired(fd protoreflect.FieldDescriptor) bool {
	return !fd.IsList() && !fd.IsMap() && MarkedRequired(fd)
}

// MarkedRequired reports whether a field is marked (google.api.field_behavior) = REQUIRED: the
// contract says the backend always sends it, as the WSDL importer writes for minOccurs ≥ 1.
func MarkedRequired(fd protoreflect.FieldDescriptor) bool {
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_REQUIRED)
}
