// Package prototest compiles .proto sources at test time into descriptors with no Go types, as
// a contract loaded at run time has, so adapter tests can prove they work on dynamic messages
// (see adapters.MessageType).
package prototest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	_ "github.com/agentbridge/agentbridge/gen/agentbridge/v1" // options.proto, linked for imports
)

// Compile compiles one .proto source named path. Imports resolve to the files linked into the
// binary (agentbridge/v1/options.proto, the well-known types). As the run-time contract loader
// does, the result is rebuilt with protodesc from a FileDescriptorProto whose options were
// re-read with the linked extension types, so proto.GetExtension returns agentbridge's
// generated option messages. Every call returns new descriptors, even for the same source.
func Compile(t testing.TB, path, source string) protoreflect.FileDescriptor {
	t.Helper()
	fd, err := compile(path, source)
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	return fd
}

func compile(path, source string) (protoreflect.FileDescriptor, error) {
	c := protocompile.Compiler{Resolver: protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		if p == path {
			return protocompile.SearchResult{Source: strings.NewReader(source)}, nil
		}
		fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
		if err != nil {
			return protocompile.SearchResult{}, fmt.Errorf("import %s: %w", p, err)
		}
		return protocompile.SearchResult{Desc: fd}, nil
	})}
	files, err := c.Compile(context.Background(), path)
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(protodesc.ToFileDescriptorProto(files[0]))
	if err != nil {
		return nil, err
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(data, fdp); err != nil {
		return nil, err
	}
	return protodesc.NewFile(fdp, protoregistry.GlobalFiles)
}
