package server

import (
	"net/http"
	"sort"
)

// newHTTPHandler routes the HTTP listener for generation g: each method's Connect/gRPC/gRPC-Web
// path, gRPC health and reflection, /openapi.json, /healthz, /readyz, MCP, and REST routes for
// the rest (which also answers unknown paths with a NotFound status).
func (s *Server) newHTTPHandler(g *generation) (http.Handler, error) {
	mux := http.NewServeMux()
	s.registerConnect(mux, g)
	methods, names := g.sortedMethods()
	doc, err := buildOpenAPI(methods, names, g.describe, !s.opts.idempotency.Disabled)
	if err != nil {
		return nil, err
	}
	g.openapi = doc
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.Handle("/mcp", s.mcpHTTP)
	mux.Handle("/mcp/{toolset}", s.mcpHTTP)
	if err := s.mountWebhooks(mux); err != nil { // event sources (webhooks.go)
		return nil, err
	}
	rest, err := s.newREST(g)
	if err != nil {
		return nil, err
	}
	s.mountBatchHTTP(mux, g, rest)         // NDJSON/CSV batch upload and downloads (batch_http.go)
	mux.Handle("/", s.eventsHTTP(g, rest)) // events: GET /v1/events/{source}:subscribe, NDJSON or SSE
	return mux, nil
}

// sortedMethods returns g's methods in procedure order, and the MCP tool name of every method,
// which is also its operations' operationId.
func (g *generation) sortedMethods() ([]*method, map[string]string) {
	procs := make([]string, 0, len(g.methods))
	for p := range g.methods {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	methods := make([]*method, 0, len(procs))
	for _, p := range procs {
		methods = append(methods, g.methods[p])
	}
	return methods, toolNames(g.methods, procs, g.mcpOpts.ToolNameBudget)
}
