package toolschema_test

import (
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/gen/descriptorset"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// comments reads the leading comments of agentbridge's protos from the descriptor set that make
// generate embeds, as server.Comments does, without depending on the server package.
var comments = sync.OnceValues(func() (map[protoreflect.FullName]string, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(descriptorset.Bytes, &set); err != nil {
		return nil, err
	}
	// The set excludes imports; resolve them from the linked-in Go descriptors.
	files := new(protoregistry.Files)
	out := map[protoreflect.FullName]string{}
	for _, fdp := range set.GetFile() {
		fd, err := protodesc.NewFile(fdp, resolver{files})
		if err != nil {
			return nil, err
		}
		if err := files.RegisterFile(fd); err != nil {
			return nil, err
		}
		collect(fd, fd.Messages(), fd.Enums(), out)
	}
	return out, nil
})

type resolver struct{ local *protoregistry.Files }

func (r resolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.local.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (r resolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.local.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(name)
}

func collect(fd protoreflect.FileDescriptor, msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors, out map[protoreflect.FullName]string) {
	add := func(d protoreflect.Descriptor) {
		if c := strings.TrimSpace(fd.SourceLocations().ByDescriptor(d).LeadingComments); c != "" {
			out[d.FullName()] = c
		}
	}
	for i := range msgs.Len() {
		m := msgs.Get(i)
		add(m)
		for j := range m.Fields().Len() {
			add(m.Fields().Get(j))
		}
		for j := range m.Oneofs().Len() {
			add(m.Oneofs().Get(j))
		}
		collect(fd, m.Messages(), m.Enums(), out)
	}
	for i := range enums.Len() {
		e := enums.Get(i)
		add(e)
		for j := range e.Values().Len() {
			add(e.Values().Get(j))
		}
	}
}

// options describes elements from the embedded comments.
func options(t testing.TB) toolschema.Options {
	t.Helper()
	c, err := comments()
	if err != nil {
		t.Fatal(err)
	}
	return toolschema.Options{Describe: func(n protoreflect.FullName) string { return c[n] }}
}
