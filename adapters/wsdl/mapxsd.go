package wsdl

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// mapper turns XSD components into proto messages and enums, each named component once.
type mapper struct {
	file     *protoFile
	set      *schemaSet
	typeMsgs map[xml.Name]*protoMessage // named complexType → its message
	enums    map[xml.Name]*protoEnum    // named simpleType with enumerations → its enum
	building map[xml.Name]bool          // named types being mapped (recursion through extension)
	report   *Report
	encoded  bool // the operation being mapped uses SOAP encoding: arrays are soapenc arrays
}

// typeRef is what a field's XSD type maps to.
type typeRef struct {
	proto   string // proto type
	xsdType string
	desc    string // a factual description of the type for comments (facets and base)
	item    string // for soapenc arrays and ArrayOf wrappers: the item element
	repeat  bool   // the type is itself a list of items (item set)
}

// fieldFlags are the cardinality a particle gets from its own occurs and its ancestors'.
type fieldFlags struct {
	optional bool
	repeated bool
	oneof    *protoOneof
	where    string // for report lines
}

// inexact records a mapping that does not carry everything the XSD says.
func (mp *mapper) inexact(where string, format string, args ...any) {
	mp.report.Inexact = append(mp.report.Inexact, where+": "+fmt.Sprintf(format, args...))
}

// elementName returns the qualified name of a local or global element declaration.
func elementName(el *node, sc *schema, global bool) xml.Name {
	name := xml.Name{Local: el.attr("name")}
	switch form := el.attr("form"); {
	case global, form == "qualified", form == "" && sc.qualified:
		name.Space = sc.targetNS
	}
	return name
}

func attributeName(at *node, sc *schema, global bool) xml.Name {
	name := xml.Name{Local: at.attr("name")}
	switch form := at.attr("form"); {
	case global, form == "qualified", form == "" && sc.attrQualified:
		name.Space = sc.targetNS
	}
	return name
}

// messageForType returns the message of a named complexType, mapping it on first use.
func (mp *mapper) messageForType(q xml.Name) (*protoMessage, error) {
	if m, ok := mp.typeMsgs[q]; ok {
		return m, nil
	}
	c, ok := mp.set.types[q]
	if !ok || c.node.name.Local != "complexType" {
		return nil, fmt.Errorf("complex type %s is not declared in any schema the WSDL imports", xmlName(q))
	}
	m := mp.file.newMessage(pascal(q.Local))
	if mp.encoded {
		m.xsdType = q // SOAP encoding writes it as xsi:type
	}
	m.comment = documentation(c.node)
	if m.comment == "" {
		m.comment = fmt.Sprintf("The XSD complex type %s.", q.Local)
	}
	mp.typeMsgs[q] = m
	if err := mp.complexContent(m, c.node, c.schema, q.Local); err != nil {
		return nil, err
	}
	return m, nil
}

// anonymousMessage maps an anonymous complexType into a new message.
func (mp *mapper) anonymousMessage(base string, ct *node, sc *schema, doc string) (*protoMessage, error) {
	m := mp.file.newMessage(pascal(base))
	m.comment = doc
	if m.comment == "" {
		m.comment = fmt.Sprintf("The content of element %s.", base)
	}
	if err := mp.complexContent(m, ct, sc, base); err != nil {
		return nil, err
	}
	return m, nil
}

// complexContent adds the fields of a complexType's content to m.
func (mp *mapper) complexContent(m *protoMessage, ct *node, sc *schema, where string) error {
	if ct.attr("mixed") == "true" {
		mp.inexact(where, "mixed content: the text between child elements is not carried")
	}
	for _, c := range ct.children {
		if c.name.Space != nsXSD {
			continue
		}
		switch c.name.Local {
		case "sequence", "choice", "all", "group":
			if err := mp.particle(m, c, sc, fieldFlags{where: where}); err != nil {
				return err
			}
		case "attribute", "attributeGroup":
			if err := mp.attribute(m, c, sc, where); err != nil {
				return err
			}
		case "anyAttribute":
			mp.inexact(where, "xsd:anyAttribute: attributes the schema does not name are not carried")
		case "complexContent":
			if err := mp.derived(m, c, sc, where, false); err != nil {
				return err
			}
		case "simpleContent":
			if err := mp.derived(m, c, sc, where, true); err != nil {
				return err
			}
		case "annotation":
		default:
			// XSD 1.1's openContent and assert, or what a newer schema adds: said, not
			// passed over.
			mp.inexact(where, "xsd:%s is not mapped", c.name.Local)
		}
	}
	return nil
}

// derived maps complexContent or simpleContent: an extension adds to its base's content, a
// restriction restates it.
func (mp *mapper) derived(m *protoMessage, cc *node, sc *schema, where string, simple bool) error {
	for _, d := range cc.children {
		if d.name.Space != nsXSD || (d.name.Local != "extension" && d.name.Local != "restriction") {
			continue
		}
		base, _, err := d.qnameAttr("base")
		if err != nil {
			return err
		}
		if !simple && d.name.Local == "restriction" && (base.Space == nsSOAPEnc || base.Space == nsSOAP12E) && base.Local == "Array" {
			return mp.soapArray(m, d, sc, where)
		}
		switch {
		case simple:
			if err := mp.simpleContentBase(m, base, d, where); err != nil {
				return err
			}
		case d.name.Local == "extension" && (base.Space != nsXSD || base.Local != "anyType"):
			if mp.building[base] {
				return d.errorf("type %s extends itself", xmlName(base))
			}
			c, ok := mp.set.types[base]
			if !ok {
				return d.errorf("base type %s is not declared in any schema the WSDL imports", xmlName(base))
			}
			mp.building[base] = true
			err := mp.complexContent(m, c.node, c.schema, where)
			delete(mp.building, base)
			if err != nil {
				return err
			}
		}
		for _, c := range d.children {
			if c.name.Space != nsXSD {
				continue
			}
			switch c.name.Local {
			case "sequence", "choice", "all", "group":
				if err := mp.particle(m, c, sc, fieldFlags{where: where}); err != nil {
					return err
				}
			case "attribute", "attributeGroup":
				if err := mp.attribute(m, c, sc, where); err != nil {
					return err
				}
			case "anyAttribute":
				mp.inexact(where, "xsd:anyAttribute: attributes the schema does not name are not carried")
			}
		}
	}
	return nil
}

// simpleContentBase adds the text field (and inherited attributes) of simpleContent.
func (mp *mapper) simpleContentBase(m *protoMessage, base xml.Name, d *node, where string) error {
	if c, ok := mp.set.types[base]; ok && c.node.name.Local == "complexType" {
		if mp.building[base] {
			return d.errorf("type %s extends itself", xmlName(base))
		}
		mp.building[base] = true
		defer delete(mp.building, base)
		return mp.complexContent(m, c.node, c.schema, where)
	}
	for _, fd := range m.fields {
		if fd.xml.text {
			return nil // a restriction of simpleContent restates the text field
		}
	}
	ref, err := mp.simpleType(base, d, where+"/value", nil)
	if err != nil {
		return err
	}
	m.addField(&protoField{
		name:    "value",
		typ:     ref.proto,
		comment: "The element's text content" + ref.descSuffix() + ".",
		xml:     xmlOpts{text: true, xsdType: ref.xsdType},
	})
	return nil
}

func (r typeRef) descSuffix() string {
	if r.desc == "" {
		return ""
	}
	return ": " + r.desc
}

// soapArray maps a SOAP-encoding array restriction (soapenc:Array with wsdl:arrayType) that
// soapArrayShape could not make a list of, as a message with one repeated field of text.
func (mp *mapper) soapArray(m *protoMessage, d *node, sc *schema, where string) error {
	item, itemType, found := arrayItem(d)
	ref := typeRef{proto: "string"}
	if found {
		r, err := mp.typeOf(itemType, d, item, where)
		if err != nil {
			return err
		}
		ref = r
	} else {
		mp.inexact(where, "a SOAP array without wsdl:arrayType: items read as text")
	}
	m.addField(&protoField{
		name:    "item",
		typ:     ref.proto,
		label:   "repeated",
		local:   item,
		comment: "The array's items, in order.",
		xml:     xmlOpts{xsdType: ref.xsdType},
	})
	return nil
}

// particle maps a sequence, all, choice, group reference or element into fields of m.
func (mp *mapper) particle(m *protoMessage, p *node, sc *schema, fl fieldFlags) error {
	min, max := occurs(p)
	f := fl
	if min == 0 {
		f.optional = true
	}
	if max != 1 {
		f.repeated = true
	}
	switch p.name.Local {
	case "element":
		return mp.element(m, p, sc, f)
	case "any":
		// The escape hatch: a field that keeps the elements no other field names as XML text.
		if !m.hasAny {
			m.hasAny = true
			m.addField(&protoField{
				name:    "any",
				typ:     "string",
				label:   "repeated",
				comment: "Elements the schema leaves open (xsd:any), each as XML text with its namespaces declared, in order; written after the other fields.",
				xml:     xmlOpts{any: true},
			})
		}
		return nil
	case "group":
		g, done, err := mp.groupRef(p, "group", mp.set.groups)
		if err != nil {
			return err
		}
		defer done()
		for _, c := range g.node.children {
			if c.name.Space == nsXSD && (c.name.Local == "sequence" || c.name.Local == "choice" || c.name.Local == "all") {
				if err := mp.particle(m, c, g.schema, f); err != nil {
					return err
				}
			}
		}
		return nil
	case "sequence", "all":
		if f.repeated && countParticles(p) > 1 {
			mp.inexact(fl.where, "a repeated %s of several elements: each element becomes its own list, so which items belonged together is not kept", p.name.Local)
		}
		for _, c := range p.children {
			if c.name.Space == nsXSD && isParticle(c.name.Local) {
				if err := mp.particle(m, c, sc, f); err != nil {
					return err
				}
			}
		}
		return nil
	case "choice":
		return mp.choice(m, p, sc, f)
	}
	return nil
}

func isParticle(local string) bool {
	switch local {
	case "element", "sequence", "choice", "all", "group", "any":
		return true
	}
	return false
}

func countParticles(p *node) int {
	n := 0
	for _, c := range p.children {
		if c.name.Space == nsXSD && isParticle(c.name.Local) {
			n++
		}
	}
	return n
}

// choice maps a choice as a oneof when every alternative is a single element that is not
// repeated; otherwise as optional fields, reported, since proto has no other way to say "one
// of these lists".
func (mp *mapper) choice(m *protoMessage, p *node, sc *schema, f fieldFlags) error {
	alts := choiceAlternatives(p)
	simple := !f.repeated && f.oneof == nil
	for _, a := range alts {
		if a.name.Local != "element" {
			simple = false
			break
		}
		if _, max := occurs(a); max != 1 {
			simple = false
			break
		}
	}
	if simple && len(alts) > 0 {
		o := m.newOneof("choice")
		o.comment = "One of these, as the XSD's choice allows."
		inner := fieldFlags{where: f.where, oneof: o, optional: true}
		for _, a := range alts {
			if err := mp.element(m, a, sc, inner); err != nil {
				return err
			}
		}
		return nil
	}
	if len(alts) > 1 {
		mp.inexact(f.where, "a choice among lists or groups: its alternatives are independent optional fields, and the bridge does not check that only one is given")
	}
	inner := f
	inner.optional = true
	for _, c := range p.children {
		if c.name.Space == nsXSD && isParticle(c.name.Local) {
			if err := mp.particle(m, c, sc, inner); err != nil {
				return err
			}
		}
	}
	return nil
}

// choiceAlternatives flattens nested choices (a choice of choices is one choice).
func choiceAlternatives(p *node) []*node {
	var out []*node
	for _, c := range p.children {
		if c.name.Space != nsXSD || !isParticle(c.name.Local) {
			continue
		}
		if c.name.Local == "choice" {
			if min, max := occurs(c); min == 1 && max == 1 {
				out = append(out, choiceAlternatives(c)...)
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// element maps an element particle (local or a ref) into a field of m.
func (mp *mapper) element(m *protoMessage, el *node, sc *schema, f fieldFlags) error {
	decl, declSchema, global := el, sc, false
	if ref, ok, err := el.qnameAttr("ref"); err != nil {
		return err
	} else if ok {
		c, found := mp.set.elements[ref]
		if !found {
			return el.errorf("element %s is not declared in any schema the WSDL imports", xmlName(ref))
		}
		decl, declSchema, global = c.node, c.schema, true
		if subs := mp.set.substitutes[ref]; len(subs) > 0 {
			mp.inexact(f.where, "element %s heads a substitution group; only the head element is mapped, members (%s) are not read", ref.Local, joinLocal(subs))
		}
		if decl.attr("abstract") == "true" {
			mp.inexact(f.where, "element %s is abstract: only its substitution group's members can appear, and they are not mapped", ref.Local)
		}
	}
	name := elementName(decl, declSchema, global)
	if name.Local == "" {
		return el.errorf("an element without a name or ref")
	}
	where := f.where + "/" + name.Local
	ref, msgRef, err := mp.elementType(decl, declSchema, name, where)
	if err != nil {
		return err
	}
	nillable := decl.attr("nillable") == "true"
	doc := documentation(el)
	if doc == "" && el != decl {
		doc = documentation(decl)
	}
	fd := &protoField{
		name:  snake(name.Local),
		typ:   ref.proto,
		local: name.Local,
		ns:    name.Space,
		xml:   xmlOpts{xsdType: ref.xsdType},
	}
	repeated := f.repeated
	if ref.repeat {
		if repeated {
			// A list of lists: keep the wrapper message.
			ref, msgRef, err = mp.wrapperMessage(decl, declSchema, name, where)
			if err != nil {
				return err
			}
			fd.typ, fd.xml.xsdType = ref.proto, ""
		} else if f.optional || nillable {
			ref, msgRef, err = mp.wrapperMessage(decl, declSchema, name, where)
			if err != nil {
				return err
			}
			fd.typ, fd.xml.xsdType = ref.proto, ""
		} else {
			fd.xml.item = ref.item
			repeated = true
		}
	}
	_ = msgRef
	isMessage := mp.file.msgs[fd.typ] != nil
	card := describeCardinality(f, repeated, nillable, ref)
	if doc == "" {
		doc = "The " + name.Local + " element" + ref.descSuffix() + "."
	}
	fd.comment = doc + " " + card
	switch {
	case repeated:
		fd.label = "repeated"
		if nillable {
			mp.inexact(where, "nillable list items: an item sent with xsi:nil fails the call (a list has no slot for nil)")
		}
	case f.oneof != nil:
		fd.oneof = f.oneof
	case nillable:
		fd.oneof = m.newOneof(fd.name + "_state")
		fd.oneof.comment = "The " + name.Local + " element: a value, or nil (xsi:nil), or neither when absent."
	case f.optional && !isMessage:
		fd.label = "optional"
	case !f.optional && !nillable:
		fd.required = true
	}
	fd = m.addField(fd)
	if nillable && !repeated {
		mp.file.imports["google/protobuf/struct.proto"] = true
		m.addField(&protoField{
			name:    fd.name + "_nil",
			typ:     "google.protobuf.NullValue",
			oneof:   fd.oneof,
			comment: "Set when " + name.Local + " is nil (xsi:nil=\"true\"); null in JSON.",
			xml:     xmlOpts{nilOf: fd.name},
		})
	}
	if fd.required {
		mp.file.imports["google/api/field_behavior.proto"] = true
	}
	return nil
}

func joinLocal(names []xml.Name) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n.Local
	}
	return strings.Join(dedupe(parts), ", ")
}

// describeCardinality states a field's occurrence in words, from the XSD.
func describeCardinality(f fieldFlags, repeated, nillable bool, ref typeRef) string {
	var parts []string
	switch {
	case repeated:
		parts = append(parts, "Any number of them, in order.")
	case f.oneof != nil:
		parts = append(parts, "One alternative of a choice.")
	case f.optional:
		parts = append(parts, "Optional.")
	default:
		parts = append(parts, "Required.")
	}
	if nillable {
		parts = append(parts, "Nillable.")
	}
	return strings.Join(parts, " ")
}

// elementType maps an element declaration's type.
func (mp *mapper) elementType(decl *node, sc *schema, name xml.Name, where string) (typeRef, *protoMessage, error) {
	if t, ok, err := decl.qnameAttr("type"); err != nil {
		return typeRef{}, nil, err
	} else if ok {
		ref, err := mp.typeOf(t, decl, name.Local, where)
		return ref, nil, err
	}
	if ct := decl.kid(nsXSD, "complexType"); ct != nil {
		if item, ok := mp.arrayShape(ct, sc); ok {
			return item, nil, nil
		}
		msg, err := mp.anonymousMessage(name.Local, ct, sc, documentation(decl))
		if err != nil {
			return typeRef{}, nil, err
		}
		return typeRef{proto: msg.name}, msg, nil
	}
	if st := decl.kid(nsXSD, "simpleType"); st != nil {
		ref, err := mp.simpleTypeNode(st, name.Local, where)
		return ref, nil, err
	}
	mp.inexact(where, "no type (xsd:anyType): only the element's text is carried")
	return typeRef{proto: "string", desc: "any content, read as text"}, nil, nil
}

// wrapperMessage maps an element whose type is a list wrapper (ArrayOfX) as a message, for
// where the wrapper's presence or nil matters.
func (mp *mapper) wrapperMessage(decl *node, sc *schema, name xml.Name, where string) (typeRef, *protoMessage, error) {
	if t, ok, err := decl.qnameAttr("type"); err != nil {
		return typeRef{}, nil, err
	} else if ok {
		msg, err := mp.messageForType(t)
		if err != nil {
			return typeRef{}, nil, decl.errorf("%v", err)
		}
		return typeRef{proto: msg.name}, msg, nil
	}
	msg, err := mp.anonymousMessage(name.Local, decl.kid(nsXSD, "complexType"), sc, documentation(decl))
	if err != nil {
		return typeRef{}, nil, err
	}
	return typeRef{proto: msg.name}, msg, nil
}

// arrayShape recognises a complexType that only wraps a list of one element (ArrayOfString:
// a sequence of one element with maxOccurs > 1, no attributes), which maps to a repeated field
// with item; the item must be in the wrapper's namespace rules (unqualified or the same).
func (mp *mapper) arrayShape(ct *node, sc *schema) (typeRef, bool) {
	if ct.attr("mixed") == "true" {
		return typeRef{}, false
	}
	if ref, ok := mp.soapArrayShape(ct); ok {
		return ref, true
	}
	var seq *node
	for _, c := range ct.children {
		if c.name.Space != nsXSD {
			continue
		}
		switch c.name.Local {
		case "sequence":
			if seq != nil {
				return typeRef{}, false
			}
			seq = c
		case "annotation":
		default:
			return typeRef{}, false
		}
	}
	if seq == nil {
		return typeRef{}, false
	}
	if min, max := occurs(seq); min != 1 || max != 1 {
		return typeRef{}, false
	}
	var el *node
	for _, c := range seq.children {
		if c.name.Space != nsXSD || c.name.Local == "annotation" {
			continue
		}
		if c.name.Local != "element" || el != nil {
			return typeRef{}, false
		}
		el = c
	}
	if el == nil || el.hasAttr("ref") || el.attr("nillable") == "true" {
		return typeRef{}, false
	}
	if _, max := occurs(el); max == 1 {
		return typeRef{}, false
	}
	t, ok, err := el.qnameAttr("type")
	if err != nil || !ok {
		return typeRef{}, false
	}
	ref, err := mp.typeOf(t, el, el.attr("name"), "")
	if err != nil || ref.repeat {
		return typeRef{}, false
	}
	ref.item = el.attr("name")
	ref.repeat = true
	return ref, true
}

// typeOf maps a named type: a built-in, a simple type or a complex type.
func (mp *mapper) typeOf(t xml.Name, at *node, base, where string) (typeRef, error) {
	if b, ok := builtinOf(t); ok {
		if t.Local == "anySimpleType" || t.Local == "anyAtomicType" {
			mp.inexact(where, "xsd:%s: carried as text", t.Local)
		}
		return typeRef{proto: b.proto, xsdType: b.xsdType, desc: "xsd:" + t.Local}, nil
	}
	if (t.Space == nsXSD && t.Local == "anyType") || ((t.Space == nsSOAPEnc || t.Space == nsSOAP12E) && t.Local == "Array") {
		mp.inexact(where, "%s: only the element's text is carried", t.Local)
		return typeRef{proto: "string", desc: "any content, read as text"}, nil
	}
	c, ok := mp.set.types[t]
	if !ok {
		// SOAP stacks tolerate WSDLs that name types they never declare; so does the importer,
		// saying so: the element's text is carried, its structure is not known.
		mp.inexact(where, "type %s is not declared in any schema the WSDL imports (%s:%d): the element is carried as text", xmlName(t), at.doc.location, at.line)
		return typeRef{proto: "string", desc: "text (its type " + t.Local + " is not declared)"}, nil
	}
	if c.node.name.Local == "simpleType" {
		return mp.simpleType(t, at, where, nil)
	}
	if item, ok := mp.arrayShape(c.node, c.schema); ok {
		return item, nil
	}
	msg, err := mp.messageForType(t)
	if err != nil {
		return typeRef{}, at.errorf("%v", err)
	}
	return typeRef{proto: msg.name}, nil
}

// simpleType maps a named simple type (or built-in) by name.
func (mp *mapper) simpleType(t xml.Name, at *node, where string, seen map[xml.Name]bool) (typeRef, error) {
	if b, ok := builtinOf(t); ok {
		return typeRef{proto: b.proto, xsdType: b.xsdType, desc: "xsd:" + t.Local}, nil
	}
	if e, ok := mp.enums[t]; ok {
		return typeRef{proto: e.name, desc: "one of the " + t.Local + " values"}, nil
	}
	c, ok := mp.set.types[t]
	if !ok || c.node.name.Local != "simpleType" {
		if ok {
			return typeRef{}, at.errorf("%s is a complex type where a simple type is needed", xmlName(t))
		}
		return typeRef{}, at.errorf("type %s is not declared in any schema the WSDL imports", xmlName(t))
	}
	if seen == nil {
		seen = map[xml.Name]bool{}
	}
	if seen[t] {
		return typeRef{}, at.errorf("simple type %s derives from itself", xmlName(t))
	}
	seen[t] = true
	return mp.simpleTypeNodeNamed(c.node, t, t.Local, where, seen)
}

func (mp *mapper) simpleTypeNode(st *node, base, where string) (typeRef, error) {
	return mp.simpleTypeNodeNamed(st, xml.Name{}, base, where, map[xml.Name]bool{})
}

// simpleTypeNodeNamed maps a simpleType node: a restriction (enumerations become an enum,
// other facets a description), a list or a union (both text).
func (mp *mapper) simpleTypeNodeNamed(st *node, q xml.Name, base, where string, seen map[xml.Name]bool) (typeRef, error) {
	for _, c := range st.children {
		if c.name.Space != nsXSD {
			continue
		}
		switch c.name.Local {
		case "restriction":
			var baseRef typeRef
			if b, ok, err := c.qnameAttr("base"); err != nil {
				return typeRef{}, err
			} else if ok {
				r, err := mp.simpleType(b, c, where, seen)
				if err != nil {
					return typeRef{}, err
				}
				baseRef = r
			} else if inner := c.kid(nsXSD, "simpleType"); inner != nil {
				r, err := mp.simpleTypeNodeNamed(inner, xml.Name{}, base, where, seen)
				if err != nil {
					return typeRef{}, err
				}
				baseRef = r
			} else {
				return typeRef{}, c.errorf("xsd:restriction without a base")
			}
			if enums := c.kids(nsXSD, "enumeration"); len(enums) > 0 {
				e := mp.enum(q, base, st, enums)
				return typeRef{proto: e.name, desc: "one of the " + e.name + " values"}, nil
			}
			ref := baseRef
			if facets := describeFacets(c); facets != "" {
				ref.desc = strings.TrimSpace(ref.desc + ", " + facets)
			}
			return ref, nil
		case "list":
			return typeRef{proto: "string", desc: "a whitespace-separated list, as written"}, nil
		case "union":
			return typeRef{proto: "string", desc: "a value of any of the union's member types, as written"}, nil
		}
	}
	return typeRef{}, st.errorf("xsd:simpleType without restriction, list or union")
}

// describeFacets states a restriction's facets.
func describeFacets(r *node) string {
	var parts []string
	for _, f := range r.children {
		if f.name.Space != nsXSD {
			continue
		}
		v := f.attr("value")
		switch f.name.Local {
		case "pattern":
			parts = append(parts, "matching the pattern "+v)
		case "minLength":
			parts = append(parts, "at least "+v+" characters")
		case "maxLength":
			parts = append(parts, "at most "+v+" characters")
		case "length":
			parts = append(parts, "exactly "+v+" characters")
		case "minInclusive":
			parts = append(parts, "at least "+v)
		case "maxInclusive":
			parts = append(parts, "at most "+v)
		case "minExclusive":
			parts = append(parts, "greater than "+v)
		case "maxExclusive":
			parts = append(parts, "less than "+v)
		case "totalDigits":
			parts = append(parts, "at most "+v+" digits")
		case "fractionDigits":
			parts = append(parts, "at most "+v+" digits after the point")
		}
	}
	return strings.Join(parts, ", ")
}

// enum maps enumerations to an enum, named after the type or the element holding it.
func (mp *mapper) enum(q xml.Name, base string, st *node, enums []*node) *protoEnum {
	if q.Local != "" {
		if e, ok := mp.enums[q]; ok {
			return e
		}
	}
	e := &protoEnum{name: mp.file.uniqueName(pascal(base))}
	e.comment = documentation(st)
	if e.comment == "" {
		e.comment = "The values the XSD type " + base + " lists."
	}
	if q.Local != "" {
		mp.enums[q] = e
	}
	prefix := upperSnake(e.name)
	// Enum values share the package's scope, so names are unique across the file's enums.
	taken := mp.file.enumValues
	zero := prefix + "_UNSPECIFIED"
	for i := 2; taken[zero]; i++ {
		zero = fmt.Sprintf("%s_UNSPECIFIED_%d", prefix, i)
	}
	taken[zero] = true
	e.values = append(e.values, &protoEnumValue{name: zero, comment: "Not given."})
	for _, en := range enums {
		lit := en.attr("value")
		body := upperSnake(lit)
		if body == "" {
			body = "VALUE"
		}
		if body[0] >= '0' && body[0] <= '9' {
			body = "VALUE_" + body
		}
		name := prefix + "_" + body
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%s_%s_%d", prefix, body, i)
		}
		taken[name] = true
		v := &protoEnumValue{name: name, xml: lit}
		if strings.TrimPrefix(name, prefix+"_") == lit {
			v.xml = ""
		}
		v.comment = documentation(en)
		if v.comment == "" {
			v.comment = "The value " + quote(lit) + "."
		}
		e.values = append(e.values, v)
	}
	mp.file.enums = append(mp.file.enums, e)
	return e
}

// attribute maps an attribute or an attributeGroup reference.
func (mp *mapper) attribute(m *protoMessage, a *node, sc *schema, where string) error {
	if a.name.Local == "attributeGroup" {
		g, done, err := mp.groupRef(a, "attribute group", mp.set.attributeGroups)
		if err != nil {
			return err
		}
		defer done()
		for _, c := range g.node.children {
			if c.name.Space == nsXSD && (c.name.Local == "attribute" || c.name.Local == "attributeGroup") {
				if err := mp.attribute(m, c, g.schema, where); err != nil {
					return err
				}
			}
			if c.name.Space == nsXSD && c.name.Local == "anyAttribute" {
				mp.inexact(where, "xsd:anyAttribute: attributes the schema does not name are not carried")
			}
		}
		return nil
	}
	if a.attr("use") == "prohibited" {
		return nil
	}
	decl, declSchema, global := a, sc, false
	if ref, ok, err := a.qnameAttr("ref"); err != nil {
		return err
	} else if ok {
		if ref.Space == nsSOAPEnc && ref.Local == "arrayType" {
			return nil
		}
		if ref.Space == "http://www.w3.org/XML/1998/namespace" {
			decl = nil
			name := ref
			return mp.addAttribute(m, a, name, typeRef{proto: "string", desc: "xml:" + ref.Local}, where)
		}
		c, found := mp.set.attributes[ref]
		if !found {
			return a.errorf("attribute %s is not declared in any schema the WSDL imports", xmlName(ref))
		}
		decl, declSchema, global = c.node, c.schema, true
	}
	name := attributeName(decl, declSchema, global)
	var ref typeRef
	if t, ok, err := decl.qnameAttr("type"); err != nil {
		return err
	} else if ok {
		ref, err = mp.simpleType(t, decl, where+"/@"+name.Local, nil)
		if err != nil {
			return err
		}
	} else if st := decl.kid(nsXSD, "simpleType"); st != nil {
		ref, err = mp.simpleTypeNode(st, name.Local, where+"/@"+name.Local)
		if err != nil {
			return err
		}
	} else {
		ref = typeRef{proto: "string", desc: "any text"}
	}
	return mp.addAttribute(m, a, name, ref, where)
}

func (mp *mapper) addAttribute(m *protoMessage, a *node, name xml.Name, ref typeRef, where string) error {
	fd := &protoField{name: snake(name.Local), typ: ref.proto, local: name.Local, xml: xmlOpts{attribute: true, namespace: name.Space, xsdType: ref.xsdType}}
	doc := documentation(a)
	if doc == "" {
		doc = "The " + name.Local + " attribute" + ref.descSuffix() + "."
	}
	if a.attr("use") == "required" {
		fd.required = true
		mp.file.imports["google/api/field_behavior.proto"] = true
		fd.comment = doc + " Required."
	} else {
		fd.label = "optional"
		fd.comment = doc + " Optional."
		if d := a.attr("default"); d != "" {
			fd.comment += " The backend assumes " + quote(d) + " when it is left out."
		}
	}
	m.addField(fd)
	return nil
}

// settleNamespace makes the namespace most child elements share the message's xml_message
// namespace and leaves the field option only on fields in another one, and names the XML
// element or attribute of every field whose JSON name differs. When any element child is
// unqualified, the message keeps no namespace (a field cannot say "no namespace" inside a
// qualified message). It runs once per message, after every field is in.
func settleNamespace(m *protoMessage) {
	counts := map[string]int{}
	unqualified := false
	elements := 0
	for _, fd := range m.fields {
		if fd.local != "" && !fd.xml.attribute && jsonName(fd.name) != fd.local {
			fd.xml.name = fd.local
		}
		if fd.local != "" && fd.xml.attribute && jsonName(fd.name) != fd.local {
			fd.xml.name = fd.local
		}
		if fd.xml.attribute || fd.xml.text || fd.xml.nilOf != "" || fd.xml.any {
			continue
		}
		elements++
		if fd.ns == "" {
			unqualified = true
		}
		counts[fd.ns]++
	}
	if elements > 0 && m.xmlNS == "" && !unqualified {
		best := -1
		for _, k := range sortedKeys(counts) {
			if counts[k] > best {
				m.xmlNS, best = k, counts[k]
			}
		}
	}
	for _, fd := range m.fields {
		if fd.xml.attribute || fd.xml.text || fd.xml.nilOf != "" || fd.xml.any {
			continue
		}
		if fd.ns != m.xmlNS {
			fd.xml.namespace = fd.ns
		}
	}
}

// soapArrayShape recognises a SOAP-encoding array type (a complexContent restriction of
// soapenc:Array): a list of its wsdl:arrayType (or its sequence's element type), whose items
// are named by its sequence's element, else "item" (encoded replies may name them anything).
func (mp *mapper) soapArrayShape(ct *node) (typeRef, bool) {
	cc := ct.kid(nsXSD, "complexContent")
	if cc == nil {
		return typeRef{}, false
	}
	r := cc.kid(nsXSD, "restriction")
	if r == nil {
		return typeRef{}, false
	}
	base, ok, err := r.qnameAttr("base")
	if err != nil || !ok || base.Local != "Array" || (base.Space != nsSOAPEnc && base.Space != nsSOAP12E) {
		return typeRef{}, false
	}
	item, itemType, found := arrayItem(r)
	if !found {
		return typeRef{}, false
	}
	ref, err := mp.typeOf(itemType, r, item, "")
	if err != nil || ref.repeat {
		return typeRef{}, false
	}
	ref.item, ref.repeat = item, true
	ref.desc = "a SOAP-encoded array of " + itemType.Local
	return ref, true
}

// arrayItem reads a soapenc:Array restriction: the item element's name (from its sequence,
// else "item") and the items' type (wsdl:arrayType, else the sequence element's type).
func arrayItem(r *node) (item string, itemType xml.Name, found bool) {
	item = "item"
	for _, seq := range r.kids(nsXSD, "sequence") {
		for _, el := range seq.kids(nsXSD, "element") {
			if el.attr("name") != "" {
				item = el.attr("name")
			}
			if q, ok, err := el.qnameAttr("type"); err == nil && ok {
				itemType, found = q, true
			}
		}
	}
	for _, a := range r.kids(nsXSD, "attribute") {
		for _, at := range a.attrs {
			if at.Name.Space == nsWSDL && at.Name.Local == "arrayType" {
				t := strings.TrimSpace(at.Value)
				if i := strings.Index(t, "["); i >= 0 {
					t = t[:i]
				}
				if q, err := a.qname(t); err == nil {
					itemType, found = q, true
				}
			}
		}
	}
	return item, itemType, found
}

// groupRef resolves the ref of a group or attributeGroup reference in index and marks it as
// being expanded, so that one containing itself fails instead of recursing; done ends the mark.
// what names the kind in messages.
func (mp *mapper) groupRef(p *node, what string, index map[xml.Name]component) (g component, done func(), err error) {
	ref, ok, err := p.qnameAttr("ref")
	if err != nil {
		return component{}, nil, err
	}
	if !ok {
		return component{}, nil, p.errorf("xsd:%s without ref inside a content model", p.name.Local)
	}
	g, found := index[ref]
	if !found {
		return component{}, nil, p.errorf("%s %s is not declared in any schema the WSDL imports", what, xmlName(ref))
	}
	if mp.building[ref] {
		return component{}, nil, p.errorf("%s %s contains itself", what, xmlName(ref))
	}
	mp.building[ref] = true
	return g, func() { delete(mp.building, ref) }, nil
}
