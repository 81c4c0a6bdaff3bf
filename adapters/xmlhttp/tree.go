package xmlhttp

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clbanning/mxj/v2"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// The reply's document as an mxj map, for paths: the shape mxj.NewMapXml gives (elements by
// local name, "-name" for an attribute, "#text" for the text of an element with attributes or
// children, siblings of one name as a list, text trimmed, every value a string), read here from
// the decoder the rest of the kind uses, so the same bounds hold: xmlcodec's limits on depth,
// elements, attributes and text, a document type declaration refused, the charsets the reply
// declares. Namespace declarations are not attributes here.

// errLimit wraps xmlcodec.ErrLimit for the tree's own checks.
func errLimit(format string, args ...any) error {
	return fmt.Errorf("%w: %s", xmlcodec.ErrLimit, fmt.Sprintf(format, args...))
}

// errDoctype is a document type declaration in a reply.
var errDoctype = xmlcodec.ErrDocumentType

// maxDetailElements bounds the elements fault rules see of an error document.
const maxDetailElements = 1024

// treeReader reads one element into a map, and lists its elements for fault rules.
type treeReader struct {
	d        *xml.Decoder
	limits   xmlcodec.Limits
	elements int
	details  []adapters.DetailElement
	path     []string
}

// readTree reads the element start opened, up to its end tag, as the mxj map {name: value}.
func readTree(d *xml.Decoder, start xml.StartElement) (mxj.Map, []adapters.DetailElement, error) {
	tr := &treeReader{d: d, limits: xmlcodec.DefaultLimits}
	v, err := tr.element(start, 1)
	if err != nil {
		return nil, tr.details, err
	}
	return mxj.Map{start.Name.Local: v}, tr.details, nil
}

func (tr *treeReader) element(start xml.StartElement, depth int) (any, error) {
	if depth > tr.limits.MaxDepth {
		return nil, errLimit("nested deeper than %d elements", tr.limits.MaxDepth)
	}
	tr.elements++
	if tr.elements > tr.limits.MaxElements {
		return nil, errLimit("more than %d elements", tr.limits.MaxElements)
	}
	if len(start.Attr) > tr.limits.MaxAttrs {
		return nil, errLimit("more than %d attributes on one element", tr.limits.MaxAttrs)
	}
	tr.path = append(tr.path, start.Name.Local)
	defer func() { tr.path = tr.path[:len(tr.path)-1] }()
	detail := -1
	if len(tr.details) < maxDetailElements {
		detail = len(tr.details)
		tr.details = append(tr.details, adapters.DetailElement{Path: slices.Clone(tr.path)})
	}
	var m map[string]any
	put := func(k string, v any) {
		if m == nil {
			m = map[string]any{}
		}
		switch old := m[k].(type) {
		case nil:
			if _, had := m[k]; had {
				m[k] = []any{old, v}
			} else {
				m[k] = v
			}
		case []any:
			m[k] = append(old, v)
		default:
			m[k] = []any{old, v}
		}
	}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if len(a.Value) > tr.limits.MaxAttrBytes {
			return nil, errLimit("attribute %s holds more than %d bytes", a.Name.Local, tr.limits.MaxAttrBytes)
		}
		put("-"+a.Name.Local, a.Value)
	}
	var text strings.Builder
	for {
		tok, err := tr.d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: %w", xmlcodec.ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v, err := tr.element(t, depth+1)
			if err != nil {
				return nil, err
			}
			put(t.Name.Local, v)
		case xml.CharData:
			if text.Len()+len(t) > tr.limits.MaxTextBytes {
				return nil, errLimit("text of more than %d bytes", tr.limits.MaxTextBytes)
			}
			text.Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("%w: %w", xmlcodec.ErrMalformed, errDoctype)
		case xml.EndElement:
			s := strings.TrimSpace(text.String())
			if detail >= 0 {
				tr.details[detail].Text = s
			}
			if m == nil {
				return s, nil
			}
			if s != "" {
				m["#text"] = s
			}
			return m, nil
		}
	}
}
