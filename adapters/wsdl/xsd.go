package wsdl

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// component is a global XSD component (element, type, group, attribute) and its schema.
type component struct {
	node   *node
	schema *schema
}

// schemaSet indexes the global components of every schema the importer read.
type schemaSet struct {
	elements        map[xml.Name]component
	types           map[xml.Name]component // complexType and simpleType share a symbol space
	groups          map[xml.Name]component
	attributeGroups map[xml.Name]component
	attributes      map[xml.Name]component
	substitutes     map[xml.Name][]xml.Name // head element → members of its substitution group
}

func newSchemaSet(schemas []*schema) (*schemaSet, error) {
	s := &schemaSet{
		elements:        map[xml.Name]component{},
		types:           map[xml.Name]component{},
		groups:          map[xml.Name]component{},
		attributeGroups: map[xml.Name]component{},
		attributes:      map[xml.Name]component{},
		substitutes:     map[xml.Name][]xml.Name{},
	}
	for _, sc := range schemas {
		for _, c := range sc.node.children {
			if c.name.Space != nsXSD {
				continue
			}
			var m map[xml.Name]component
			switch c.name.Local {
			case "element":
				m = s.elements
			case "complexType", "simpleType":
				m = s.types
			case "group":
				m = s.groups
			case "attributeGroup":
				m = s.attributeGroups
			case "attribute":
				m = s.attributes
			default:
				continue
			}
			name := xml.Name{Space: sc.targetNS, Local: c.attr("name")}
			if name.Local == "" {
				return nil, c.errorf("a global xsd:%s without a name", c.name.Local)
			}
			// The first declaration of a name wins, as most SOAP stacks have it; a schema read
			// twice (included from two places) declares the same names again.
			if _, dup := m[name]; !dup {
				m[name] = component{node: c, schema: sc}
			}
			if c.name.Local == "element" {
				if head, ok, err := c.qnameAttr("substitutionGroup"); err != nil {
					return nil, err
				} else if ok {
					s.substitutes[head] = append(s.substitutes[head], name)
				}
			}
		}
	}
	return s, nil
}

// occurs reads minOccurs and maxOccurs (max -1 for unbounded).
func occurs(n *node) (min, max int) {
	min, max = 1, 1
	if v := n.attr("minOccurs"); v != "" {
		if i, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			min = i
		}
	}
	if v := strings.TrimSpace(n.attr("maxOccurs")); v != "" {
		if v == "unbounded" {
			max = -1
		} else if i, err := strconv.Atoi(v); err == nil {
			max = i
		}
	}
	return min, max
}

// documentation returns the text of n's xsd:annotation/xsd:documentation or
// wsdl:documentation children.
func documentation(n *node) string {
	var parts []string
	for _, c := range n.children {
		switch {
		case c.name.Space == nsXSD && c.name.Local == "annotation":
			for _, d := range c.kids(nsXSD, "documentation") {
				if t := d.innerText(); t != "" {
					parts = append(parts, t)
				}
			}
		case (c.name.Space == nsWSDL || c.name.Space == nsWSDL2) && c.name.Local == "documentation":
			if t := c.innerText(); t != "" {
				parts = append(parts, t)
			}
		}
	}
	return strings.Join(parts, " ")
}

// xsdBuiltin is how an XSD built-in simple type maps to a proto field (docs/xml-mapping.md).
type xsdBuiltin struct {
	proto   string // proto scalar or message type
	xsdType string // the xsd_type option, if any
}

var builtins = map[string]xsdBuiltin{
	"string": {proto: "string"}, "normalizedString": {proto: "string"}, "token": {proto: "string"},
	"language": {proto: "string"}, "Name": {proto: "string"}, "NCName": {proto: "string"},
	"NMTOKEN": {proto: "string"}, "NMTOKENS": {proto: "string"}, "ID": {proto: "string"},
	"IDREF": {proto: "string"}, "IDREFS": {proto: "string"}, "ENTITY": {proto: "string"},
	"ENTITIES": {proto: "string"}, "anyURI": {proto: "string"}, "QName": {proto: "string"},
	"NOTATION":           {proto: "string"},
	"boolean":            {proto: "bool"},
	"decimal":            {proto: "string", xsdType: "decimal"},
	"integer":            {proto: "string", xsdType: "integer"},
	"nonNegativeInteger": {proto: "string", xsdType: "nonNegativeInteger"},
	"positiveInteger":    {proto: "string", xsdType: "positiveInteger"},
	"nonPositiveInteger": {proto: "string", xsdType: "nonPositiveInteger"},
	"negativeInteger":    {proto: "string", xsdType: "negativeInteger"},
	"long":               {proto: "int64"},
	"int":                {proto: "int32"},
	"short":              {proto: "int32", xsdType: "short"},
	"byte":               {proto: "int32", xsdType: "byte"},
	"unsignedLong":       {proto: "uint64"},
	"unsignedInt":        {proto: "uint32"},
	"unsignedShort":      {proto: "uint32", xsdType: "unsignedShort"},
	"unsignedByte":       {proto: "uint32", xsdType: "unsignedByte"},
	"float":              {proto: "float"},
	"double":             {proto: "double"},
	"dateTime":           {proto: "string", xsdType: "dateTime"},
	"dateTimeStamp":      {proto: "string", xsdType: "dateTimeStamp"},
	"date":               {proto: "string", xsdType: "date"},
	"time":               {proto: "string", xsdType: "time"},
	"gYear":              {proto: "string", xsdType: "gYear"},
	"gYearMonth":         {proto: "string", xsdType: "gYearMonth"},
	"gMonth":             {proto: "string", xsdType: "gMonth"},
	"gMonthDay":          {proto: "string", xsdType: "gMonthDay"},
	"gDay":               {proto: "string", xsdType: "gDay"},
	"duration":           {proto: "string", xsdType: "duration"},
	"dayTimeDuration":    {proto: "string", xsdType: "dayTimeDuration"},
	"yearMonthDuration":  {proto: "string", xsdType: "yearMonthDuration"},
	"base64Binary":       {proto: "bytes"},
	"hexBinary":          {proto: "bytes", xsdType: "hexBinary"},
	// No field type holds arbitrary content; these read the text only (reported as inexact).
	"anySimpleType": {proto: "string"},
	"anyAtomicType": {proto: "string"},
}

// builtinOf returns the mapping of an XSD built-in (or a SOAP-encoding type of the same
// name, which soapenc declares for every built-in).
func builtinOf(q xml.Name) (xsdBuiltin, bool) {
	if q.Space != nsXSD && q.Space != nsSOAPEnc && q.Space != nsSOAP12E && q.Space != "http://www.w3.org/1999/XMLSchema" && q.Space != "http://www.w3.org/2000/10/XMLSchema" {
		return xsdBuiltin{}, false
	}
	b, ok := builtins[q.Local]
	return b, ok
}
