package server

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/gen/descriptorset"
)

// Comments holds the leading comments of proto elements by full name. protoc-gen-go's embedded
// descriptors drop comments; make generate keeps them in a descriptor set with source info
// (gen/descriptorset), from which surfaces take descriptions.
type Comments map[protoreflect.FullName]string

// Describe returns the comment of an element, trimmed, or "".
func (c Comments) Describe(name protoreflect.FullName) string { return c[name] }

// EmbeddedComments reads the comments of agentbridge's own protos from the descriptor set that
// make generate compiles into the binary.
func EmbeddedComments() (Comments, error) {
	return ReadComments(descriptorset.Bytes)
}

// ReadComments reads the comments of every file in a serialized FileDescriptorSet.
func ReadComments(set []byte) (Comments, error) {
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(set, &fds); err != nil {
		return nil, fmt.Errorf("descriptor set: %w", err)
	}
	c := Comments{}
	for _, f := range fds.GetFile() {
		byPath := map[string]string{}
		for _, loc := range f.GetSourceCodeInfo().GetLocation() {
			if text := cleanComment(loc.GetLeadingComments()); text != "" {
				byPath[pathKey(loc.GetPath())] = text
			}
		}
		pkg := f.GetPackage()
		for i, svc := range f.GetService() {
			name := protoreflect.FullName(pkg + "." + svc.GetName())
			c.add(name, byPath, 6, int32(i))
			for j, m := range svc.GetMethod() {
				c.add(name.Append(protoreflect.Name(m.GetName())), byPath, 6, int32(i), 2, int32(j))
			}
		}
		for i, m := range f.GetMessageType() {
			c.addMessage(protoreflect.FullName(pkg), m, byPath, []int32{4, int32(i)})
		}
		for i, e := range f.GetEnumType() {
			c.addEnum(protoreflect.FullName(pkg), e, byPath, []int32{5, int32(i)})
		}
	}
	return c, nil
}

func (c Comments) addMessage(parent protoreflect.FullName, m *descriptorpb.DescriptorProto, byPath map[string]string, path []int32) {
	name := parent.Append(protoreflect.Name(m.GetName()))
	if parent == "" {
		name = protoreflect.FullName(m.GetName())
	}
	c.addPath(name, byPath, path)
	for i, f := range m.GetField() {
		c.addPath(name.Append(protoreflect.Name(f.GetName())), byPath, append(path[:len(path):len(path)], 2, int32(i)))
	}
	for i, o := range m.GetOneofDecl() {
		c.addPath(name.Append(protoreflect.Name(o.GetName())), byPath, append(path[:len(path):len(path)], 8, int32(i)))
	}
	for i, n := range m.GetNestedType() {
		c.addMessage(name, n, byPath, append(path[:len(path):len(path)], 3, int32(i)))
	}
	for i, e := range m.GetEnumType() {
		c.addEnum(name, e, byPath, append(path[:len(path):len(path)], 4, int32(i)))
	}
}

func (c Comments) addEnum(parent protoreflect.FullName, e *descriptorpb.EnumDescriptorProto, byPath map[string]string, path []int32) {
	name := parent.Append(protoreflect.Name(e.GetName()))
	c.addPath(name, byPath, path)
	for i, v := range e.GetValue() {
		// Enum values are scoped like their enum's siblings, as protobuf defines.
		c.addPath(parent.Append(protoreflect.Name(v.GetName())), byPath, append(path[:len(path):len(path)], 2, int32(i)))
	}
}

func (c Comments) add(name protoreflect.FullName, byPath map[string]string, path ...int32) {
	c.addPath(name, byPath, path)
}

func (c Comments) addPath(name protoreflect.FullName, byPath map[string]string, path []int32) {
	if text, ok := byPath[pathKey(path)]; ok {
		c[name] = text
	}
}

func pathKey(path []int32) string {
	var b strings.Builder
	for _, p := range path {
		fmt.Fprintf(&b, "%d.", p)
	}
	return b.String()
}

// cleanComment turns a proto comment as protoc records it (each line keeps the space after
// "//") into a description: that one space gone from every line, not only the first, and blank
// lines at either end dropped.
func cleanComment(text string) string {
	lines := strings.Split(strings.TrimRight(text, " \t\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
