package adapters_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
)

const templateProto = `syntax = "proto3";
package acme.t.v1;
enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; }
message Owner { string login = 1; }
message Req {
  string sku = 1;
  int32 qty = 2;
  Status status = 3;
  optional string site = 4;
  Owner owner = 5;
  repeated string tags = 6;
  bytes blob = 7;
  double price = 8;
}
`

func TestPathTemplate(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "acme/t/v1/t.proto", templateProto).Messages().ByName("Req")
	m := dynamicpb.NewMessage(md)
	set := func(name string, v protoreflect.Value) { m.Set(md.Fields().ByName(protoreflect.Name(name)), v) }
	set("sku", protoreflect.ValueOfString("a/b c?&"))
	set("qty", protoreflect.ValueOfInt32(-3))
	set("status", protoreflect.ValueOfEnum(1))
	set("blob", protoreflect.ValueOfBytes([]byte{0xfb, 0xff}))
	set("price", protoreflect.ValueOfFloat64(0.1))
	owner := m.Mutable(md.Fields().ByName("owner")).Message()
	owner.Set(owner.Descriptor().Fields().ByName("login"), protoreflect.ValueOfString("ada"))

	tmpl, err := adapters.CompileTemplate("/items/{sku}/stock/{qty}?status={status}&by={owner.login}&b={blob}&p={price}&q={sku}", md)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Expand(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/items/a%2Fb%20c%3F&/stock/-3?status=STATUS_OPEN&by=ada&b=%2B%2F8%3D&p=0.1&q=a%2Fb+c%3F%26"; got != want {
		t.Errorf("Expand = %s\nwant      %s", got, want)
	}
	for _, f := range []string{"sku", "qty", "status", "owner", "blob", "price"} {
		if !tmpl.Fields[md.Fields().ByName(protoreflect.Name(f)).Number()] {
			t.Errorf("Fields lacks %s", f)
		}
	}
	if tmpl.Fields[md.Fields().ByName("site").Number()] {
		t.Error("Fields has site")
	}

	// A value the URL needs but the request lacks is an error, not a URL naming nothing.
	for _, tc := range []struct{ tmpl, want string }{
		{"/sites/{site}", "site is required"},
		{"/owners/{owner.login}", "owner.login is required"},
	} {
		empty := dynamicpb.NewMessage(md)
		tmpl, err := adapters.CompileTemplate(tc.tmpl, md)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmpl.Expand(empty); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.tmpl, err, tc.want)
		}
	}
	// An empty string in the path would name the collection instead of an item.
	empty := dynamicpb.NewMessage(md)
	tmpl, _ = adapters.CompileTemplate("/items/{sku}", md)
	if _, err := tmpl.Expand(empty); err == nil {
		t.Error("an empty path segment was accepted")
	}
}

func TestPathTemplateErrors(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "acme/t/v1/t.proto", templateProto).Messages().ByName("Req")
	for tmpl, want := range map[string]string{
		"/items/{nope}":       `has no field "nope"`,
		"/items/{tags}":       "is repeated",
		"/items/{owner}":      "is a message",
		"/items/{owner.x}":    `acme.t.v1.Owner has no field "x"`,
		"/items/{sku":         "{ without a }",
		"/items/sku}":         "} without a {",
		"/items/{}":           "names no field",
		"/items/{sku.x}":      "is not a message field",
		"/a/{sku}/b}/{qty}":   "} without a {",
		"/items/{owner.login": "{ without a }",
	} {
		if _, err := adapters.CompileTemplate(tmpl, md); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", tmpl, err, want)
		}
	}
}
