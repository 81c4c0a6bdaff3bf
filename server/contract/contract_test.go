package contract_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server/contract"
)

const ordersProto = `syntax = "proto3";

package acme.orders.v1;

import "agentbridge/v1/options.proto";
import "buf/validate/validate.proto";
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";

// Orders of the Acme shop.
service OrderService {
  // Fetch one order.
  rpc GetOrder(GetOrderRequest) returns (Order) {
    option (google.api.http) = {get: "/v1/orders/{id}"};
    option (agentbridge.v1.binding) = {
      backend: "erp"
      soap: {action: "urn:GetOrder", request: {name: "GetOrder"}, response: {name: "GetOrderResponse"}}
    };
  }
}

// Which order.
message GetOrderRequest {
  // The order id.
  string id = 1 [(buf.validate.field).string.min_len = 1];
}

// An order.
message Order {
  string id = 1;
  google.protobuf.Timestamp placed = 2;
}
`

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadProtoTypedOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "proto/acme/orders/v1/orders.proto", ordersProto)
	set, err := contract.Load(context.Background(), contract.Sources{
		ProtoPaths: []string{"proto"},
		Protos:     []string{"acme/orders/v1/orders.proto"},
	}.Resolve(dir))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.orders.v1.OrderService")
	if err != nil {
		t.Fatal(err)
	}
	md := sd.Methods().ByName("GetOrder")
	b := adapters.BindingOf(md)
	if b.GetBackend() != "erp" || b.GetSoap().GetRequest().GetName() != "GetOrder" {
		t.Fatalf("binding option not read as a typed extension: %v", b)
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule.GetGet() != "/v1/orders/{id}" {
		t.Fatalf("google.api.http = %v", rule)
	}
	if got := sd.ParentFile().SourceLocations().ByDescriptor(md).LeadingComments; strings.TrimSpace(got) != "Fetch one order." {
		t.Fatalf("comment = %q", got)
	}
	if !adapters.Dynamic(adapters.MessageType(md.Input()).New().Interface()) {
		t.Fatal("request of a loaded contract is not dynamic")
	}
	if got := set.Services(); len(got) != 1 || got[0] != "acme.orders.v1.OrderService" {
		t.Fatalf("Services() = %v", got)
	}
}

func TestLoadDescriptorSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "proto/acme/orders/v1/orders.proto", ordersProto)
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{"proto"}, Protos: []string{"acme/orders/v1/orders.proto"}}.Resolve(dir))
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := set.Files().FindFileByPath("acme/orders/v1/orders.proto")
	// As buf build writes it: the file and its imports, options as bytes.
	fds := &descriptorpb.FileDescriptorSet{}
	for _, p := range []string{"google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto", "google/api/http.proto", "google/api/annotations.proto", "buf/validate/validate.proto", "agentbridge/v1/options.proto"} {
		dep, err := set.Files().FindFileByPath(p)
		if err != nil {
			t.Fatal(p, err)
		}
		fds.File = append(fds.File, protodesc.ToFileDescriptorProto(dep))
	}
	fds.File = append(fds.File, protodesc.ToFileDescriptorProto(fd))
	data, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "image.binpb", string(data))
	set2, err := contract.Load(context.Background(), contract.Sources{DescriptorSets: []string{"image.binpb"}}.Resolve(dir))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set2.Service("acme.orders.v1.OrderService")
	if err != nil {
		t.Fatal(err)
	}
	if b := adapters.BindingOf(sd.Methods().Get(0)); b.GetBackend() != "erp" {
		t.Fatalf("binding from a descriptor set = %v", b)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "bad/syntax.proto", "syntax = \"proto3\";\npackage x;\nmessage A {\n  strin id = 1;\n}\n")
	write(t, dir, "bad/missing.proto", "syntax = \"proto3\";\npackage y;\nimport \"nowhere/z.proto\";\n")
	write(t, dir, "notaset.binpb", "not a descriptor set \xff\xff")
	for _, tc := range []struct {
		name string
		src  contract.Sources
		want []string
	}{
		{"unknown type", contract.Sources{Protos: []string{"bad/syntax.proto"}}, []string{"bad/syntax.proto:4:3:", "strin"}},
		{"missing import", contract.Sources{Protos: []string{"bad/missing.proto"}}, []string{"bad/missing.proto:3:8:", "nowhere/z.proto"}},
		{"missing file", contract.Sources{Protos: []string{"no/such.proto"}}, []string{"no/such.proto"}},
		{"bad set", contract.Sources{DescriptorSets: []string{"notaset.binpb"}}, []string{"notaset.binpb", "FileDescriptorSet"}},
		{"unknown service", contract.Sources{}, []string{"acme.nope.Service", "neither"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := contract.Load(context.Background(), tc.src.Resolve(dir))
			if err == nil {
				_, err = set.Service("acme.nope.Service")
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestLoadBufImage loads what `buf build -o image.binpb` writes, with the real buf CLI that make
// tools pins: the user's proto and its imports (agentbridge's options, google/api, buf/validate
// and the well-known types, here from this repository's copies), options as buf encodes them.
func TestLoadBufImage(t *testing.T) {
	t.Parallel()
	buf := os.Getenv("AGENTBRIDGE_BUF")
	if buf == "" {
		buf = "../../bin/buf"
	}
	buf, _ = filepath.Abs(buf)
	if _, err := os.Stat(buf); err != nil {
		t.Fatalf("buf is needed: %v (make test builds it into bin/)", err)
	}
	dir := t.TempDir()
	module := filepath.Join(dir, "module")
	write(t, module, "acme/orders/v1/orders.proto", ordersProto)
	for path, from := range map[string]string{
		"agentbridge/v1/options.proto": "../../proto/agentbridge/v1/options.proto",
		"agentbridge/v1/http.proto":    "../../proto/agentbridge/v1/http.proto",
		"agentbridge/v1/xmlrpc.proto":  "../../proto/agentbridge/v1/xmlrpc.proto",
		"google/api/annotations.proto": "../../proto/third_party/googleapis/google/api/annotations.proto",
		"google/api/http.proto":        "../../proto/third_party/googleapis/google/api/http.proto",
		"buf/validate/validate.proto":  "../../proto/third_party/protovalidate/buf/validate/validate.proto",
	} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		write(t, module, path, string(data))
	}
	image := filepath.Join(dir, "image.binpb")
	if out, err := exec.CommandContext(t.Context(), buf, "build", module, "-o", image).CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v\n%s", err, out)
	}
	set, err := contract.Load(context.Background(), contract.Sources{DescriptorSets: []string{image}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.orders.v1.OrderService")
	if err != nil {
		t.Fatal(err)
	}
	md := sd.Methods().ByName("GetOrder")
	if b := adapters.BindingOf(md); b.GetSoap().GetAction() != "urn:GetOrder" {
		t.Fatalf("binding from a buf image = %v", b)
	}
	if rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); rule.GetGet() != "/v1/orders/{id}" {
		t.Fatalf("google.api.http from a buf image = %v", rule)
	}
	if got := strings.TrimSpace(sd.ParentFile().SourceLocations().ByDescriptor(md).LeadingComments); got != "Fetch one order." {
		t.Fatalf("comment from a buf image = %q", got)
	}
	if got := set.Paths(); len(got) != 1 || got[0] != "acme/orders/v1/orders.proto" {
		t.Fatalf("paths = %v: the image's copies of the built-ins should give way to the linked ones", got)
	}
}

// TestLoadProtoFieldBehavior compiles a contract that imports google/api/field_behavior.proto
// without a copy of its own: the built-in resolves to the linked file, so the option is read as
// the typed extension that the server's REQUIRED check looks for.
func TestLoadProtoFieldBehavior(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "acme/notes/v1/notes.proto", `syntax = "proto3";

package acme.notes.v1;

import "google/api/field_behavior.proto";

// Notes.
service NoteService {
  // Add a note.
  rpc AddNote(AddNoteRequest) returns (AddNoteRequest);
}

// A note to add.
message AddNoteRequest {
  // The text.
  string text = 1 [(google.api.field_behavior) = REQUIRED];
  // Set by the server.
  string id = 2 [(google.api.field_behavior) = OUTPUT_ONLY, (google.api.field_behavior) = IMMUTABLE];
}
`)
	set, err := contract.Load(t.Context(), contract.Sources{Protos: []string{"acme/notes/v1/notes.proto"}}.Resolve(dir))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.notes.v1.NoteService")
	if err != nil {
		t.Fatal(err)
	}
	fields := sd.Methods().ByName("AddNote").Input().Fields()
	for _, tc := range []struct {
		field string
		want  []annotations.FieldBehavior
	}{
		{"text", []annotations.FieldBehavior{annotations.FieldBehavior_REQUIRED}},
		{"id", []annotations.FieldBehavior{annotations.FieldBehavior_OUTPUT_ONLY, annotations.FieldBehavior_IMMUTABLE}},
	} {
		got, _ := proto.GetExtension(fields.ByName(protoreflect.Name(tc.field)).Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: field_behavior %v, want %v", tc.field, got, tc.want)
		}
	}
	if fd, err := set.Files().FindFileByPath("google/api/field_behavior.proto"); err != nil || fd != annotations.File_google_api_field_behavior_proto {
		t.Errorf("google/api/field_behavior.proto resolves to %v (%v), not the linked file", fd, err)
	}
}
