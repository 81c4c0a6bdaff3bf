// Package xmlcodec converts between XML and protobuf messages by descriptor, without a detour
// through maps or JSON. A Plan is built once per message descriptor, from agentbridge's XML
// options, and reused for every call.
package xmlcodec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

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
	desc   protoreflect.MessageDescriptor
	fields []*fieldPlan // element fields, in declaration order (the XSD sequence order)
	attrs  []*fieldPlan // attribute fields
	text   *fieldPlan   // the field holding the element's text content, if any

	// spaces are the namespaces of the fields' elements and attributes, declared once on the
	// message's element rather than on each child.
	spaces []string

	// byName finds element fields by namespace and local name; byLocal by local name alone,
	// for backends that qualify elements differently from their WSDL.
	byName  map[xmlName]*fieldPlan
	byLocal map[string]*fieldPlan
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

	// For maps: the plans of the entry's key and value fields, named as their elements.
	mapKey, mapValue *fieldPlan
	// For a map's value: the map field, whose Map makes new message values.
	mapOf *fieldPlan
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
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fp, err := planField(fd, elementNS, building)
		if err != nil {
			return nil, err
		}
		xf := fieldOption(fd)
		switch {
		case xf.GetAttribute() && xf.GetText():
			return nil, fmt.Errorf("xmlcodec: field %s is marked both attribute and text", fd.FullName())
		case xf.GetAttribute():
			if fd.IsList() || fp.kind == kindMessage || fp.kind == kindMap {
				return nil, fmt.Errorf("xmlcodec: field %s is an attribute but not a single scalar", fd.FullName())
			}
			fp.name.space = xf.GetNamespace() // attributes are unqualified unless named
			p.attrs = append(p.attrs, fp)
		case xf.GetText():
			if fd.IsList() || fp.kind == kindMessage || fp.kind == kindMap || p.text != nil {
				return nil, fmt.Errorf("xmlcodec: field %s is text content but not the only single scalar text field", fd.FullName())
			}
			p.text = fp
		default:
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
	if p.text != nil && len(p.fields) > 0 {
		return nil, fmt.Errorf("xmlcodec: message %s has both text content and child elements", md.FullName())
	}
	return p, nil
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
	fp := &fieldPlan{fd: fd, name: xmlName{space: elementNS, local: fd.JSONName()}}
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
		case "google.protobuf.Duration":
			fp.kind = kindDuration
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
			sub, err := build(md, building)
			if err != nil {
				return nil, err
			}
			fp.msg = sub
		}
	default:
		fp.kind = kindScalar
	}
	return fp, nil
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
