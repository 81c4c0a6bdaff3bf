package xmlcodec

import (
	"encoding/xml"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Headers reads the SOAP header blocks of one reply into the header fields
// ((agentbridge.v1.xml).header) of a message, and then says whether one the message needs is
// missing. It is used once, for one reply.
type Headers struct {
	p    *Plan
	m    protoreflect.Message
	seen []bool
	dc   decoder
}

// Headers returns a reader of header blocks into m, which must be of the plan's type.
func (p *Plan) Headers(m proto.Message) *Headers {
	return p.HeadersWith(m, DecodeOptions{})
}

// HeadersWith is Headers with options (see DecodeWith); Skipped gets paths from the block's
// element down.
func (p *Plan) HeadersWith(m proto.Message, o DecodeOptions) *Headers {
	return &Headers{p: p, m: m.ProtoReflect(), seen: make([]bool, len(p.headers)), dc: decoder{skipped: o.Skipped, limits: o.Limits.withDefaults(), attach: o.Attachments}}
}

// Decode reads the header block that start opened into the header field it names (by
// namespace and local name, or by local name alone, as child elements are matched) and
// reports true; the decoder is then past the block's end tag. It reports false, having read
// nothing, when no header field has that name. Errors are *DecodeError, with the block's name
// first in the path.
func (h *Headers) Decode(d Tokens, start xml.StartElement) (bool, error) {
	var fp *fieldPlan
	for _, f := range h.p.headers {
		if f.name.local == start.Name.Local && (f.name.space == start.Name.Space || fp == nil) {
			fp = f
		}
	}
	if fp == nil {
		return false, nil
	}
	h.dc.source(d)
	h.dc.path = append(h.dc.path[:0], start.Name.Local)
	h.seen[fp.index] = true
	return true, h.dc.field(fp, start, h.m, h.p.goBase(h.m), 1)
}

// Done fails for the first header field without presence whose block the reply did not
// carry: it would read as its zero value, which the backend never sent.
func (h *Headers) Done() error {
	for i, fp := range h.p.headers {
		if !h.seen[i] && withoutPresence(fp.fd) {
			return &DecodeError{Path: fp.name.local, Err: missing(fp, "header block")}
		}
	}
	return nil
}
