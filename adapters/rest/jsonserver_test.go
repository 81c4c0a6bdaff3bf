package rest_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// catalog is the config of a bridge in front of json-server.
func catalog(endpoint, extra string) string {
	return `
protos: [acme/items/v1/items.proto]
services: [acme.items.v1.ItemService]
backends:
  catalog:
    kind: rest
    endpoint: ` + endpoint + `
    timeout: 10s
` + extra
}

// TestJSONServerCRUD: json-server (a REST peer nobody here wrote) read and written through the
// bridge, with the same answer on gRPC, REST and MCP.
func TestJSONServerCRUD(t *testing.T) {
	t.Parallel()
	b := newBridge(t, catalog(startJSONServer(t), ""), "acme.items.v1.ItemService")

	got := wantOK(t, b.callEvery(t, "GetItem", `{"id": 2}`, rest{"GET", "/v1/items/2", ""}))
	if want := `{"category":"tools","id":2,"name":"Claw hammer","on_hand":120,"price":14.5,"sku":"A-200","tags":["hand"]}`; got != want {
		t.Errorf("GetItem: %s\nwant %s", got, want)
	}

	// Not found, on every surface.
	nf := wantErr(t, b.callEvery(t, "GetItem", `{"id": 99}`, rest{"GET", "/v1/items/99", ""}), codes.NotFound)
	if nf.reason != "BACKEND_NOT_FOUND" || nf.meta["http_status"] != "404" {
		t.Errorf("GetItem 99: %s %v", nf.reason, nf.meta)
	}

	// Filters from request fields (category), with a page size.
	got = wantOK(t, b.callEvery(t, "ListItems", `{"category": "garden", "page_size": 10}`, rest{"GET", "/v1/items?category=garden&page_size=10", ""}))
	if !strings.Contains(got, `"sku":"B-100"`) || !strings.Contains(got, `"sku":"B-200"`) || strings.Contains(got, `"A-`) || strings.Contains(got, "next_page_token") {
		t.Errorf("ListItems garden: %s", got)
	}

	// Create: each surface creates one item, so the answers differ by id: called one by one.
	created := b.callEvery(t, "CreateItem", `{"sku": "C-100", "name": "Wheelbarrow", "category": "garden", "price": 59.5, "on_hand": 3}`,
		rest{"POST", "/v1/items", `{"sku": "C-100", "name": "Wheelbarrow", "category": "garden", "price": 59.5, "on_hand": 3}`})
	for name, o := range created {
		if o.code != codes.OK {
			t.Fatalf("%s: CreateItem: %v %s", name, o.code, o.msg)
		}
		if s := o.resp.ProtoReflect(); s.Get(s.Descriptor().Fields().ByName("id")).Int() < 6 || s.Get(s.Descriptor().Fields().ByName("name")).String() != "Wheelbarrow" {
			t.Errorf("%s: CreateItem: %v", name, o.resp)
		}
	}

	// A validation error of the backend (422 with its message) is INVALID_ARGUMENT with the
	// backend's words.
	bad := wantErr(t, b.callEvery(t, "CreateItem", `{"sku": "C-200"}`, rest{"POST", "/v1/items", `{"sku": "C-200"}`}), codes.InvalidArgument)
	if bad.reason != "BACKEND_INVALID_ARGUMENT" || !strings.Contains(bad.msg, "name must be a non-empty string") {
		t.Errorf("CreateItem without a name: %s %q", bad.reason, bad.msg)
	}

	// Replace (PUT: the id in the path, the rest in the body).
	got = wantOK(t, b.callEvery(t, "UpdateItem", `{"id": 5, "sku": "B-200", "name": "Leaf rake", "category": "garden", "price": 13, "on_hand": 30, "tags": ["hand"]}`,
		rest{"PUT", "/v1/items/5", `{"sku": "B-200", "name": "Leaf rake", "category": "garden", "price": 13, "on_hand": 30, "tags": ["hand"]}`}))
	if want := `{"category":"garden","id":5,"name":"Leaf rake","on_hand":30,"price":13,"sku":"B-200","tags":["hand"]}`; got != want {
		t.Errorf("UpdateItem: %s\nwant %s", got, want)
	}

	// Delete: the first surface deletes, the others find nothing.
	del := b.callEvery(t, "DeleteItem", `{"id": 4}`, rest{"DELETE", "/v1/items/4", ""})
	oks := 0
	for name, o := range del {
		switch o.code {
		case codes.OK:
			oks++
		case codes.NotFound:
		default:
			t.Errorf("%s: DeleteItem: %v %s", name, o.code, o.msg)
		}
	}
	if oks != 1 {
		t.Errorf("DeleteItem succeeded %d times, want once then NOT_FOUND: %v", oks, del)
	}
	wantErr(t, b.callEvery(t, "GetItem", `{"id": 4}`, rest{"GET", "/v1/items/4", ""}), codes.NotFound)
}

// TestJSONServerPaths: fields read by mxj paths, with reply headers; a path that finds nothing
// leaves an optional field unset.
func TestJSONServerPaths(t *testing.T) {
	t.Parallel()
	b := newBridge(t, catalog(startJSONServer(t), ""), "acme.items.v1.ItemService")
	outs := b.callEvery(t, "GetStock", `{"id": 1}`, rest{"GET", "/v1/items/1/stock", ""})
	for name, o := range outs {
		if o.code != codes.OK {
			t.Fatalf("%s: %v %s", name, o.code, o.msg)
		}
		s := o.resp.ProtoReflect()
		f := s.Descriptor().Fields()
		if s.Get(f.ByName("label")).String() != "Cordless drill" || s.Get(f.ByName("on_hand")).Int() != 42 ||
			s.Get(f.ByName("first_tag")).String() != "power" || s.Has(f.ByName("supplier")) || !strings.HasPrefix(s.Get(f.ByName("etag")).String(), `W/"`) {
			t.Errorf("%s: GetStock: %v", name, o.resp)
		}
	}
	// Item 4 has no tags: first_tag (optional) stays unset.
	got := wantOK(t, b.callEvery(t, "GetStock", `{"id": 4}`, rest{"GET", "/v1/items/4/stock", ""}))
	if strings.Contains(got, "first_tag") || !strings.Contains(got, `"label":"Garden hose"`) {
		t.Errorf("GetStock 4: %s", got)
	}
}

// TestJSONServerPagination: page numbers with X-Total-Count, the Link header's rel="next", and
// offsets, each walked to the end through next_page_token on every surface.
func TestJSONServerPagination(t *testing.T) {
	t.Parallel()
	b := newBridge(t, catalog(startJSONServer(t), ""), "acme.items.v1.ItemService")
	for _, m := range []struct{ method, path string }{{"ListItems", "/v1/items"}, {"ListItemsByLink", "/v1/items:byLink"}, {"ListItemsByOffset", "/v1/items:byOffset"}} {
		t.Run(m.method, func(t *testing.T) {
			var skus []string
			token := ""
			for page := 0; page < 10; page++ {
				req := `{"page_size": 2, "page_token": "` + token + `"}`
				g := same(t, b.callEvery(t, m.method, req, rest{"GET", m.path + "?page_size=2&page_token=" + token, ""}))
				if g.code != codes.OK {
					t.Fatalf("page %d: %v %s", page, g.code, g.msg)
				}
				s := g.resp.ProtoReflect()
				items := s.Get(s.Descriptor().Fields().ByName("items")).List()
				for i := range items.Len() {
					it := items.Get(i).Message()
					skus = append(skus, it.Get(it.Descriptor().Fields().ByName("sku")).String())
				}
				token = s.Get(s.Descriptor().Fields().ByName("next_page_token")).String()
				if token == "" {
					break
				}
			}
			if got := strings.Join(skus, ","); got != "A-100,A-200,A-300,B-100,B-200" {
				t.Errorf("walked %s", got)
			}
		})
	}
	// A token the method did not give out is the caller's mistake.
	bad := wantErr(t, b.callEvery(t, "ListItems", `{"page_token": "bm90LWEtdG9rZW4"}`, rest{"GET", "/v1/items?page_token=bm90LWEtdG9rZW4", ""}), codes.InvalidArgument)
	if bad.reason != "INVALID_PAGE_TOKEN" {
		t.Errorf("reason %s", bad.reason)
	}
}
