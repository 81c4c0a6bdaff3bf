package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/contract"
	"github.com/agentbridge/agentbridge/server/store"
)

// This file is the delivery half of events: EventService, a service the bridge implements
// itself, served like any contract (every surface, auth scopes, audit, metrics, limits). It
// reads each source's log (topic EventTopic(source)) from a cursor and keeps each
// subscriber's acknowledged cursor in the store, so delivery is at least once until acked.

// Bounds of EventService.
const (
	defaultFetchLimit = 20
	maxFetchLimit     = 500
	defaultFetchWait  = time.Second
	maxFetchWait      = 30 * time.Second
	// maxFetchScan bounds the entries one FetchEvents looks at when filters skip most of
	// them; next_cursor says where to go on.
	maxFetchScan = 5000
	// subscribeWait is how long Subscribe waits in one store read before reading again.
	subscribeWait = 30 * time.Second
	// subscribePage is how many entries Subscribe reads at a time.
	subscribePage = 100
	maxSubscriber = 200
)

// EventServiceDesc is the built-in EventService.
var EventServiceDesc = agentbridgev1.File_agentbridge_v1_events_proto.Services().ByName("EventService")

// eventService implements EventService over the sources of one config.
type eventService struct {
	sources map[string]protoreflect.MessageDescriptor // by source name
	names   []string                                  // sorted
	store   func() store.Store                        // the serving server's store, read per call
	scopes  map[string][]string                       // by source: what reading it needs (auth.scopes "events/<source>")
	// known holds the sources' files and their imports: an event's data of a type found
	// neither there nor among the types linked into the binary cannot be written as JSON.
	known *protoregistry.Files
	types detailTypes // resolves known, then the linked types: for sizing pages as JSON
	mcp   MCPOptions  // the MCP surface's result budgets, which FetchEvents pages keep within
}

// eventService returns the built-in EventService serving c's event sources, or nil when c has
// none. Messages are resolved in set, then among the types linked into the binary. durable
// returns the store of the server that serves it (nil: calls fail with Unavailable).
func (c *Config) eventService(set *contract.Set, durable func() store.Store) (*Service, error) {
	if len(c.Events.Sources) == 0 {
		return nil, nil
	}
	ev := &eventService{sources: map[string]protoreflect.MessageDescriptor{}, store: durable}
	var files []protoreflect.FileDescriptor
	var errs []error
	for name, src := range c.Events.Sources {
		md, err := findMessage(set, src.Message)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: events: source %q: %w", name, err))
			continue
		}
		ev.sources[name] = md
		ev.names = append(ev.names, name)
		files = append(files, md.ParentFile())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Strings(ev.names)
	ev.known = new(protoregistry.Files)
	for _, fd := range files {
		registerWithImports(ev.known, fd)
	}
	ev.types, ev.mcp = newDetailTypes(ev.known), c.MCP
	if c.Auth != nil {
		ev.scopes = sourceScopes(c.Auth.Scopes, ev.names)
	}
	return &Service{
		Desc: EventServiceDesc,
		Methods: map[protoreflect.Name]adapters.Unary{
			"FetchEvents": ev.fetch,
			"AckEvents":   ev.ack,
		},
		Streams: map[protoreflect.Name]adapters.ServerStream{"Subscribe": ev.subscribe},
		Files:   files,
		Closers: []io.Closer{ev}, // how the MCP surface finds the sources (see eventSources)
	}, nil
}

// registerWithImports adds fd and what it imports to files, each once.
func registerWithImports(files *protoregistry.Files, fd protoreflect.FileDescriptor) {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		registerWithImports(files, imports.Get(i).FileDescriptor)
	}
	_ = files.RegisterFile(fd) // a name clash leaves the first file's message: still known
}

// knows reports whether data of the message full name can be written as JSON.
func (ev *eventService) knows(name protoreflect.FullName) bool {
	if ev.known != nil {
		if d, err := ev.known.FindDescriptorByName(name); err == nil {
			_, ok := d.(protoreflect.MessageDescriptor)
			return ok
		}
	}
	_, err := protoregistry.GlobalTypes.FindMessageByName(name)
	return err == nil
}

// eventsInForce returns c for building services on a reload: with the events config the
// running intake serves (it is built once, by Build), so EventService delivers the sources the
// bridge takes events in for. A source removed from the config goes on being taken in until a
// restart; without this its events were stored and refused to every reader (404). c itself is
// not changed: ReloadConfig compares it to warn that events need a restart.
func (s *Server) eventsInForce(c *Config) *Config {
	in := *c
	in.Events = EventsConfig{}
	if ws := s.opts.webhooks; ws != nil {
		in.Events = ws.cfg
	}
	return &in
}

// jsonSize is the size of an event's JSON, with a comma.
func (ev *eventService) jsonSize(e *agentbridgev1.Event) int {
	o := jsonMarshal
	o.Resolver = ev.types
	data, err := o.Marshal(e)
	if err != nil {
		return 0 // not written as JSON either: the surface says so
	}
	return len(data) + 1
}

// findMessage resolves a message's full name in the contracts, else among linked types.
func findMessage(set *contract.Set, name string) (protoreflect.MessageDescriptor, error) {
	if name == "" {
		return nil, errors.New("message is not set: name the proto message its events decode into")
	}
	full := protoreflect.FullName(strings.TrimPrefix(name, "."))
	var d protoreflect.Descriptor
	var err error
	if set != nil {
		d, err = set.Files().FindDescriptorByName(full)
	}
	if set == nil || err != nil {
		d, err = protoregistry.GlobalFiles.FindDescriptorByName(full)
	}
	if err != nil {
		return nil, fmt.Errorf("message %q is neither in the loaded contracts nor linked into this binary", name)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a message", full)
	}
	return md, nil
}

// sourceScopes returns, by source, the scopes auth.scopes asks of callers reading it: the most
// specific pattern matching "events/<source>" (exact, else the longest glob, as for methods).
// Method names hold no '/', so these patterns and the method patterns never match each other's
// names.
func sourceScopes(cfg map[string][]string, sources []string) map[string][]string {
	sp := newScopePolicy(cfg)
	out := map[string][]string{}
	for _, source := range sources {
		for _, p := range sp.patterns {
			if ok, _ := path.Match(p.glob, "events/"+source); ok {
				out[source] = p.scopes
				break
			}
		}
	}
	return out
}

// checkScopes refuses a caller that lacks the scopes reading source needs.
func (ev *eventService) checkScopes(ctx context.Context, source string) error {
	need := ev.scopes[source]
	p := PrincipalFromContext(ctx)
	if len(need) == 0 || p == nil {
		return nil
	}
	if lack := (requirement{all: need}).missing(p); lack != nil {
		return status.Errorf(codes.PermissionDenied, "the events of source %q need the scope %s, which %s (%s) does not have; ask for a credential with it",
			source, strings.Join(lack, " and "), p.ID, p.Method)
	}
	return nil
}

// target is what one call reads: a source's topic, and the subscriber's cursor group.
type target struct {
	ev     *eventService
	st     store.Store
	source string
	md     protoreflect.MessageDescriptor
	topic  string
	group  string
}

// resolve checks a call's source and subscriber and says where they are kept.
func (ev *eventService) resolve(ctx context.Context, source, subscriber string) (*target, error) {
	md, ok := ev.sources[source]
	if !ok {
		if source == "" {
			return nil, status.Errorf(codes.InvalidArgument, "source is required: one of %s", strings.Join(ev.names, ", "))
		}
		return nil, status.Errorf(codes.NotFound, "no event source %q; the sources are %s", source, strings.Join(ev.names, ", "))
	}
	if err := checkSubscriber(subscriber); err != nil {
		return nil, err
	}
	if err := ev.checkScopes(ctx, source); err != nil {
		return nil, err
	}
	st := ev.store()
	if st == nil {
		return nil, status.Error(codes.Unavailable, "events are not kept: the server has no store")
	}
	return &target{ev: ev, st: st, source: source, md: md, topic: EventTopic(source), group: subscriberGroup(ctx, subscriber)}, nil
}

func checkSubscriber(name string) error {
	switch {
	case name == "":
		return status.Error(codes.InvalidArgument, "subscriber is required: name who is reading (such as \"billing-agent\"); acknowledgements are kept per subscriber")
	case len(name) > maxSubscriber:
		return status.Errorf(codes.InvalidArgument, "subscriber is %d bytes; at most %d", len(name), maxSubscriber)
	case strings.ContainsFunc(name, unicode.IsControl):
		return status.Error(codes.InvalidArgument, "subscriber must not hold control characters")
	}
	return nil
}

// subscriberGroup is the store's cursor group of a subscriber: its name within the calling
// principal's, so two callers naming the same subscriber keep separate cursors and cannot
// acknowledge each other's events. Without authentication every caller shares one space. The
// principal's id is escaped, so no id and name can make another pair's group.
func subscriberGroup(ctx context.Context, subscriber string) string {
	id := ""
	if p := PrincipalFromContext(ctx); p != nil {
		// by how the caller was authenticated too: an API key named "billing" is not the
		// token subject "billing"
		id = url.PathEscape(string(p.Method) + ":" + p.ID)
	}
	return id + "/" + subscriber
}

// storeError turns a store failure into a status: a cursor the store never handed out is the
// caller's mistake; anything else is the store's.
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrCursor):
		return status.Errorf(codes.InvalidArgument, "%s is not a cursor this bridge handed out; pass an event's cursor or a next_cursor", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Unavailable, "the event store failed: %v", err)
}

// start returns the cursor to read after: after when given, else what the subscriber acked.
func (t *target) start(ctx context.Context, after string) (string, error) {
	if after != "" {
		return after, nil
	}
	acked, err := t.st.Acked(ctx, t.topic, t.group)
	if err != nil {
		return "", storeError(err, "the acknowledged cursor")
	}
	return acked, nil
}

func (ev *eventService) fetch(ctx context.Context, in proto.Message) (proto.Message, error) {
	req := in.(*agentbridgev1.FetchEventsRequest)
	t, err := ev.resolve(ctx, req.GetSource(), req.GetSubscriber())
	if err != nil {
		return nil, err
	}
	f, err := newEventFilter(t.md, req.GetTypes(), req.GetWhere(), req.GetMatch())
	if err != nil {
		return nil, err
	}
	limit := int(req.GetLimit())
	switch {
	case limit < 0:
		return nil, status.Errorf(codes.InvalidArgument, "limit %d must not be negative", limit)
	case limit == 0:
		limit = defaultFetchLimit
	case limit > maxFetchLimit:
		limit = maxFetchLimit
	}
	wait := defaultFetchWait
	if w := req.GetWait(); w != nil {
		if err := w.CheckValid(); err != nil || w.AsDuration() < 0 {
			return nil, status.Error(codes.InvalidArgument, "wait must be a duration of 0s or more")
		}
		wait = min(w.AsDuration(), maxFetchWait)
	}
	if req.GetAck() != "" {
		if err := t.st.Ack(ctx, t.topic, t.group, req.GetAck()); err != nil {
			return nil, storeError(err, "ack")
		}
	}
	after, err := t.start(ctx, req.GetAfter())
	if err != nil {
		return nil, err
	}
	resp := &agentbridgev1.FetchEventsResponse{NextCursor: after}
	// On MCP a page is no larger than the tool's result budget holds (with room for the
	// wrapper and JSON's spacing), so the surface never cuts events out of it.
	budget, used, toolset := 0, 0, ""
	if SurfaceFromContext(ctx) == SurfaceMCP {
		toolset, _ = ctx.Value(toolsetKey{}).(string)
		if b := ev.mcp.maxResultBytes(toolset); b > 0 {
			budget = b*7/8 - 256
		}
	}
	scanned := 0
	for len(resp.Events) < limit && scanned < maxFetchScan {
		// Wait only for the first entry: a page answers with what is there.
		w := time.Duration(0)
		if scanned == 0 {
			w = wait
		}
		want := limit - len(resp.Events)
		if !f.none() {
			want = min(maxFetchLimit, maxFetchScan-scanned)
		}
		entries, err := t.st.Read(ctx, t.topic, resp.NextCursor, want, w)
		if err != nil {
			return nil, storeError(err, "after")
		}
		for _, e := range entries {
			ev, err := t.decode(e)
			if err != nil {
				if scanned > 0 {
					// Answer the page up to it: acknowledging the cursor the next fetch's
					// error names must not pass over events this fetch read before it.
					return resp, nil
				}
				return nil, err
			}
			if f.keep(ev) {
				if budget > 0 {
					n := t.ev.jsonSize(ev)
					if used+n > budget {
						if len(resp.Events) == 0 {
							return nil, status.Errorf(codes.FailedPrecondition, "the event at cursor %s is %d bytes of JSON, more than fits this MCP tool's result budget (%d bytes); read it over REST or gRPC, or raise results.max_bytes of the mcp section or this toolset", e.Cursor, n, t.ev.mcp.maxResultBytes(toolset))
						}
						// The page ends before it, so next_cursor is the last event returned:
						// cutting events from the result would make acknowledging
						// next_cursor pass over them.
						return resp, nil
					}
					used += n
				}
				resp.Events = append(resp.Events, ev)
			}
			scanned++
			resp.NextCursor = e.Cursor
			if len(resp.Events) == limit {
				break
			}
		}
		if len(entries) < want || scanned == 0 {
			break
		}
	}
	return resp, nil
}

func (ev *eventService) ack(ctx context.Context, in proto.Message) (proto.Message, error) {
	req := in.(*agentbridgev1.AckEventsRequest)
	t, err := ev.resolve(ctx, req.GetSource(), req.GetSubscriber())
	if err != nil {
		return nil, err
	}
	if req.GetCursor() == "" {
		return nil, status.Error(codes.InvalidArgument, "cursor is required: the cursor of the last event handled")
	}
	if err := t.st.Ack(ctx, t.topic, t.group, req.GetCursor()); err != nil {
		return nil, storeError(err, "cursor")
	}
	acked, err := t.st.Acked(ctx, t.topic, t.group)
	if err != nil {
		return nil, storeError(err, "the acknowledged cursor")
	}
	return &agentbridgev1.AckEventsResponse{Acked: acked}, nil
}

// subscribe streams a source's events from the start cursor, then as they arrive, until the
// caller leaves. Events filters skip are passed over, so they are not read again.
func (ev *eventService) subscribe(ctx context.Context, in proto.Message, send func(proto.Message) error) error {
	req := in.(*agentbridgev1.SubscribeRequest)
	t, err := ev.resolve(ctx, req.GetSource(), req.GetSubscriber())
	if err != nil {
		return err
	}
	f, err := newEventFilter(t.md, req.GetTypes(), req.GetWhere(), req.GetMatch())
	if err != nil {
		return err
	}
	after, err := t.start(ctx, req.GetAfter())
	if err != nil {
		return err
	}
	// The request is good: the stream starts now, not at the first event, which may be long.
	_ = grpc.SendHeader(ctx, metadata.MD{})
	// A tool call must end: on MCP the stream ends once it has caught up (a read that waited
	// finds nothing), or at the surface's stream bound.
	untilCaughtUp := SurfaceFromContext(ctx) == SurfaceMCP
	if req.GetMaxEvents() < 0 {
		return status.Errorf(codes.InvalidArgument, "max_events %d must not be negative", req.GetMaxEvents())
	}
	left := int(req.GetMaxEvents()) // 0: no bound
	wait := subscribeWait
	if untilCaughtUp {
		wait = defaultFetchWait
	}
	for {
		entries, err := t.st.Read(ctx, t.topic, after, subscribePage, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // the caller left: the stream is done, not failed
			}
			return storeError(err, "after")
		}
		for _, e := range entries {
			after = e.Cursor
			ev, derr := t.decode(e)
			if derr != nil {
				return derr
			}
			if !f.keep(ev) {
				continue
			}
			if err := send(&agentbridgev1.SubscribeResponse{Event: ev}); err != nil {
				return nil //nolint:nilerr // the caller left or wants no more: the stream is done
			}
			if left > 0 {
				if left--; left == 0 {
					return nil
				}
			}
		}
		if untilCaughtUp && len(entries) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the caller left: the stream is done, not failed
		}
	}
}

// decode turns a stored entry into the Event delivered, with its cursor. An entry that is not
// an Event (written by something else, or damaged) is an error naming its cursor, so the
// subscriber can acknowledge past it rather than lose it unknowingly.
func (t *target) decode(e store.Entry) (*agentbridgev1.Event, error) {
	ev := new(agentbridgev1.Event)
	if err := proto.Unmarshal(e.Data, ev); err != nil {
		return nil, status.Errorf(codes.DataLoss, "the event at cursor %s of source %q cannot be decoded (%v); acknowledge that cursor to pass it", e.Cursor, t.source, err)
	}
	ev.Cursor = e.Cursor
	if d := ev.GetData(); d != nil && t.ev != nil {
		name := typeNameOfURL(d.GetTypeUrl())
		if name != string(t.md.FullName()) && !t.ev.knows(protoreflect.FullName(name)) {
			// Written when the source had another message (or by a bridge with other
			// contracts): it cannot be written as JSON, and a page or stream that failed on
			// it would not say where it is.
			return nil, status.Errorf(codes.DataLoss, "the event at cursor %s of source %q holds data of type %q, which this bridge's contracts do not have (the source's message is %s); acknowledge that cursor to pass it, or load the contract that has the type",
				e.Cursor, t.source, d.GetTypeUrl(), t.md.FullName())
		}
	}
	if ev.Source == "" {
		ev.Source = t.source
	}
	if ev.Id == "" {
		ev.Id = e.Key
	}
	if ev.ReceivedAt == nil && !e.Time.IsZero() {
		ev.ReceivedAt = timestamppb.New(e.Time)
	}
	return ev, nil
}

// eventFilter keeps events by type and by data field values.
type eventFilter struct {
	types map[string]bool
	where []fieldMatch
	md    protoreflect.MessageDescriptor
}

// fieldMatch is one where clause, its path resolved in the source's message.
type fieldMatch struct {
	path   []protoreflect.FieldDescriptor
	equals string
}

func newEventFilter(md protoreflect.MessageDescriptor, types []string, where []*agentbridgev1.FieldFilter, match []string) (*eventFilter, error) {
	f := &eventFilter{md: md}
	for i, m := range match {
		field, equals, ok := strings.Cut(m, "=")
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "match[%d] %q: write field=value, such as sku=A-100", i, m)
		}
		path, err := filterFieldPath(md, field)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "match[%d]: %v", i, err)
		}
		f.where = append(f.where, fieldMatch{path: path, equals: equals})
	}
	if len(types) > 0 {
		f.types = map[string]bool{}
		for _, t := range types {
			f.types[t] = true
		}
	}
	for i, w := range where {
		path, err := filterFieldPath(md, w.GetField())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "where[%d]: %v", i, err)
		}
		f.where = append(f.where, fieldMatch{path: path, equals: w.GetEquals()})
	}
	return f, nil
}

// filterFieldPath resolves a dotted path of JSON (or proto) field names in md.
func filterFieldPath(md protoreflect.MessageDescriptor, dotted string) ([]protoreflect.FieldDescriptor, error) {
	if dotted == "" {
		return nil, errors.New("field is required, such as \"sku\" or \"item.sku\"")
	}
	var out []protoreflect.FieldDescriptor
	cur := md
	for part := range strings.SplitSeq(dotted, ".") {
		if cur == nil {
			return nil, fmt.Errorf("field %q: %s is not a message, so it has no field %q", dotted, out[len(out)-1].Name(), part)
		}
		fd := cur.Fields().ByJSONName(part)
		if fd == nil {
			fd = cur.Fields().ByName(protoreflect.Name(part))
		}
		if fd == nil {
			return nil, fmt.Errorf("field %q: %s has no field %q", dotted, cur.FullName(), part)
		}
		if fd.IsMap() {
			return nil, fmt.Errorf("field %q: %s is a map; filter on a scalar field", dotted, fd.Name())
		}
		out = append(out, fd)
		cur = fd.Message()
		if fd.IsList() && cur != nil {
			return nil, fmt.Errorf("field %q: %s is a list of messages; filter on a scalar field", dotted, fd.Name())
		}
	}
	return out, nil
}

func (f *eventFilter) none() bool { return f.types == nil && len(f.where) == 0 }

// keep reports whether an event passes every filter. Data that does not decode as the
// source's message matches no field filter.
func (f *eventFilter) keep(ev *agentbridgev1.Event) bool {
	if f.types != nil && !f.types[ev.GetType()] {
		return false
	}
	if len(f.where) == 0 {
		return true
	}
	data := ev.GetData()
	if data == nil || string(f.md.FullName()) != typeNameOfURL(data.GetTypeUrl()) {
		return false
	}
	msg := dynamicpb.NewMessage(f.md)
	if err := proto.Unmarshal(data.GetValue(), msg); err != nil {
		return false
	}
	for _, w := range f.where {
		if !w.matches(msg) {
			return false
		}
	}
	return true
}

func typeNameOfURL(u string) string {
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		return u[i+1:]
	}
	return u
}

func (w fieldMatch) matches(m protoreflect.Message) bool {
	for _, fd := range w.path[:len(w.path)-1] {
		if !m.Has(fd) {
			return false
		}
		m = m.Get(fd).Message()
	}
	fd := w.path[len(w.path)-1]
	v := m.Get(fd)
	if fd.IsList() {
		l := v.List()
		for i := range l.Len() {
			if fieldText(fd, l.Get(i)) == w.equals {
				return true
			}
		}
		return false
	}
	if fd.HasPresence() && !m.Has(fd) {
		return false
	}
	return fieldText(fd, v) == w.equals
}

// fieldText is a value as its JSON text without quotes: numbers in decimal, enums by name,
// bytes in base64, messages as JSON.
func fieldText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return fmt.Sprint(int32(v.Enum()))
	case protoreflect.BytesKind:
		return base64Std(v.Bytes())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		b, err := jsonMarshal.Marshal(v.Message().Interface())
		if err != nil {
			return ""
		}
		return strings.Trim(string(b), `"`)
	case protoreflect.FloatKind:
		return formatFloat(v.Float(), 32)
	case protoreflect.DoubleKind:
		return formatFloat(v.Float(), 64)
	}
	return v.String()
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// durable returns the store the server keeps events in, or nil; nil-safe, for Build's getter.
func (s *Server) durable() store.Store {
	if s == nil {
		return nil
	}
	return s.opts.durable
}
