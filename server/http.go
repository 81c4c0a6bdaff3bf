package server

import (
	"net/http"
)

// newHTTPHandler routes the HTTP listener: each method's Connect/gRPC/gRPC-Web path, gRPC
// health and reflection, /openapi.json, /healthz, /readyz, and REST routes for the rest (which
// also answers unknown paths with a NotFound status).
func (s *Server) newHTTPHandler() (http.Handler, error) {
	mux := http.NewServeMux()
	s.registerConnect(mux)
	doc, err := s.openAPIDocument()
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
	mcpHandler := s.mcpHandler(s.mcp)
	mux.Handle("/mcp", mcpHandler)
	mux.Handle("/mcp/{toolset}", mcpHandler)
	rest, err := s.newREST(s.methods)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", rest)
	return mux, nil
}
