package soap

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// BindStream implements adapters.StreamBinder: a server-streaming method makes one SOAP call,
// and each stream_item child of the reply's response element becomes one message of the
// method's output type (see Stream).
func (a *Adapter) BindStream(method protoreflect.MethodDescriptor, binding *agentbridgev1.Binding) (adapters.ServerStream, error) {
	if binding.GetSoap() == nil {
		return nil, fmt.Errorf("backend %q is of kind soap but the binding has no soap operation", a.backend.Name)
	}
	if !method.IsStreamingServer() || method.IsStreamingClient() {
		return nil, errors.New("BindStream binds server-streaming methods, and the method is not one")
	}
	if binding.GetSoap().GetStreamItem().GetName() == "" {
		return nil, errors.New("a server-streaming method's soap binding needs stream_item, the element of the response that holds each message")
	}
	op, err := a.bindOperation(binding, method)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
		return a.Stream(ctx, op, req, send)
	}, nil
}

// Stream performs op, an operation that names a stream_item, with req, and calls send with one
// message of the output type per stream_item element of the reply, each as soon as it has been
// read: the reply is parsed as it arrives and never held whole, so memory stays flat however
// many items it has. Go implementations of streaming methods use it as unary ones use Call.
//
// The backend's max_reply_bytes and timeout bound the whole reply, as for Call. Until the first
// message is sent, a failure is reported only after the rest of the reply has been read, as
// Call reads a whole reply before judging it, so a reply that fails fails with the same status
// whether the method streams or not. After that a failure ends the stream at once, with the
// messages sent so far delivered: an item that does not fit the output type, another element
// among the items or text between them (BACKEND_REPLY_INVALID), XML that breaks off
// (BACKEND_BAD_REPLY), or the size bound, deadline or connection failing (REPLY_TOO_LARGE,
// BACKEND_TIMEOUT, BACKEND_UNREACHABLE). No item is ever skipped. When send fails (the caller
// has gone) the call ends with send's error.
func (a *Adapter) Stream(ctx context.Context, op *Operation, req proto.Message, send func(proto.Message) error) error {
	if op.item.Local == "" {
		return errors.New("soap: Stream needs an operation whose binding names a stream_item; use Call for others")
	}
	name := a.backend.Name
	body, err := a.envelope(op, req)
	if err != nil {
		return err
	}
	// max_reply_bytes bounds each item, not the whole reply, which may be of any length.
	reply, err := a.transport.DoStream(ctx, &adapters.Request{Method: http.MethodPost, Header: op.header, Body: body, Records: true})
	if err != nil {
		return err
	}
	defer func() { _ = reply.Close() }()
	return op.streamReply(name, a.redact, a.faults, a.wss != nil, a.skipped, reply, a.backend.MaxReplyBytes, send)
}

// itemStream is one streamed reply being read.
type itemStream struct {
	op      *Operation
	backend string
	redact  *adapters.Redactor
	reply   *adapters.ReplyStream
	d       xmlcodec.Tokens
	md      map[string]string
	sent    int
}

func (op *Operation) streamReply(backend string, redact *adapters.Redactor, faults adapters.FaultRules, wss bool, skipped func(string), reply *adapters.ReplyStream, limit int64, send func(proto.Message) error) error {
	sc := xmlcodec.NewScannerReader(reply.Body)
	ob, md, err := op.openReply(backend, redact, faults, skipped, reply.StatusCode, reply.Header, sc, readHeaders(nil, wss))
	d := ob.d
	if sc.InputOffset() > limit {
		// What came before the first item (the envelope, its headers, a fault) is a record
		// of its own: the transport's per-record window allows its read-ahead on top.
		return reply.RecordTooLarge(0)
	}
	if err != nil {
		// Call would have read the whole reply before judging it: a reply over the size bound,
		// or one that breaks off, fails as such even when it starts with a fault.
		_, _ = io.Copy(io.Discard, reply.Body)
		if terr := reply.Err(); terr != nil {
			return terr
		}
		return err
	}
	s := &itemStream{op: op, backend: backend, redact: redact, reply: reply, d: d, md: md}
	var opts xmlcodec.DecodeOptions // per item: the element count bound applies per record
	if skipped != nil {
		where := op.response.Local + "/" + op.item.Local
		opts.Skipped = func(path string) { skipped(where + "/" + path) }
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return s.fail(err, "")
		}
		switch t := tok.(type) {
		case xml.EndElement: // the response element's: every item has been sent
			return nil
		case xml.StartElement:
			if t.Name.Local != op.item.Local {
				return s.fail(nil, fmt.Sprintf("backend %s answered with element %s among the %s items of %s", backend, t.Name.Local, op.item.Local, op.response.Local))
			}
			reply.MarkRecord()
			start := sc.InputOffset()
			msg := op.newOut()
			if err := op.out.DecodeWith(d, t, msg, opts); err != nil {
				return s.fail(err, "")
			}
			if sc.InputOffset()-start > limit {
				return reply.RecordTooLarge(s.sent + 1)
			}
			if err := send(msg); err != nil {
				return err
			}
			s.sent++
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return s.fail(nil, fmt.Sprintf("backend %s answered with text among the %s items of %s", backend, op.item.Local, op.response.Local))
			}
		case xml.Directive:
			return s.fail(fmt.Errorf("%w: a document type declaration among the %s items", xmlcodec.ErrMalformed, op.item.Local), "")
		}
	}
}

// fail turns a failure while reading the items into a status: the transport's failure if
// there was one, else malformed XML, else a reply that does not fit (err from decoding an
// item, or the message invalid describes). Before the first message is sent, the rest of the
// reply is read first, as Call would have read it.
func (s *itemStream) fail(err error, invalid string) error {
	var werr error
	if s.sent == 0 {
		werr = readWellFormed(s.d)
		// The decoder stops at the first syntax error; the transport may fail after it (a
		// reset, the size bound), and Call would report that failure.
		_, _ = io.Copy(io.Discard, s.reply.Body)
	}
	if terr := s.reply.Err(); terr != nil {
		return terr
	}
	md := s.md
	md["items_sent"] = strconv.Itoa(s.sent)
	after := "after 1 streamed message"
	if s.sent != 1 {
		after = fmt.Sprintf("after %d streamed messages", s.sent)
	}
	item := s.op.response.Local + "/" + s.op.item.Local
	var se *xml.SyntaxError
	switch {
	case werr != nil:
		return adapters.Errorf(s.backend, adapters.ReasonBackendBadReply, md, "backend %s sent malformed XML: %v", s.backend, werr)
	case errors.As(err, &se):
		return adapters.Errorf(s.backend, adapters.ReasonBackendBadReply, md, "backend %s sent malformed XML %s: %v", s.backend, after, err)
	case errors.Is(err, xmlcodec.ErrMalformed):
		where, text := s.op.response.Local, err.Error()
		var de *xmlcodec.DecodeError
		if errors.As(err, &de) {
			where, text = item, de.Err.Error()
			if de.Path != "" {
				where += "/" + de.Path
			}
		}
		text = strings.TrimLeft(strings.TrimPrefix(text, xmlcodec.ErrMalformed.Error()), ": ") // said already
		md["element"] = where
		return adapters.Errorf(s.backend, adapters.ReasonBackendBadReply, md, "backend %s sent malformed XML %s, in element %s: %s", s.backend, after, where, text)
	case invalid != "":
		md["element"] = s.op.response.Local
		return adapters.Errorf(s.backend, adapters.ReasonBackendReplyInvalid, md, "%s, %s; only %s elements were expected", invalid, after, s.op.item.Local)
	}
	return doesNotFit(s.backend, s.redact, md, item, err, s.op.out.Descriptor().FullName(), " ("+after+")")
}
