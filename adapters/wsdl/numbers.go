package wsdl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/server/contract"
)

// compiled is an imported proto, compiled.
type compiled struct {
	file protoreflect.FileDescriptor
}

// compileProto compiles the proto at dir/path with agentbridge's built-in imports.
func compileProto(ctx context.Context, dir, path string) (*compiled, error) {
	set, err := contract.Load(ctx, contract.Sources{ProtoPaths: []string{dir}, Protos: []string{path}})
	if err != nil {
		return nil, err
	}
	fd, err := set.Files().FindFileByPath(path)
	if err != nil {
		return nil, err
	}
	return &compiled{file: fd}, nil
}

// compileText compiles proto source as if it were at path.
func compileText(ctx context.Context, path string, text []byte) (*compiled, error) {
	dir, err := os.MkdirTemp("", "agentbridge-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, text, 0o644); err != nil {
		return nil, err
	}
	return compileProto(ctx, dir, path)
}

// keepNumbers gives every field and enum value that an earlier import had its number again,
// and reserves the numbers and names of those that are gone, so that callers built against
// the earlier proto keep working wherever the WSDL did not change.
func keepNumbers(f *protoFile, prev *compiled) {
	msgs := prev.file.Messages()
	for _, m := range f.messages {
		old := msgs.ByName(protoreflect.Name(m.name))
		if old == nil {
			continue
		}
		used := map[int]bool{}
		present := map[string]bool{}
		for _, fd := range m.fields {
			present[fd.name] = true
			if o := old.Fields().ByName(protoreflect.Name(fd.name)); o != nil {
				fd.number = int(o.Number())
				used[fd.number] = true
			}
		}
		// Earlier reservations stay; fields gone since are reserved now.
		rr := old.ReservedRanges()
		for i := range rr.Len() {
			r := rr.Get(i)
			for n := r[0]; n < r[1]; n++ {
				m.reserved = append(m.reserved, int(n))
			}
		}
		rn := old.ReservedNames()
		for i := range rn.Len() {
			if !present[string(rn.Get(i))] {
				m.resNames = append(m.resNames, string(rn.Get(i)))
			}
		}
		ofs := old.Fields()
		for i := range ofs.Len() {
			o := ofs.Get(i)
			if !present[string(o.Name())] {
				m.reserved = append(m.reserved, int(o.Number()))
				m.resNames = append(m.resNames, string(o.Name()))
			}
		}
		sort.Ints(m.reserved)
		sort.Strings(m.resNames)
	}
	enums := prev.file.Enums()
	for _, e := range f.enums {
		old := enums.ByName(protoreflect.Name(e.name))
		if old == nil {
			continue
		}
		present := map[string]bool{}
		for _, v := range e.values {
			present[v.name] = true
			if o := old.Values().ByName(protoreflect.Name(v.name)); o != nil {
				v.number = int(o.Number())
			} else {
				v.number = -1
			}
		}
		rr := old.ReservedRanges()
		for i := range rr.Len() {
			r := rr.Get(i)
			for n := r[0]; n <= r[1]; n++ {
				e.reserved = append(e.reserved, int(n))
			}
		}
		ovs := old.Values()
		for i := range ovs.Len() {
			o := ovs.Get(i)
			if !present[string(o.Name())] {
				e.reserved = append(e.reserved, int(o.Number()))
				e.resNames = append(e.resNames, string(o.Name()))
			}
		}
		rn := old.ReservedNames()
		for i := range rn.Len() {
			if !present[string(rn.Get(i))] {
				e.resNames = append(e.resNames, string(rn.Get(i)))
			}
		}
		sort.Ints(e.reserved)
		e.resNames = dedupe(e.resNames)
		sort.Strings(e.resNames)
	}
}

// numberFresh numbers the fields and enum values that keepNumbers left without one, after
// every number in use or reserved.
func numberFresh(f *protoFile) {
	for _, m := range f.messages {
		next := 1
		for _, fd := range m.fields {
			next = max(next, fd.number+1)
		}
		for _, r := range m.reserved {
			next = max(next, r+1)
		}
		for _, fd := range m.fields {
			if fd.number == 0 {
				if next >= 19000 && next <= 19999 {
					next = 20000
				}
				fd.number = next
				next++
			}
		}
	}
	for i, e := range f.enums {
		_ = i
		next := 1
		fresh := false
		for _, v := range e.values {
			if v.number == -1 {
				fresh = true
			}
			next = max(next, v.number+1)
		}
		for _, r := range e.reserved {
			next = max(next, r+1)
		}
		for j, v := range e.values {
			switch {
			case fresh && v.number == -1:
				v.number = next
				next++
			case !fresh && j > 0 && v.number == 0:
				v.number = j
			}
		}
	}
}

// changedTools compares the methods of two imports: added, removed and changed tools (a
// request or response message that reads differently anywhere below it).
func changedTools(prev, cur *compiled) []string {
	type method struct {
		in, out string
	}
	collect := func(c *compiled) map[string]method {
		out := map[string]method{}
		svcs := c.file.Services()
		for i := range svcs.Len() {
			s := svcs.Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				tool := string(s.Name()) + "_" + string(m.Name())
				out[tool] = method{in: fingerprint(m.Input(), map[protoreflect.FullName]bool{}), out: fingerprint(m.Output(), map[protoreflect.FullName]bool{}) + optionsText(m.Options())}
			}
		}
		return out
	}
	a, b := collect(prev), collect(cur)
	var lines []string
	for _, tool := range sortedKeys(b) {
		old, ok := a[tool]
		switch {
		case !ok:
			lines = append(lines, tool+": added")
		case old.in != b[tool].in && old.out != b[tool].out:
			lines = append(lines, tool+": request and response changed")
		case old.in != b[tool].in:
			lines = append(lines, tool+": request changed")
		case old.out != b[tool].out:
			lines = append(lines, tool+": response or binding changed")
		}
	}
	for _, tool := range sortedKeys(a) {
		if _, ok := b[tool]; !ok {
			lines = append(lines, tool+": removed")
		}
	}
	return lines
}

// fingerprint describes a message and every message below it: what a caller depends on.
func fingerprint(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) string {
	if seen[md.FullName()] {
		return string(md.Name())
	}
	seen[md.FullName()] = true
	var b strings.Builder
	b.WriteString(string(md.Name()) + "{")
	fs := md.Fields()
	for i := range fs.Len() {
		f := fs.Get(i)
		fmt.Fprintf(&b, "%s=%d:%s:%s", f.Name(), f.Number(), f.Cardinality(), f.Kind())
		if f.HasPresence() {
			b.WriteString("?")
		}
		switch {
		case f.Message() != nil:
			b.WriteString(fingerprint(f.Message(), seen))
		case f.Enum() != nil:
			vs := f.Enum().Values()
			b.WriteString("(")
			for j := range vs.Len() {
				fmt.Fprintf(&b, "%s=%d%s,", vs.Get(j).Name(), vs.Get(j).Number(), optionsText(vs.Get(j).Options()))
			}
			b.WriteString(")")
		}
		b.WriteString(optionsText(f.Options()) + ";")
	}
	b.WriteString(optionsText(md.Options()) + "}")
	return b.String()
}

func optionsText(m proto.Message) string {
	if m == nil {
		return ""
	}
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return fmt.Sprintf("%x", data)
}
