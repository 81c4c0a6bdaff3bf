package wsdl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

// TestImportTypeTestSchema maps every global component of Apache CXF's type_test.xsd (sequence,
// choice and all nested at depth, groups, attribute groups, extension and restriction of
// complex and simple content, lists, unions, enumerations, substitution groups, any and
// anyAttribute, nillable elements, element refs) through one operation whose request holds
// one element of each, in the three namespaces CXF includes it into, and checks the contract
// builds (every XML plan made) and passes buf lint.
func TestImportTypeTestSchema(t *testing.T) {
	xsdPath, err := filepath.Abs(filepath.Join(corpus, "cxf-type_test.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(xsdPath)
	if err != nil {
		t.Fatal(err)
	}
	// The schema's top-level components, indented by four spaces in the file; some are
	// commented out.
	data = regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAll(data, nil)
	decl := regexp.MustCompile(`(?m)^    <(element|complexType|simpleType)\b[^>]*\bname="([^"]+)"`)
	var fields []string
	seen := map[string]bool{}
	for i, m := range decl.FindAllStringSubmatch(string(data), -1) {
		kind, name := m[1], m[2]
		key := kind + name
		if seen[key] {
			continue
		}
		seen[key] = true
		switch kind {
		case "element":
			fields = append(fields, fmt.Sprintf(`<xsd:element ref="x1:%s" minOccurs="0"/>`, name))
		default:
			fields = append(fields, fmt.Sprintf(`<xsd:element name="f%d_%s" type="x1:%s" minOccurs="0"/>`, i, name, name))
		}
	}
	if len(fields) < 140 {
		t.Fatalf("found %d top-level components in type_test.xsd; the pattern is stale", len(fields))
	}
	// CXF's build extracts the components from itst:it_test_group and itst:builtIn wrappers,
	// which are not XSD; the test does the same into a temporary copy.
	unwrapped := regexp.MustCompile(`(?s)<itst:builtIn\b[^>]*/>|</?itst:it_test_group\b[^>]*>`).ReplaceAll(data, nil)
	xsdPath = filepath.Join(t.TempDir(), "type_test.xsd")
	if err := os.WriteFile(xsdPath, unwrapped, 0o644); err != nil {
		t.Fatal(err)
	}
	includes := ""
	for _, n := range []string{"1", "2", "3"} {
		includes += fmt.Sprintf(`<xsd:schema targetNamespace="http://apache.org/type_test/types%s" elementFormDefault="qualified"><xsd:include schemaLocation="%s"/></xsd:schema>`, n, xsdPath)
	}
	doc := `<?xml version="1.0"?>
<definitions name="TypeTest" targetNamespace="http://apache.org/type_test/wsdl"
  xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://apache.org/type_test/wsdl"
  xmlns:x1="http://apache.org/type_test/types1">
  <types>` + includes + `
    <xsd:schema targetNamespace="http://apache.org/type_test/wsdl" elementFormDefault="qualified">
      <xsd:import namespace="http://apache.org/type_test/types1"/>
      <xsd:element name="echoAll"><xsd:complexType><xsd:sequence>` + strings.Join(fields, "\n") + `</xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="echoAllResponse"><xsd:complexType><xsd:sequence>` + strings.Join(fields, "\n") + `</xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </types>
  <message name="in"><part name="p" element="tns:echoAll"/></message>
  <message name="out"><part name="p" element="tns:echoAllResponse"/></message>
  <portType name="TypeTest"><operation name="echoAll"><input message="tns:in"/><output message="tns:out"/></operation></portType>
  <binding name="TypeTestBinding" type="tns:TypeTest">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="echoAll"><soap:operation soapAction=""/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="TypeTestService"><port name="p" binding="tns:TypeTestBinding"><soap:address location="http://127.0.0.1:9/typetest"/></port></service>
</definitions>`
	src := filepath.Join(t.TempDir(), "type_test.wsdl")
	if err := os.WriteFile(src, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := wsdl.Import(context.Background(), src, wsdl.Options{OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	buildImported(t, dir, res)
	proto := string(res.Proto)
	for _, want := range []string{
		"oneof choice",               // choices
		"attribute: true",            // attributes and attribute groups
		"text: true",                 // simple content
		"nil_of:",                    // nillable elements
		"(agentbridge.v1.xml_value)", // enumerations
	} {
		if !strings.Contains(proto, want) {
			t.Errorf("the proto has no %s", want)
		}
	}
	t.Logf("%d messages, %d enums, %d inexact mappings", strings.Count(proto, "\nmessage "), strings.Count(proto, "\nenum "), len(res.Report.Inexact))
	for _, l := range res.Report.Inexact {
		t.Log("inexact: " + l)
	}
	if buf := os.Getenv("AGENTBRIDGE_BUF"); buf != "" {
		lintImported(t, buf, dir)
	}
}
