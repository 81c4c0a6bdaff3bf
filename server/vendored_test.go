package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	_ "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	_ "google.golang.org/genproto/googleapis/api/annotations"
)

// TestVendoredProtosMatchLinkedCode compiles each vendored proto and compares it with the
// descriptor the Go module that owns it registers: protos and generated code from different
// releases would compile but validate or route differently at run time.
func TestVendoredProtosMatchLinkedCode(t *testing.T) {
	t.Parallel()
	roots := map[string]string{
		"buf/validate/validate.proto":     "../proto/third_party/protovalidate",
		"google/api/annotations.proto":    "../proto/third_party/googleapis",
		"google/api/http.proto":           "../proto/third_party/googleapis",
		"google/api/field_behavior.proto": "../proto/third_party/googleapis",
	}
	for file, root := range roots {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(filepath.Join(root, file)); err != nil {
				t.Fatal(err)
			}
			compiler := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{root}})}
			files, err := compiler.Compile(t.Context(), file)
			if err != nil {
				t.Fatal(err)
			}
			vendored := protodesc.ToFileDescriptorProto(files[0])
			linked, err := protoregistry.GlobalFiles.FindFileByPath(file)
			if err != nil {
				t.Fatal(err)
			}
			want := protodesc.ToFileDescriptorProto(linked)
			vendored, want = normalize(t, vendored), normalize(t, want)
			if !proto.Equal(vendored, want) {
				t.Errorf("vendored %s differs from the descriptor linked from Go (%s); vendor the release matching go.mod",
					file, protoreflect.FullName(want.GetPackage()))
			}
		})
	}
}

// normalize drops what does not change behaviour in Go (source info, json_name, file options
// for other languages) and reads extensions in options as linked types, so that options from
// the compiler and from the Go registry compare equal when they hold the same values.
func normalize(t *testing.T, fd *descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorProto {
	t.Helper()
	fd.SourceCodeInfo = nil
	fd.Options = nil
	clearJSONNames(fd)
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
	if err != nil {
		t.Fatal(err)
	}
	out := &descriptorpb.FileDescriptorProto{}
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// clearJSONNames drops json_name, which compilers fill in differently.
func clearJSONNames(fd *descriptorpb.FileDescriptorProto) {
	var msg func(m *descriptorpb.DescriptorProto)
	msg = func(m *descriptorpb.DescriptorProto) {
		for _, f := range m.GetField() {
			f.JsonName = nil
		}
		for _, n := range m.GetNestedType() {
			msg(n)
		}
	}
	for _, m := range fd.GetMessageType() {
		msg(m)
	}
	for _, f := range fd.GetExtension() {
		f.JsonName = nil
	}
}
