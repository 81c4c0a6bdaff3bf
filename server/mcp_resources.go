package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/gen/descriptorset"
	"github.com/agentbridge/agentbridge/server/contract"
)

// The stable URIs of the contract resources. A proto file is named by its import path, a
// WSDL by its backend's name.
const (
	OpenAPIResourceURI  = "agentbridge://openapi.json"
	ProtoResourcePrefix = "agentbridge://proto/"
	WSDLResourcePrefix  = "agentbridge://wsdl/"
)

// Bounds on fetching a WSDL: a backend's description can be large (XSD included) but must not
// hold a resources/read for long or fill memory.
const (
	defaultWSDLTimeout  = 10 * time.Second
	defaultWSDLMaxBytes = 4 << 20
	wsdlRetryAfter      = 10 * time.Second // a failed fetch is not retried sooner
	wsdlMaxRedirects    = 3
)

// mcpResource is one contract document offered as an MCP resource. Its content is made with
// the generation, except a WSDL's, which is fetched when first read.
type mcpResource struct {
	resource *mcp.Resource
	content  []byte
	wsdl     *wsdlFetcher
	version  string // changes when the content does, for notifications/resources/updated
}

// buildResources lists g's contract documents, sorted by URI: the OpenAPI document, every
// served proto file with the files it imports (but the option and well-known files every
// contract imports), and the WSDL of each backend that names one.
func (s *Server) buildResources(g *generation) []*mcpResource {
	var out []*mcpResource
	if g.openapi != nil {
		out = append(out, textResource(&mcp.Resource{
			URI:         OpenAPIResourceURI,
			Name:        "openapi.json",
			Title:       "OpenAPI document of the served services",
			Description: "The OpenAPI 3.1 document of the REST/JSON routes of every served service, as /openapi.json serves it: paths, request and response schemas, errors.",
			MIMEType:    "application/json",
		}, g.openapi))
	}
	for _, fd := range servedFiles(g) {
		if text, ok := contract.Source(fd); ok {
			// Compiled from a .proto at start-up: the file as its author wrote it.
			out = append(out, textResource(&mcp.Resource{
				URI:         ProtoResourcePrefix + fd.Path(),
				Name:        "proto/" + fd.Path(),
				Title:       "proto file " + fd.Path(),
				Description: "The proto source of " + fd.Path() + " (package " + string(fd.Package()) + "): its messages, enums, services, comments and options (bindings included), as compiled.",
				MIMEType:    "text/x-protobuf",
			}, text))
			continue
		}
		data, err := protojson.Marshal(fileDescriptorProto(fd))
		if err != nil {
			s.log.Warn("a proto file cannot be offered as an MCP resource", "file", fd.Path(), "err", err)
			continue
		}
		out = append(out, textResource(&mcp.Resource{
			URI:   ProtoResourcePrefix + fd.Path(),
			Name:  "proto/" + fd.Path(),
			Title: "proto file " + fd.Path(),
			Description: "The proto file " + fd.Path() + " (package " + string(fd.Package()) + "), linked into the binary or read from a descriptor set, so without its source text, as a google.protobuf.FileDescriptorProto in JSON: " +
				"its messages, enums, services and options (bindings included), with comments under sourceCodeInfo where the contract carries them.",
			MIMEType: "application/json",
		}, data))
	}
	backends := make([]string, 0, len(g.mcpOpts.WSDL))
	for b := range g.mcpOpts.WSDL {
		backends = append(backends, b)
	}
	sort.Strings(backends)
	for _, b := range backends {
		src := g.mcpOpts.WSDL[b]
		out = append(out, &mcpResource{
			resource: &mcp.Resource{
				URI:   WSDLResourcePrefix + url.PathEscape(b),
				Name:  "wsdl/" + b,
				Title: "WSDL of backend " + b,
				Description: fmt.Sprintf("The WSDL that describes the legacy backend %q, fetched from its configured location when read (at most %d bytes, %s): "+
					"the backend's own names for operations, messages and types.", b, s.opts.wsdlMaxBytes, s.opts.wsdlTimeout),
				MIMEType: "text/xml",
			},
			wsdl:    &wsdlFetcher{backend: b, source: src, timeout: s.opts.wsdlTimeout, maxBytes: s.opts.wsdlMaxBytes},
			version: src,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].resource.URI < out[j].resource.URI })
	return out
}

func textResource(r *mcp.Resource, content []byte) *mcpResource {
	r.Size = int64(len(content))
	sum := sha256.Sum256(content)
	return &mcpResource{resource: r, content: content, version: hex.EncodeToString(sum[:])}
}

// optionFiles are imported by nearly every contract for their options or well-known types;
// they say nothing about a particular service, so they are not offered.
var optionFiles = []string{"google/protobuf/", "google/api/", "buf/validate/", "agentbridge/v1/options.proto", "agentbridge/v1/http.proto", "agentbridge/v1/xmlrpc.proto"}

// servedFiles returns the files that declare g's services and the files they import, sorted
// by path.
func servedFiles(g *generation) []protoreflect.FileDescriptor {
	seen := map[string]protoreflect.FileDescriptor{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if _, ok := seen[fd.Path()]; ok {
			return
		}
		if slices.ContainsFunc(optionFiles, func(p string) bool { return strings.HasPrefix(fd.Path(), p) }) {
			return
		}
		seen[fd.Path()] = fd
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
	}
	for _, svc := range g.services {
		add(svc.Desc.ParentFile())
	}
	files := make([]protoreflect.FileDescriptor, 0, len(seen))
	for _, fd := range seen {
		files = append(files, fd)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })
	return files
}

// fileDescriptorProto returns fd as a FileDescriptorProto. A file linked into the binary has
// no comments (protoc-gen-go drops them); agentbridge's own files get theirs back from the
// descriptor set make generate embeds.
func fileDescriptorProto(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	fdp := protodesc.ToFileDescriptorProto(fd)
	if fdp.SourceCodeInfo == nil {
		if info := embeddedSourceInfo()[fd.Path()]; info != nil {
			fdp.SourceCodeInfo = info
		}
	}
	return fdp
}

// embeddedSourceInfo maps agentbridge's own proto files to their source info.
var embeddedSourceInfo = sync.OnceValue(func() map[string]*descriptorpb.SourceCodeInfo {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(descriptorset.Bytes, &set); err != nil {
		return nil
	}
	out := map[string]*descriptorpb.SourceCodeInfo{}
	for _, f := range set.GetFile() {
		if f.SourceCodeInfo != nil {
			out[f.GetName()] = f.GetSourceCodeInfo()
		}
	}
	return out
})

// resource returns g's resource of that URI, or nil.
func (g *generation) resource(uri string) *mcpResource {
	i, ok := slices.BinarySearchFunc(g.resources, uri, func(r *mcpResource, uri string) int { return strings.Compare(r.resource.URI, uri) })
	if !ok {
		return nil
	}
	return g.resources[i]
}

// updateMCPResources brings every toolset's MCP server to g's resources, as updateMCP does for
// tools: the SDK sends notifications/resources/list_changed when the list changes, and
// subscribers of a resource whose content changed hear notifications/resources/updated.
func (s *Server) updateMCPResources(g *generation) {
	s.mcpMu.Lock()
	defer s.mcpMu.Unlock()
	if s.mcpResources == nil {
		s.mcpResources = map[string]map[string]servedResource{}
	}
	for name, srv := range s.mcp {
		have := s.mcpResources[name]
		if have == nil {
			have = map[string]servedResource{}
			s.mcpResources[name] = have
		}
		want := map[string]bool{}
		var updated []string
		if _, served := g.toolsets[name]; served {
			for _, r := range g.resources {
				uri := r.resource.URI
				want[uri] = true
				def, _ := json.Marshal(r.resource)
				old, had := have[uri]
				if !had || !bytes.Equal(old.def, def) {
					srv.AddResource(r.resource, s.readResource)
				}
				if had && old.version != r.version {
					updated = append(updated, uri)
				}
				have[uri] = servedResource{def: def, version: r.version}
			}
		}
		var gone []string
		for uri := range have {
			if !want[uri] {
				gone = append(gone, uri)
				delete(have, uri)
			}
		}
		if len(gone) > 0 {
			srv.RemoveResources(gone...)
		}
		for _, uri := range updated {
			_ = srv.ResourceUpdated(context.Background(), &mcp.ResourceUpdatedNotificationParams{URI: uri})
		}
	}
	s.updateMCPEventResources(g) // event sources (mcp_events.go)
}

// servedResource is what a toolset's MCP server has of one resource.
type servedResource struct {
	def     []byte // the mcp.Resource as JSON
	version string
}

// readResource answers resources/read from the generation current when the read starts.
func (s *Server) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	r := s.gen.Load().resource(uri)
	if r == nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	data := r.content
	if r.wsdl != nil {
		var err error
		if data, err = r.wsdl.get(ctx); err != nil {
			s.log.Warn("the WSDL of a backend could not be read", "backend", r.wsdl.backend, "err", err)
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
		}
	}
	c := &mcp.ResourceContents{URI: uri, MIMEType: r.resource.MIMEType}
	if utf8.Valid(data) {
		c.Text = string(data)
	} else {
		c.Blob = data // a WSDL in another encoding than UTF-8 reaches the agent unchanged
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{c}}, nil
}

// subscribeResource accepts subscriptions to the resources the server has.
func (s *Server) subscribeResource(ctx context.Context, req *mcp.SubscribeRequest) error {
	if strings.HasPrefix(req.Params.URI, EventsResourcePrefix) {
		return s.subscribeEvents(ctx, req) // mcp_events.go
	}
	if s.gen.Load().resource(req.Params.URI) == nil {
		return mcp.ResourceNotFoundError(req.Params.URI)
	}
	return nil
}

// wsdlFetcher reads one backend's WSDL when it is first asked for, and keeps it for the
// generation's life (a reload fetches it again). One fetch runs at a time, so a burst of reads
// makes one request to the backend.
type wsdlFetcher struct {
	backend, source string
	timeout         time.Duration
	maxBytes        int64

	mu       sync.Mutex
	data     []byte
	err      error
	failedAt time.Time
}

func (f *wsdlFetcher) get(ctx context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data != nil {
		return f.data, nil
	}
	if f.err != nil && time.Since(f.failedAt) < wsdlRetryAfter {
		return nil, f.err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	data, err := f.fetch(ctx)
	if err != nil {
		err = fmt.Errorf("the WSDL of backend %q could not be read: %w", f.backend, err)
		if !errors.Is(err, context.Canceled) {
			f.err, f.failedAt = err, time.Now()
		}
		return nil, err
	}
	f.data, f.err = data, nil
	return data, nil
}

// fetch reads the WSDL from a URL or a file, within the size bound. It sends no credentials:
// a backend's configured headers are for its endpoint, and the WSDL may live elsewhere; a
// WSDL that needs them can be saved to a file. Redirects are followed only within the URL's
// origin, so a redirect cannot send the request, or credentials in the URL, to another host.
// Errors reach agents, so they name neither the URL (it may hold a token) nor the file.
func (f *wsdlFetcher) fetch(ctx context.Context) ([]byte, error) {
	var body io.Reader
	if u, err := url.Parse(f.source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.source, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/xml, application/wsdl+xml, application/xml;q=0.9")
		resp, err := wsdlClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no answer within %s: %w", f.timeout, ctx.Err())
			}
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("its server answered HTTP %d", resp.StatusCode)
		}
		body = resp.Body
	} else {
		file, err := os.Open(filepath.Clean(f.source))
		if err != nil {
			var perr *fs.PathError
			if errors.As(err, &perr) {
				err = perr.Err
			}
			return nil, fmt.Errorf("its file cannot be opened: %w", err)
		}
		defer func() { _ = file.Close() }()
		body = file
	}
	data, err := io.ReadAll(io.LimitReader(body, f.maxBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("not read within %s: %w", f.timeout, ctx.Err())
		}
		return nil, err
	}
	if int64(len(data)) > f.maxBytes {
		return nil, fmt.Errorf("it is larger than %d bytes", f.maxBytes)
	}
	if trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"); !bytes.HasPrefix(trimmed, []byte("<")) {
		return nil, errors.New("it is not XML")
	}
	return data, nil
}

// wsdlClient fetches WSDLs: its own connection pool, and redirects only within the origin.
var wsdlClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: defaultWSDLTimeout,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > wsdlMaxRedirects {
			return fmt.Errorf("more than %d redirects", wsdlMaxRedirects)
		}
		if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return errors.New("redirected to another origin; name the final location in the config")
		}
		return nil
	},
}
