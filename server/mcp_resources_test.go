package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	"github.com/agentbridge/agentbridge/server"
)

// newDemoServer builds the demo from its config, as agentbridge demo does, in front of the
// legacy system, whose URL it returns too.
func newDemoServer(t *testing.T, adjust func(*server.Config), opts ...server.Option) (*server.Server, string) {
	t.Helper()
	legacy := httptest.NewServer(demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }))
	t.Cleanup(legacy.Close)
	cfg := demo.InventoryConfig(legacy.URL + "/inventory")
	if adjust != nil {
		adjust(cfg)
	}
	srv, err := cfg.Build(append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return srv, legacy.URL + "/inventory"
}

func readText(t *testing.T, session *mcp.ClientSession, uri string) (string, error) {
	t.Helper()
	res, err := session.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		return "", err
	}
	if len(res.Contents) != 1 || res.Contents[0].URI != uri {
		t.Fatalf("resources/read %s: %+v", uri, res.Contents)
	}
	return res.Contents[0].Text, nil
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// TestMCPResources reads the demo's contract as MCP resources over both transports: the
// OpenAPI document as /openapi.json serves it, the proto file as a FileDescriptorProto with its
// comments, and the legacy system's WSDL as its ?wsdl serves it.
func TestMCPResources(t *testing.T) {
	t.Parallel()
	srv, legacyURL := newDemoServer(t, nil)
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, nil)
	base := serveHTTP(t, srv)
	httpSession, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = httpSession.Close() })
	const protoURI = server.ProtoResourcePrefix + "agentbridge/demo/v1/inventory.proto"
	for transport, session := range map[string]*mcp.ClientSession{"streamable HTTP": httpSession, "stdio": stdioSession(t, srv, nil)} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			list, err := session.ListResources(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var uris []string
			for _, r := range list.Resources {
				uris = append(uris, r.URI)
				if r.Description == "" || r.MIMEType == "" || r.Name == "" {
					t.Errorf("resource %+v lacks a name, description or MIME type", r)
				}
			}
			want := []string{server.OpenAPIResourceURI, protoURI, server.WSDLResourcePrefix + "inventory"}
			if !slices.Equal(uris, want) {
				t.Errorf("resources %v, want %v", uris, want)
			}

			openapi, err := readText(t, session, server.OpenAPIResourceURI)
			if err != nil || openapi != httpGet(t, base+"/openapi.json") {
				t.Errorf("openapi.json: %v, and it differs from /openapi.json", err)
			}

			text, err := readText(t, session, protoURI)
			if err != nil {
				t.Fatal(err)
			}
			var fdp descriptorpb.FileDescriptorProto
			if err := protojson.Unmarshal([]byte(text), &fdp); err != nil {
				t.Fatalf("the proto resource is not a FileDescriptorProto: %v", err)
			}
			commented := slices.ContainsFunc(fdp.GetSourceCodeInfo().GetLocation(), func(l *descriptorpb.SourceCodeInfo_Location) bool {
				return strings.Contains(l.GetLeadingComments(), "GetItem returns one stock item")
			})
			if fdp.GetName() != "agentbridge/demo/v1/inventory.proto" || len(fdp.GetService()) != 1 || fdp.GetService()[0].GetName() != "InventoryService" || !commented {
				t.Errorf("proto resource: %s, %d services, comments %v", fdp.GetName(), len(fdp.GetService()), commented)
			}

			wsdl, err := readText(t, session, server.WSDLResourcePrefix+"inventory")
			if err != nil || wsdl != httpGet(t, legacyURL+"?wsdl") || !strings.Contains(wsdl, "definitions") {
				t.Errorf("WSDL: %v: %.200s", err, wsdl)
			}

			if _, err := readText(t, session, server.ProtoResourcePrefix+"no/such.proto"); err == nil {
				t.Error("an unknown resource was read")
			}
		})
	}
}

// TestMCPResourcesFollowReload reloads with one service fewer: clients hear that the resource
// list changed, the gone service's proto file is no longer listed, and a client subscribed to
// the OpenAPI document hears that it was updated.
func TestMCPResourcesFollowReload(t *testing.T) {
	t.Parallel()
	srv, _ := newSlowServer(t)
	listChanged := make(chan string, 8)
	updated := make(chan string, 8)
	opts := func(transport string) *mcp.ClientOptions {
		return &mcp.ClientOptions{
			ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { listChanged <- transport },
			ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
				updated <- transport + " " + req.Params.URI
			},
		}
	}
	// 2025-11-25 on both transports: its resources/subscribe is answered once the server has
	// the subscription, and notifications reach the session directly. The sessionless
	// protocol's client subscribes with a subscriptions/listen stream that it does not wait
	// for, so a reload right after could come first.
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, opts("streamable HTTP"))
	httpSession, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: serveHTTP(t, srv) + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = httpSession.Close() })
	sessions := map[string]*mcp.ClientSession{"streamable HTTP": httpSession, "stdio": stdioSessionVersion(t, srv, opts("stdio"), "2025-11-25")}
	const streamProto = server.ProtoResourcePrefix + "agentbridge/testing/v1/stream.proto"
	for transport, session := range sessions {
		if uris := resourceURIs(t, session); !slices.Contains(uris, streamProto) {
			t.Fatalf("%s: resources %v lack %s", transport, uris, streamProto)
		}
		if err := session.Subscribe(t.Context(), &mcp.SubscribeParams{URI: server.OpenAPIResourceURI}); err != nil {
			t.Fatalf("%s: subscribe: %v", transport, err)
		}
	}

	services := srv.Services()
	if err := srv.Reload(services[:1], server.MCPOptions{}); err != nil {
		t.Fatal(err)
	}
	heard := map[string]bool{}
	for range 4 {
		select {
		case transport := <-listChanged:
			heard[transport+" list changed"] = true
		case what := <-updated:
			heard[what] = true
		case <-time.After(waitLimit):
			t.Fatalf("heard only %v within %s", heard, waitLimit)
		}
	}
	for transport, session := range sessions {
		for _, want := range []string{transport + " list changed", transport + " " + server.OpenAPIResourceURI} {
			if !heard[want] {
				t.Errorf("did not hear %q; heard %v", want, heard)
			}
		}
		if uris := resourceURIs(t, session); slices.Contains(uris, streamProto) {
			t.Errorf("%s: after the reload, resources %v still list %s", transport, uris, streamProto)
		}
	}
}

func resourceURIs(t *testing.T, session *mcp.ClientSession) []string {
	t.Helper()
	list, err := session.ListResources(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
	}
	return uris
}

// TestMCPWSDLFetchIsBounded reads WSDLs that are too large, too slow, elsewhere by redirect, not
// XML or missing: each read fails with a message naming the backend and the cause, and a
// backend's credentials never travel with the fetch.
func TestMCPWSDLFetchIsBounded(t *testing.T) {
	t.Parallel()
	const wsdl = `<?xml version="1.0"?><definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>`
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, wsdl) }))
	t.Cleanup(elsewhere.Close)
	sawCredentials := make(chan string, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"X-Api-Key", "Authorization", "Cookie"} {
			if v := r.Header.Get(h); v != "" {
				sawCredentials <- h + ": " + v
			}
		}
		_, _ = io.WriteString(w, wsdl)
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "<definitions>"+strings.Repeat("x", 64<<10))
	})
	mux.HandleFunc("/slow", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/html", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello, not XML") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/ok", http.StatusFound)
	})
	wsdlHost := httptest.NewServer(mux)
	t.Cleanup(wsdlHost.Close)
	file := filepath.Join(t.TempDir(), "service.wsdl")
	if err := os.WriteFile(file, []byte(wsdl), 0o600); err != nil {
		t.Fatal(err)
	}

	sources := map[string]string{
		"ok": wsdlHost.URL + "/ok", "large": wsdlHost.URL + "/large", "slow": wsdlHost.URL + "/slow", "html": wsdlHost.URL + "/html",
		"fail": wsdlHost.URL + "/fail", "moved": wsdlHost.URL + "/moved", "away": wsdlHost.URL + "/away", "file": file,
		"missing": filepath.Join(t.TempDir(), "none.wsdl"),
	}
	srv, _ := newDemoServer(t, func(c *server.Config) {
		for name, src := range sources {
			// Every backend carries credentials for its endpoint, which the fetch must not send.
			c.Backends[name] = adapters.Backend{Kind: "soap", Endpoint: wsdlHost.URL + "/soap", WSDL: src, Headers: map[string]string{"X-Api-Key": "secret"}}
		}
	}, server.WithWSDLFetchBounds(200*time.Millisecond, 32<<10))
	session := stdioSession(t, srv, nil)
	for _, tc := range []struct {
		backend string
		err     string // "" when the read succeeds
	}{
		{"ok", ""},
		{"file", ""},
		{"moved", ""},
		{"large", "larger than 32768 bytes"},
		{"slow", "no answer within 200ms"},
		{"html", "not XML"},
		{"fail", "its server answered HTTP 500"},
		{"away", "redirected to another origin"},
		{"missing", "its file cannot be opened: no such file"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel()
			text, err := readText(t, session, server.WSDLResourcePrefix+tc.backend)
			switch {
			case tc.err == "" && (err != nil || text != wsdl):
				t.Errorf("got %q, %v", text, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), `the WSDL of backend "`+tc.backend+`" could not be read`) || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("got %v, want an error with %q", err, tc.err)
			case err != nil && (strings.Contains(err.Error(), wsdlHost.URL) || strings.Contains(err.Error(), "none.wsdl")):
				t.Errorf("the error %v names the WSDL's location", err)
			}
		})
	}
	t.Cleanup(func() {
		select {
		case h := <-sawCredentials:
			t.Errorf("a WSDL fetch sent %s", h)
		default:
		}
	})
}
