package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// captureElement reads the element start opened, to its end tag, and returns it as XML text
// for a field that holds unnamed elements ((agentbridge.v1.xml).any). Names are written with
// prefixes ns0, ns1, ... declared on the element where first used, so the text stands alone;
// character data is escaped again; comments and processing instructions are dropped.
func (dc *decoder) captureElement(start xml.StartElement, depth int) (string, error) {
	var buf []byte
	var scopes []scope
	next := 0
	qname := func(n xml.Name, decls *[]scope) string {
		switch n.Space {
		case "":
			return n.Local
		case xmlNamespaceURI: // only the prefix xml may be bound to it
			return "xml:" + n.Local
		}
		for i := len(scopes) - 1; i >= 0; i-- {
			if scopes[i].space == n.Space {
				return scopes[i].prefix + ":" + n.Local
			}
		}
		for _, d := range *decls {
			if d.space == n.Space {
				return d.prefix + ":" + n.Local
			}
		}
		s := scope{n.Space, "ns" + strconv.Itoa(next)}
		next++
		*decls = append(*decls, s)
		return s.prefix + ":" + n.Local
	}
	var names []string // open elements' qualified names
	var marks []int    // scope depth to restore at each end tag
	open := func(t xml.StartElement) {
		var decls []scope
		name := qname(t.Name, &decls)
		var attrs []byte
		for _, a := range t.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				continue // redeclared as needed
			}
			attrs = append(attrs, ' ')
			attrs = append(attrs, qname(a.Name, &decls)...)
			attrs = append(attrs, '=', '"')
			attrs, _ = appendEscaped(attrs, a.Value, true)
			attrs = append(attrs, '"')
		}
		buf = append(buf, '<')
		buf = append(buf, name...)
		for _, d := range decls {
			buf = append(buf, " xmlns:"...)
			buf = append(buf, d.prefix...)
			buf = append(buf, '=', '"')
			buf, _ = appendEscaped(buf, d.space, true)
			buf = append(buf, '"')
		}
		buf = append(buf, attrs...)
		buf = append(buf, '>')
		marks = append(marks, len(scopes))
		scopes = append(scopes, decls...)
		names = append(names, name)
	}
	open(start)
	for len(names) > 0 {
		if depth+len(names) > dc.limits.MaxDepth {
			return "", dc.tooDeep()
		}
		tok, err := dc.token()
		if err != nil {
			return "", err
		}
		switch tok.kind {
		case tokStart:
			open(tok.start())
		case tokEnd:
			buf = append(buf, '<', '/')
			buf = append(buf, names[len(names)-1]...)
			buf = append(buf, '>')
			names = names[:len(names)-1]
			scopes = scopes[:marks[len(marks)-1]]
			marks = marks[:len(marks)-1]
		case tokText:
			buf, _ = appendEscaped(buf, string(tok.data), false)
		}
	}
	return string(buf), nil
}

// checkElementText checks that s is exactly one well-formed element (whitespace around it
// aside) whose every prefix is declared in it, as a field of unnamed elements must hold to be
// written into a request as it is.
func checkElementText(s string) error {
	d := xml.NewDecoder(bytes.NewReader([]byte(s)))
	d.Strict = true
	type frame struct{ prefixes map[string]bool }
	var stack []frame
	bound := func(prefix string) bool {
		if prefix == "" || prefix == "xml" {
			return true
		}
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].prefixes[prefix] {
				return true
			}
		}
		return false
	}
	roots := 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if roots > 1 {
					return errors.New("more than one element; each item holds one")
				}
			}
			f := frame{prefixes: map[string]bool{}}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" {
					f.prefixes[a.Name.Local] = true
				}
			}
			stack = append(stack, f)
			if !bound(t.Name.Space) {
				return fmt.Errorf("element <%s:%s> uses the prefix %q, which the item does not declare", t.Name.Space, t.Name.Local, t.Name.Space)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && !bound(a.Name.Space) {
					return fmt.Errorf("attribute %s:%s uses the prefix %q, which the item does not declare", a.Name.Space, a.Name.Local, a.Name.Space)
				}
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return errors.New("an end tag without its start tag")
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text outside the element")
			}
		case xml.Directive:
			return errDoctype
		}
	}
	switch {
	case len(stack) > 0:
		return errors.New("an element that is not closed")
	case roots == 0:
		return errors.New("no element")
	}
	return nil
}

const xmlNamespaceURI = "http://www.w3.org/XML/1998/namespace"

// appendAny writes the items of a field of unnamed elements, each checked to be one
// well-formed element that declares the prefixes it uses.
func (e *encoder) appendAny(fp *fieldPlan, m protoreflect.Message) error {
	if fp == nil || !m.Has(fp.fd) {
		return nil
	}
	list := m.Get(fp.fd).List()
	for i := range list.Len() {
		s := list.Get(i).String()
		if err := checkElementText(s); err != nil {
			return &EncodeError{Field: fp.fd.FullName(), Err: fmt.Errorf("item %d: %w", i, err)}
		}
		e.buf = append(e.buf, s...)
	}
	return nil
}
