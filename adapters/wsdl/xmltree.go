package wsdl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/unicode"
)

// node is an element of a WSDL or XSD document with its names resolved. The importer reads
// every document into such a tree because WSDL and XSD put qualified names in attribute values
// (type="tns:Item"), which only the prefixes in scope at that element can resolve; encoding/xml
// resolves element names but forgets the scope, and accepts unbound prefixes silently.
type node struct {
	name     xml.Name
	attrs    []xml.Attr // attribute names resolved; xmlns declarations left out
	children []*node
	text     string // the element's own character data, outside its children
	scope    *scope
	doc      *document
	line     int
	col      int
}

// scope is the set of namespace prefixes in force at an element.
type scope struct {
	parent   *scope
	prefixes map[string]string // "" is the default namespace
}

func (s *scope) lookup(prefix string) (string, bool) {
	for ; s != nil; s = s.parent {
		if ns, ok := s.prefixes[prefix]; ok {
			return ns, true
		}
	}
	switch prefix {
	case "xml":
		return "http://www.w3.org/XML/1998/namespace", true
	case "":
		return "", true
	}
	return "", false
}

// document is one file or URL the importer read.
type document struct {
	location string // as shown in messages: the path or URL
	root     *node
}

// posError is an error at a place in a document.
type posError struct {
	location  string
	line, col int
	msg       string
}

func (e *posError) Error() string {
	if e.line == 0 {
		return fmt.Sprintf("%s: %s", e.location, e.msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.location, e.line, e.col, e.msg)
}

// errorf returns an error located at n.
func (n *node) errorf(format string, args ...any) error {
	return &posError{location: n.doc.location, line: n.line, col: n.col, msg: fmt.Sprintf(format, args...)}
}

// parseDocument reads a whole document. Every prefix must be bound where it is used, in
// element and attribute names; a document type declaration is refused (a WSDL needs none,
// and entity declarations are how expansion attacks start).
func parseDocument(location string, data []byte) (*document, error) {
	doc := &document{location: location}
	data, transcoded, err := toUTF8(data)
	if err != nil {
		return nil, &posError{location: location, msg: err.Error()}
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// Older WSDLs declare ISO-8859-1 or windows-1252; the declaration names the decoder. A
	// UTF-16 document is UTF-8 by now, whatever its declaration says.
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if transcoded {
			return in, nil
		}
		return charset.NewReaderLabel(label, in)
	}
	var stack []*node
	var cur *scope
	for {
		line, col := d.InputPos()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &posError{location: location, line: se.Line, msg: "not well-formed XML: " + se.Msg}
			}
			return nil, &posError{location: location, line: line, col: col, msg: "not well-formed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			sc := &scope{parent: cur}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					if sc.prefixes == nil {
						sc.prefixes = map[string]string{}
					}
					sc.prefixes[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if sc.prefixes == nil {
						sc.prefixes = map[string]string{}
					}
					sc.prefixes[""] = a.Value
				}
			}
			if sc.prefixes == nil {
				sc = cur
				if sc == nil {
					sc = &scope{}
				}
			}
			n := &node{scope: sc, doc: doc, line: line, col: col}
			space, ok := sc.lookup(t.Name.Space)
			if !ok {
				return nil, &posError{location: location, line: line, col: col, msg: fmt.Sprintf("element <%s:%s> uses the prefix %q, which no xmlns:%s declaration binds", t.Name.Space, t.Name.Local, t.Name.Space, t.Name.Space)}
			}
			n.name = xml.Name{Space: space, Local: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				an := xml.Name{Local: a.Name.Local}
				if a.Name.Space != "" {
					ns, ok := sc.lookup(a.Name.Space)
					if !ok {
						return nil, &posError{location: location, line: line, col: col, msg: fmt.Sprintf("attribute %s:%s of <%s> uses the prefix %q, which no xmlns:%s declaration binds", a.Name.Space, a.Name.Local, t.Name.Local, a.Name.Space, a.Name.Space)}
					}
					an.Space = ns
				}
				n.attrs = append(n.attrs, xml.Attr{Name: an, Value: a.Value})
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if doc.root != nil {
				return nil, &posError{location: location, line: line, col: col, msg: "a second root element"}
			} else {
				doc.root = n
			}
			stack = append(stack, n)
			cur = sc
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, &posError{location: location, line: line, col: col, msg: "an end tag without a start tag"}
			}
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				cur = stack[len(stack)-1].scope
			} else {
				cur = nil
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		case xml.Directive:
			return nil, &posError{location: location, line: line, col: col, msg: "a document type declaration, which a WSDL or XSD does not need and the importer refuses"}
		}
	}
	if doc.root == nil {
		return nil, &posError{location: location, msg: "no root element: the document is empty or not XML"}
	}
	if len(stack) > 0 {
		return nil, &posError{location: location, msg: fmt.Sprintf("the document ends inside <%s>", stack[len(stack)-1].name.Local)}
	}
	return doc, nil
}

// attr returns the value of the unqualified attribute local, or "".
func (n *node) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// hasAttr reports whether the unqualified attribute local is present.
func (n *node) hasAttr(local string) bool {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return true
		}
	}
	return false
}

// attrNS returns the value of the attribute in namespace space, or "".
func (n *node) attrNS(space, local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// qname resolves a QName attribute value (tns:Item, or Item in the default namespace).
func (n *node) qname(value string) (xml.Name, error) {
	value = strings.TrimSpace(value)
	prefix, local, ok := strings.Cut(value, ":")
	if !ok {
		prefix, local = "", value
	}
	ns, found := n.scope.lookup(prefix)
	if !found {
		return xml.Name{}, n.errorf("%q uses the prefix %q, which no xmlns:%s declaration in scope binds", value, prefix, prefix)
	}
	return xml.Name{Space: ns, Local: local}, nil
}

// qnameAttr resolves the QName in attribute local; ok is false when it is absent.
func (n *node) qnameAttr(local string) (xml.Name, bool, error) {
	if !n.hasAttr(local) {
		return xml.Name{}, false, nil
	}
	q, err := n.qname(n.attr(local))
	return q, true, err
}

// kids returns the children in namespace space with local name local ("" for any name).
func (n *node) kids(space, local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.Space == space && (local == "" || c.name.Local == local) {
			out = append(out, c)
		}
	}
	return out
}

// kid returns the first child with that name, or nil.
func (n *node) kid(space, local string) *node {
	for _, c := range n.children {
		if c.name.Space == space && c.name.Local == local {
			return c
		}
	}
	return nil
}

// innerText is all the character data inside n, its children's included, with runs of
// whitespace collapsed: the text of a documentation element, which may hold markup.
func (n *node) innerText() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		b.WriteString(m.text)
		b.WriteByte(' ')
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// toUTF8 drops a UTF-8 byte order mark and transcodes a UTF-16 document (which starts with
// its byte order mark), which encoding/xml cannot read itself.
func toUTF8(data []byte) (out []byte, transcoded bool, err error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:], false, nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		out, err := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder().Bytes(data)
		if err != nil {
			return nil, false, fmt.Errorf("not valid UTF-16: %w", err)
		}
		return out, true, nil
	}
	return data, false, nil
}
