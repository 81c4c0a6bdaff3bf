package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	htmlcharset "golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/contract"
	"github.com/agentbridge/agentbridge/server/store"
)

// This file takes events in: each configured event source is a path on the HTTP listener where
// a legacy system POSTs its events (JSON, XML, form or a SOAP notification). A delivery is
// verified (webhook_verify.go), decoded into the source's message with the codecs and the
// validation requests get, and appended to the source's topic in the durable store; the sender
// hears success only once the store has it. The bridge's own inbound auth (API keys, OIDC) is
// not asked of these paths: senders are legacy systems, each source verifies its own.

// webhookSet is the compiled events: section of a server.
type webhookSet struct {
	sources []*webhookSource // by path
	now     func() time.Time
	cfg     EventsConfig

	once       sync.Once
	deliveries *prometheus.CounterVec
}

// webhookSource is one compiled event source.
type webhookSource struct {
	name    string
	path    string
	format  string
	md      protoreflect.MessageDescriptor
	mt      protoreflect.MessageType
	plan    *xmlcodec.Plan // xml and soap_notification
	id      fieldRef       // nil: idHeader, or the body's SHA-256
	idHdr   string
	typ     string
	typeRef fieldRef
	checks  []webhookCheck
	maxBody int64 // 0: the server's
	unmarsh protojson.UnmarshalOptions
	form    map[string]protoreflect.FieldDescriptor // form keys: JSON and proto names
	orgIDs  []string                                // soap_notification: the organizations taken
}

// config is the events: section the set was built from, for reloads to compare (nil when none).
func (ws *webhookSet) config() map[string]EventSource {
	if ws == nil {
		return nil
	}
	return ws.cfg.config()
}

// withWebhooks serves the event sources set compiles.
func withWebhooks(set *webhookSet) Option { return func(o *options) { o.webhooks = set } }

// webhookOption compiles the config's event sources: their message types from the contracts,
// their secrets. A config without sources gets an option that does nothing.
func (c *Config) webhookOption() (Option, error) {
	if len(c.Events.Sources) == 0 {
		return func(*options) {}, nil
	}
	// A config made in Go is not validated by ParseConfig: an unverified source must not slip
	// through that way.
	if err := c.checkEvents(); err != nil {
		return nil, err
	}
	set, err := contract.Load(context.Background(), c.Sources())
	if err != nil {
		return nil, err
	}
	ws, err := compileWebhooks(c.Events, set.Files(), c.dir)
	if err != nil {
		return nil, err
	}
	return withWebhooks(ws), nil
}

// compileWebhooks builds the sources of ev, finding message types in files, then among the
// types linked into the binary.
func compileWebhooks(ev EventsConfig, files *protoregistry.Files, dir string) (*webhookSet, error) {
	names := make([]string, 0, len(ev.Sources))
	for name := range ev.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	ws := &webhookSet{now: time.Now, cfg: ev}
	var errs []error
	for _, name := range names {
		src, err := compileSource(name, ev.Sources[name], files, dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ws.sources = append(ws.sources, src)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ws, nil
}

func compileSource(name string, es EventSource, files *protoregistry.Files, dir string) (*webhookSource, error) {
	where := "config: events.sources." + name
	var d protoreflect.Descriptor
	var err error
	if files != nil {
		d, err = files.FindDescriptorByName(protoreflect.FullName(es.Message))
	}
	if files == nil || err != nil {
		d, err = protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(es.Message))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: message %q is neither in the loaded contracts nor linked into this binary", where, es.Message)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s: message %q is not a message", where, es.Message)
	}
	src := &webhookSource{name: name, path: es.path(name), format: es.format(), md: md, mt: adapters.MessageType(md), typ: es.Type, maxBody: es.MaxBodyBytes}
	src.unmarsh = jsonUnmarshal
	if files != nil {
		src.unmarsh.Resolver = dynamicpb.NewTypes(files)
	}
	if h, ok := strings.CutPrefix(es.ID, "header:"); ok {
		src.idHdr = h
	} else if es.ID != "" {
		if src.id, err = resolveFieldRef(md, es.ID); err != nil {
			return nil, fmt.Errorf("%s: id: %w", where, err)
		}
	}
	if es.TypeField != "" {
		if src.typeRef, err = resolveFieldRef(md, es.TypeField); err != nil {
			return nil, fmt.Errorf("%s: type_field: %w", where, err)
		}
	}
	switch src.format {
	case FormatXML, FormatSOAPNotification:
		if src.plan, err = xmlcodec.For(md); err != nil {
			return nil, fmt.Errorf("%s: message %s has no XML mapping: %w", where, md.FullName(), err)
		}
	case FormatForm:
		src.form = map[string]protoreflect.FieldDescriptor{}
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			src.form[string(fd.Name())] = fd
			src.form[fd.JSONName()] = fd
		}
	}
	src.orgIDs = es.Verify.OrganizationIDs
	if src.checks, err = compileVerify(name, es.Verify, dir); err != nil {
		return nil, err
	}
	return src, nil
}

// fieldRef is a path of fields from a message to a scalar field.
type fieldRef []protoreflect.FieldDescriptor

// resolveFieldRef finds a dotted path of fields (by proto or JSON name): every step but the
// last a singular message, the last a singular scalar or enum.
func resolveFieldRef(md protoreflect.MessageDescriptor, path string) (fieldRef, error) {
	var ref fieldRef
	steps := strings.Split(path, ".")
	for i, step := range steps {
		fd := md.Fields().ByName(protoreflect.Name(step))
		if fd == nil {
			fd = md.Fields().ByJSONName(step)
		}
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", md.FullName(), step)
		}
		if fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("field %s is a list or map, not a single value", fd.FullName())
		}
		ref = append(ref, fd)
		last := i == len(steps)-1
		switch {
		case !last && fd.Kind() != protoreflect.MessageKind:
			return nil, fmt.Errorf("field %s is not a message, so %q cannot go on", fd.FullName(), path)
		case !last:
			md = fd.Message()
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind || fd.Kind() == protoreflect.BytesKind:
			return nil, fmt.Errorf("field %s is not a string, number or enum", fd.FullName())
		}
	}
	return ref, nil
}

// text returns the field's value as text, or false when it is not set (or holds its zero value,
// for fields without presence).
func (f fieldRef) text(m protoreflect.Message) (string, bool) {
	for i, fd := range f {
		if !m.Has(fd) {
			return "", false
		}
		if i < len(f)-1 {
			m = m.Get(fd).Message()
			continue
		}
		v := m.Get(fd)
		switch fd.Kind() {
		case protoreflect.StringKind:
			return v.String(), v.String() != ""
		case protoreflect.EnumKind:
			if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
				return string(ev.Name()), true
			}
			return strconv.Itoa(int(v.Enum())), true
		default:
			return v.String(), true
		}
	}
	return "", false
}

// mountWebhooks routes each event source's path to its intake handler.
func (s *Server) mountWebhooks(mux *http.ServeMux) (err error) {
	ws := s.opts.webhooks
	if ws == nil {
		return nil
	}
	ws.once.Do(func() {
		ws.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentbridge_webhook_deliveries_total",
			Help: "Event deliveries legacy systems posted, by source and outcome (stored, duplicate, unverified, invalid, too_large, unsupported_media_type, method_not_allowed, store_error).",
		}, []string{"source", "outcome"})
		s.metrics.registry.MustRegister(ws.deliveries)
	})
	defer func() {
		if p := recover(); p != nil { // ServeMux panics on a pattern that conflicts
			err = fmt.Errorf("server: events: %v", p)
		}
	}()
	for _, src := range ws.sources {
		mux.Handle(src.path, s.webhookHandler(ws, src))
	}
	return nil
}

// webhookReply is the JSON reply to a delivery.
type webhookReply struct {
	ID        string `json:"id,omitempty"`
	Cursor    string `json:"cursor,omitempty"`
	Duplicate bool   `json:"duplicate"`
}

// webhookFailure is why a delivery was refused.
type webhookFailure struct {
	code    int
	outcome string // the metric's outcome label
	check   string // the verification check that failed, for 401
	field   string // the field or key at fault, when known
	msg     string
}

func (f *webhookFailure) Error() string { return f.msg }

func failf(code int, outcome, format string, args ...any) *webhookFailure {
	return &webhookFailure{code: code, outcome: outcome, msg: fmt.Sprintf(format, args...)}
}

// webhookHandler takes one source's deliveries.
func (s *Server) webhookHandler(ws *webhookSet, src *webhookSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cw, ok := w.(*challengeWriter); ok {
			// A 401 here is the source's verification, not a Bearer challenge.
			w = cw.ResponseWriter
		}
		start := time.Now()
		reply, fail := s.intake(ws, src, w, r)
		s.auditDelivery(r, src, start, reply, fail)
		if fail != nil {
			ws.deliveries.WithLabelValues(src.name, fail.outcome).Inc()
			if fail.code == http.StatusUnauthorized {
				s.log.Warn("event delivery refused", "source", src.name, "check", fail.check, "reason", fail.msg, "remote", r.RemoteAddr)
			} else if fail.code >= 500 {
				s.log.Error("event delivery not stored", "source", src.name, "reason", fail.msg)
			}
			writeWebhookFailure(w, src, fail)
			return
		}
		for _, a := range reply.appended {
			outcome := "stored"
			if a.Duplicate {
				outcome = "duplicate"
			}
			ws.deliveries.WithLabelValues(src.name, outcome).Inc()
		}
		writeWebhookReply(w, src, reply)
	})
}

// auditDelivery writes the audit line of one delivery, stored or refused, as calls have theirs:
// the sender is a legacy system, not a principal, so the line names the source, the sender's
// address and what was stored (the events' ids), or why nothing was.
func (s *Server) auditDelivery(r *http.Request, src *webhookSource, start time.Time, reply *intakeResult, fail *webhookFailure) {
	if s.audit == nil || s.audit.log == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("request_id", r.Header.Get(HeaderRequestID)),
		slog.String("surface", "webhook"),
		slog.String("source", src.name),
		slog.String("remote", r.RemoteAddr),
	)
	if fail != nil {
		attrs = append(attrs, slog.String("outcome", fail.outcome), slog.Int("http_status", fail.code))
		if fail.check != "" {
			attrs = append(attrs, slog.String("check", fail.check))
		}
	} else {
		stored, dup := 0, 0
		for _, a := range reply.appended {
			if a.Duplicate {
				dup++
			} else {
				stored++
			}
		}
		attrs = append(attrs, slog.String("outcome", "stored"), slog.Int("stored", stored), slog.Int("duplicates", dup), slog.Any("ids", reply.ids))
	}
	attrs = append(attrs, slog.Int64("latency_us", time.Since(start).Microseconds()), slog.Int64("request_bytes", r.ContentLength))
	s.audit.log.LogAttrs(r.Context(), slog.LevelInfo, "event delivery", attrs...)
}

// intakeResult is what a stored delivery returns to its sender.
type intakeResult struct {
	ids      []string
	appended []store.Appended
}

// intake verifies, decodes and stores one delivery.
func (s *Server) intake(ws *webhookSet, src *webhookSource, w http.ResponseWriter, r *http.Request) (*intakeResult, *webhookFailure) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, failf(http.StatusMethodNotAllowed, "method_not_allowed", "events are POSTed to %s, not sent with %s", src.path, r.Method)
	}
	now := ws.now()
	// Checks of the connection and headers first, so an unverified sender's body is not read.
	for _, c := range src.checks {
		if !c.body {
			if err := c.check(r, nil, now); err != nil {
				return nil, &webhookFailure{code: http.StatusUnauthorized, outcome: "unverified", check: c.name, msg: c.name + ": " + err.Error()}
			}
		}
	}
	limit := src.maxBody
	if limit <= 0 {
		limit = s.opts.maxBody
	}
	if r.ContentLength > limit {
		return nil, failf(http.StatusRequestEntityTooLarge, "too_large", "the body of %d bytes is over this source's limit of %d bytes", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit)) // over the limit, the connection is closed after the reply
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, failf(http.StatusRequestEntityTooLarge, "too_large", "the body is over this source's limit of %d bytes", limit)
		}
		return nil, failf(http.StatusBadRequest, "invalid", "reading the body: %v", err)
	}
	for _, c := range src.checks {
		if c.body {
			if err := c.check(r, body, now); err != nil {
				return nil, &webhookFailure{code: http.StatusUnauthorized, outcome: "unverified", check: c.name, msg: c.name + ": " + err.Error()}
			}
		}
	}
	if f := src.checkContentType(r.Header.Get("Content-Type")); f != nil {
		return nil, f
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, failf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Encoding %s: event bodies are taken uncompressed", ce)
	}
	var ids []string
	var recs []store.Record
	received := timestamppb.New(now)
	if src.format == FormatSOAPNotification {
		notes, org, f := src.decodeNotifications(body, r.Header.Get("Content-Type"))
		if f != nil {
			return nil, f
		}
		if !src.organizationAllowed(org) {
			return nil, &webhookFailure{code: http.StatusUnauthorized, outcome: "unverified", check: "organization_ids", msg: fmt.Sprintf("organization_ids: the notifications come from organization %q, which is not in organization_ids", org)}
		}
		for _, n := range notes {
			if f := s.validateEvent(n.msg); f != nil {
				f.msg = "notification " + n.id + ": " + f.msg
				return nil, f
			}
			typ := n.typ
			if src.typ != "" {
				typ = src.typ
			} else if src.typeRef != nil {
				typ, _ = src.typeRef.text(n.msg.ProtoReflect())
			}
			rec, f := src.record(n.id, typ, received, n.msg)
			if f != nil {
				return nil, f
			}
			ids, recs = append(ids, n.id), append(recs, rec)
		}
	} else {
		msg, f := src.decode(body, r.Header.Get("Content-Type"))
		if f != nil {
			return nil, f
		}
		if f := s.validateEvent(msg); f != nil {
			return nil, f
		}
		var id string
		switch {
		case src.idHdr != "":
			if id = r.Header.Get(src.idHdr); id == "" {
				return nil, failf(http.StatusBadRequest, "invalid", "the %s header, which holds the event's id, is missing", src.idHdr)
			}
		case src.id != nil:
			var ok bool
			if id, ok = src.id.text(msg.ProtoReflect()); !ok {
				f := failf(http.StatusBadRequest, "invalid", "the event has no id: field %s is not set", src.id.jsonPath())
				f.field = src.id.jsonPath()
				return nil, f
			}
		default:
			sum := sha256.Sum256(body)
			id = hex.EncodeToString(sum[:])
		}
		typ := src.typ
		if src.typeRef != nil {
			typ, _ = src.typeRef.text(msg.ProtoReflect())
		}
		rec, f := src.record(id, typ, received, msg)
		if f != nil {
			return nil, f
		}
		ids, recs = []string{id}, []store.Record{rec}
	}
	st := s.opts.durable
	if st == nil {
		return nil, failf(http.StatusServiceUnavailable, "store_error", "no event store is configured")
	}
	// The append runs to its end even when the sender gives up: what it stores is kept either
	// way, and a retry is de-duplicated by its id.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), webhookStoreTimeout)
	defer cancel()
	appended, err := st.Append(ctx, EventTopic(src.name), recs...)
	if err != nil || len(appended) != len(recs) {
		if err == nil {
			err = fmt.Errorf("the store answered %d results for %d events", len(appended), len(recs))
		}
		s.log.Error("event store append failed", "source", src.name, "events", len(recs), "error", err)
		return nil, failf(http.StatusServiceUnavailable, "store_error", "the event store is unavailable; nothing was stored, send it again later")
	}
	return &intakeResult{ids: ids, appended: appended}, nil
}

// webhookStoreTimeout bounds one append.
const webhookStoreTimeout = 30 * time.Second

// webhookRetryAfter is the Retry-After of a 503, in seconds.
const webhookRetryAfter = "5"

// jsonPath is the ref as dotted JSON names.
func (f fieldRef) jsonPath() string {
	parts := make([]string, len(f))
	for i, fd := range f {
		parts[i] = fd.JSONName()
	}
	return strings.Join(parts, ".")
}

// maxEventIDBytes bounds an event id, which is a store key.
const maxEventIDBytes = 512

// record makes the stored record of one event.
func (src *webhookSource) record(id, typ string, received *timestamppb.Timestamp, msg proto.Message) (store.Record, *webhookFailure) {
	if len(id) > maxEventIDBytes {
		return store.Record{}, failf(http.StatusBadRequest, "invalid", "the event id is %d bytes long; at most %d are kept", len(id), maxEventIDBytes)
	}
	value, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return store.Record{}, failf(http.StatusBadRequest, "invalid", "the event cannot be encoded: %v", err)
	}
	ev := &agentbridgev1.Event{
		Source:     src.name,
		Id:         id,
		Type:       typ,
		ReceivedAt: received,
		Data:       &anypb.Any{TypeUrl: "type.googleapis.com/" + string(src.md.FullName()), Value: value},
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return store.Record{}, failf(http.StatusInternalServerError, "invalid", "the event cannot be encoded: %v", err)
	}
	return store.Record{Key: id, Data: data}, nil
}

// validateEvent applies the message's REQUIRED fields and buf.validate rules, as for requests.
func (s *Server) validateEvent(msg proto.Message) *webhookFailure {
	if s.validator == nil {
		return nil
	}
	if err := s.validator.Validate(msg); err != nil {
		f := failf(http.StatusBadRequest, "invalid", "%s", strings.TrimPrefix(status.Convert(validationStatus(err)).Message(), "invalid request: "))
		return f
	}
	return nil
}

// checkContentType refuses a body whose Content-Type is not the source's format. A body without
// one is taken as the source's format.
func (src *webhookSource) checkContentType(ct string) *webhookFailure {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	ok := err == nil
	if ok {
		switch src.format {
		case FormatJSON:
			ok = mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
		case FormatXML, FormatSOAPNotification:
			ok = mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml")
		case FormatForm:
			ok = mt == "application/x-www-form-urlencoded"
		}
	}
	if ok {
		return nil
	}
	want := map[string]string{FormatJSON: "application/json", FormatXML: "application/xml or text/xml", FormatForm: "application/x-www-form-urlencoded", FormatSOAPNotification: "text/xml"}[src.format]
	return failf(http.StatusUnsupportedMediaType, "unsupported_media_type", "source %s takes %s bodies (Content-Type: %s), not %s", src.name, src.format, want, ct)
}

// decode reads a json, xml or form body into the source's message.
func (src *webhookSource) decode(body []byte, ct string) (proto.Message, *webhookFailure) {
	msg := src.mt.New().Interface()
	var f *webhookFailure
	switch src.format {
	case FormatXML:
		if f = src.decodeXML(body, ct, msg); f != nil {
			return nil, f
		}
	case FormatForm:
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, failf(http.StatusBadRequest, "invalid", "the form body is malformed: %v", err)
		}
		if values, f = formUTF8(values, ct); f != nil {
			return nil, f
		}
		data, f := src.formJSON(values)
		if f != nil {
			return nil, f
		}
		if err := src.unmarsh.Unmarshal(data, msg); err != nil {
			return nil, failf(http.StatusBadRequest, "invalid", "%s", strings.Replace(jsonError(msg, data, err).Error(), "invalid JSON for", "invalid form for", 1))
		}
	default:
		if body, f = jsonUTF8(body, ct); f != nil {
			return nil, f
		}
		if err := src.unmarsh.Unmarshal(body, msg); err != nil {
			f := failf(http.StatusBadRequest, "invalid", "%s", jsonError(msg, body, err).Error())
			if m := jsonErrField.FindStringSubmatch(f.msg); m != nil {
				f.field = m[1] + m[2]
			}
			return nil, f
		}
	}
	return msg, nil
}

// bodyCharset returns the decoder of the charset ct names, nil for UTF-8 (also when ct names
// none, or US-ASCII, a subset), or a 415 for a charset the bridge does not know.
func bodyCharset(ct string) (*encoding.Decoder, *webhookFailure) {
	_, params, _ := mime.ParseMediaType(ct)
	label := strings.ToLower(strings.TrimSpace(params["charset"]))
	switch label {
	case "", "utf-8", "utf8", "us-ascii":
		return nil, nil
	}
	enc, _ := htmlcharset.Lookup(label)
	if enc == nil {
		return nil, failf(http.StatusUnsupportedMediaType, "unsupported_media_type", "the Content-Type names charset %q, which the bridge does not know; send UTF-8", label)
	}
	return enc.NewDecoder(), nil
}

// notUTF8 is the 400 for text that is neither UTF-8 nor in a charset the Content-Type names:
// decoding it as UTF-8 would replace characters silently.
func notUTF8(what string) *webhookFailure {
	return failf(http.StatusBadRequest, "invalid", "%s is not UTF-8; send UTF-8, or name the body's charset in its Content-Type (such as charset=ISO-8859-1)", what)
}

// jsonUTF8 returns a JSON body as UTF-8: converted from the charset its Content-Type names, or
// checked to be UTF-8 when it names none.
func jsonUTF8(body []byte, ct string) ([]byte, *webhookFailure) {
	dec, f := bodyCharset(ct)
	switch {
	case f != nil:
		return nil, f
	case dec == nil:
		if !utf8.Valid(body) {
			return nil, notUTF8("the body")
		}
		return body, nil
	}
	out, err := dec.Bytes(body)
	if err != nil {
		return nil, failf(http.StatusBadRequest, "invalid", "the body is not valid in the charset its Content-Type names: %v", err)
	}
	return out, nil
}

// formUTF8 returns a form's keys and values as UTF-8: the bytes their percent escapes stand
// for are in the charset the Content-Type names (UTF-8 when none).
func formUTF8(values url.Values, ct string) (url.Values, *webhookFailure) {
	dec, f := bodyCharset(ct)
	if f != nil {
		return nil, f
	}
	conv := func(s string) (string, bool) {
		if dec == nil {
			return s, utf8.ValidString(s)
		}
		out, err := dec.String(s)
		return out, err == nil
	}
	out := make(url.Values, len(values))
	for k, vs := range values {
		key, ok := conv(k)
		if !ok {
			return nil, notUTF8(fmt.Sprintf("a form key (%q)", k))
		}
		for _, v := range vs {
			val, ok := conv(v)
			if !ok {
				fl := notUTF8("the value of form field " + key)
				fl.field = key
				return nil, fl
			}
			out[key] = append(out[key], val)
		}
	}
	return out, nil
}

// jsonErrField finds the field a protojson error names.
var jsonErrField = regexp.MustCompile(`unknown field "([^"]+)"|field ([A-Za-z0-9_.]+):`)

// decodeXML reads a document whose root element is the message (its name is not checked).
func (src *webhookSource) decodeXML(body []byte, ct string, msg proto.Message) *webhookFailure {
	utf, err := xmlcodec.ToUTF8(body, ct)
	if err != nil {
		return failf(http.StatusBadRequest, "invalid", "%s", xmlCharsetError(err))
	}
	d := xmlcodec.NewDecoder(bytes.NewReader(utf))
	start, err := xmlcodec.OpenRoot(d)
	if err != nil {
		return failf(http.StatusBadRequest, "invalid", "malformed XML: %v", err)
	}
	if err := src.plan.Decode(d, start, msg); err != nil {
		return xmlFailure(msg, err)
	}
	if err := onlyTrailingSpace(d); err != nil {
		return failf(http.StatusBadRequest, "invalid", "malformed XML: %v", err)
	}
	return nil
}

// xmlCharsetError words the XML codec's charset error for a body a sender sent.
func xmlCharsetError(err error) string {
	return strings.ReplaceAll(err.Error(), "the reply", "the body")
}

// xmlFailure is a 400 for an XML body that does not fit msg, naming the element.
func xmlFailure(msg proto.Message, err error) *webhookFailure {
	// The codec speaks of replies and backends; here the document is an event from a sender,
	// and lenient: (a backend's setting) does not apply.
	text := strings.NewReplacer(", or set lenient: true on the backend to skip them", "", "the reply has no such", "the event has no such", "the backend", "the sender").Replace(err.Error())
	f := failf(http.StatusBadRequest, "invalid", "invalid XML for %s: %s", msg.ProtoReflect().Descriptor().FullName(), text)
	var de *xmlcodec.DecodeError
	if errors.As(err, &de) {
		f.field = de.Path
	}
	return f
}

// onlyTrailingSpace reads the rest of a document: whitespace, comments and processing
// instructions only.
func onlyTrailingSpace(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errors.New("content after the root element")
		}
	}
}

// formJSON turns form values into the JSON object protojson reads, by field JSON or proto name,
// so a form body gets exactly the JSON codec's conversions and errors. Keys that name no field
// are an error; a key repeated is a list, and only a list field takes several values.
func (src *webhookSource) formJSON(values url.Values) ([]byte, *webhookFailure) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	obj := make(map[string]any, len(values))
	for _, k := range keys {
		fd := src.form[k]
		if fd == nil {
			f := failf(http.StatusBadRequest, "invalid", "invalid form for %s: unknown field %q", src.md.FullName(), k)
			f.field = k
			return nil, f
		}
		if _, dup := obj[fd.JSONName()]; dup {
			f := failf(http.StatusBadRequest, "invalid", "invalid form for %s: field %s is given twice (as %s and %s)", src.md.FullName(), fd.Name(), fd.JSONName(), fd.Name())
			f.field = k
			return nil, f
		}
		if fd.IsMap() || (fd.Kind() == protoreflect.MessageKind && !formScalarMessage(fd.Message())) {
			f := failf(http.StatusBadRequest, "invalid", "invalid form for %s: field %s is a map or message, which a form cannot carry", src.md.FullName(), k)
			f.field = k
			return nil, f
		}
		vs := values[k]
		if fd.IsList() {
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = formValue(fd, v)
			}
			obj[fd.JSONName()] = list
			continue
		}
		if len(vs) != 1 {
			f := failf(http.StatusBadRequest, "invalid", "invalid form for %s: field %s takes one value, not %d", src.md.FullName(), k, len(vs))
			f.field = k
			return nil, f
		}
		obj[fd.JSONName()] = formValue(fd, vs[0])
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, failf(http.StatusBadRequest, "invalid", "invalid form: %v", err)
	}
	return data, nil
}

// formScalarMessage says whether a message type is written as one JSON string (timestamps,
// durations, wrappers, field masks), which a form value can be.
func formScalarMessage(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.StringValue", "google.protobuf.BytesValue", "google.protobuf.BoolValue",
		"google.protobuf.Int32Value", "google.protobuf.Int64Value", "google.protobuf.UInt32Value",
		"google.protobuf.UInt64Value", "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return true
	}
	return false
}

// formValue is a form value as JSON: a string, which protojson reads for every scalar kind
// but bool, whose true and false become JSON literals (anything else stays a string, which
// protojson refuses with the field's name).
func formValue(fd protoreflect.FieldDescriptor, v string) any {
	k := fd.Kind()
	if fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "google.protobuf.BoolValue" {
		k = protoreflect.BoolKind
	}
	if k == protoreflect.BoolKind && (v == "true" || v == "false") {
		return v == "true"
	}
	return v
}

// writeWebhookReply answers a stored delivery: 202 with its id and cursor (200 when every event
// was a duplicate), or a SOAP notification's Ack.
func writeWebhookReply(w http.ResponseWriter, src *webhookSource, res *intakeResult) {
	if src.format == FormatSOAPNotification {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, soapAck)
		return
	}
	a := res.appended[0]
	code := http.StatusAccepted
	if a.Duplicate {
		code = http.StatusOK
	}
	data, _ := json.Marshal(webhookReply{ID: res.ids[0], Cursor: a.Cursor, Duplicate: a.Duplicate})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// writeWebhookFailure answers a refused delivery: JSON naming what failed, or a SOAP fault.
func writeWebhookFailure(w http.ResponseWriter, src *webhookSource, f *webhookFailure) {
	if f.code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", webhookRetryAfter)
	}
	if src.format == FormatSOAPNotification {
		writeSOAPFault(w, f)
		return
	}
	body := map[string]string{"error": f.msg}
	if f.check != "" {
		body["check"] = f.check
	}
	if f.field != "" {
		body["field"] = f.field
	}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(f.code)
	_, _ = w.Write(append(data, '\n'))
}
