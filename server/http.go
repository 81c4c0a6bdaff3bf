package server

import (
	"context"
	"net/http"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// newHTTPHandler routes the HTTP listener: each method's Connect/gRPC/gRPC-Web path, gRPC
// health and reflection, /openapi.json, /healthz, /readyz, and REST routes for the rest (which
// also answers unknown paths with a NotFound status).
func (s *Server) newHTTPHandler(ctx context.Context) (http.Handler, error) {
	mux := http.NewServeMux()
	s.registerConnect(mux)
	methods, names := s.restMethods()
	doc, err := buildOpenAPI(methods, names, s.comments.Describe)
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

// restMethods returns the methods the REST surface serves, those of services with REST routes
// registered (Service.Gateway), since a route in the proto alone is not served; and the MCP tool
// name of every method, which is also its operations' operationId.
func (s *Server) restMethods() ([]*method, map[string]string) {
	procs := make([]string, 0, len(s.methods))
	for p := range s.methods {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	rest := map[protoreflect.FullName]bool{}
	for _, svc := range s.services {
		if svc.Gateway != nil {
			rest[svc.Desc.FullName()] = true
		}
	}
	var methods []*method
	for _, p := range procs {
		if m := s.methods[p]; rest[m.desc.Parent().FullName()] {
			methods = append(methods, m)
		}
	}
	return methods, toolNames(s.methods, procs)
}
