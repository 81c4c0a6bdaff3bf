package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// SOAP-encoded replies (use ENCODED) may share values: an element with href="#id" (SOAP 1.1)
// or enc:ref="id" (SOAP 1.2) stands for the element elsewhere in the Body with that id,
// usually a multiRef after the response element. They are read whole into a tree, references
// are resolved into place, and the result is written out again as one self-contained element
// for the codec (xmlcodec.Plan.DecodeEncoded). Encoded replies are rare and small, so the
// extra pass costs little; literal replies never take it.

// referenceError is an encoded reply whose structure cannot be read: a reference to an id
// that no element has, an id given twice, a cycle, more than one independent element, or a
// form of array the codec would read wrongly. Nothing of such a reply is guessed at.
type referenceError struct{ msg string }

func (e *referenceError) Error() string { return e.msg }

func referenceErrorf(format string, args ...any) error {
	return &referenceError{msg: fmt.Sprintf(format, args...)}
}

// node is one element of an encoded Body.
type node struct {
	name    xml.Name
	attr    []xml.Attr // xmlns declarations dropped; xsi:type in Clark notation ({namespace}local)
	content []any      // *node or string (character data), in document order
}

// treeReader reads elements into nodes, tracking namespace declarations to resolve the QName
// values of xsi:type.
type treeReader struct {
	d      xmlcodec.Tokens
	scopes [][]xml.Attr // the xmlns declarations in scope, outermost first
	nodes  int
}

// maxEncodedNodes bounds the elements of an encoded Body read into a tree.
const maxEncodedNodes = 1 << 20

func (tr *treeReader) read(start xml.StartElement, depth int) (*node, error) {
	if depth > xmlcodec.MaxDepth {
		return nil, referenceErrorf("elements nested deeper than %d", xmlcodec.MaxDepth)
	}
	if tr.nodes++; tr.nodes > maxEncodedNodes {
		return nil, referenceErrorf("more than %d elements in the encoded Body", maxEncodedNodes)
	}
	var decls []xml.Attr
	n := &node{name: start.Name}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			decls = append(decls, a)
		}
	}
	tr.scopes = append(tr.scopes, decls)
	defer func() { tr.scopes = tr.scopes[:len(tr.scopes)-1] }()
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
			continue
		case a.Name.Space == xsiNamespace && a.Name.Local == "type":
			a.Value = tr.clark(a.Value)
		case (a.Name.Space == xmlcodec.SOAP11Encoding || a.Name.Space == xmlcodec.SOAP12Encoding) && (a.Name.Local == "offset" || a.Name.Local == "position"):
			return nil, referenceErrorf("element %s is part of a partially transmitted or sparse array (soapenc:%s), whose items the bridge would misplace", start.Name.Local, a.Name.Local)
		}
		n.attr = append(n.attr, a)
	}
	for {
		tok, err := tr.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			child, err := tr.read(t, depth+1)
			if err != nil {
				return nil, err
			}
			n.content = append(n.content, child)
		case xml.CharData:
			n.content = append(n.content, string(t))
		case xml.EndElement:
			return n, nil
		case xml.Directive:
			return nil, errors.New("document type declarations are not allowed in SOAP")
		}
	}
}

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// clark resolves a QName value by the declarations in scope into {namespace}local; a prefix
// that is not declared leaves the local name alone, which the codec reads loosely.
func (tr *treeReader) clark(qname string) string {
	qname = strings.TrimSpace(qname)
	prefix, local, found := strings.Cut(qname, ":")
	if !found {
		prefix, local = "", qname
	}
	for i := len(tr.scopes) - 1; i >= 0; i-- {
		for _, a := range tr.scopes[i] {
			if (prefix == "" && a.Name.Space == "" && a.Name.Local == "xmlns") || (prefix != "" && a.Name.Space == "xmlns" && a.Name.Local == prefix) {
				return "{" + a.Value + "}" + local
			}
		}
	}
	return local
}

// readEncodedBody reads the Body of an opened reply, from its first element to its end tag,
// into nodes.
func readEncodedBody(ob openedBody) ([]*node, error) {
	if ob.first.Name.Local == "" {
		return nil, nil
	}
	tr := &treeReader{d: ob.d, scopes: [][]xml.Attr{ob.namespaces()}}
	first, err := tr.read(ob.first, 1)
	if err != nil {
		return nil, err
	}
	nodes := []*node{first}
	for {
		tok, err := ob.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n, err := tr.read(t, 1)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		case xml.EndElement:
			return nodes, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, referenceErrorf("text directly inside the Body")
			}
		case xml.Directive:
			return nil, errors.New("document type declarations are not allowed in SOAP")
		}
	}
}

// The attributes of SOAP encoding's references: SOAP 1.1's unqualified id and href="#id",
// SOAP 1.2's enc:id and enc:ref="id"; and root, which marks an element independent or not.
func idOf(n *node) (string, bool) {
	for _, a := range n.attr {
		if a.Name.Local == "id" && (a.Name.Space == "" || a.Name.Space == xmlcodec.SOAP12Encoding) {
			return strings.TrimSpace(a.Value), true
		}
	}
	return "", false
}

func refOf(n *node) (string, bool, error) {
	for _, a := range n.attr {
		switch {
		case a.Name.Local == "href" && a.Name.Space == "":
			v := strings.TrimSpace(a.Value)
			id, ok := strings.CutPrefix(v, "#")
			if !ok {
				return "", true, referenceErrorf("element %s refers to %q, outside the message; only references to an element of the Body (#id) can be resolved", n.name.Local, v)
			}
			return id, true, nil
		case a.Name.Local == "ref" && a.Name.Space == xmlcodec.SOAP12Encoding:
			return strings.TrimSpace(a.Value), true, nil
		}
	}
	return "", false, nil
}

// isRoot reports whether a top-level element of the Body is one of the message's own (not a
// multiRef that others refer to): it has no id, or its root attribute says it is a root.
func isRoot(n *node) bool {
	for _, a := range n.attr {
		if a.Name.Local == "root" && (a.Name.Space == xmlcodec.SOAP11Encoding || a.Name.Space == xmlcodec.SOAP12Encoding) {
			v := strings.TrimSpace(a.Value)
			return v == "1" || v == "true"
		}
	}
	_, hasID := idOf(n)
	return !hasID
}

// resolver writes nodes out with their references resolved.
type resolver struct {
	ids    map[string]*node
	refs   map[string][]*node // the elements referring to each id
	parent map[*node]*node
	active map[*node]bool // the referenced elements being written, to detect cycles
	buf    []byte
	limit  int
}

func newResolver(nodes []*node, limit int) (*resolver, error) {
	r := &resolver{ids: map[string]*node{}, refs: map[string][]*node{}, parent: map[*node]*node{}, active: map[*node]bool{}, limit: limit}
	var walk func(n *node) error
	walk = func(n *node) error {
		if id, isRef, err := refOf(n); err == nil && isRef {
			r.refs[id] = append(r.refs[id], n)
		}
		if id, ok := idOf(n); ok {
			if _, dup := r.ids[id]; dup {
				return referenceErrorf("id %q is given to more than one element", id)
			}
			r.ids[id] = n
		}
		for _, c := range n.content {
			if cn, ok := c.(*node); ok {
				r.parent[cn] = n
				if err := walk(cn); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, n := range nodes {
		if err := walk(n); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// element writes n, named as n is, with the content and attributes of the element it refers
// to (transitively) if it is a reference. depth is n's, in the written document, which the
// codec bounds by xmlcodec.MaxDepth anyway.
func (r *resolver) element(n *node, depth int) error {
	if depth > xmlcodec.MaxDepth {
		return referenceErrorf("its references nest elements deeper than %d", xmlcodec.MaxDepth)
	}
	attrs := [][]xml.Attr{n.attr}
	var content []any
	var entered []*node
	defer func() {
		for _, t := range entered {
			delete(r.active, t)
		}
	}()
	// An element with an id is being written, directly or through a reference, until this
	// returns: a reference to it from inside itself is a cycle.
	if id, hasID := idOf(n); hasID {
		if r.active[n] {
			return referenceErrorf("element %s refers to id %q inside itself: a cycle, which a message cannot hold", n.name.Local, id)
		}
		r.active[n] = true
		entered = append(entered, n)
	}
	for cur := n; ; {
		id, isRef, err := refOf(cur)
		if err != nil {
			return err
		}
		if !isRef {
			content = cur.content
			break
		}
		if len(cur.content) > 0 && hasContent(cur.content) {
			return referenceErrorf("element %s refers to %q and has content of its own; one of them would be lost", n.name.Local, id)
		}
		t, ok := r.ids[id]
		if !ok {
			return referenceErrorf("element %s refers to id %q, which no element of the Body has", n.name.Local, id)
		}
		if r.active[t] {
			return referenceErrorf("element %s refers to id %q inside itself: a cycle, which a message cannot hold", n.name.Local, id)
		}
		r.active[t] = true
		entered = append(entered, t)
		attrs = append(attrs, t.attr)
		cur = t
	}
	r.buf = append(r.buf, '<')
	r.buf = append(r.buf, n.name.Local...)
	r.buf = append(r.buf, ` xmlns="`...)
	r.buf = appendXMLEscaped(r.buf, n.name.Space, true)
	r.buf = append(r.buf, '"')
	k := 0
	for _, as := range attrs {
		for _, a := range as {
			if isReferenceAttr(a) {
				continue
			}
			r.buf = append(r.buf, ' ')
			if a.Name.Space != "" {
				prefix := "a" + strconv.Itoa(k)
				k++
				r.buf = append(r.buf, "xmlns:"+prefix+`="`...)
				r.buf = appendXMLEscaped(r.buf, a.Name.Space, true)
				r.buf = append(r.buf, `" `+prefix+":"...)
			}
			r.buf = append(r.buf, a.Name.Local...)
			r.buf = append(r.buf, `="`...)
			r.buf = appendXMLEscaped(r.buf, a.Value, true)
			r.buf = append(r.buf, '"')
		}
	}
	r.buf = append(r.buf, '>')
	for _, c := range content {
		switch c := c.(type) {
		case *node:
			if r.writtenElsewhere(c) {
				// A SOAP 1.2 referenced element inside the one that refers to it: its
				// content is written where the reference is, not a second time as a child.
				continue
			}
			if err := r.element(c, depth+1); err != nil {
				return err
			}
		case string:
			r.buf = appendXMLEscaped(r.buf, c, false)
		}
		if len(r.buf) > r.limit {
			return referenceErrorf("its references expand to more than %d bytes", r.limit)
		}
	}
	r.buf = append(r.buf, "</"...)
	r.buf = append(r.buf, n.name.Local...)
	r.buf = append(r.buf, '>')
	return nil
}

// writtenElsewhere reports whether n has an id that an element outside n refers to: then n's
// content is written where that reference is (SOAP 1.2 encoding lets the referenced element
// sit inside the one that refers to it), not a second time as a child of its own. A reference
// from inside n is a cycle, which element reports.
func (r *resolver) writtenElsewhere(n *node) bool {
	id, ok := idOf(n)
	if !ok {
		return false
	}
	for _, from := range r.refs[id] {
		inside := false
		for p := from; p != nil; p = r.parent[p] {
			if p == n {
				inside = true
				break
			}
		}
		if !inside {
			return true
		}
	}
	return false
}

// hasContent reports whether content holds an element or text other than whitespace.
func hasContent(content []any) bool {
	for _, c := range content {
		if s, ok := c.(string); !ok || strings.TrimSpace(s) != "" {
			return true
		}
	}
	return false
}

// isReferenceAttr reports whether a is one of the reference attributes, which the written
// element no longer needs (id, href, enc:id, enc:ref, root).
func isReferenceAttr(a xml.Attr) bool {
	switch a.Name.Space {
	case "":
		return a.Name.Local == "id" || a.Name.Local == "href"
	case xmlcodec.SOAP11Encoding, xmlcodec.SOAP12Encoding:
		return a.Name.Local == "id" || a.Name.Local == "ref" || a.Name.Local == "root"
	}
	return false
}

// appendXMLEscaped escapes s as XML text or an attribute value. The text came from a parsed
// reply, so it holds only characters XML can carry.
func appendXMLEscaped(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '<':
			b = append(b, "&lt;"...)
		case c == '>':
			b = append(b, "&gt;"...)
		case c == '"' && attr:
			b = append(b, "&quot;"...)
		case c == '\r':
			b = append(b, "&#xD;"...)
		case c == '\n' && attr:
			b = append(b, "&#xA;"...)
		case c == '\t' && attr:
			b = append(b, "&#x9;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// decodeEncoded reads an encoded reply's Body (see the comment at the top of this file) and
// decodes it into resp: the one independent element, which must be the response element, or
// for a response without a name every independent element as one of resp's fields. limit
// bounds the resolved document.
func (op *Operation) decodeEncoded(ob openedBody, resp proto.Message, limit int, opts xmlcodec.DecodeOptions) error {
	nodes, err := readEncodedBody(ob)
	if err != nil {
		return err
	}
	r, err := newResolver(nodes, limit)
	if err != nil {
		return err
	}
	var roots []*node
	for _, n := range nodes {
		if isRoot(n) {
			roots = append(roots, n)
		}
	}
	if op.response.Local == "" {
		r.buf = append(r.buf, "<Body>"...)
		for _, n := range roots {
			if err := r.element(n, 1); err != nil {
				return err
			}
		}
		r.buf = append(r.buf, "</Body>"...)
	} else {
		switch {
		case len(roots) == 0:
			return referenceErrorf("the Body holds no independent element; expected %s", op.response.Local)
		case roots[0].name.Local != op.response.Local:
			return referenceErrorf("the Body's element is %s, expected %s", roots[0].name.Local, op.response.Local)
		case len(roots) > 1:
			return referenceErrorf("the Body holds another independent element, %s, after %s; it would be lost (a multiRef needs an id)", roots[1].name.Local, op.response.Local)
		}
		if err := r.element(roots[0], 0); err != nil {
			return err
		}
	}
	d := xmlcodec.NewScanner(r.buf)
	tok, err := d.Token()
	if err != nil {
		return err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return io.ErrUnexpectedEOF
	}
	return op.out.DecodeEncodedWith(d, start, resp, opts)
}
