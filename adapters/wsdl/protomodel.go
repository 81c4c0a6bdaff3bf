package wsdl

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// protoFile is the proto the importer writes, before it is printed.
type protoFile struct {
	pkg        string
	path       string
	header     []string // comment lines above syntax
	services   []*protoService
	messages   []*protoMessage
	enums      []*protoEnum
	names      map[string]bool // top-level names taken
	msgs       map[string]*protoMessage
	enumValues map[string]bool // enum value names, which share the package's scope
	imports    map[string]bool
}

type protoService struct {
	name    string
	comment string
	methods []*protoMethod
}

type protoMethod struct {
	name      string
	comment   string
	input     *protoMessage
	output    *protoMessage
	readOnly  bool
	binding   string // the text of the agentbridge.v1.binding option's value
	httpPath  string
	operation string // the WSDL operation's name
}

type protoMessage struct {
	name      string
	comment   string
	xmlNS     string
	xsdType   xml.Name
	fields    []*protoField
	oneofs    []*protoOneof
	reserved  []int    // numbers of fields removed since the previous import
	resNames  []string // and their names
	fieldName map[string]bool
	hasAny    bool // a field for xsd:any content was added
}

type protoOneof struct {
	name    string
	comment string
}

type protoField struct {
	name     string
	typ      string // scalar, or the name of a message or enum in the file, or google.protobuf.NullValue
	label    string // "", "repeated", "optional"
	oneof    *protoOneof
	comment  string
	required bool
	number   int
	xml      xmlOpts
	local    string // the XML local name of the element or attribute
	ns       string // the element's namespace
}

type xmlOpts struct {
	name, namespace string
	attribute, text bool
	item            string
	xsdType         string
	nilOf           string
	header          bool
	any             bool
}

type protoEnum struct {
	name     string
	comment  string
	values   []*protoEnumValue
	reserved []int
	resNames []string
}

type protoEnumValue struct {
	name    string
	number  int
	xml     string // the xml_value option, when the name does not say it
	comment string
}

func newProtoFile(pkg, path string) *protoFile {
	return &protoFile{pkg: pkg, path: path, names: map[string]bool{}, msgs: map[string]*protoMessage{}, enumValues: map[string]bool{}, imports: map[string]bool{}}
}

// uniqueName returns base, or base with a number appended, not yet taken at the file's top
// level, and takes it.
func (f *protoFile) uniqueName(base string) string {
	name := base
	for i := 2; f.names[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	f.names[name] = true
	return name
}

func (f *protoFile) newMessage(base string) *protoMessage {
	m := &protoMessage{name: f.uniqueName(base), fieldName: map[string]bool{}}
	f.messages = append(f.messages, m)
	f.msgs[m.name] = m
	return m
}

// reservedMessage adds a message under a name uniqueName already took for it.
func (f *protoFile) reservedMessage(name string) *protoMessage {
	m := &protoMessage{name: name, fieldName: map[string]bool{}}
	f.messages = append(f.messages, m)
	f.msgs[m.name] = m
	return m
}

// addField appends a field, renaming it if the message already has one of that name.
func (m *protoMessage) addField(fd *protoField) *protoField {
	base := fd.name
	for i := 2; m.fieldName[fd.name] || m.fieldName[fd.name+"_nil"] && fd.xml.nilOf == ""; i++ {
		fd.name = base + "_" + strconv.Itoa(i)
	}
	m.fieldName[fd.name] = true
	m.fields = append(m.fields, fd)
	return fd
}

// newOneof adds a oneof with a name unused among the message's fields and oneofs.
func (m *protoMessage) newOneof(base string) *protoOneof {
	name := base
	for i := 2; m.fieldName[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	m.fieldName[name] = true
	o := &protoOneof{name: name}
	m.oneofs = append(m.oneofs, o)
	return o
}

// words splits an XML name into words: camelCase humps, digits runs, and separators.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r), r > unicode.MaxASCII:
			flush()
		case unicode.IsUpper(r):
			// A new word starts at an upper-case letter after a lower-case one or a digit, and
			// at the last upper-case letter of a run followed by a lower-case one (XMLHttp).
			if len(cur) > 0 {
				prev := cur[len(cur)-1]
				next := rune(0)
				if i+1 < len(rs) {
					next = rs[i+1]
				}
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && unicode.IsLower(next)) {
					flush()
				}
			}
			cur = append(cur, r)
		case unicode.IsDigit(r):
			cur = append(cur, r) // digits stay with the word before: ec2, soap12
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// pascal returns s in PascalCase as buf lint wants message, enum and service names: words
// capitalized, no separators, starting with a letter.
func pascal(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		b.WriteString(strings.ToUpper(w[:1]))
		b.WriteString(strings.ToLower(w[1:]))
	}
	out := b.String()
	if out == "" {
		return "X"
	}
	if !unicode.IsLetter(rune(out[0])) {
		out = "X" + out
	}
	return out
}

// snake returns s in lower_snake_case for field and oneof names.
func snake(s string) string {
	ws := words(s)
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	out := strings.Join(ws, "_")
	if out == "" {
		return "x"
	}
	if !unicode.IsLetter(rune(out[0])) {
		out = "x_" + out
	}
	return out
}

// upperSnake returns s in UPPER_SNAKE_CASE for enum values.
func upperSnake(s string) string {
	ws := words(s)
	for i, w := range ws {
		ws[i] = strings.ToUpper(w)
	}
	return strings.Join(ws, "_")
}

// jsonName is protoc's JSON name of a field name.
func jsonName(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quote writes s as a proto string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
