package soap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/agentbridge/agentbridge/adapters"
)

// SOAP with Attachments (a multipart/related reply): the envelope is one part, the root (the
// part the type's start parameter names, else the first), and the attachments travel beside
// it, each named by its Content-ID; the envelope refers to one as "cid:ID". The root part
// is decoded as any reply, and a bytes field whose text is such a reference gets the part's
// content (xmlcodec.DecodeOptions.Attachments).

// maxAttachments bounds the parts of one reply; the reply's size is bounded already.
const maxAttachments = 256

// splitRelated reads a multipart/related reply: the root part as the reply (with the root's
// Content-Type) and the attachments by reference ("cid:ID"); unnamed counts the parts without
// a Content-ID, which nothing can refer to. A reply of another type is returned as it is,
// with no attachments.
func splitRelated(backend string, reply *adapters.Reply) (_ *adapters.Reply, _ map[string][]byte, unnamed int, _ error) {
	ct := reply.Header.Get("Content-Type")
	if len(ct) < len("multipart/") || !strings.EqualFold(ct[:len("multipart/")], "multipart/") {
		return reply, nil, 0, nil // every other reply: no parsing of its type on the hot path
	}
	media, params := parseRelatedType(ct)
	if !strings.EqualFold(media, "multipart/related") {
		return reply, nil, 0, nil
	}
	bad := func(format string, args ...any) error {
		md := map[string]string{"content_type": ct}
		return adapters.Errorf(backend, adapters.ReasonBackendBadReply, md, "backend %s sent a multipart/related reply that cannot be read: %s", backend, fmt.Sprintf(format, args...))
	}
	if params["boundary"] == "" {
		return nil, nil, 0, bad("no boundary")
	}
	start := strings.Trim(params["start"], "<>")
	r := multipart.NewReader(bytes.NewReader(reply.Body), params["boundary"])
	var root *adapters.Reply
	attachments := map[string][]byte{}
	for n := 0; ; n++ {
		part, err := r.NextRawPart() // as sent: SwA parts are binary or 8bit, not quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, 0, bad("%v", err)
		}
		if n == maxAttachments {
			return nil, nil, 0, bad("more than %d parts", maxAttachments)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, nil, 0, bad("%v", err)
		}
		id := strings.Trim(part.Header.Get("Content-Id"), "<> ")
		if root == nil && (start == "" || id == start) {
			h := reply.Header.Clone()
			h.Set("Content-Type", rootType(part.Header, params["type"]))
			root = &adapters.Reply{StatusCode: reply.StatusCode, Header: h, Body: data}
			continue
		}
		if id != "" {
			attachments["cid:"+id] = data
		} else {
			unnamed++
		}
	}
	if root == nil {
		return nil, nil, 0, bad("no root part (start %q)", start)
	}
	return root, attachments, unnamed, nil
}

// rootType is the Content-Type of the root part, or the multipart type's type parameter.
func rootType(h textproto.MIMEHeader, typ string) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return ct
	}
	if typ != "" {
		return typ
	}
	return "text/xml"
}

// parseRelatedType parses a Content-Type as mime.ParseMediaType does, and where that refuses
// it, leniently: SwA senders write "type=text/xml" unquoted and end with a semicolon (node-soap's
// sample), which RFC 2045 does not allow ('/' must be quoted) and Go's parser refuses whole.
func parseRelatedType(ct string) (string, map[string]string) {
	if media, params, err := mime.ParseMediaType(ct); err == nil {
		return media, params
	}
	fields := strings.Split(ct, ";")
	params := map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			continue
		}
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return strings.ToLower(strings.TrimSpace(fields[0])), params
}
