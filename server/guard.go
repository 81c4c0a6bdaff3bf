package server

import (
	"mime"
	"net"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file keeps browsers from using the HTTP listener against its users: a page on another
// site may not call it through a visitor's browser (CSRF), and a page on a rebinding domain may
// not reach a loopback listener under its own host name (DNS rebinding). Agents, curl and gRPC
// clients send no Origin and use the listener's own host name, and are not affected.

// originGuard refuses requests from foreign origins on every path but /mcp, whose handler
// checks origins itself with MCP's own list added.
func (s *Server) originGuard(next http.Handler) http.Handler {
	allowedOrigins := s.opts.origins
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !isMCPPath(r.URL.Path) && !originAllowed(origin, allowedOrigins) {
			s.log.Warn("refused a request from a foreign origin", "origin", origin, "path", r.URL.Path)
			http.Error(w, "origin not allowed (allowed_origins)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostGuard refuses requests for hosts the listener does not answer to: loopback names and
// the allowed hosts.
func (s *Server) hostGuard(next http.Handler) http.Handler {
	hosts := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, h := range s.opts.hosts {
		hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts[hostName(r.Host)] {
			s.log.Warn("refused a request for a host the listener does not answer to", "host", r.Host)
			http.Error(w, "host "+r.Host+" is not served here (allowed_hosts)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isMCPPath(p string) bool { return p == "/mcp" || strings.HasPrefix(p, "/mcp/") }

// hostName returns the host of a Host header without its port, lower-case, brackets removed.
func hostName(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// isLoopback reports whether a listener's address is a loopback one.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// jsonBodyOnly refuses REST request bodies that are not JSON. Browsers send text/plain, form and
// multipart bodies across sites without asking first (no CORS preflight), so parsing them as
// JSON would let any page change state through REST. A body without a Content-Type is taken as
// JSON, as curl --data-binary sends it and non-browser clients do.
func jsonBodyOnly(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" || (r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "") {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return true
	}
	st := status.New(codes.InvalidArgument, "the request body must be JSON (Content-Type: application/json), not "+ct)
	data, _ := errorJSON.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnsupportedMediaType)
	_, _ = w.Write(data)
	return false
}

// corsExposed are the response headers a browser client on an allowed origin may read: the
// statuses of gRPC-Web and Connect, the request id, MCP's session and auth challenges.
const corsExposed = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Connect-Protocol-Version, X-Request-Id, Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, Retry-After, Idempotent-Replayed"

// cors is the CORS policy for deliberate browser clients: an origin listed in allowed_origins
// may read replies (Access-Control-Allow-Origin) and gets its preflights answered, before
// authentication, since a browser sends a preflight without credentials. Loopback origins,
// which originGuard lets through, get no CORS headers unless listed: a page on another local
// port may call, but not read, without the operator saying so.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range s.opts.origins {
		allowed[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	if len(allowed) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !allowed[strings.ToLower(origin)] {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", corsExposed)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
				h.Set("Access-Control-Allow-Headers", asked)
			}
			h.Set("Access-Control-Max-Age", "7200")
			h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
