package xmlcodec

import (
	"encoding/xml"
	"errors"
	"fmt"
)

// Limits bound what one decode reads, for known and unknown elements alike, so a hostile or
// runaway reply fails with an error naming the limit, in memory and time that do not grow
// with how deep or wide the reply is. The reply's size is bounded before decoding (the
// backend's max_reply_bytes); these bound what fits inside that size. A zero field takes the
// default in DefaultLimits.
type Limits struct {
	// MaxDepth bounds element nesting below the decoded element. Default MaxDepth (64).
	MaxDepth int
	// MaxElements bounds the elements one decode reads, skipped ones included. Default
	// 1,000,000.
	MaxElements int
	// MaxAttrs bounds the attributes of one element, namespace declarations included.
	// Default 256.
	MaxAttrs int
	// MaxAttrBytes bounds one attribute value. Default 64 KiB.
	MaxAttrBytes int
	// MaxTextBytes bounds the text of one element (a base64 document is one element's text).
	// Default 16 MiB.
	MaxTextBytes int
}

// DefaultLimits are the limits a decode uses where its Limits leave a field zero.
var DefaultLimits = Limits{
	MaxDepth:     MaxDepth,
	MaxElements:  1_000_000,
	MaxAttrs:     256,
	MaxAttrBytes: 64 << 10,
	MaxTextBytes: 16 << 20,
}

// WithDefaults returns l with its zero fields set from DefaultLimits, as decoding applies them.
func (l Limits) WithDefaults() Limits { return l.withDefaults() }

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxElements > 0 {
		d.MaxElements = l.MaxElements
	}
	if l.MaxAttrs > 0 {
		d.MaxAttrs = l.MaxAttrs
	}
	if l.MaxAttrBytes > 0 {
		d.MaxAttrBytes = l.MaxAttrBytes
	}
	if l.MaxTextBytes > 0 {
		d.MaxTextBytes = l.MaxTextBytes
	}
	return d
}

// ErrLimit marks a decode failure caused by a reply exceeding one of the Limits.
var ErrLimit = errors.New("reply exceeds a decoding limit")

// DecodeOptions change how Plan.DecodeWith reads a reply.
type DecodeOptions struct {
	// Skipped, when not nil, makes decoding lenient: a child element that no field of its
	// message names, in a message without an any field, is skipped (within the Limits) and
	// Skipped is called with its path below the decoded element. When nil (the default),
	// such an element is a *DecodeError naming its path: skipping it would lose what it holds
	// without a word.
	Skipped func(path string)
	// Limits bound the decode; zero fields take DefaultLimits.
	Limits Limits
	// Attachments, when not nil, resolves the content of a bytes field that is a cid: reference
	// ("cid:1186818862128"): SOAP with Attachments, where the part travels beside the envelope
	// in a multipart/related reply. A reference it does not know is an error naming it. When
	// nil, such text is read as base64, which it is not, and fails.
	Attachments func(ref string) ([]byte, bool)
}

// source sets where the decoder reads tokens from.
func (dc *decoder) source(d Tokens) {
	dc.d = d
	dc.sc, _ = d.(*Scanner)
}

// token reads the next token and checks it against the limits; a document type declaration
// is an error wherever it appears.
func (dc *decoder) token() (*token, error) {
	var t *token
	var err error
	if dc.sc != nil {
		t, err = dc.sc.next()
	} else {
		dc.cur, err = fromXML(dc.d.Token())
		t = &dc.cur
	}
	if err != nil {
		return nil, dc.fail(syntaxError(err))
	}
	switch t.kind {
	case tokStart:
		dc.elements++
		if dc.elements > dc.limits.MaxElements {
			return nil, dc.limitAt(t.start(), fmt.Errorf("%w: more than %d elements", ErrLimit, dc.limits.MaxElements))
		}
		if len(t.attr) > dc.limits.MaxAttrs {
			return nil, dc.limitAt(t.start(), fmt.Errorf("%w: more than %d attributes on one element", ErrLimit, dc.limits.MaxAttrs))
		}
		for _, a := range t.attr {
			if len(a.Value) > dc.limits.MaxAttrBytes {
				return nil, dc.limitAt(t.start(), fmt.Errorf("%w: attribute %s holds more than %d bytes", ErrLimit, a.Name.Local, dc.limits.MaxAttrBytes))
			}
		}
	case tokText:
		if len(t.data) > dc.limits.MaxTextBytes {
			return nil, dc.fail(fmt.Errorf("%w: text of more than %d bytes", ErrLimit, dc.limits.MaxTextBytes))
		}
	case tokDirective:
		return nil, dc.fail(errDoctype)
	}
	return t, nil
}

// fromXML turns an encoding/xml token into the scanner's form.
func fromXML(tok xml.Token, err error) (token, error) {
	if err != nil {
		return token{}, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		return token{kind: tokStart, name: t.Name, attr: t.Attr}, nil
	case xml.EndElement:
		return token{kind: tokEnd, name: t.Name}, nil
	case xml.CharData:
		return token{kind: tokText, data: t}, nil
	case xml.Comment:
		return token{kind: tokComment, data: t}, nil
	case xml.ProcInst:
		return token{kind: tokProcInst, name: xml.Name{Local: t.Target}, data: t.Inst}, nil
	case xml.Directive:
		return token{kind: tokDirective, data: t}, nil
	}
	return token{}, fmt.Errorf("xmlcodec: unknown token %T", tok)
}

// limitAt fails with err at the element start opened.
func (dc *decoder) limitAt(start xml.StartElement, err error) error {
	dc.path = append(dc.path, start.Name.Local)
	return dc.fail(err)
}

// tooDeep is the error for nesting beyond the depth limit.
func (dc *decoder) tooDeep() error {
	return dc.fail(fmt.Errorf("%w: nested deeper than %d elements", ErrLimit, dc.limits.MaxDepth))
}

// skip reads past the end tag of the element just opened, at depth, within the limits:
// encoding/xml's Skip would read any depth, keeping every open element on its stack.
func (dc *decoder) skip(depth int) error {
	for open := 1; open > 0; {
		tok, err := dc.token()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokStart:
			open++
			if depth+open-1 > dc.limits.MaxDepth {
				return dc.tooDeep()
			}
		case tokEnd:
			open--
		}
	}
	return nil
}

// Skip reads past the end tag of the element just read from d, within DefaultLimits' depth
// and element count, for callers outside the codec that skip what they do not read (SOAP
// header blocks, envelope content before the Body): encoding/xml's Skip would read any depth.
func Skip(d Tokens) error {
	dc := decoder{limits: DefaultLimits}
	dc.source(d)
	return dc.skip(1)
}
