package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/store"
)

// Event sources on MCP: each source is a resource, agentbridge://events/<source>, that an agent
// reads ("the events since my cursor") and subscribes to: resources/subscribe, then
// notifications/resources/updated whenever new events arrive. The template
// agentbridge://events/{source}{?after,subscriber,limit} reads from a given cursor. Reading goes
// through FetchEvents, so auth scopes, audit and metrics hold as for the events_fetch tool,
// which (with events_ack) is how an agent acknowledges what it handled.

// EventsResourcePrefix starts the URI of every event source's resource.
const EventsResourcePrefix = "agentbridge://events/"

// EventsResourceTemplate reads an event source from a cursor.
const EventsResourceTemplate = EventsResourcePrefix + "{source}{?after,subscriber,limit}"

const fetchProcedure = "/agentbridge.v1.EventService/FetchEvents"

// mcpResourceSubscriber is the subscriber a resource read names when the URI gives none: reads
// pass a cursor (the session's, or after), so its acknowledgements are never consulted.
const mcpResourceSubscriber = "mcp-resource"

// mcpEvents is the MCP side of event sources: what each toolset's server offers, each
// session's read position, and one watcher per subscribed source and server.
type mcpEvents struct {
	mu       sync.Mutex
	offered  map[*mcp.Server][]string          // the event resource URIs each server has
	template map[*mcp.Server]bool              // servers that have the template
	pos      map[string]string                 // session id + "\x00" + source → cursor read up to
	watches  map[watchKey]*eventWatch          // running watchers
	sessions map[*mcp.ServerSession][]watchKey // what each session subscribed to
	tracked  map[*mcp.ServerSession]bool       // sessions whose end clears their state
}

type watchKey struct {
	srv *mcp.Server
	uri string
}

// eventWatch tells a server's subscribed sessions when a source has new events.
type eventWatch struct {
	sessions map[*mcp.ServerSession]bool
	cancel   context.CancelFunc
	done     chan struct{}
}

// eventSources returns the EventService implementation g serves, or nil. It is found among
// the services' closers, where Config.eventService puts it.
func (g *generation) eventSources() *eventService {
	for _, c := range g.closers {
		if ev, ok := c.(*eventService); ok {
			return ev
		}
	}
	return nil
}

// Close implements io.Closer, so the service travels with its generation (see eventSources);
// it holds nothing of its own: the store belongs to the server.
func (ev *eventService) Close() error { return nil }

// updateMCPEventResources brings every toolset's server to g's event sources. Called with
// s.mcpMu held, from updateMCPResources.
func (s *Server) updateMCPEventResources(g *generation) {
	e := &s.mcpEvents
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.offered == nil {
		e.offered, e.template = map[*mcp.Server][]string{}, map[*mcp.Server]bool{}
	}
	ev := g.eventSources()
	for name, srv := range s.mcp {
		var want []string
		if _, served := g.toolsets[name]; served && ev != nil {
			for _, source := range ev.names {
				want = append(want, EventsResourcePrefix+source)
			}
		}
		var gone []string
		for _, uri := range e.offered[srv] {
			if !contains(want, uri) {
				gone = append(gone, uri)
			}
		}
		if len(gone) > 0 {
			srv.RemoveResources(gone...)
		}
		for _, uri := range want {
			if !contains(e.offered[srv], uri) {
				source := strings.TrimPrefix(uri, EventsResourcePrefix)
				srv.AddResource(&mcp.Resource{
					URI:   uri,
					Name:  "events/" + source,
					Title: "events of source " + source,
					Description: "The events legacy systems sent to source " + source + ", oldest first, as {events, nextCursor}: each read returns the next page after what this session read before " +
						"(the template " + EventsResourceTemplate + " reads after a cursor). Subscribe to hear notifications/resources/updated when new events arrive. " +
						"To acknowledge events so they are not delivered again, use the events_fetch and events_ack tools with a subscriber name.",
					MIMEType: "application/json",
				}, s.readEventResource)
			}
		}
		e.offered[srv] = want
		switch {
		case len(want) > 0 && !e.template[srv]:
			srv.AddResourceTemplate(&mcp.ResourceTemplate{
				URITemplate: EventsResourceTemplate,
				Name:        "events",
				Title:       "events of a source from a cursor",
				Description: "A page of a source's events after the cursor after (an event's cursor or a nextCursor), or after what subscriber acknowledged; at most limit events (default 20, at most 500).",
				MIMEType:    "application/json",
			}, s.readEventResource)
			e.template[srv] = true
		case len(want) == 0 && e.template[srv]:
			srv.RemoveResourceTemplates(EventsResourceTemplate)
			delete(e.template, srv)
		}
		// A source that is gone stops its watchers; its subscribers hear nothing more.
		for k, w := range e.watches {
			if k.srv == srv && !contains(want, k.uri) {
				s.stopWatch(k, w)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eventURI parses agentbridge://events/<source>[?after=&subscriber=&limit=].
func eventURI(uri string) (source string, q url.Values, ok bool) {
	rest, ok := strings.CutPrefix(uri, EventsResourcePrefix)
	if !ok {
		return "", nil, false
	}
	path, query, _ := strings.Cut(rest, "?")
	source, err := url.PathUnescape(path)
	if err != nil || source == "" {
		return "", nil, false
	}
	q, err = url.ParseQuery(query)
	if err != nil {
		return "", nil, false
	}
	return source, q, true
}

// readEventResource answers resources/read of an event source by calling FetchEvents through
// the chain, as the events_fetch tool does; it never acknowledges.
func (s *Server) readEventResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	source, q, ok := eventURI(uri)
	g := s.gen.Load()
	m := g.methods[fetchProcedure]
	if !ok || m == nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	in := &agentbridgev1.FetchEventsRequest{Source: source, Subscriber: q.Get("subscriber"), After: q.Get("after"), Wait: durationpb.New(0)}
	if in.Subscriber == "" {
		in.Subscriber = mcpResourceSubscriber
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.ParseInt(l, 10, 32)
		if err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "limit must be a number"}
		}
		in.Limit = int32(n)
	}
	// A plain read goes on from where this session's last plain read ended.
	posKey := ""
	if !q.Has("after") && !q.Has("subscriber") && req.Session != nil && req.Session.ID() != "" {
		posKey = req.Session.ID() + "\x00" + source
		s.mcpEvents.mu.Lock()
		in.After = s.mcpEvents.pos[posKey]
		s.trackSession(req.Session)
		s.mcpEvents.mu.Unlock()
	}
	var header http.Header
	if req.Extra != nil {
		header = req.Extra.Header
	}
	callCtx, _ := incomingContext(ctx, SurfaceMCP, m.procedure, header)
	resp, err := s.call(callCtx, m, in)
	if err != nil {
		st, _ := status.FromError(err)
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: st.Message()}
	}
	page := resp.(*agentbridgev1.FetchEventsResponse)
	data, err := g.jsonEncoder().Marshal(page)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the events after cursor " + in.GetAfter() + " could not be written as JSON (" + err.Error() + "); read them with the events_fetch tool, which names the event at fault"}
	}
	if posKey != "" {
		s.mcpEvents.mu.Lock()
		if s.mcpEvents.pos == nil {
			s.mcpEvents.pos = map[string]string{}
		}
		s.mcpEvents.pos[posKey] = page.GetNextCursor()
		s.mcpEvents.mu.Unlock()
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(data)}}}, nil
}

// subscribeEvents starts telling the session when the source has events newer than those
// there now. The first subscriber of a source on a server starts its watcher, which begins
// at the end of the log before this returns, so no event that follows is missed.
func (s *Server) subscribeEvents(ctx context.Context, req *mcp.SubscribeRequest) error {
	uri := req.Params.URI
	source, q, ok := eventURI(uri)
	g := s.gen.Load()
	ev := g.eventSources()
	// Only a source's own URI, as resources/list names it: other spellings of it ("?", "?&",
	// escapes) would each start a watcher of their own.
	if !ok || len(q) > 0 || uri != EventsResourcePrefix+source || ev == nil || ev.sources[source] == nil {
		return mcp.ResourceNotFoundError(uri)
	}
	if s.auth != nil {
		if m := g.methods[fetchProcedure]; m != nil {
			p := PrincipalFromContext(ctx)
			if p == nil {
				return errors.New("unauthenticated: " + s.auth.hint)
			}
			if err := s.auth.scopes.check(p, m.desc); err != nil {
				st, _ := status.FromError(err)
				return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: st.Message()}
			}
		}
	}
	if err := ev.checkScopes(ctx, source); err != nil {
		st, _ := status.FromError(err)
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: st.Message()}
	}
	st := ev.store()
	if st == nil || req.Session == nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "events are not kept: the server has no store"}
	}
	srv := s.serverOf(req.Session)
	if srv == nil {
		return mcp.ResourceNotFoundError(uri)
	}
	e := &s.mcpEvents
	k := watchKey{srv: srv, uri: uri}
	tail, haveTail := "", false
	for {
		e.mu.Lock()
		if e.watches == nil {
			e.watches, e.sessions = map[watchKey]*eventWatch{}, map[*mcp.ServerSession][]watchKey{}
		}
		w := e.watches[k]
		if w == nil && haveTail {
			wctx, cancel := context.WithCancel(context.Background())
			w = &eventWatch{sessions: map[*mcp.ServerSession]bool{}, cancel: cancel, done: make(chan struct{})}
			e.watches[k] = w
			go s.watchEvents(wctx, w, srv, st, EventTopic(source), uri, tail)
		}
		if w != nil {
			if !w.sessions[req.Session] {
				w.sessions[req.Session] = true
				e.sessions[req.Session] = append(e.sessions[req.Session], k)
				s.trackSession(req.Session)
			}
			e.mu.Unlock()
			return nil
		}
		e.mu.Unlock()
		// The end of the log, found without e.mu held: on a store that cannot say it at once
		// (see logTail) it takes a read of the whole log, and other sessions must not wait for
		// that. An event appended meanwhile comes after tail, so the watcher reports it.
		var err error
		if tail, err = logTail(ctx, st, EventTopic(source)); err != nil {
			return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the event store failed"}
		}
		haveTail = true
	}
}

// trackSession clears what the bridge keeps for a session (subscriptions, read positions)
// when the session ends; once per session. e.mu is held.
func (s *Server) trackSession(ss *mcp.ServerSession) {
	e := &s.mcpEvents
	if e.tracked[ss] {
		return
	}
	if e.tracked == nil {
		e.tracked = map[*mcp.ServerSession]bool{}
	}
	e.tracked[ss] = true
	go func() {
		_ = ss.Wait()
		s.endEventSession(ss)
	}()
}

// unsubscribeEvents stops telling the session about the source; the last one stops the
// watcher. Other URIs are not event sources: nothing to do.
func (s *Server) unsubscribeEvents(_ context.Context, req *mcp.UnsubscribeRequest) error {
	if _, _, ok := eventURI(req.Params.URI); !ok || req.Session == nil {
		return nil
	}
	e := &s.mcpEvents
	e.mu.Lock()
	defer e.mu.Unlock()
	keys := e.sessions[req.Session]
	for i, k := range keys {
		if k.uri == req.Params.URI {
			e.sessions[req.Session] = append(keys[:i:i], keys[i+1:]...)
			s.leaveWatch(k, req.Session)
			break
		}
	}
	return nil
}

// endEventSession drops what a closed session subscribed to, and its read positions.
func (s *Server) endEventSession(ss *mcp.ServerSession) {
	e := &s.mcpEvents
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range e.sessions[ss] {
		s.leaveWatch(k, ss)
	}
	delete(e.sessions, ss)
	delete(e.tracked, ss)
	if id := ss.ID(); id != "" {
		for key := range e.pos {
			if strings.HasPrefix(key, id+"\x00") {
				delete(e.pos, key)
			}
		}
	}
}

// leaveWatch removes a session from a watcher, stopping it when none is left. e.mu is held.
func (s *Server) leaveWatch(k watchKey, ss *mcp.ServerSession) {
	w := s.mcpEvents.watches[k]
	if w == nil {
		return
	}
	delete(w.sessions, ss)
	if len(w.sessions) == 0 {
		s.stopWatch(k, w)
	}
}

// stopWatch ends a watcher. e.mu is held; the watcher never takes it, so waiting is safe.
func (s *Server) stopWatch(k watchKey, w *eventWatch) {
	w.cancel()
	<-w.done
	delete(s.mcpEvents.watches, k)
}

// serverOf returns the toolset server a session belongs to.
func (s *Server) serverOf(ss *mcp.ServerSession) *mcp.Server {
	s.mcpMu.Lock()
	defer s.mcpMu.Unlock()
	for _, srv := range s.mcp {
		for have := range srv.Sessions() {
			if have == ss {
				return srv
			}
		}
	}
	return nil
}

// logTail returns the cursor of a topic's newest entry, or "" when it is empty: from the
// store at once when it can say (store.Tailer: every engine of package store and Redis), else
// by reading the whole retained log, a page at a time.
func logTail(ctx context.Context, st store.Store, topic string) (string, error) {
	if tl, ok := st.(store.Tailer); ok {
		return tl.Last(ctx, topic)
	}
	tail := ""
	for {
		entries, err := st.Read(ctx, topic, tail, maxFetchLimit, 0)
		if err != nil {
			return "", err
		}
		if len(entries) == 0 {
			return tail, nil
		}
		tail = entries[len(entries)-1].Cursor
	}
}

// watchEvents waits for entries after the cursor and tells the server's subscribers of uri,
// once per batch, until stopped.
func (s *Server) watchEvents(ctx context.Context, w *eventWatch, srv *mcp.Server, st store.Store, topic, uri, after string) {
	defer close(w.done)
	for ctx.Err() == nil {
		entries, err := st.Read(ctx, topic, after, maxFetchLimit, subscribeWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("an MCP event watcher could not read its source; retrying", "uri", uri, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(entries) == 0 {
			continue
		}
		after = entries[len(entries)-1].Cursor
		_ = srv.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: uri})
	}
}

// eventWatchers counts the running watchers and the sessions whose state is kept (tests).
func (s *Server) eventWatchers() (watchers, sessions int) {
	s.mcpEvents.mu.Lock()
	defer s.mcpEvents.mu.Unlock()
	return len(s.mcpEvents.watches), len(s.mcpEvents.tracked)
}
