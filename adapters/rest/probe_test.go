package rest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/agentbridge/agentbridge/adapters"
)

// probeBackend answers as a REST backend would, and misbehaves as the request's mode says. It
// stands for the bad replies real backends and the proxies before them send.
func probeBackend(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	thing := func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("mode") {
		case "":
			_, _ = io.WriteString(w, `{"name": "`+name+`", "count": 3}`)
		case "note":
			_, _ = io.WriteString(w, `{"name": "`+name+`", "count": 3, "note": "fragile"}`)
		case "html500":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>")
		case "html200":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<html><body>Please log in</body></html>")
		case "partial":
			_, _ = io.WriteString(w, `{"name": "`+name+`", "cou`)
		case "redirect":
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		case "ratelimit":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error": {"message": "slow down"}}`)
		case "big":
			_, _ = io.WriteString(w, `{"name": "`+strings.Repeat("x", 8192)+`", "count": 3}`)
		case "unknown":
			_, _ = io.WriteString(w, `{"name": "`+name+`", "count": 3, "colour": "red"}`)
		case "null":
			_, _ = io.WriteString(w, `{"name": null, "count": 3}`)
		case "missing":
			_, _ = io.WriteString(w, `{"name": "`+name+`"}`)
		case "wrongtype":
			_, _ = io.WriteString(w, `{"name": "`+name+`", "count": 2.5}`)
		case "xml":
			_, _ = io.WriteString(w, `<thing><name>`+name+`</name></thing>`)
		case "trace":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error": {"message": "java.lang.NullPointerException: thing\n\tat com.acme.Things.get(Things.java:12)\n\tat com.acme.Api.handle(Api.java:40)"}}`)
		case "404":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error": {"message": "no thing called `+name+`"}}`)
		}
	}
	mux.HandleFunc("GET /things/{name}", thing)
	mux.HandleFunc("GET /xml/things/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		w.Header().Set("Content-Type", "application/xml")
		switch r.URL.Query().Get("mode") {
		case "":
			_, _ = io.WriteString(w, `<?xml version="1.0"?><thing><name>`+name+`</name><count>3</count></thing>`)
		case "json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name": "`+name+`", "count": 3}`)
		case "partial":
			_, _ = io.WriteString(w, `<thing><name>`+name+`</name><cou`)
		case "unknown":
			_, _ = io.WriteString(w, `<thing><name>`+name+`</name><count>3</count><colour>red</colour></thing>`)
		case "doctype":
			_, _ = io.WriteString(w, `<!DOCTYPE thing [<!ENTITY x "y">]><thing><name>&x;</name><count>3</count></thing>`)
		case "error":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `<error message="names are lower case"/>`)
		}
	})
	names := []string{"a", "b", "c", "d", "e"}
	page := func(from, limit int) ([]map[string]any, int) {
		var items []map[string]any
		for i := from; i < len(names) && i < from+limit; i++ {
			items = append(items, map[string]any{"name": names[i], "count": i})
		}
		return items, from + limit
	}
	mux.HandleFunc("GET /cursor", func(w http.ResponseWriter, r *http.Request) {
		from := slices.Index(names, r.URL.Query().Get("after")) + 1
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		items, next := page(from, limit)
		cursor := ""
		if next < len(names) {
			cursor = names[next-1]
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "meta": map[string]any{"next_cursor": cursor}})
	})
	mux.HandleFunc("GET /links", func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		items, next := page(from, limit)
		links := map[string]any{}
		switch {
		case r.URL.Query().Get("mode") == "elsewhere":
			links["next"] = "http://elsewhere.example/links?from=2"
		case next < len(names):
			links["next"] = fmt.Sprintf("/links?from=%d&limit=%d", next, limit) // relative, as many APIs give it
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "links": links})
	})
	mux.HandleFunc("/echo/{box}", func(w http.ResponseWriter, r *http.Request) {
		echo := map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "content_type": r.Header.Get("Content-Type"), "trace": r.Header.Get("X-Trace"), "raw": ""}
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			form := map[string]string{}
			for k, v := range r.PostForm {
				form[k] = strings.Join(v, ",")
			}
			echo["form"] = form
		case strings.HasPrefix(ct, "multipart/form-data"):
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			form, files := map[string]string{}, map[string]string{}
			for k, v := range r.MultipartForm.Value {
				form[k] = strings.Join(v, ",")
			}
			for k, fhs := range r.MultipartForm.File {
				f, _ := fhs[0].Open()
				data, _ := io.ReadAll(f)
				_ = f.Close()
				files[k] = string(data)
			}
			echo["form"], echo["files"] = form, files
			echo["content_type"] = "multipart/form-data" // without its boundary, which differs per call
		default:
			data, _ := io.ReadAll(r.Body)
			echo["raw"] = string(data)
			var in struct{ Sender string }
			_ = json.Unmarshal(data, &in)
			switch in.Sender {
			case "quota":
				_, _ = io.WriteString(w, `{"status": "error", "code": "QUOTA", "message": "daily parcel quota reached"}`)
				return
			case "broken":
				_, _ = io.WriteString(w, `{"status": "error", "code": "E42", "message": "the parcel office is closed"}`)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func probeConfig(endpoint string) string {
	return `
protos: [acme/probe/v1/probe.proto]
services: [acme.probe.v1.ProbeService]
backends:
  probe:
    kind: rest
    endpoint: ` + endpoint + `
    timeout: 10s
    max_reply_bytes: 4096
    breaker: {disabled: true}
    retry: {max_attempts: 1}
  probe-lenient:
    kind: rest
    endpoint: ` + endpoint + `
    lenient: true
`
}

// TestBadReplies: each way a backend or a proxy answers badly is a clear status, the same on
// every surface, and the bridge keeps serving.
func TestBadReplies(t *testing.T) {
	t.Parallel()
	b := newBridge(t, probeConfig(probeBackend(t).URL), "acme.probe.v1.ProbeService")
	get := func(mode string) map[string]outcome {
		return b.callEvery(t, "GetThing", `{"name": "box", "mode": "`+mode+`"}`, rest{"GET", "/v1/things/box?mode=" + mode, ""})
	}
	getXML := func(mode string) map[string]outcome {
		return b.callEvery(t, "GetThingXml", `{"name": "box", "mode": "`+mode+`"}`, rest{"GET", "/v1/xml/things/box?mode=" + mode, ""})
	}
	cases := []struct {
		name   string
		outs   func() map[string]outcome
		code   codes.Code
		reason string
		says   string
	}{
		{"html error page", func() map[string]outcome { return get("html500") }, codes.Unavailable, "BACKEND_BAD_REPLY", "HTML page"},
		{"html page with 200", func() map[string]outcome { return get("html200") }, codes.Unavailable, "BACKEND_BAD_REPLY", "an HTML page where JSON"},
		{"partial json", func() map[string]outcome { return get("partial") }, codes.Unavailable, "BACKEND_BAD_REPLY", "cut off"},
		{"xml where json expected", func() map[string]outcome { return get("xml") }, codes.Unavailable, "BACKEND_BAD_REPLY", "where JSON was expected"},
		{"redirect loop", func() map[string]outcome { return get("redirect") }, codes.FailedPrecondition, "BACKEND_REJECTED", "redirected"},
		{"429 with Retry-After", func() map[string]outcome { return get("ratelimit") }, codes.ResourceExhausted, "BACKEND_RATE_LIMITED", "slow down"},
		{"body over the bound", func() map[string]outcome { return get("big") }, codes.ResourceExhausted, "REPLY_TOO_LARGE", "max_reply_bytes"},
		{"unknown member", func() map[string]outcome { return get("unknown") }, codes.Internal, "BACKEND_REPLY_INVALID", "colour: acme.probe.v1.Thing has no field"},
		{"null", func() map[string]outcome { return get("null") }, codes.Internal, "BACKEND_REPLY_INVALID", "name: is null"},
		{"missing member", func() map[string]outcome { return get("missing") }, codes.Internal, "BACKEND_REPLY_INVALID", "count: is missing"},
		{"wrong type", func() map[string]outcome { return get("wrongtype") }, codes.Internal, "BACKEND_REPLY_INVALID", "count: 2.5 is not a whole number"},
		{"stack trace", func() map[string]outcome { return get("trace") }, codes.Unavailable, "BACKEND_BAD_REPLY", "NullPointerException: thing (stack trace removed)"},
		{"404", func() map[string]outcome { return get("404") }, codes.NotFound, "BACKEND_NOT_FOUND", "no thing called box"},
		{"json where xml expected", func() map[string]outcome { return getXML("json") }, codes.Unavailable, "BACKEND_BAD_REPLY", "JSON where XML was expected"},
		{"partial xml", func() map[string]outcome { return getXML("partial") }, codes.Unavailable, "BACKEND_BAD_REPLY", "cut off"},
		{"doctype", func() map[string]outcome { return getXML("doctype") }, codes.Unavailable, "BACKEND_BAD_REPLY", "document type declarations"},
		{"unknown element", func() map[string]outcome { return getXML("unknown") }, codes.Internal, "BACKEND_REPLY_INVALID", "colour"},
		{"path that finds nothing", func() map[string]outcome {
			return b.callEvery(t, "GetThingByPath", `{"name": "box"}`, rest{"GET", "/v1/paths/things/box", ""})
		}, codes.Internal, "BACKEND_REPLY_INVALID", "label: finds nothing in the reply, and field name has no presence"},
		{"xml error reply", func() map[string]outcome { return getXML("error") }, codes.InvalidArgument, "BACKEND_INVALID_ARGUMENT", "names are lower case"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := wantErr(t, c.outs(), c.code)
			if g.reason != c.reason || !strings.Contains(g.msg, c.says) {
				t.Errorf("%s %q, want %s saying %q", g.reason, g.msg, c.reason, c.says)
			}
			if strings.Contains(g.msg, "\tat ") || strings.Contains(g.msg, "127.0.0.1") {
				t.Errorf("message leaks a trace or the endpoint: %q", g.msg)
			}
		})
	}
	// The 429's Retry-After reaches the caller.
	st := b.grpcStatus(t, "GetThing", `{"name": "box", "mode": "ratelimit"}`)
	if !hasRetryInfo(st) {
		t.Errorf("429: no RetryInfo in %v", st.Proto())
	}
	// And the bridge is healthy after all of it.
	if got := wantOK(t, get("")); got != `{"count":3,"name":"box"}` {
		t.Errorf("after the bad replies: %s", got)
	}
	if got := wantOK(t, get("note")); got != `{"count":3,"name":"box","note":"fragile"}` {
		t.Errorf("with a note: %s", got)
	}
	if got := wantOK(t, getXML("")); got != `{"count":3,"name":"box"}` {
		t.Errorf("XML: %s", got)
	}
	got := wantOK(t, b.callEvery(t, "GetThingEnvelope", `{"name": "box"}`, rest{"GET", "/v1/envelope/things/box", ""}))
	if got != `{"content_type":"application/xml","thing":{"count":3,"name":"box"}}` {
		t.Errorf("XML into a field: %s", got)
	}
}

// TestLenient: a lenient backend's unknown member is skipped, counted and logged, not an error.
func TestLenient(t *testing.T) {
	t.Parallel()
	b := newBridge(t, probeConfig(probeBackend(t).URL), "acme.probe.v1.ProbeService")
	before := adapters.SkippedCount("probe-lenient")
	got := wantOK(t, b.callEvery(t, "GetThingLenient", `{"name": "box", "mode": "unknown"}`, rest{"GET", "/v1/lenient/things/box?mode=unknown", ""}))
	if got != `{"count":3,"name":"box"}` {
		t.Errorf("lenient: %s", got)
	}
	if n := adapters.SkippedCount("probe-lenient") - before; n != 3 {
		t.Errorf("skipped %v members, want 3 (one per surface)", n)
	}
}

// TestBodies: a form, multipart form data, an XML document and JSON, written from the request
// message; path, query and header parameters beside them.
func TestBodies(t *testing.T) {
	t.Parallel()
	b := newBridge(t, probeConfig(probeBackend(t).URL), "acme.probe.v1.ProbeService")
	const req = `{"box": "b 1&2", "trace": "t-9", "lang": "de", "sender": "Ada", "count": 2, "labels": ["x", "y&z"], "attachment": "aGVsbG8="}`
	const body = `{"trace": "t-9", "lang": "de", "sender": "Ada", "count": 2, "labels": ["x", "y&z"], "attachment": "aGVsbG8="}`
	cases := []struct{ method, route, want string }{
		{"SendForm", "/v1/form/b%201%262", `{"content_type":"application/x-www-form-urlencoded","form":{"attachment":"aGVsbG8=","count":"2","labels":"x,y\u0026z","sender":"Ada"},"method":"POST","path":"/echo/b 1\u00262","query":"via=form\u0026hl=de","trace":"t-9"}`},
		{"SendMultipart", "/v1/multipart/b%201%262", `{"content_type":"multipart/form-data","files":{"attachment":"hello"},"form":{"count":"2","labels":"x,y\u0026z","sender":"Ada"},"method":"POST","path":"/echo/b 1\u00262","query":"lang=de","trace":"t-9"}`},
		{"SendJson", "/v1/json/b%201%262", `{"content_type":"application/json","method":"POST","path":"/echo/b 1\u00262","query":"lang=de","raw":"{\"sender\":\"Ada\",\"count\":2,\"labels\":[\"x\",\"y\u0026z\"],\"attachment\":\"aGVsbG8=\"}","trace":"t-9"}`},
	}
	cases = append(cases, struct{ method, route, want string }{"SendXml", "/v1/xml/b%201%262",
		`{"content_type":"application/xml; charset=utf-8","method":"PUT","path":"/echo/b 1\u00262","query":"lang=de","raw":"\u003c?xml version=\"1.0\" encoding=\"UTF-8\"?\u003e\n\u003cns0:parcel xmlns:ns0=\"urn:acme:parcel\"\u003e\u003csender\u003eAda\u003c/sender\u003e\u003ccount\u003e2\u003c/count\u003e\u003clabels\u003ex\u003c/labels\u003e\u003clabels\u003ey\u0026amp;z\u003c/labels\u003e\u003cattachment\u003eaGVsbG8=\u003c/attachment\u003e\u003c/ns0:parcel\u003e","trace":"t-9"}`})
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			req, body := req, body
			if c.method == "SendXml" {
				req = `{"box": "b 1&2", "trace": "t-9", "lang": "de", "parcel": {"sender": "Ada", "count": 2, "labels": ["x", "y&z"], "attachment": "aGVsbG8="}}`
				body = `{"trace": "t-9", "lang": "de", "parcel": {"sender": "Ada", "count": 2, "labels": ["x", "y&z"], "attachment": "aGVsbG8="}}`
			}
			got := wantOK(t, b.callEvery(t, c.method, req, rest{"POST", c.route, body}))
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestErrorInBody: an error a backend reports in a 200 body goes through the fault rules: the
// binding's rule maps QUOTA; another code is BACKEND_FAULT. Both carry fault_code, so the
// guard does not retry them.
func TestErrorInBody(t *testing.T) {
	t.Parallel()
	b := newBridge(t, probeConfig(probeBackend(t).URL), "acme.probe.v1.ProbeService")
	q := wantErr(t, b.callEvery(t, "SendJson", `{"box": "a", "sender": "quota"}`, rest{"POST", "/v1/json/a", `{"sender": "quota"}`}), codes.ResourceExhausted)
	if q.reason != "PARCEL_QUOTA" || q.meta["fault_code"] != "QUOTA" || q.meta["fault_rule"] != "method:0" || q.msg != "backend probe rejected the request: daily parcel quota reached. Send fewer parcels today." {
		t.Errorf("quota: %s %v %q", q.reason, q.meta, q.msg)
	}
	o := wantErr(t, b.callEvery(t, "SendJson", `{"box": "a", "sender": "broken"}`, rest{"POST", "/v1/json/a", `{"sender": "broken"}`}), codes.Internal)
	if o.reason != "BACKEND_FAULT" || o.meta["fault_code"] != "E42" || !strings.Contains(o.msg, "the parcel office is closed") {
		t.Errorf("other: %s %v %q", o.reason, o.meta, o.msg)
	}
}

func (b *bridge) grpcStatus(t *testing.T, method, req string) *status.Status {
	t.Helper()
	md := b.desc.Methods().ByName(protoreflect.Name(method))
	in := newMessage(t, md.Input(), req)
	err := b.cc.Invoke(t.Context(), "/"+string(b.desc.FullName())+"/"+method, in, newMessage(t, md.Output(), "{}"))
	return status.Convert(err)
}

func hasRetryInfo(st *status.Status) bool {
	return slices.ContainsFunc(st.Proto().GetDetails(), func(d *anypb.Any) bool {
		return strings.HasSuffix(d.GetTypeUrl(), "google.rpc.RetryInfo")
	})
}

// TestCursorAndNextLink: a cursor in the reply body and a next page link in it (relative, as
// many APIs give it) walked by token; a link to another host is refused, and so is a token the
// method did not give out that points elsewhere.
func TestCursorAndNextLink(t *testing.T) {
	t.Parallel()
	b := newBridge(t, probeConfig(probeBackend(t).URL), "acme.probe.v1.ProbeService")
	for _, m := range []struct{ method, route string }{{"ListByCursor", "/v1/cursor/things"}, {"ListByNextLink", "/v1/links/things"}} {
		t.Run(m.method, func(t *testing.T) {
			var names []string
			token := ""
			for range 10 {
				g := same(t, b.callEvery(t, m.method, `{"page_size": 2, "page_token": "`+token+`"}`, rest{"GET", m.route + "?page_size=2&page_token=" + token, ""}))
				if g.code != codes.OK {
					t.Fatalf("%v %s", g.code, g.msg)
				}
				msg := g.resp.ProtoReflect()
				items := msg.Get(msg.Descriptor().Fields().ByName("items")).List()
				for i := range items.Len() {
					it := items.Get(i).Message()
					names = append(names, it.Get(it.Descriptor().Fields().ByName("name")).String())
				}
				if token = msg.Get(msg.Descriptor().Fields().ByName("next_page_token")).String(); token == "" {
					break
				}
			}
			if got := strings.Join(names, ""); got != "abcde" {
				t.Errorf("walked %s", got)
			}
		})
	}
	g := wantErr(t, b.callEvery(t, "ListByNextLink", `{"page_size": 2, "mode": "elsewhere"}`, rest{"GET", "/v1/links/things?page_size=2&mode=elsewhere", ""}), codes.Internal)
	if g.reason != "BACKEND_REPLY_INVALID" || !strings.Contains(g.msg, "another host") {
		t.Errorf("a link elsewhere: %s %q", g.reason, g.msg)
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte("4:http://elsewhere.example/links"))
	g = wantErr(t, b.callEvery(t, "ListByNextLink", `{"page_token": "`+forged+`"}`, rest{"GET", "/v1/links/things?page_token=" + forged, ""}), codes.InvalidArgument)
	if g.reason != "INVALID_PAGE_TOKEN" {
		t.Errorf("a forged token: %s %q", g.reason, g.msg)
	}
}
