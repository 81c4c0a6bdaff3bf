package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server"
)

// The differential test serves the same methods twice, once through grpc-gateway's generated
// handlers (gen/**/*.pb.gw.go) and once through the routes the server builds at run time from
// descriptors, sends both the same requests, well-formed and not, and requires the same status,
// headers, trailers and body bytes.

// diffMaxBody is small so that a test body can exceed it.
const diffMaxBody = 512

// diffRequest is one request of the table.
type diffRequest struct {
	name    string
	method  string
	path    string // with the query
	body    string
	header  map[string]string
	chunked bool // send the body without a Content-Length
	want    int  // the status the generated gateway answers, to keep the table honest
}

// diffResponse is what the comparison looks at: everything but the Date header.
type diffResponse struct {
	status   int
	header   http.Header
	trailer  http.Header
	encoding []string
	body     []byte
}

func TestRESTMatchesGeneratedGateway(t *testing.T) {
	t.Parallel()
	// Each side has its own server and legacy backend, and the requests run in order, not in
	// parallel, so that reservations change both backends alike.
	generated, err := server.GeneratedREST(newDiffServer(t),
		func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return demov1.RegisterInventoryServiceHandlerClient(ctx, mux, demov1.NewInventoryServiceClient(cc))
		},
		func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return testingv1.RegisterCalculatorServiceHandlerClient(ctx, mux, testingv1.NewCalculatorServiceClient(cc))
		},
		func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return testingv1.RegisterNumberConversionServiceHandlerClient(ctx, mux, testingv1.NewNumberConversionServiceClient(cc))
		},
		func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return testingv1.RegisterCountServiceHandlerClient(ctx, mux, testingv1.NewCountServiceClient(cc))
		},
		func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return testingv1.RegisterLibraryServiceHandlerClient(ctx, mux, testingv1.NewLibraryServiceClient(cc))
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	built, err := server.RuntimeREST(newDiffServer(t))
	if err != nil {
		t.Fatal(err)
	}
	genSrv := httptest.NewServer(generated)
	t.Cleanup(genSrv.Close)
	runSrv := httptest.NewServer(built)
	t.Cleanup(runSrv.Close)

	requests := diffTable()
	t.Logf("%d requests", len(requests))
	names := map[string]bool{}
	for _, r := range requests {
		if names[r.name] {
			t.Fatalf("two requests are named %q", r.name)
		}
		names[r.name] = true
		t.Run(r.name, func(t *testing.T) {
			want := sendDiff(t, genSrv, r)
			got := sendDiff(t, runSrv, r)
			if want.status != r.want {
				t.Errorf("generated gateway: status %d, the table expects %d; body %s", want.status, r.want, want.body)
			}
			compareDiff(t, want, got)
		})
	}
}

func compareDiff(t *testing.T, want, got diffResponse) {
	t.Helper()
	if got.status != want.status {
		t.Errorf("status %d, generated %d", got.status, want.status)
	}
	if d := diffHeaders(want.header, got.header); d != "" {
		t.Errorf("headers differ:\n%s", d)
	}
	if d := diffHeaders(want.trailer, got.trailer); d != "" {
		t.Errorf("trailers differ:\n%s", d)
	}
	if !slices.Equal(got.encoding, want.encoding) {
		t.Errorf("transfer encoding %v, generated %v", got.encoding, want.encoding)
	}
	if !bytes.Equal(got.body, want.body) {
		t.Errorf("body differs\n run time: %s\ngenerated: %s", got.body, want.body)
	}
}

func diffHeaders(want, got http.Header) string {
	var b strings.Builder
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	// Each side makes up its own request id when the request carries none.
	delete(keys, "Grpc-Metadata-X-Request-Id")
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		w, g := slices.Clone(want[k]), slices.Clone(got[k])
		slices.Sort(w)
		slices.Sort(g)
		if !slices.Equal(w, g) {
			fmt.Fprintf(&b, "  %s: run time %q, generated %q\n", k, g, w)
		}
	}
	return b.String()
}

func sendDiff(t *testing.T, srv *httptest.Server, r diffRequest) diffResponse {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
		if r.chunked {
			body = io.MultiReader(body) // hides the length, so the client sends it chunked
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, srv.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	header := resp.Header.Clone()
	header.Del("Date")
	return diffResponse{status: resp.StatusCode, header: header, trailer: resp.Trailer, encoding: resp.TransferEncoding, body: data}
}

// newDiffServer serves the demo (over its legacy SOAP system, with a fixed clock), the
// calculator, number conversion, count and library test services implemented in Go, behind an
// interceptor that sets headers and trailers and fails on request.
func newDiffServer(t *testing.T) *server.Server {
	t.Helper()
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	backend := httptest.NewServer(legacy)
	t.Cleanup(backend.Close)
	services, err := demo.InventoryConfig(backend.URL + "/inventory").BuildServices()
	if err != nil {
		t.Fatal(err)
	}
	services = append(services, calculatorService(), numbersService(), countService(), libraryService())
	srv, err := server.New(services,
		server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithMaxBodyBytes(diffMaxBody),
		server.WithInterceptors(diffInterceptor),
	)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// diffInterceptor answers x-echo with headers and a trailer, and x-fail with an error that has
// details, so the test sees metadata and statuses cross the REST surface.
func diffInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-echo"); len(v) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-seen", strings.Join(v, ","), "x-surface", string(server.SurfaceFromContext(ctx))))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done"))
	}
	if v := md.Get("x-fail"); len(v) > 0 {
		st, err := status.New(codes.PermissionDenied, "denied: "+v[0]).WithDetails(&errdetails.ErrorInfo{Reason: "TEST_DENIED", Domain: "agentbridge.test"})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	return handler(ctx, req)
}

func calculatorService() server.Service {
	sd := testingv1.File_agentbridge_testing_v1_calculator_proto.Services().ByName("CalculatorService")
	return server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{
		"Add": func(_ context.Context, req proto.Message) (proto.Message, error) {
			r := req.(*testingv1.AddRequest)
			return &testingv1.AddResponse{Value: r.GetIntA() + r.GetIntB()}, nil
		},
		"Subtract": func(_ context.Context, req proto.Message) (proto.Message, error) {
			r := req.(*testingv1.SubtractRequest)
			return &testingv1.SubtractResponse{Value: r.GetIntA() - r.GetIntB()}, nil
		},
		"Divide": func(_ context.Context, req proto.Message) (proto.Message, error) {
			r := req.(*testingv1.DivideRequest)
			if r.GetIntB() == 0 {
				return nil, status.Error(codes.InvalidArgument, "division by zero")
			}
			return &testingv1.DivideResponse{Value: r.GetIntA() / r.GetIntB()}, nil
		},
		"Multiply": func(context.Context, proto.Message) (proto.Message, error) {
			return nil, status.Error(codes.Unimplemented, "the backend has no multiply")
		},
	}}
}

func numbersService() server.Service {
	sd := testingv1.File_agentbridge_testing_v1_numberconversion_proto.Services().ByName("NumberConversionService")
	return server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{
		"NumberToWords": func(_ context.Context, req proto.Message) (proto.Message, error) {
			return &testingv1.NumberToWordsResponse{NumberToWordsResult: fmt.Sprintf("number %d", req.(*testingv1.NumberToWordsRequest).GetUbiNum())}, nil
		},
		"NumberToDollars": func(_ context.Context, req proto.Message) (proto.Message, error) {
			return &testingv1.NumberToDollarsResponse{NumberToDollarsResult: req.(*testingv1.NumberToDollarsRequest).GetDNum() + " dollars"}, nil
		},
	}}
}

// countService counts up to up_to; it fails before the first message for 14 and after two
// messages for 13.
func countService() server.Service {
	sd := testingv1.File_agentbridge_testing_v1_stream_proto.Services().ByName("CountService")
	return server.Service{Desc: sd, Streams: map[protoreflect.Name]adapters.ServerStream{
		"Count": func(_ context.Context, req proto.Message, send func(proto.Message) error) error {
			upTo := req.(*testingv1.CountRequest).GetUpTo()
			if upTo == 14 {
				return status.Error(codes.FailedPrecondition, "fourteen is not counted")
			}
			for i := int32(1); i <= upTo; i++ {
				if upTo == 13 && i == 3 {
					return status.Error(codes.DataLoss, "lost count at 3")
				}
				if err := send(&testingv1.CountResponse{N: i}); err != nil {
					return err
				}
			}
			return nil
		},
	}}
}

// echo answers with the request in the response's request field.
func echo(md protoreflect.MethodDescriptor) adapters.Unary {
	out := adapters.MessageType(md.Output())
	field := md.Output().Fields().ByName("request")
	return func(_ context.Context, req proto.Message) (proto.Message, error) {
		resp := out.New()
		resp.Set(field, protoreflect.ValueOfMessage(req.ProtoReflect()))
		return resp.Interface(), nil
	}
}

func libraryService() server.Service {
	sd := testingv1.File_agentbridge_testing_v1_library_proto.Services().ByName("LibraryService")
	methods := map[protoreflect.Name]adapters.Unary{}
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		if md.Output().Fields().ByName("request") != nil {
			methods[md.Name()] = echo(md)
		}
	}
	methods["ListBooks"] = func(_ context.Context, req proto.Message) (proto.Message, error) {
		r := req.(*testingv1.ListBooksRequest)
		resp := &testingv1.ListBooksResponse{}
		for i := range r.GetPageSize() {
			b := &testingv1.Book{
				Name:      fmt.Sprintf("shelves/%s/books/%d", r.GetShelf(), i),
				Title:     fmt.Sprintf("Title \"%d\"", i),
				Genre:     testingv1.Genre(i%4 + 1), // 4 is no value of Genre
				Authors:   []string{"A", "B"},
				Copies:    int64(i) << 40,
				Published: timestamppb.New(time.Date(2000+int(i), 1, 2, 3, 4, 5, 6, time.UTC)),
			}
			resp.Books = append(resp.Books, b)
			resp.Titles = append(resp.Titles, b.Title)
			resp.Genres = append(resp.Genres, b.Genre)
			if resp.Stock == nil {
				resp.Stock = map[string]int64{}
			}
			resp.Stock[b.Title] = b.Copies
		}
		resp.Total = int64(len(resp.Books)) << 33
		if len(resp.Books) > 0 {
			resp.First = resp.Books[0]
			resp.TopGenre = testingv1.Genre_GENRE_POETRY
			resp.Cover = []byte("cover\x00\xff")
			resp.Note = proto.String("a <note> & more")
			resp.Ratio = 0.1
		}
		return resp, nil
	}
	streams := map[protoreflect.Name]adapters.ServerStream{
		"WatchShelf": func(_ context.Context, req proto.Message, send func(proto.Message) error) error {
			r := req.(*testingv1.WatchShelfRequest)
			for i := range r.GetCount() {
				ev := &testingv1.WatchShelfResponse{Seq: i + 1}
				if i%2 == 0 {
					ev.Book = &testingv1.Book{Name: r.GetName() + fmt.Sprintf("/books/%d", i), Genre: testingv1.Genre_GENRE_HISTORY}
				}
				if err := send(ev); err != nil {
					return err
				}
			}
			if r.GetFailCode() != 0 {
				return status.Error(codes.Code(r.GetFailCode()), "the shelf went away")
			}
			return nil
		},
	}
	return server.Service{Desc: sd, Methods: methods, Streams: streams}
}

func h(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

const jsonCT = "application/json"

// diffTable is the requests both surfaces answer; the stateful ones (reservations) run in order.
func diffTable() []diffRequest {
	big := `{"quantity":1,"customerRef":"` + strings.Repeat("x", diffMaxBody) + `"}`
	fullQuery := "pageSize=5&big=9007199254740993&ubig=18446744073709551615&flag=true&ratio=0.5&score=1e3" +
		"&blob=aGk&genre=GENRE_FICTION&genres=1&genres=GENRE_POETRY&tags=a&tags=b&nums=1&nums=-2" +
		"&filter.author=x&filter.range.lo=3&filter.range.hi=4&filter.keywords=k1&filter.keywords=k2&filter.genre=2" +
		"&after=2020-01-02T03:04:05Z&within=1.5s&minRating=4.5&alias=al&mask=a,b.c&labels[k]=v&labels[k2]=v2" +
		"&codes[1]=GENRE_HISTORY&note=n&byTitle=t&dates=2020-01-01T00:00:00Z&dates=2021-01-01T00:00:00.5Z"
	return []diffRequest{
		// ---- the demo, over its legacy SOAP system ----
		{name: "inventory/get", method: "GET", path: "/v1/items/A-100", want: 200},
		{name: "inventory/get unknown sku", method: "GET", path: "/v1/items/B-999", want: 400},
		{name: "inventory/get backend offline", method: "GET", path: "/v1/items/Z-999", want: 500},
		{name: "inventory/get invalid sku", method: "GET", path: "/v1/items/bad", want: 400},
		{name: "inventory/get escaped path", method: "GET", path: "/v1/items/A%2D100", want: 200},
		{name: "inventory/get with ignored query", method: "GET", path: "/v1/items/A-100?sku=A-200", want: 200},
		{name: "inventory/get bad query escape", method: "GET", path: "/v1/items/A-100?%zz", want: 200},
		{name: "inventory/get with body", method: "GET", path: "/v1/items/A-100", body: `{"sku":"A-200"}`, want: 200},
		{name: "inventory/get trailing slash", method: "GET", path: "/v1/items/A-100/", want: 404},
		{name: "inventory/get extra segment", method: "GET", path: "/v1/items/A-100/extra", want: 404},
		{name: "inventory/get missing segment", method: "GET", path: "/v1/items/", want: 400},
		{name: "inventory/wrong verb", method: "DELETE", path: "/v1/items/A-100", want: 501},
		{name: "inventory/head", method: "HEAD", path: "/v1/items/A-100", want: 501},
		{name: "inventory/post to get route", method: "POST", path: "/v1/items/A-100", body: `{}`, want: 501},
		{name: "unknown path", method: "GET", path: "/v1/nothing", want: 404},
		{name: "root path", method: "GET", path: "/", want: 404},
		{name: "inventory/list", method: "GET", path: "/v1/items?category=tools&maxResults=2", want: 200},
		{name: "inventory/list proto names", method: "GET", path: "/v1/items?category=garden&max_results=1", want: 200},
		{name: "inventory/list both spellings", method: "GET", path: "/v1/items?category=tools&max_results=2&maxResults=3", want: 400},
		{name: "inventory/list bad number", method: "GET", path: "/v1/items?category=tools&maxResults=abc", want: 400},
		{name: "inventory/list repeated scalar", method: "GET", path: "/v1/items?category=tools&category=garden", want: 400},
		{name: "inventory/list bad escape", method: "GET", path: "/v1/items?category=%zz", want: 400},
		{name: "inventory/list unknown parameter", method: "GET", path: "/v1/items?category=tools&colour=red", want: 200},
		{name: "inventory/list nested unknown", method: "GET", path: "/v1/items?category.name=tools", want: 400},
		{name: "inventory/list map syntax on scalar", method: "GET", path: "/v1/items?category[x]=tools", want: 400},
		{name: "inventory/list invalid", method: "GET", path: "/v1/items", want: 400},
		// A form or XML body is refused before the mux (a browser sends them across sites
		// without a preflight); an empty form POST still falls back to the GET route.
		{name: "inventory/list form fallback", method: "POST", path: "/v1/items", body: "category=garden", header: h("Content-Type", "application/x-www-form-urlencoded"), want: 415},
		{name: "inventory/list method override", method: "POST", path: "/v1/items?category=tools", header: h("Content-Type", "application/x-www-form-urlencoded", "X-HTTP-Method-Override", "GET"), want: 200},
		{name: "inventory/reserve", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":2,"customerRef":"PO-1001"}`, want: 200},
		{name: "inventory/reserve again", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":3}`, header: h("Content-Type", jsonCT), want: 200},
		{name: "inventory/reserve path wins", method: "POST", path: "/v1/items/G-200:reserve", body: `{"sku":"A-100","quantity":1}`, want: 200},
		{name: "inventory/reserve too many", method: "POST", path: "/v1/items/G-200:reserve", body: `{"quantity":1000}`, want: 400},
		{name: "inventory/reserve discontinued", method: "POST", path: "/v1/items/A-400:reserve", body: `{"quantity":1}`, want: 400},
		{name: "inventory/reserve bad JSON", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":`, want: 400},
		{name: "inventory/reserve wrong type", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":"two"}`, want: 400},
		{name: "inventory/reserve fraction", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":1.5}`, want: 400},
		{name: "inventory/reserve unknown field", method: "POST", path: "/v1/items/G-100:reserve", body: `{"qty":1}`, want: 400},
		{name: "inventory/reserve null", method: "POST", path: "/v1/items/G-100:reserve", body: `null`, want: 400},
		{name: "inventory/reserve array", method: "POST", path: "/v1/items/G-100:reserve", body: `[]`, want: 400},
		{name: "inventory/reserve trailing data", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":1} {"x":`, want: 200},
		{name: "inventory/reserve empty body", method: "POST", path: "/v1/items/G-100:reserve", want: 400},
		{name: "inventory/reserve XML content type", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":1}`, header: h("Content-Type", "application/xml"), want: 415},
		{name: "inventory/reserve text/plain (CSRF)", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":1}`, header: h("Content-Type", "text/plain"), want: 415},
		{name: "inventory/reserve JSON with charset", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":1}`, header: h("Content-Type", "application/json; charset=utf-8"), want: 200},
		{name: "inventory/reserve oversized", method: "POST", path: "/v1/items/G-100:reserve", body: big, want: 429},
		{name: "inventory/reserve oversized chunked", method: "POST", path: "/v1/items/G-100:reserve", body: big, chunked: true, want: 400},
		{name: "inventory/reserve chunked", method: "POST", path: "/v1/items/G-100:reserve", body: `{"quantity":1}`, chunked: true, want: 200},
		{name: "inventory/reserve missing verb", method: "POST", path: "/v1/items/G-100", body: `{"quantity":1}`, want: 501},
		{name: "inventory/reserve wrong custom verb", method: "POST", path: "/v1/items/G-100:hold", body: `{"quantity":1}`, want: 501},
		{name: "inventory/reserve bare verb", method: "POST", path: "/v1/items/:reserve", body: `{"quantity":1}`, want: 501},
		{name: "metadata/headers and trailers", method: "GET", path: "/v1/items/A-100", header: h("Grpc-Metadata-X-Echo", "agent-1", "TE", "trailers"), want: 200},
		{name: "metadata/plain header", method: "GET", path: "/v1/items/A-100", header: h("X-Echo", "agent-2"), want: 200},
		{name: "metadata/trailers not accepted", method: "GET", path: "/v1/items/A-100", header: h("Grpc-Metadata-X-Echo", "agent-3"), want: 200},
		{name: "metadata/error with details", method: "GET", path: "/v1/items/A-100", header: h("X-Echo", "agent-4", "X-Fail", "nope"), want: 403},
		{name: "metadata/error with trailers", method: "GET", path: "/v1/items/A-100", header: h("X-Echo", "agent-5", "X-Fail", "nope", "TE", "trailers"), want: 403},
		{name: "metadata/bad timeout", method: "GET", path: "/v1/items/A-100", header: h("Grpc-Timeout", "soon"), want: 400},
		{name: "metadata/timeout", method: "GET", path: "/v1/items/A-100", header: h("Grpc-Timeout", "10S"), want: 200},
		{name: "metadata/bad binary header", method: "GET", path: "/v1/items/A-100", header: h("X-Thing-Bin", "!!!"), want: 400},
		{name: "metadata/binary header", method: "GET", path: "/v1/items/A-100", header: h("X-Thing-Bin", "aGk", "X-Echo", "bin"), want: 200},

		// ---- calculator and number conversion: body "*" ----
		{name: "calculator/add", method: "POST", path: "/v1/calculator:add", body: `{"intA":1,"intB":2}`, want: 200},
		{name: "calculator/add proto names", method: "POST", path: "/v1/calculator:add", body: `{"int_a":5,"int_b":-7}`, want: 200},
		{name: "calculator/add overflow", method: "POST", path: "/v1/calculator:add", body: `{"intA":3000000000}`, want: 400},
		{name: "calculator/add string number", method: "POST", path: "/v1/calculator:add", body: `{"intA":"4","intB":"5"}`, want: 200},
		{name: "calculator/add query ignored", method: "POST", path: "/v1/calculator:add?intA=9", body: `{"intB":1}`, want: 200},
		{name: "calculator/add duplicate field", method: "POST", path: "/v1/calculator:add", body: `{"intA":1,"int_a":2}`, want: 400},
		{name: "calculator/add bad query escape", method: "POST", path: "/v1/calculator:add?%zz", body: `{"intA":1}`, want: 200},
		{name: "calculator/subtract", method: "POST", path: "/v1/calculator:subtract", body: `{"intA":1,"intB":2}`, want: 200},
		{name: "calculator/divide by zero", method: "POST", path: "/v1/calculator:divide", body: `{"intA":1,"intB":0}`, want: 400},
		{name: "calculator/multiply unimplemented", method: "POST", path: "/v1/calculator:multiply", body: `{"intA":2,"intB":3}`, want: 501},
		{name: "calculator/wrong verb", method: "GET", path: "/v1/calculator:add", want: 501},
		{name: "calculator/unknown verb", method: "POST", path: "/v1/calculator:nope", body: `{}`, want: 404},
		{name: "calculator/no verb", method: "POST", path: "/v1/calculator", body: `{}`, want: 404},
		{name: "numbers/words", method: "POST", path: "/v1/numbers:words", body: `{"ubiNum":"18446744073709551615"}`, want: 200},
		{name: "numbers/words negative", method: "POST", path: "/v1/numbers:words", body: `{"ubiNum":-1}`, want: 400},
		{name: "numbers/dollars", method: "POST", path: "/v1/numbers:dollars", body: `{"dNum":"1.50"}`, want: 200},

		// ---- server streaming ----
		{name: "count/three", method: "GET", path: "/v1/count/3", want: 200},
		{name: "count/none", method: "GET", path: "/v1/count/0", want: 200},
		{name: "count/with headers", method: "GET", path: "/v1/count/2", header: h("Grpc-Metadata-X-Echo", "streamer", "TE", "trailers"), want: 200},
		{name: "count/fails midway", method: "GET", path: "/v1/count/13", want: 200},
		{name: "count/fails at once", method: "GET", path: "/v1/count/14", want: 400},
		{name: "count/interceptor error", method: "GET", path: "/v1/count/2", header: h("X-Fail", "stream"), want: 403},
		{name: "count/invalid", method: "GET", path: "/v1/count/100001", want: 400},
		{name: "count/not a number", method: "GET", path: "/v1/count/abc", want: 400},
		{name: "count/too big for int32", method: "GET", path: "/v1/count/3000000000", want: 400},

		// ---- library: query parameters of every kind ----
		{name: "library/get", method: "GET", path: "/v1/shelves/1/books/2", want: 200},
		{name: "library/get every query kind", method: "GET", path: "/v1/shelves/1/books/2?" + fullQuery, want: 200},
		{name: "library/get json names", method: "GET", path: "/v1/shelves/1/books/2?page_size=3&min_rating=1&filter.range.hi=7", want: 200},
		{name: "library/get path not from query", method: "GET", path: "/v1/shelves/1/books/2?name=other", want: 200},
		{name: "library/get enum number", method: "GET", path: "/v1/shelves/1/books/2?genre=3", want: 200},
		{name: "library/get bad enum", method: "GET", path: "/v1/shelves/1/books/2?genre=NOPE", want: 400},
		{name: "library/get enum out of range", method: "GET", path: "/v1/shelves/1/books/2?genre=9", want: 400},
		{name: "library/get bad repeated enum", method: "GET", path: "/v1/shelves/1/books/2?genres=1&genres=x", want: 400},
		{name: "library/get bad timestamp", method: "GET", path: "/v1/shelves/1/books/2?after=yesterday", want: 400},
		{name: "library/get bad duration", method: "GET", path: "/v1/shelves/1/books/2?within=forever", want: 400},
		{name: "library/get bad bytes", method: "GET", path: "/v1/shelves/1/books/2?blob=!!", want: 400},
		{name: "library/get bad bool", method: "GET", path: "/v1/shelves/1/books/2?flag=maybe", want: 400},
		{name: "library/get uint64 overflow", method: "GET", path: "/v1/shelves/1/books/2?ubig=18446744073709551616", want: 400},
		{name: "library/get float", method: "GET", path: "/v1/shelves/1/books/2?ratio=NaN&score=-Infinity", want: 200},
		{name: "library/get oneof twice", method: "GET", path: "/v1/shelves/1/books/2?byTitle=t&byId=1", want: 400},
		{name: "library/get map without key", method: "GET", path: "/v1/shelves/1/books/2?labels=x", want: 400},
		{name: "library/get map bad key", method: "GET", path: "/v1/shelves/1/books/2?codes[x]=1", want: 400},
		{name: "library/get map bad value", method: "GET", path: "/v1/shelves/1/books/2?codes[1]=NOPE", want: 400},
		{name: "library/get nested through list", method: "GET", path: "/v1/shelves/1/books/2?dates.seconds=1", want: 400},
		{name: "library/get message as value", method: "GET", path: "/v1/shelves/1/books/2?filter=x", want: 400},
		{name: "library/get empty values", method: "GET", path: "/v1/shelves/1/books/2?pageSize=&tags=", want: 400},
		{name: "library/get empty string", method: "GET", path: "/v1/shelves/1/books/2?alias=&tags=", want: 200},
		{name: "library/get wrapper null", method: "GET", path: "/v1/shelves/1/books/2?minRating=x", want: 400},
		{name: "library/get other binding", method: "GET", path: "/v1/books/dune?pageSize=1", want: 200},
		{name: "library/get nested path", method: "GET", path: "/v1/authors/tolkien/books/1937?filter.author=other&filter.range.hi=9", want: 200},
		{name: "library/get nested path mismatch", method: "GET", path: "/v1/authors/tolkien/books/old", want: 400},
		{name: "library/get nested enum path", method: "GET", path: "/v1/genres/GENRE_POETRY/books", want: 200},
		{name: "library/get nested enum path number", method: "GET", path: "/v1/genres/2/books", want: 200},
		{name: "library/get nested enum path bad", method: "GET", path: "/v1/genres/NOPE/books", want: 400},
		{name: "library/get optional path", method: "GET", path: "/v1/notes/hello%20world", want: 200},
		{name: "library/get deep wildcard", method: "GET", path: "/v1/all/a/b/c", want: 200},
		{name: "library/get deep wildcard empty", method: "GET", path: "/v1/all", want: 200},
		{name: "library/get resource pattern mismatch", method: "GET", path: "/v1/shelves/1/tomes/2", want: 404},

		// ---- library: PATCH, DELETE, custom verbs ----
		{name: "library/patch mask from body", method: "PATCH", path: "/v1/shelves/1/books/2", body: `{"title":"T","genre":"GENRE_FICTION","published":"2020-01-01T00:00:00Z"}`, want: 200},
		{name: "library/patch mask from query", method: "PATCH", path: "/v1/shelves/1/books/2?updateMask=title,authors&allowMissing=true", body: `{"title":"T"}`, want: 200},
		{name: "library/patch empty body", method: "PATCH", path: "/v1/shelves/1/books/2", want: 200},
		{name: "library/patch path wins", method: "PATCH", path: "/v1/shelves/1/books/2", body: `{"name":"shelves/9/books/9","copies":"3"}`, want: 200},
		{name: "library/patch bad JSON", method: "PATCH", path: "/v1/shelves/1/books/2", body: `{"title":`, want: 400},
		{name: "library/patch unknown field", method: "PATCH", path: "/v1/shelves/1/books/2", body: `{"subtitle":"x"}`, want: 400},
		{name: "library/patch null", method: "PATCH", path: "/v1/shelves/1/books/2", body: `null`, want: 400},
		{name: "library/patch oversized chunked", method: "PATCH", path: "/v1/shelves/1/books/2", body: `{"title":"` + strings.Repeat("t", diffMaxBody) + `"}`, chunked: true, want: 400},
		{name: "library/delete", method: "DELETE", path: "/v1/shelves/1/books/2?etag=e1&force=true", want: 200},
		{name: "library/delete with body", method: "DELETE", path: "/v1/shelves/1/books/2", body: `{"etag":"ignored"}`, want: 200},
		{name: "library/archive", method: "POST", path: "/v1/shelves/7:archive", body: `{"reason":"old","retentionDays":"30"}`, want: 200},
		{name: "library/archive path wins", method: "POST", path: "/v1/shelves/7:archive", body: `{"name":"shelves/8"}`, want: 200},
		{name: "library/lock", method: "LOCK", path: "/v1/shelves/7", body: `{"reason":"audit"}`, want: 200},
		{name: "library/lock wrong pattern", method: "LOCK", path: "/v1/shelves/7/books/1", want: 501},

		// ---- library: field bodies ----
		{name: "library/add books", method: "POST", path: "/v1/shelves/3/books:batchAdd?tags=t&genres=GENRE_POETRY", body: `[{"title":"a"},{"title":"b","genre":"GENRE_POETRY","copies":"2"}]`, want: 200},
		{name: "library/add books object", method: "POST", path: "/v1/shelves/3/books:batchAdd", body: `{"title":"a"}`, want: 400},
		{name: "library/add books number", method: "POST", path: "/v1/shelves/3/books:batchAdd", body: `[1]`, want: 400},
		{name: "library/add books null item", method: "POST", path: "/v1/shelves/3/books:batchAdd", body: `[{"title":"a"},null]`, want: 400},
		{name: "library/add books unknown field", method: "POST", path: "/v1/shelves/3/books:batchAdd", body: `[{"title":"a"},{"x":1}]`, want: 400},
		{name: "library/add books null", method: "POST", path: "/v1/shelves/3/books:batchAdd", body: `null`, want: 200},
		{name: "library/add books empty", method: "POST", path: "/v1/shelves/3/books:batchAdd", body: `[]`, want: 200},
		{name: "library/add books no body", method: "POST", path: "/v1/shelves/3/books:batchAdd", want: 200},
		{name: "library/add books body from query", method: "POST", path: "/v1/shelves/3/books:batchAdd?books.title=x&shelf=9", want: 200},
		{name: "library/add tags", method: "POST", path: "/v1/shelves/3/tags", body: `["a","b"]`, want: 200},
		{name: "library/add tags wrong type", method: "POST", path: "/v1/shelves/3/tags", body: `["a",1]`, want: 400},
		{name: "library/add genres", method: "POST", path: "/v1/shelves/3/genres", body: `[1,3,7]`, want: 200},
		{name: "library/add genres by name", method: "POST", path: "/v1/shelves/3/genres", body: `["GENRE_FICTION"]`, want: 400},
		{name: "library/add genres fraction", method: "POST", path: "/v1/shelves/3/genres", body: `[1.5]`, want: 400},
		{name: "library/add genres bool", method: "POST", path: "/v1/shelves/3/genres", body: `[true]`, want: 400},
		{name: "library/add counts", method: "POST", path: "/v1/shelves/3/counts", body: `[1,-2,9007199254740993]`, want: 200},
		{name: "library/add counts as strings", method: "POST", path: "/v1/shelves/3/counts", body: `["1"]`, want: 400},
		{name: "library/add stock", method: "POST", path: "/v1/shelves/3/stock", body: `{"a":1,"b":2}`, want: 200},
		{name: "library/add stock wrong value", method: "POST", path: "/v1/shelves/3/stock", body: `{"a":"x"}`, want: 400},
		{name: "library/add stock duplicate key", method: "POST", path: "/v1/shelves/3/stock", body: `{"a":1,"a":2}`, want: 400},
		{name: "library/add stock array", method: "POST", path: "/v1/shelves/3/stock", body: `[1]`, want: 400},
		{name: "library/add blobs", method: "POST", path: "/v1/shelves/3/blobs", body: `["aGk=","",null]`, want: 200},
		{name: "library/add blobs bad base64", method: "POST", path: "/v1/shelves/3/blobs", body: `["!!"]`, want: 400},
		{name: "library/add ratings", method: "POST", path: "/v1/shelves/3/ratings", body: `[1.5,2,-0.25]`, want: 200},
		{name: "library/set title", method: "PUT", path: "/v1/shelves/1/books/2/title", body: `"New \u00e9"`, want: 200},
		{name: "library/set title number", method: "PUT", path: "/v1/shelves/1/books/2/title", body: `5`, want: 400},
		{name: "library/set title null", method: "PUT", path: "/v1/shelves/1/books/2/title", body: `null`, want: 200},
		{name: "library/set title empty", method: "PUT", path: "/v1/shelves/1/books/2/title?copies=4&title=q", want: 200},
		{name: "library/set genre", method: "PUT", path: "/v1/shelves/1/books/2/genre", body: `2`, want: 200},
		{name: "library/set genre by name", method: "PUT", path: "/v1/shelves/1/books/2/genre", body: `"GENRE_FICTION"`, want: 400},
		{name: "library/set genre fraction", method: "PUT", path: "/v1/shelves/1/books/2/genre", body: `3.5`, want: 400},
		{name: "library/set genre null", method: "PUT", path: "/v1/shelves/1/books/2/genre", body: `null`, want: 400},
		{name: "library/set genre empty", method: "PUT", path: "/v1/shelves/1/books/2/genre", want: 200},
		{name: "library/set copies", method: "PUT", path: "/v1/shelves/1/books/2/copies", body: `7`, want: 200},
		{name: "library/set copies string", method: "PUT", path: "/v1/shelves/1/books/2/copies", body: `"7"`, want: 400},
		{name: "library/set cover", method: "PUT", path: "/v1/shelves/1/books/2/cover", body: `"aGk="`, want: 200},
		{name: "library/set cover bad", method: "PUT", path: "/v1/shelves/1/books/2/cover", body: `"*"`, want: 400},
		{name: "library/set note", method: "PUT", path: "/v1/shelves/1/books/2/note", body: `"n"`, want: 200},
		{name: "library/set note null", method: "PUT", path: "/v1/shelves/1/books/2/note", body: `null`, want: 200},
		{name: "library/set note empty", method: "PUT", path: "/v1/shelves/1/books/2/note", want: 200},
		{name: "library/set rating", method: "PUT", path: "/v1/shelves/1/books/2/rating", body: `4.5`, want: 200},
		{name: "library/set published", method: "PUT", path: "/v1/shelves/1/books/2/published", body: `"2020-01-01T00:00:00Z"`, want: 200},
		{name: "library/set published bad", method: "PUT", path: "/v1/shelves/1/books/2/published", body: `5`, want: 400},
		{name: "library/set published empty", method: "PUT", path: "/v1/shelves/1/books/2/published", want: 200},
		{name: "library/set flag", method: "PUT", path: "/v1/shelves/1/books/2/flag", body: `true`, want: 200},
		{name: "library/set lent", method: "PUT", path: "/v1/shelves/1/books/2/lent", body: `{"title":"L","genre":"GENRE_HISTORY"}`, want: 200},
		{name: "library/set lent empty", method: "PUT", path: "/v1/shelves/1/books/2/lent", want: 200},
		{name: "library/set lent unknown field", method: "PUT", path: "/v1/shelves/1/books/2/lent", body: `{"bogus":1}`, want: 400},
		{name: "library/set lent wrong type", method: "PUT", path: "/v1/shelves/1/books/2/lent", body: `"L"`, want: 400},

		// ---- library: response_body ----
		{name: "library/list books", method: "GET", path: "/v1/shelves/s/books?pageSize=2", want: 200},
		{name: "library/list books none", method: "GET", path: "/v1/shelves/s/books", want: 200},
		{name: "library/list whole", method: "GET", path: "/v1/shelves/s/listing?pageSize=2", want: 200},
		{name: "library/list whole none", method: "GET", path: "/v1/shelves/s/listing", want: 200},
		{name: "library/list titles", method: "GET", path: "/v1/shelves/s/titles?pageSize=2", want: 200},
		{name: "library/list titles none", method: "GET", path: "/v1/shelves/s/titles", want: 200},
		{name: "library/list total", method: "GET", path: "/v1/shelves/s/total?pageSize=2", want: 200},
		{name: "library/list total none", method: "GET", path: "/v1/shelves/s/total", want: 200},
		{name: "library/list first", method: "GET", path: "/v1/shelves/s/first?pageSize=2", want: 200},
		{name: "library/list first none", method: "GET", path: "/v1/shelves/s/first", want: 200},
		{name: "library/list genres", method: "GET", path: "/v1/shelves/s/genres?pageSize=4", want: 200},
		{name: "library/list genres none", method: "GET", path: "/v1/shelves/s/genres", want: 200},
		{name: "library/list top genre", method: "GET", path: "/v1/shelves/s/top?pageSize=1", want: 200},
		{name: "library/list top genre none", method: "GET", path: "/v1/shelves/s/top", want: 200},
		{name: "library/list stock", method: "GET", path: "/v1/shelves/s/stock?pageSize=3", want: 200},
		{name: "library/list stock none", method: "GET", path: "/v1/shelves/s/stock", want: 200},
		{name: "library/list cover", method: "GET", path: "/v1/shelves/s/cover?pageSize=1", want: 200},
		{name: "library/list cover none", method: "GET", path: "/v1/shelves/s/cover", want: 200},
		{name: "library/list note", method: "GET", path: "/v1/shelves/s/note?pageSize=1", want: 200},
		{name: "library/list note none", method: "GET", path: "/v1/shelves/s/note", want: 200},
		{name: "library/list ratio", method: "GET", path: "/v1/shelves/s/ratio?pageSize=1", want: 200},
		{name: "library/list with headers", method: "GET", path: "/v1/shelves/s/titles?pageSize=1", header: h("X-Echo", "lister", "TE", "trailers"), want: 200},

		// ---- library: streaming with and without response_body ----
		{name: "library/watch", method: "GET", path: "/v1/shelves/1:watch?count=3", want: 200},
		{name: "library/watch fails after", method: "GET", path: "/v1/shelves/1:watch?count=2&failCode=9", want: 200},
		{name: "library/watch fails at once", method: "GET", path: "/v1/shelves/1:watch?failCode=5", want: 404},
		{name: "library/watch books", method: "GET", path: "/v1/shelves/1/books:watch?count=3", want: 200},
		{name: "library/watch books fails", method: "GET", path: "/v1/shelves/1/books:watch?count=1&failCode=14", want: 200},
		{name: "library/watch bad query", method: "GET", path: "/v1/shelves/1:watch?count=x", want: 400},

		// ---- library: path variables of every kind ----
		{name: "library/lookup", method: "GET", path: "/v1/lookup/GENRE_FICTION/12/1,2,3/2020-01-01T00:00:00Z/true/0.5/aGk/al/1.5s", want: 200},
		{name: "library/lookup numbers", method: "GET", path: "/v1/lookup/3/-12/4/2020-01-01T00:00:00.123+02:00/0/1e2/aGk=/x/-3s?genre=1", want: 200},
		{name: "library/lookup quoted timestamp", method: "GET", path: "/v1/lookup/1/1/1/%222020-01-01T00:00:00Z%22/t/1/YQ/a/1s", want: 200},
		{name: "library/lookup bad enum", method: "GET", path: "/v1/lookup/NOPE/12/1/2020-01-01T00:00:00Z/true/0.5/aGk/al/1s", want: 400},
		{name: "library/lookup bad id", method: "GET", path: "/v1/lookup/1/x/1/2020-01-01T00:00:00Z/true/0.5/aGk/al/1s", want: 400},
		{name: "library/lookup bad ids", method: "GET", path: "/v1/lookup/1/1/1,x/2020-01-01T00:00:00Z/true/0.5/aGk/al/1s", want: 400},
		{name: "library/lookup empty ids", method: "GET", path: "/v1/lookup/1/1/,/2020-01-01T00:00:00Z/true/0.5/aGk/al/1s", want: 400},
		{name: "library/lookup bad timestamp", method: "GET", path: "/v1/lookup/1/1/1/noon/true/0.5/aGk/al/1s", want: 400},
		{name: "library/lookup bad bool", method: "GET", path: "/v1/lookup/1/1/1/2020-01-01T00:00:00Z/yes/0.5/aGk/al/1s", want: 400},
		{name: "library/lookup bad float", method: "GET", path: "/v1/lookup/1/1/1/2020-01-01T00:00:00Z/true/half/aGk/al/1s", want: 400},
		{name: "library/lookup bad bytes", method: "GET", path: "/v1/lookup/1/1/1/2020-01-01T00:00:00Z/true/1/a!b/al/1s", want: 400},
		{name: "library/lookup bad duration", method: "GET", path: "/v1/lookup/1/1/1/2020-01-01T00:00:00Z/true/1/aGk/al/1h", want: 400},
		{name: "library/lookup bad query escape", method: "GET", path: "/v1/lookup/1/1/1/2020-01-01T00:00:00Z/true/1/aGk/al/1s?%zz", want: 200},
		{name: "library/lookup missing segment", method: "GET", path: "/v1/lookup/1/1/1/2020-01-01T00:00:00Z/true/1/aGk/al", want: 404},
	}
}

// TestRESTDynamicMatchesGeneratedGateway compiles library.proto at run time, as a contract
// loaded from a .proto file would be, so every request and response message is a dynamicpb
// message, and compares its REST surface with the generated gateway's for the library requests
// of the table. The one difference allowed is an enum's name in errors for enum field bodies:
// grpc-gateway writes the Go type (testingv1.Genre), which a dynamic enum does not have, so the
// run-time routes write its full name.
func TestRESTDynamicMatchesGeneratedGateway(t *testing.T) {
	t.Parallel()
	generated, err := server.GeneratedREST(newLibraryServer(t, libraryService()),
		func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return testingv1.RegisterLibraryServiceHandlerClient(ctx, mux, testingv1.NewLibraryServiceClient(cc))
		})
	if err != nil {
		t.Fatal(err)
	}
	built, err := server.RuntimeREST(newLibraryServer(t, dynamicLibraryService(t)))
	if err != nil {
		t.Fatal(err)
	}
	genSrv := httptest.NewServer(generated)
	t.Cleanup(genSrv.Close)
	runSrv := httptest.NewServer(built)
	t.Cleanup(runSrv.Close)
	n := 0
	for _, r := range diffTable() {
		if !strings.HasPrefix(r.name, "library/") {
			continue
		}
		n++
		t.Run(r.name, func(t *testing.T) {
			want := sendDiff(t, genSrv, r)
			got := sendDiff(t, runSrv, r)
			if renamed := bytes.ReplaceAll(got.body, []byte("agentbridge.testing.v1.Genre"), []byte("testingv1.Genre")); !bytes.Equal(renamed, got.body) {
				got.body = renamed
				got.header.Set("Content-Length", strconv.Itoa(len(renamed)))
			}
			compareDiff(t, want, got)
		})
	}
	t.Logf("%d requests", n)
}

func newLibraryServer(t *testing.T, svc server.Service) *server.Server {
	t.Helper()
	srv, err := server.New([]server.Service{svc},
		server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithMaxBodyBytes(diffMaxBody),
		server.WithInterceptors(diffInterceptor),
	)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// dynamicLibraryService serves LibraryService from descriptors compiled at run time from
// library.proto. Echoing methods answer with dynamic messages; the others convert to and from
// the generated types to reuse libraryService's implementations. Every method fails if its
// request is not a dynamic message, so the test cannot pass on generated types by accident.
func dynamicLibraryService(t *testing.T) server.Service {
	t.Helper()
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{"../proto", "../proto/third_party/googleapis", "../proto/third_party/protovalidate"},
		}),
	}
	files, err := compiler.Compile(t.Context(), "agentbridge/testing/v1/library.proto")
	if err != nil {
		t.Fatal(err)
	}
	sd := files[0].Services().ByName("LibraryService")
	if sd == testingv1.File_agentbridge_testing_v1_library_proto.Services().ByName("LibraryService") {
		t.Fatal("the compiled service is the linked one")
	}
	generatedImpl := libraryService()
	svc := server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{}, Streams: map[protoreflect.Name]adapters.ServerStream{}}
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		if impl := generatedImpl.Streams[md.Name()]; impl != nil {
			svc.Streams[md.Name()] = dynamicStream(md, impl)
			continue
		}
		impl := generatedImpl.Methods[md.Name()]
		if md.Output().Fields().ByName("request") != nil {
			impl = echo(md)
		} else {
			impl = viaGenerated(md, impl)
		}
		svc.Methods[md.Name()] = func(ctx context.Context, req proto.Message) (proto.Message, error) {
			if !adapters.Dynamic(req) {
				return nil, status.Errorf(codes.Internal, "request is a %T, not a dynamic message", req)
			}
			return impl(ctx, req)
		}
	}
	return svc
}

// viaGenerated calls a generated-types implementation with a dynamic request and answers with a
// dynamic response, converting through the wire format.
func viaGenerated(md protoreflect.MethodDescriptor, impl adapters.Unary) adapters.Unary {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		in, err := toGenerated(req)
		if err != nil {
			return nil, err
		}
		resp, err := impl(ctx, in)
		if err != nil {
			return nil, err
		}
		return toDynamic(md.Output(), resp)
	}
}

func dynamicStream(md protoreflect.MethodDescriptor, impl adapters.ServerStream) adapters.ServerStream {
	return func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
		if !adapters.Dynamic(req) {
			return status.Errorf(codes.Internal, "request is a %T, not a dynamic message", req)
		}
		in, err := toGenerated(req)
		if err != nil {
			return err
		}
		return impl(ctx, in, func(out proto.Message) error {
			msg, err := toDynamic(md.Output(), out)
			if err != nil {
				return err
			}
			return send(msg)
		})
	}
}

func toGenerated(m proto.Message) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(m.ProtoReflect().Descriptor().FullName())
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := mt.New().Interface()
	return out, proto.Unmarshal(b, out)
}

func toDynamic(md protoreflect.MessageDescriptor, m proto.Message) (proto.Message, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := dynamicpb.NewMessage(md)
	return out, proto.Unmarshal(b, out)
}

// BenchmarkREST prices the routes built at run time against the generated handlers on the same
// in-process calls (no network: httptest.ResponseRecorder), one op per request.
func BenchmarkREST(b *testing.B) {
	for _, bc := range []struct{ name, method, path, body string }{
		{"get_path", "GET", "/v1/lookup/GENRE_FICTION/12/1,2,3/2020-01-01T00:00:00Z/true/0.5/aGk/al/1.5s", ""},
		{"get_query", "GET", "/v1/shelves/1/books/2?pageSize=5&genre=GENRE_FICTION&tags=a&tags=b&filter.author=x&after=2020-01-02T03:04:05Z", ""},
		{"post_body", "POST", "/v1/shelves/3/books:batchAdd", `[{"title":"a"},{"title":"b","genre":"GENRE_POETRY","copies":"2"}]`},
		{"response_body", "GET", "/v1/shelves/s/books?pageSize=3", ""},
	} {
		for _, side := range []string{"generated", "runtime"} {
			b.Run("route="+bc.name+"/surface="+side, func(b *testing.B) {
				srv, err := server.New([]server.Service{libraryService()}, server.WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					b.Fatal(err)
				}
				var h http.Handler
				if side == "generated" {
					h, err = server.GeneratedREST(srv, func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
						return testingv1.RegisterLibraryServiceHandlerClient(ctx, mux, testingv1.NewLibraryServiceClient(cc))
					})
				} else {
					h, err = server.RuntimeREST(srv)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					var body io.Reader
					if bc.body != "" {
						body = strings.NewReader(bc.body)
					}
					req := httptest.NewRequestWithContext(b.Context(), bc.method, bc.path, body)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
