// Package contract loads the proto contracts agentbridge serves as data: .proto files compiled
// at start-up (github.com/bufbuild/protocompile), FileDescriptorSets and buf images, and the
// files linked into the binary. A loaded file whose messages have no Go type is served with
// dynamic messages (dynamicpb); the rest of agentbridge cannot tell the difference.
//
// agentbridge's own options (agentbridge/v1/options.proto and the files it imports), google/api
// (annotations, http, field_behavior), buf/validate and the well-known types are built in: a contract imports them without
// vendoring a copy, and they always resolve to the descriptors linked into the binary, so their
// options are read as typed extensions.
//
// Stable API: Sources, Load, Set and its methods.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Built-in imports: linked here so their descriptors and extension types are registered.
	_ "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	_ "google.golang.org/genproto/googleapis/api/annotations"

	_ "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// builtins are the imports every contract may use without a copy of its own. They resolve to
// the linked descriptors, whatever a descriptor set or import path holds under the same name.
var builtins = map[string]bool{
	"agentbridge/v1/options.proto":    true,
	"agentbridge/v1/auth.proto":       true,
	"agentbridge/v1/http.proto":       true,
	"agentbridge/v1/xmlrpc.proto":     true,
	"google/api/annotations.proto":    true,
	"google/api/http.proto":           true,
	"google/api/field_behavior.proto": true,
	"buf/validate/validate.proto":     true,
}

func builtin(path string) (protoreflect.FileDescriptor, bool) {
	if !builtins[path] && !strings.HasPrefix(path, "google/protobuf/") {
		return nil, false
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil {
		return nil, false
	}
	return fd, true
}

// Sources names where contracts come from. Paths are as the caller gives them; the config
// makes them relative to the config file.
type Sources struct {
	// ProtoPaths are the import roots .proto files are found under, as protoc -I.
	ProtoPaths []string
	// Protos are .proto files to compile, relative to an import root.
	Protos []string
	// DescriptorSets are files holding a serialized FileDescriptorSet, such as
	// `buf build -o image.binpb` or `protoc --include_imports -o set.binpb` write.
	DescriptorSets []string
}

// Empty reports whether no contract source is named.
func (s Sources) Empty() bool { return len(s.Protos) == 0 && len(s.DescriptorSets) == 0 }

// sources keeps the text of every .proto file Load compiled, by the descriptor it became, so
// surfaces can offer the contract as its author wrote it (see Source). Descriptors of replaced
// contracts keep theirs: a reload adds one entry per file it compiles.
var sources sync.Map // protoreflect.FileDescriptor → []byte

// Source returns the text of the .proto file fd was compiled from by Load, or false for files
// from a descriptor set or linked into the binary.
func Source(fd protoreflect.FileDescriptor) ([]byte, bool) {
	v, ok := sources.Load(fd)
	if !ok {
		return nil, false
	}
	return v.([]byte), true
}

// Set is a loaded, linked set of contract files and every file they import.
type Set struct {
	files *protoregistry.Files
	paths []string // the files loaded from the sources (not their imports), sorted
}

// Load compiles and reads the contracts. An error names the file and, for a .proto that does
// not compile, the line and column with the compiler's message; every such error is reported,
// not only the first.
func Load(ctx context.Context, src Sources) (*Set, error) {
	var fds []*descriptorpb.FileDescriptorProto
	texts := map[string][]byte{}
	if len(src.Protos) > 0 {
		compiled, err := compile(ctx, src, texts)
		if err != nil {
			return nil, err
		}
		fds = append(fds, compiled...)
	}
	for _, path := range src.DescriptorSets {
		set, err := readSet(path)
		if err != nil {
			return nil, err
		}
		fds = append(fds, set...)
	}
	return link(fds, texts)
}

// compile runs protocompile over the .proto files, with the built-ins resolving to the linked
// descriptors; texts receives each source file's text by path.
func compile(ctx context.Context, src Sources, texts map[string][]byte) ([]*descriptorpb.FileDescriptorProto, error) {
	var errs []error
	rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		errs = append(errs, err)
		if len(errs) >= 20 {
			return errors.New("too many errors")
		}
		return nil
	}, nil)
	sources := &protocompile.SourceResolver{ImportPaths: src.ProtoPaths}
	var textsMu sync.Mutex // protocompile resolves files from several goroutines
	resolver := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if fd, ok := builtin(path); ok {
			return protocompile.SearchResult{Desc: fd}, nil
		}
		res, err := sources.FindFileByPath(path)
		if errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("%s is not under any proto path (%s): %w", path, strings.Join(src.ProtoPaths, ", "), fs.ErrNotExist)
		}
		if err != nil || res.Source == nil {
			return res, err
		}
		text, err := io.ReadAll(res.Source)
		if closer, ok := res.Source.(io.Closer); ok {
			_ = closer.Close()
		}
		if err != nil {
			return res, err
		}
		textsMu.Lock()
		texts[path] = text
		textsMu.Unlock()
		return protocompile.SearchResult{Source: bytes.NewReader(text)}, nil
	})
	c := protocompile.Compiler{
		Resolver:       resolver,
		Reporter:       rep,
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(ctx, src.Protos...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("contract: the protos do not compile:\n  %w", joinLines(errs))
	}
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(files))
	seen := map[string]bool{}
	for _, f := range files {
		collect(f, seen, &out)
	}
	return out, nil
}

// collect appends a compiled file's imports and then the file, once each, skipping built-ins.
func collect(fd protoreflect.FileDescriptor, seen map[string]bool, out *[]*descriptorpb.FileDescriptorProto) {
	if seen[fd.Path()] {
		return
	}
	seen[fd.Path()] = true
	if _, ok := builtin(fd.Path()); ok {
		return
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		collect(imports.Get(i).FileDescriptor, seen, out)
	}
	*out = append(*out, protodesc.ToFileDescriptorProto(fd))
}

type joinedLines []error

func (j joinedLines) Error() string {
	parts := make([]string, len(j))
	for i, e := range j {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n  ")
}

func (j joinedLines) Unwrap() []error { return j }

func joinLines(errs []error) error { return joinedLines(errs) }

func readSet(path string) ([]*descriptorpb.FileDescriptorProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("contract: %s is not a FileDescriptorSet (write one with buf build -o FILE.binpb or protoc --include_imports -o FILE): %w", path, err)
	}
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("contract: %s holds no files", path)
	}
	return set.GetFile(), nil
}

// link turns file protos into descriptors. Each file's options are re-read with the linked
// extension types, so agentbridge's, google.api's and buf.validate's options are typed however
// the file was produced. A path given twice must have the same content.
func link(fds []*descriptorpb.FileDescriptorProto, texts map[string][]byte) (*Set, error) {
	byPath := map[string]*descriptorpb.FileDescriptorProto{}
	var order []string
	for _, fd := range fds {
		if _, ok := builtin(fd.GetName()); ok {
			continue
		}
		if prev, dup := byPath[fd.GetName()]; dup {
			if !sameFile(prev, fd) {
				return nil, fmt.Errorf("contract: %s is given twice with different content", fd.GetName())
			}
			continue
		}
		canon, err := retype(fd)
		if err != nil {
			return nil, fmt.Errorf("contract: %s: %w", fd.GetName(), err)
		}
		byPath[fd.GetName()] = canon
		order = append(order, fd.GetName())
	}
	set := &Set{files: new(protoregistry.Files)}
	state := map[string]int{} // 1 linking, 2 done
	var visit func(path, from string) error
	visit = func(path, from string) error {
		switch state[path] {
		case 1:
			return fmt.Errorf("contract: import cycle through %s", path)
		case 2:
			return nil
		}
		if fd, ok := builtin(path); ok {
			state[path] = 2
			return registerLinked(set.files, fd)
		}
		fdp, ok := byPath[path]
		if !ok {
			return fmt.Errorf("contract: %s imports %s, which no proto path or descriptor set holds (descriptor sets need their imports: buf build includes them; protoc needs --include_imports)", from, path)
		}
		state[path] = 1
		for _, dep := range fdp.GetDependency() {
			if err := visit(dep, path); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(fdp, set.files)
		if err != nil {
			return fmt.Errorf("contract: %s: %w", path, err)
		}
		if err := set.files.RegisterFile(fd); err != nil {
			return fmt.Errorf("contract: %s: %w", path, err)
		}
		state[path] = 2
		return nil
	}
	for _, path := range order {
		if err := visit(path, path); err != nil {
			return nil, err
		}
	}
	for path, text := range texts {
		if fd, err := set.files.FindFileByPath(path); err == nil {
			sources.Store(fd, text)
		}
	}
	set.paths = order
	sort.Strings(set.paths)
	return set, nil
}

// registerLinked registers a linked file and its imports into files, once.
func registerLinked(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		if err := registerLinked(files, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

// retype re-reads a file proto with the linked extension types, turning options held as
// unknown fields into typed extensions.
func retype(fd *descriptorpb.FileDescriptorProto) (*descriptorpb.FileDescriptorProto, error) {
	data, err := proto.Marshal(fd)
	if err != nil {
		return nil, err
	}
	out := new(descriptorpb.FileDescriptorProto)
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(data, out); err != nil {
		return nil, err
	}
	return out, nil
}

func sameFile(a, b *descriptorpb.FileDescriptorProto) bool {
	a, b = proto.CloneOf(a), proto.CloneOf(b)
	a.SourceCodeInfo, b.SourceCodeInfo = nil, nil
	return proto.Equal(a, b)
}

// Files returns the registry of the loaded files and everything they import.
func (s *Set) Files() *protoregistry.Files { return s.files }

// Paths lists the files loaded from the sources, without their imports, sorted.
func (s *Set) Paths() []string { return s.paths }

// Service finds a service by full name: in the loaded files first, then among the services
// linked into the binary (the demo, tests, Go integrations).
func (s *Set) Service(name string) (protoreflect.ServiceDescriptor, error) {
	var d protoreflect.Descriptor
	var err error
	if s != nil {
		d, err = s.files.FindDescriptorByName(protoreflect.FullName(name))
	}
	if s == nil || err != nil {
		d, err = protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	}
	if err != nil {
		return nil, fmt.Errorf("service %q is neither in the loaded contracts nor linked into this binary", name)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%q is a %s, not a service", name, kindOf(d))
	}
	return sd, nil
}

// Services lists the full names of the services in the loaded files, sorted.
func (s *Set) Services() []string {
	var names []string
	for _, path := range s.paths {
		fd, err := s.files.FindFileByPath(path)
		if err != nil {
			continue
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			names = append(names, string(svcs.Get(i).FullName()))
		}
	}
	sort.Strings(names)
	return names
}

func kindOf(d protoreflect.Descriptor) string {
	switch d.(type) {
	case protoreflect.MessageDescriptor:
		return "message"
	case protoreflect.EnumDescriptor:
		return "enum"
	case protoreflect.FieldDescriptor:
		return "field"
	case protoreflect.MethodDescriptor:
		return "method"
	}
	return "declaration"
}

// Resolve makes the relative paths in src relative to dir, as a config file's are.
func (s Sources) Resolve(dir string) Sources {
	abs := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			if filepath.IsAbs(p) {
				out[i] = p
			} else {
				out[i] = filepath.Join(dir, p)
			}
		}
		return out
	}
	out := Sources{ProtoPaths: abs(s.ProtoPaths), Protos: s.Protos, DescriptorSets: abs(s.DescriptorSets)}
	if len(out.ProtoPaths) == 0 && len(out.Protos) > 0 {
		out.ProtoPaths = []string{dir}
	}
	return out
}
