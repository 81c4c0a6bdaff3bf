package xmlhttp_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/agentbridge/agentbridge/adapters"
)

// GET and POST by descriptor against the Python peer, on every surface.
func TestPeerDescriptor(t *testing.T) {
	peer := startPeer(t)
	b := newBridge(t, peer, nil)

	t.Run("GET an item", func(t *testing.T) {
		got := b.call(t, "GetItem", `{"sku":"A-100"}`).json(t)
		want := `{"sku":"A-100","name":"Cordless drill","category":"tools","unit_price":"89.90","quantity":42,"status":"ITEM_STATUS_IN_STOCK","tags":["power","cordless"]}`
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("GET with query parameters", func(t *testing.T) {
		// The peer refuses a query parameter it does not know with 400: the names are checked.
		got := b.call(t, "ListItems", `{"category":"tools","max_results":1}`).json(t)
		want := `{"total":1,"item":[{"sku":"A-100","name":"Cordless drill","category":"tools","unit_price":"89.90","quantity":42,"status":"ITEM_STATUS_IN_STOCK","tags":["power","cordless"]}]}`
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		got = b.call(t, "ListItems", `{"category":"garden"}`).json(t)
		if !strings.Contains(got, `"total":1`) || !strings.Contains(got, `"G-100"`) || strings.Contains(got, `"tags"`) {
			t.Errorf("garden: %s", got)
		}
	})
	t.Run("GET an unknown item: the URL names a resource", func(t *testing.T) {
		want{code: codes.NotFound, reason: "BACKEND_NOT_FOUND", message: "no item with SKU Z-1",
			metadata: map[string]string{"http_status": "404", "backend_message": "no item with SKU Z-1"}}.
			check(t, b.call(t, "GetItem", `{"sku":"Z-1"}`))
	})
	t.Run("POST an order", func(t *testing.T) {
		before := peerStats(t, peer)["orders"]
		// Each surface places an order of its own: the outcomes differ in the order id and the
		// stock left, in the order the calls were made.
		for i, o := range b.each(t, "PlaceOrder", `{"sku":"A-200","quantity":2,"customer":"Müller & Söhne <GmbH>"}`) {
			got := o.json(t)
			wantPart := fmt.Sprintf(`"sku":"A-200","quantity":2,"remaining":%d,"customer":"Müller & Söhne <GmbH>"`, 118-2*i)
			if !strings.Contains(got, wantPart) || !strings.Contains(got, `"order_id":"ORD-`) {
				t.Errorf("%s: got %s; want %s", o.surface, got, wantPart)
			}
		}
		if n := peerStats(t, peer)["orders"] - before; n != 3 {
			t.Errorf("the peer took %d orders; want 3, one per surface", n)
		}
		if got := b.call(t, "GetItem", `{"sku":"A-200"}`).json(t); !strings.Contains(got, `"quantity":114`) {
			t.Errorf("after three orders of 2: %s", got)
		}
	})
	t.Run("PUT the stock: the SKU goes in the URL and the document", func(t *testing.T) {
		got := b.call(t, "SetStock", `{"sku":"G-100","quantity":7}`).json(t)
		if !strings.Contains(got, `"sku":"G-100"`) || !strings.Contains(got, `"quantity":7`) {
			t.Errorf("got %s", got)
		}
		if n := peerStats(t, peer)["stock_updates"]; n != 3 {
			t.Errorf("stock updates %d; want 3", n)
		}
	})
	t.Run("an error document in a 200 reply, mapped by the binding's fault rule", func(t *testing.T) {
		want{code: codes.FailedPrecondition, reason: "OUT_OF_STOCK", message: "only 7 of G-100 left. Order fewer, or another item.",
			metadata: map[string]string{"http_status": "200", "fault_code": "OUT_OF_STOCK", "fault_string": "only 7 of G-100 left", "fault_rule": "method:0"}}.
			check(t, b.call(t, "PlaceOrder", `{"sku":"G-100","quantity":50,"customer":"x"}`))
	})
	t.Run("an error document no rule maps", func(t *testing.T) {
		want{code: codes.Internal, reason: "BACKEND_FAULT", message: "backend catalog reported an error (NO_SUCH_ITEM): no item with SKU Q-1",
			metadata: map[string]string{"fault_code": "NO_SUCH_ITEM"}}.
			check(t, b.call(t, "PlaceOrder", `{"sku":"Q-1","quantity":1,"customer":"x"}`))
		if n := peerStats(t, peer)["refused_orders"]; n != 6 {
			t.Errorf("refused orders %d; want 6", n)
		}
	})
}

// Documents mapped by paths: an RSS feed, and a real WSDL of the corpus read as plain XML.
func TestPeerPaths(t *testing.T) {
	peer := startPeer(t)
	b := newBridge(t, peer, nil)
	got := b.call(t, "GetNews", `{}`).json(t)
	want := `{"title":"Acme Warehouse – stock news","ttl_minutes":60,"headlines":["Cordless drill back in stock","Socket wrench set discontinued","Garden hose on sale"],` +
		`"links":["acme-news-a100-restock","acme-news-a400-discontinued","acme-news-g100-sale"],"self_href":"http://warehouse.acme.example/news.rss","description":"Restocks, sales and discontinued lines of the Acme warehouse."}`
	if got != want {
		t.Errorf("news:\ngot  %s\nwant %s", got, want)
	}
	got = b.call(t, "DescribeService", `{"name":"postman-numberConversion"}`).json(t)
	want = `{"name":"NumberConversion","target_namespace":"http://www.dataaccess.com/webservicesserver/","operations":["NumberToWords","NumberToDollars"],"service":"NumberConversion"}`
	if got != want {
		t.Errorf("wsdl:\ngot  %s\nwant %s", got, want)
	}
}

// Replies in other charsets than UTF-8 are decoded.
func TestPeerCharsets(t *testing.T) {
	peer := startPeer(t)
	b := newBridge(t, peer, nil)
	for doc, name := range map[string]string{
		"latin1":          `"name":"Säge für Holz"`,      // ISO-8859-1 by the XML declaration
		"cp1252-header":   `"name":"Drill – 18 V “Pro”"`, // windows-1252 by the Content-Type only
		"utf16":           `"name":"Zange № 5 – 日本製"`,    // UTF-16 with a byte order mark
		"no-content-type": `"name":"Cordless drill"`,     // XML by its look
	} {
		t.Run(doc, func(t *testing.T) {
			if got := b.call(t, "Fetch", `{"doc":"`+doc+`"}`).json(t); !strings.Contains(got, name) {
				t.Errorf("got %s; want %s", got, name)
			}
		})
	}
	if got := b.call(t, "Fetch", `{"doc":"latin1"}`).json(t); !strings.Contains(got, `"tags":["größe M"]`) {
		t.Errorf("latin1 tags: %s", got)
	}
}

// Bad replies: each is a clear status on every surface, and the bridge serves the next call.
func TestPeerBadInput(t *testing.T) {
	peer := startPeer(t)
	b := newBridge(t, peer, nil)
	for _, tt := range []struct {
		doc  string
		want want
	}{
		{"json", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: `answered with Content-Type "application/json" (JSON, by the look of it) where an XML document was expected`,
			metadata: map[string]string{"content_type": "application/json"}}},
		{"html-200", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: "(an HTML page) where an XML document was expected"}},
		{"html-error", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: "answered HTTP 502 (an HTML page, as proxies and servers send for errors)",
			metadata: map[string]string{"http_status": "502"}}},
		{"xml-error", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: "answered HTTP 500: the stock database is down",
			metadata: map[string]string{"backend_message": "the stock database is down"}}},
		{"ratelimited", want{code: codes.ResourceExhausted, reason: "BACKEND_RATE_LIMITED", message: "rate limiting calls (HTTP 429)",
			metadata: map[string]string{"http_status": "429"}}},
		{"loop", want{code: codes.FailedPrecondition, reason: "BACKEND_REJECTED", message: "redirected the call (HTTP 302), which the bridge does not follow"}},
		{"partial", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: "sent malformed XML: the document ends before it is complete"}},
		{"cut", want{code: codes.Unavailable, reason: "BACKEND_UNREACHABLE", message: "closed the connection mid-call"}},
		{"huge", want{code: codes.ResourceExhausted, reason: "REPLY_TOO_LARGE", message: "more than 1048576 bytes, the configured max_reply_bytes"}},
		{"doctype", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: "document type declaration"}},
		{"empty", want{code: codes.Unavailable, reason: "BACKEND_BAD_REPLY", message: "an empty body"}},
		{"wrong-root", want{code: codes.Internal, reason: "BACKEND_REPLY_INVALID", message: "answered with root element product, expected item",
			metadata: map[string]string{"element": "product"}}},
		{"wrong-ns", want{code: codes.Internal, reason: "BACKEND_REPLY_INVALID", message: `in namespace "urn:other", expected namespace "urn:acme:catalog"`}},
		{"unknown-element", want{code: codes.Internal, reason: "BACKEND_REPLY_INVALID", message: "element item/color",
			metadata: map[string]string{"element": "item/color"}}},
		{"bad-number", want{code: codes.Internal, reason: "BACKEND_REPLY_INVALID", message: "element item/quantity",
			metadata: map[string]string{"element": "item/quantity"}}},
	} {
		t.Run(tt.doc, func(t *testing.T) {
			o := b.call(t, "Fetch", `{"doc":"`+tt.doc+`"}`)
			tt.want.check(t, o)
			if tt.doc == "ratelimited" && o.info.GetMetadata()["retry_after"] == "" {
				t.Errorf("no retry_after in %v", o.info.GetMetadata())
			}
			// The bridge is healthy after: a good call succeeds on every surface.
			if got := b.call(t, "Fetch", `{"doc":"good"}`).json(t); !strings.Contains(got, `"name":"Cordless drill"`) {
				t.Errorf("the good call after: %s", got)
			}
		})
	}
}

// A lenient backend skips what its contract does not know, with a count; strict is the default
// (TestPeerBadInput).
func TestPeerLenient(t *testing.T) {
	peer := startPeer(t)
	b := newBridge(t, peer, func(be *adapters.Backend) { be.Lenient = true })
	before := adapters.SkippedCount("catalog")
	for _, doc := range []string{"unknown-element", "wrong-ns"} {
		if got := b.call(t, "Fetch", `{"doc":"`+doc+`"}`).json(t); !strings.Contains(got, `"name":"Cordless drill"`) {
			t.Errorf("%s: %s", doc, got)
		}
	}
	if n := adapters.SkippedCount("catalog") - before; n != 6 {
		t.Errorf("skipped %v elements; want 6 (two documents, three surfaces)", n)
	}
}
