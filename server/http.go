package server

import (
	"context"
	"net/http"
)

// newHTTPHandler routes the HTTP listener: each method's Connect/gRPC/gRPC-Web path, gRPC
// health and reflection, /openapi.json, /healthz, /readyz, and REST routes for the rest (which
// also answers unknown paths with a NotFound status).
func (s *Server) newHTTPHandler(ctx context.Context, g *generation) (http.Handler, error) {
	mux := http.NewServeMux()
	s.registerConnect(mux, g)
	doc, err := s.openAPIDocument(g)
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("/mcp", s.mcpHTTP)
	mux.Handle("/mcp/{toolset}", s.mcpHTTP)
	gateway, err := s.newGateway(ctx, g)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", gateway)
	return mux, nil
}
