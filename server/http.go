package server

import (
	"context"
	"net/http"
	"sort"
)

// newHTTPHandler routes the HTTP listener: each method's Connect/gRPC/gRPC-Web path, gRPC
// health and reflection, /openapi.json, /healthz, /readyz, and REST routes for the rest (which
// also answers unknown paths with a NotFound status).
func (s *Server) newHTTPHandler(ctx context.Context) (http.Handler, error) {
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
	gateway, err := s.newGateway(ctx)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", gateway)
	return mux, nil
}

// openAPIDocument writes /openapi.json for the methods the REST surface serves: those of services
// with REST routes registered (Service.Gateway), since a route in the proto alone is not served.
func (s *Server) openAPIDocument() ([]byte, error) {
	procs := make([]string, 0, len(s.methods))
	for p := range s.methods {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	rest := map[string]bool{}
	for _, svc := range s.services {
		if svc.Gateway != nil {
			rest[string(svc.Desc.FullName())] = true
		}
	}
	var methods []*method
	for _, p := range procs {
		if m := s.methods[p]; rest[string(m.desc.Parent().FullName())] {
			methods = append(methods, m)
		}
	}
	// Tool names are over every method, as the MCP surface names them.
	return buildOpenAPI(methods, toolNames(s.methods, procs), s.comments.Describe)
}
