package pathmap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clbanning/mxj/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/pathmap"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/contract"
)

func feedType(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{"testdata"}, Protos: []string{"pathmaptest/v1/feed.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := set.Files().FindDescriptorByName("pathmaptest.v1.Feed")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

func rules(pairs ...string) []*agentbridgev1.FieldPath {
	var out []*agentbridgev1.FieldPath
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, &agentbridgev1.FieldPath{Field: pairs[i], Path: pairs[i+1]})
	}
	return out
}

// decode compiles the rules, decodes doc and returns the message as protojson (proto names).
func decode(t *testing.T, md protoreflect.MessageDescriptor, doc mxj.Map, rs []*agentbridgev1.FieldPath) (string, error) {
	t.Helper()
	p, err := pathmap.Compile(rs, md)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	m := dynamicpb.NewMessage(md)
	if err := p.Decode(doc, m); err != nil {
		return "", err
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return compact(string(b)), nil
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

const rssDoc = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:acme="urn:acme">
  <channel>
    <title>Acme warehouse news</title>
    <ttl> 60 </ttl>
    <category>tools</category>
    <category>garden</category>
    <lastBuildDate>2026-11-02T09:30:00Z</lastBuildDate>
    <acme:publisher city="Berlin">Acme GmbH</acme:publisher>
    <item>
      <title>Cordless drill back in stock</title>
      <link>http://example.com/a-100</link>
      <guid isPermaLink="false">a-100-restock</guid>
      <enclosure url="http://example.com/a.jpg" length="12345" type="image/jpeg"/>
    </item>
    <item>
      <title>Lawn mower on sale</title>
      <link>http://example.com/g-200</link>
      <guid isPermaLink="false">g-200-sale</guid>
      <enclosure url="http://example.com/g.jpg" length="999" type="image/jpeg"/>
    </item>
  </channel>
</rss>`

func TestDecodeXML(t *testing.T) {
	md := feedType(t)
	doc, err := mxj.NewMapXml([]byte(rssDoc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, md, doc, rules(
		"title", "rss.channel.title",
		"ttl", "rss.channel.ttl",
		"categories", "rss.channel.category",
		"built", "rss.channel.lastBuildDate",
		"publisher.name", "rss.channel.publisher", // an element with attributes: its #text
		"publisher.city", "rss.channel.publisher.-city",
		"description", "rss.channel.description", // optional, absent: unset
		"sizes", "rss.channel.item.enclosure.-length",
	))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"title":"Acme warehouse news","ttl":60,"categories":["tools","garden"],"publisher":{"name":"Acme GmbH","city":"Berlin"},"built":"2026-11-02T09:30:00Z","sizes":[12345,999]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDecodeXMLItemsAsMessages(t *testing.T) {
	md := feedType(t)
	doc, err := mxj.NewMapXml([]byte(`<feed><entry><title>One</title><link>l1</link><length>3</length></entry><entry><title>Two</title><link>l2</link><tags>a</tags><tags>b</tags></entry></feed>`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, md, doc, rules("entries", "feed.entry"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"entries":[{"title":"One","link":"l1","length":3},{"title":"Two","link":"l2","tags":["a","b"]}]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// One entry is a single value, not a list: a list of one.
	doc, _ = mxj.NewMapXml([]byte(`<feed><entry><title>Only</title></entry></feed>`))
	if got, err = decode(t, md, doc, rules("entries", "feed.entry")); err != nil || got != `{"entries":[{"title":"Only"}]}` {
		t.Errorf("one entry: %s %v", got, err)
	}
	// An element no field names is an error naming it.
	doc, _ = mxj.NewMapXml([]byte(`<feed><entry><title>One</title><author>x</author></entry></feed>`))
	_, err = decode(t, md, doc, rules("entries", "feed.entry"))
	if err == nil || !strings.Contains(err.Error(), `has no field "author"`) || !strings.Contains(err.Error(), `feed.entry[0]`) {
		t.Errorf("unknown element: %v", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	md := feedType(t)
	doc, err := mxj.NewMapJson([]byte(`{"data":{"feed":{"name":"News","ttl":30,"open":true,"rating":4.5,"views":"18446744073709551615",
		"logo":"aGk=","refresh":"90s","subs":1200,"score":0.25,"big":-9007199254740991,"status":"ARCHIVED","kind":1,
		"entries":[{"title":"A","length":2},{"title":"B","tags":["x"]}],"none":null}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, md, doc, rules(
		"title", "data.feed.name",
		"ttl", "data.feed.ttl",
		"open", "data.feed.open",
		"rating", "data.feed.rating",
		"views", "data.feed.views",
		"logo", "data.feed.logo",
		"refresh", "data.feed.refresh",
		"subscribers", "data.feed.subs",
		"score", "data.feed.score",
		"big", "data.feed.big",
		"status", "data.feed.status",
		"kind", "data.feed.kind",
		"entries", "data.feed.entries",
		"description", "data.feed.none", // null: no value; optional, so unset
	))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"title":"News","ttl":30,"entries":[{"title":"A","length":2},{"title":"B","tags":["x"]}],"status":"STATUS_ARCHIVED","open":true,"rating":4.5,"views":"18446744073709551615","logo":"aGk=","refresh":"90s","subscribers":"1200","score":0.25,"big":"-9007199254740991","kind":"KIND_NEWS"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEnums(t *testing.T) {
	md := feedType(t)
	for _, v := range []string{`"STATUS_LIVE"`, `"LIVE"`, `1`, `"1"`} {
		doc, _ := mxj.NewMapJson([]byte(`{"s":` + v + `}`))
		if got, err := decode(t, md, doc, rules("status", "s")); err != nil || got != `{"status":"STATUS_LIVE"}` {
			t.Errorf("%s: %s %v", v, got, err)
		}
	}
	doc, _ := mxj.NewMapXml([]byte(`<a><s>old</s></a>`)) // xml_value
	if got, err := decode(t, md, doc, rules("status", "a.s")); err != nil || got != `{"status":"STATUS_ARCHIVED"}` {
		t.Errorf("xml_value: %s %v", got, err)
	}
}

func TestErrors(t *testing.T) {
	md := feedType(t)
	for _, tt := range []struct {
		name, doc string
		json      bool
		rules     []*agentbridgev1.FieldPath
		field     string
		path      string
		want      string
	}{
		{"missing without presence", `<rss><channel/></rss>`, false, rules("title", "rss.channel.title"), "title", "rss.channel.title", "no value at this path"},
		{"misspelt list parent", `<rss><channel><item/></channel></rss>`, false, rules("categories", "rss.chanel.category"), "categories", "rss.chanel.category", "likely misspelt"},
		{"not a number", `<a><ttl>sixty</ttl></a>`, false, rules("ttl", "a.ttl"), "ttl", "a.ttl", `the text "sixty" is not an integer`},
		{"out of range", `{"ttl": 3000000000}`, true, rules("ttl", "ttl"), "ttl", "ttl", "not an integer within 32 bits"},
		{"fraction", `{"ttl": 1.5}`, true, rules("ttl", "ttl"), "ttl", "ttl", "not an integer"},
		{"two values", `<a><t>x</t><t>y</t></a>`, false, rules("title", "a.t"), "title", "a.t", "2 values for a singular field"},
		{"bad timestamp", `<a><d>yesterday</d></a>`, false, rules("built", "a.d"), "built", "a.d", "RFC 3339"},
		{"bad enum", `{"s":"GONE"}`, true, rules("status", "s"), "status", "s", "not a value of enum pathmaptest.v1.Status"},
		{"bad bool", `{"b":"yes"}`, true, rules("open", "b"), "open", "b", "not a bool"},
		{"list item", `{"n":[1,"x"]}`, true, rules("sizes", "n"), "sizes", "n[1]", "not an integer"},
		{"map for scalar", `<a><t><b>1</b></t></a>`, false, rules("title", "a.t"), "title", "a.t", "a map where a single value is wanted"},
		{"scalar for message", `{"p":"x"}`, true, rules("publisher", "p"), "publisher", "p", "takes a map of its fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc mxj.Map
			var err error
			if tt.json {
				doc, err = mxj.NewMapJson([]byte(tt.doc))
			} else {
				doc, err = mxj.NewMapXml([]byte(tt.doc))
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = decode(t, md, doc, tt.rules)
			var pe *pathmap.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v; want a *pathmap.Error", err)
			}
			if pe.Field != tt.field || pe.Path != tt.path || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (field %q, path %q); want field %q, path %q, containing %q", err, pe.Field, pe.Path, tt.field, tt.path, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	md := feedType(t)
	for _, tt := range []struct {
		rules []*agentbridgev1.FieldPath
		want  string
	}{
		{rules("nope", "a"), `has no field "nope"`},
		{rules("title", ""), "path is empty"},
		{rules("labels", "a.b"), "is a map"},
		{rules("entries.title", "a.b"), "repeated"},
		{rules("title.x", "a.b"), "not a message field"},
		{rules("title", "a", "title", "b"), "named by an earlier rule"},
		{rules("title", "a..b"), "not a path"},
	} {
		_, err := pathmap.Compile(tt.rules, md)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v; want %q", tt.rules, err, tt.want)
		}
	}
}

func TestPresenceKeepsUnset(t *testing.T) {
	md := feedType(t)
	doc, _ := mxj.NewMapXml([]byte(`<a><t>x</t></a>`))
	got, err := decode(t, md, doc, rules("title", "a.t", "publisher.name", "a.p", "subscribers", "a.s"))
	if err != nil || got != `{"title":"x"}` {
		t.Errorf("%s %v; a message field not found must stay unset, not be made empty", got, err)
	}
	m := dynamicpb.NewMessage(md)
	p, _ := pathmap.Compile(rules("title", "a.t"), md)
	if err := p.Decode(doc, m); err != nil || !proto.Equal(m, func() proto.Message {
		w := dynamicpb.NewMessage(md)
		w.Set(md.Fields().ByName("title"), protoreflect.ValueOfString("x"))
		return w
	}()) {
		t.Errorf("Decode: %v %v", m, err)
	}
}
