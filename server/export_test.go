package server

import (
	"context"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
)

// GeneratedRegistration wraps one service's generated RegisterXHandlerClient.
type GeneratedRegistration func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error

// RuntimeREST is s's REST surface as it serves it: routes built at run time from descriptors.
func RuntimeREST(s *Server) (http.Handler, error) {
	return s.newREST(s.gen.Load())
}

// GeneratedREST is s's REST surface as grpc-gateway's generated handlers build it, calling s in
// process through inprocConn, on a mux with the same options and the same body bound as
// RuntimeREST: the reference the differential test compares RuntimeREST with.
func GeneratedREST(s *Server, registrations ...GeneratedRegistration) (http.Handler, error) {
	g := s.gen.Load()
	mux := runtime.NewServeMux(restMuxOptions(g)...)
	conn := &inprocConn{s: s, g: g}
	for _, register := range registrations {
		if err := register(context.Background(), mux, conn); err != nil {
			return nil, err
		}
	}
	return boundBody(s.opts.maxBody, mux), nil
}

// WithWSDLFetchBounds sets how long and how large a WSDL fetch for an MCP resource may be,
// so tests of the bounds need not wait or send the defaults.
func WithWSDLFetchBounds(timeout time.Duration, maxBytes int64) Option {
	return func(o *options) { o.wsdlTimeout, o.wsdlMaxBytes = timeout, maxBytes }
}

// WithDrainEnd ends the shutdown drain (WithDrainDelay) when end is closed, so a test of the
// drain need not wait for it.
func WithDrainEnd(end chan struct{}) Option { return func(o *options) { o.drainDone = end } }
