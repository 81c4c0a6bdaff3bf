package server

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestRESTMetadataAsGateway: restMetadata gives the metadata, timeout and errors that
// grpc-gateway's AnnotateContext gives for the REST mux's header matcher, on random requests
// over the cases the gateway treats apart: Authorization, Grpc-Metadata- names, -bin values
// (padded, unpadded, broken), values that are not printable ASCII, names that are not metadata
// keys, X-Forwarded-*, Host, the client's address and grpc-timeout.
func TestRESTMetadataAsGateway(t *testing.T) {
	mux := runtime.NewServeMux(runtime.WithIncomingHeaderMatcher(restHeaderToMetadata))
	names := []string{
		"Authorization", "Grpc-Metadata-Authorization", "X-Request-Id", "Grpc-Metadata-X-Tenant",
		"Grpc-Metadata-X-Forwarded-For", "Grpc-Metadata-X-Forwarded-Host", "X-Forwarded-For",
		"X-Forwarded-Host", "Trace-Bin", "Grpc-Metadata-Trace-Bin", "Accept", "Content-Type",
		"Connection", "Grpc-Accept-Encoding", "X_Under_Score", "Bad Name", "Caf\u00e9", "User-Agent",
	}
	values := []string{
		"Bearer abc.def", "plain", "", " spaced out ", "caf\u00e9", "tab\there", "AQID", "AQI", "AQI=",
		"!!notbase64", "10.0.0.1", "example.com:8443",
	}
	timeouts := []string{"", "", "", "5S", "100m", "2M", "1H", "9n", "x", "5", "5X", "-1S", "99999999999999999999H"}
	remotes := []string{"192.0.2.7:51234", "[2001:db8::1]:443", "no-port", ""}
	hosts := []string{"api.example.com", "", "h\u00e9st"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		req := httptest.NewRequest(http.MethodPost, "http://api.example.com/v1/x", nil)
		req.Header = http.Header{}
		for range rng.IntN(6) {
			name := names[rng.IntN(len(names))]
			req.Header[name] = append(req.Header[name], values[rng.IntN(len(values))])
		}
		if tm := timeouts[rng.IntN(len(timeouts))]; tm != "" {
			req.Header.Set("Grpc-Timeout", tm)
		}
		req.RemoteAddr = remotes[rng.IntN(len(remotes))]
		req.Host = hosts[rng.IntN(len(hosts))]

		var skips []string
		md, timeout, err := restMetadata(req, func(h, _ string) { skips = append(skips, h) })
		before := time.Now()
		ctx, gerr := runtime.AnnotateContext(context.Background(), mux, req, "/x.Y/Z")
		if (err == nil) != (gerr == nil) {
			t.Fatalf("request %d %v: error %v, gateway %v", i, req.Header, err, gerr)
		}
		if err != nil {
			// Of two broken -bin headers, which one is reported follows map order.
			bothBin := strings.Contains(err.Error(), "invalid binary header") && strings.Contains(gerr.Error(), "invalid binary header")
			if status.Convert(err).Code() != status.Convert(gerr).Code() || (err.Error() != gerr.Error() && !bothBin) {
				t.Fatalf("request %d: error %q, gateway %q", i, err, gerr)
			}
			continue
		}
		want, _ := metadata.FromOutgoingContext(ctx)
		if !sameMetadata(md, want) {
			t.Fatalf("request %d %v host %q remote %q:\n got %v\nwant %v", i, req.Header, req.Host, req.RemoteAddr, md, want)
		}
		if auth := req.Header.Values("Authorization"); len(auth) > 0 && printableASCII(auth[0]) && md["authorization"][0] != auth[0] {
			t.Fatalf("request %d: authorization %v does not start with the Authorization header %q", i, md["authorization"], auth[0])
		}
		deadline, has := ctx.Deadline()
		if has != (timeout != 0) {
			t.Fatalf("request %d (grpc-timeout %q): timeout %v, gateway deadline %v", i, req.Header.Get("Grpc-Timeout"), timeout, has)
		}
		if has && timeout < time.Hour {
			if d := deadline.Sub(before); d < timeout-time.Second || d > timeout+time.Second {
				t.Fatalf("request %d: timeout %v, gateway's deadline in %v", i, timeout, d)
			}
		}
		for _, h := range skips {
			if _, ok := restHeaderToMetadata(h); !ok {
				t.Fatalf("request %d: reported %q skipped, which the matcher never passes", i, h)
			}
		}
	}
}

// TestRESTMetadataReportsSkips: each header the gateway would drop is reported with its name.
func TestRESTMetadataReportsSkips(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "http://h/v1/x", nil)
	req.Header = http.Header{
		"X-Tenant":                      {"caf\u00e9"},
		"Grpc-Metadata-X-Forwarded-For": {"6.6.6.6"},
		"Bad Name":                      {"v"},
		"X-Fine":                        {"ok"},
	}
	var skips []string
	md, _, err := restMetadata(req, func(h, why string) { skips = append(skips, h+": "+why) })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(skips)
	want := []string{
		"Bad Name: it is not a valid gRPC metadata name",
		"Grpc-Metadata-X-Forwarded-For: it would name the gateway's own x-forwarded-for",
		"X-Tenant: its value is not printable ASCII",
	}
	if !slices.Equal(skips, want) {
		t.Fatalf("skipped %q, want %q", skips, want)
	}
	if got := md["x-fine"]; !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("x-fine = %q", got)
	}
	if got := md["x-forwarded-for"]; len(got) != 1 || strings.Contains(got[0], "6.6.6.6") {
		t.Fatalf("x-forwarded-for = %q: a client header must not reach it", got)
	}
}

// sameMetadata compares metadata key by key, each key's values in any order: where two headers
// map to one key (Authorization and Grpc-Metadata-Authorization) the gateway's order follows
// Go's map iteration.
func sameMetadata(got, want metadata.MD) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return false
		}
		g, w = slices.Clone(g), slices.Clone(w)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			return false
		}
	}
	return true
}

// TestSkippedHeaderCountedLoggedOnce: every skip is counted by reason; each header and reason
// is logged once.
func TestSkippedHeaderCountedLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	s.metrics = newMetrics(s)
	for range 3 {
		s.skippedHeader("X-Tenant", "its value is not printable ASCII")
	}
	s.skippedHeader("Bad Name", "it is not a valid gRPC metadata name")
	var counted dto.Metric
	if err := s.metrics.skippedHeaders.WithLabelValues("its value is not printable ASCII").Write(&counted); err != nil || counted.GetCounter().GetValue() != 3 {
		t.Fatalf("counted %v non-ASCII skips (%v), want 3", counted.GetCounter().GetValue(), err)
	}
	if n := strings.Count(logs.String(), "REST request header not passed on"); n != 2 {
		t.Fatalf("%d log lines, want one per header and reason:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "header=X-Tenant") || !strings.Contains(logs.String(), `header="Bad Name"`) {
		t.Fatalf("log does not name the headers:\n%s", logs.String())
	}
}
