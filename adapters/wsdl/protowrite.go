package wsdl

import (
	"fmt"
	"sort"
	"strings"
)

// print writes the file as proto source, in buf format's layout.
func (f *protoFile) print() []byte {
	var b strings.Builder
	for _, h := range f.header {
		b.WriteString("// " + h + "\n")
	}
	if len(f.header) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("syntax = \"proto3\";\n\n")
	b.WriteString("package " + f.pkg + ";\n\n")
	imports := []string{"agentbridge/v1/options.proto", "google/api/annotations.proto"}
	imports = append(imports, sortedKeys(f.imports)...)
	sort.Strings(imports)
	for _, imp := range imports {
		b.WriteString("import " + quote(imp) + ";\n")
	}
	for _, s := range f.services {
		b.WriteString("\n")
		comment(&b, "", s.comment)
		b.WriteString("service " + s.name + " {\n")
		for i, m := range s.methods {
			if i > 0 {
				b.WriteString("\n")
			}
			comment(&b, "  ", m.comment)
			fmt.Fprintf(&b, "  rpc %s(%s) returns (%s) {\n", m.name, m.input.name, m.output.name)
			if m.readOnly {
				b.WriteString("    option idempotency_level = NO_SIDE_EFFECTS;\n")
			}
			b.WriteString("    option (agentbridge.v1.binding) = " + indentBlock(m.binding, "    ") + ";\n")
			fmt.Fprintf(&b, "    option (google.api.http) = {\n      post: %s\n      body: \"*\"\n    };\n", quote(m.httpPath))
			b.WriteString("  }\n")
		}
		b.WriteString("}\n")
	}
	for _, m := range f.messages {
		b.WriteString("\n")
		printMessage(&b, m)
	}
	for _, e := range f.enums {
		b.WriteString("\n")
		printEnum(&b, e)
	}
	return []byte(b.String())
}

// indentBlock indents every line of a multi-line option value after the first.
func indentBlock(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

func printMessage(b *strings.Builder, m *protoMessage) {
	comment(b, "", m.comment)
	b.WriteString("message " + m.name + " {\n")
	var opts []string
	if m.xmlNS != "" {
		opts = append(opts, "namespace: "+quote(m.xmlNS))
	}
	if m.xsdType.Local != "" {
		t := "type: {name: " + quote(m.xsdType.Local)
		if m.xsdType.Space != "" {
			t += " namespace: " + quote(m.xsdType.Space)
		}
		opts = append(opts, t+"}")
	}
	if len(opts) > 0 {
		b.WriteString("  option (agentbridge.v1.xml_message) = {" + strings.Join(opts, " ") + "};\n")
	}
	printReserved(b, m.reserved, m.resNames)
	if (len(opts) > 0 || len(m.reserved) > 0 || len(m.resNames) > 0) && len(m.fields) > 0 {
		b.WriteString("\n")
	}
	var open *protoOneof
	for i, fd := range m.fields {
		if open != nil && fd.oneof != open {
			b.WriteString("  }\n")
			open = nil
		}
		if i > 0 {
			b.WriteString("\n")
		}
		indent := "  "
		if fd.oneof != nil {
			if open == nil {
				open = fd.oneof
				comment(b, "  ", fd.oneof.comment)
				b.WriteString("  oneof " + fd.oneof.name + " {\n")
			}
			indent = "    "
		}
		comment(b, indent, fd.comment)
		label := fd.label
		if label != "" {
			label += " "
		}
		b.WriteString(indent + label + fd.typ + " " + fd.name + " = " + fmt.Sprint(fd.number))
		if o := fieldOptions(fd); len(o) > 0 {
			b.WriteString(" [" + strings.Join(o, ", ") + "]")
		}
		b.WriteString(";\n")
	}
	if open != nil {
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
}

func fieldOptions(fd *protoField) []string {
	var out, x []string
	if fd.required {
		out = append(out, "(google.api.field_behavior) = REQUIRED")
	}
	o := fd.xml
	if o.name != "" {
		x = append(x, "name: "+quote(o.name))
	}
	if o.namespace != "" {
		x = append(x, "namespace: "+quote(o.namespace))
	}
	if o.attribute {
		x = append(x, "attribute: true")
	}
	if o.text {
		x = append(x, "text: true")
	}
	if o.item != "" {
		x = append(x, "item: "+quote(o.item))
	}
	if o.xsdType != "" {
		x = append(x, "xsd_type: "+quote(o.xsdType))
	}
	if o.nilOf != "" {
		x = append(x, "nil_of: "+quote(o.nilOf))
	}
	if o.header {
		x = append(x, "header: true")
	}
	if o.any {
		x = append(x, "any: true")
	}
	if len(x) > 0 {
		out = append(out, "(agentbridge.v1.xml) = {"+strings.Join(x, " ")+"}")
	}
	return out
}

func printEnum(b *strings.Builder, e *protoEnum) {
	comment(b, "", e.comment)
	b.WriteString("enum " + e.name + " {\n")
	printReserved(b, e.reserved, e.resNames)
	for _, v := range e.values {
		comment(b, "  ", v.comment)
		b.WriteString("  " + v.name + " = " + fmt.Sprint(v.number))
		if v.xml != "" {
			b.WriteString(" [(agentbridge.v1.xml_value) = " + quote(v.xml) + "]")
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
}

// comment writes text as // lines wrapped at 100 columns.
func comment(b *strings.Builder, indent, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	width := 100 - len(indent) - 3
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len(line)+1+len(w) > width {
				b.WriteString(indent + "// " + line + "\n")
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		if line != "" {
			b.WriteString(indent + "// " + line + "\n")
		}
	}
}

// printReserved writes the reserved numbers and names of a message or enum.
func printReserved(b *strings.Builder, nums []int, names []string) {
	if len(nums) > 0 {
		parts := make([]string, len(nums))
		for i, n := range nums {
			parts[i] = fmt.Sprint(n)
		}
		b.WriteString("  reserved " + strings.Join(parts, ", ") + ";\n")
	}
	if len(names) > 0 {
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = quote(n)
		}
		b.WriteString("  reserved " + strings.Join(parts, ", ") + ";\n")
	}
}
