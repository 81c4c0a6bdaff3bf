package wsdl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

// TestImportNameClashes imports a WSDL built to make names clash: a complex type called like a
// method's request, two portTypes with the same operations, enum values that spell the same
// UPPER_SNAKE name, the same element name in two namespaces, an element and an attribute of
// one name, and a part whose element no schema declares. The proto must compile, build and
// pass buf lint, and the clashes must come out as distinct, deterministic names.
func TestImportNameClashes(t *testing.T) {
	doc := `<?xml version="1.0"?>
<definitions name="Clash" targetNamespace="urn:clash" xmlns="http://schemas.xmlsoap.org/wsdl/"
  xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  xmlns:tns="urn:clash" xmlns:o="urn:other">
  <types>
    <xsd:schema targetNamespace="urn:other" elementFormDefault="qualified">
      <xsd:complexType name="Item"><xsd:sequence><xsd:element name="code" type="xsd:string"/></xsd:sequence></xsd:complexType>
      <xsd:element name="note" type="xsd:string"/>
    </xsd:schema>
    <xsd:schema targetNamespace="urn:clash" elementFormDefault="qualified">
      <xsd:import namespace="urn:other"/>
      <xsd:simpleType name="A"><xsd:restriction base="xsd:string"><xsd:enumeration value="B_C"/><xsd:enumeration value="b-c"/></xsd:restriction></xsd:simpleType>
      <xsd:simpleType name="AB"><xsd:restriction base="xsd:string"><xsd:enumeration value="C"/><xsd:enumeration value="UNSPECIFIED"/></xsd:restriction></xsd:simpleType>
      <xsd:complexType name="Item"><xsd:sequence>
        <xsd:element name="id" type="xsd:string"/>
        <xsd:element name="other" type="o:Item"/>
        <xsd:element ref="o:note"/>
        <xsd:element name="note" type="xsd:string"/>
        <xsd:element name="a" type="tns:A"/>
        <xsd:element name="ab" type="tns:AB"/>
      </xsd:sequence><xsd:attribute name="id" type="xsd:string"/></xsd:complexType>
      <xsd:complexType name="GetItemRequest"><xsd:sequence><xsd:element name="item" type="tns:Item"/></xsd:sequence></xsd:complexType>
      <xsd:element name="GetItem"><xsd:complexType><xsd:sequence><xsd:element name="id" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="GetItemResponse"><xsd:complexType><xsd:sequence><xsd:element name="req" type="tns:GetItemRequest"/></xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </types>
  <message name="In"><part name="p" element="tns:GetItem"/></message>
  <message name="Out"><part name="p" element="tns:GetItemResponse"/></message>
  <message name="GhostIn"><part name="p" element="tns:Ghost"/></message>
  <portType name="ClashSoap"><operation name="GetItem"><input message="tns:In"/><output message="tns:Out"/></operation>
    <operation name="Ghost"><input message="tns:GhostIn"/><output message="tns:Out"/></operation></portType>
  <portType name="ClashAdmin"><operation name="GetItem"><input message="tns:In"/><output message="tns:Out"/></operation></portType>
  <binding name="B1" type="tns:ClashSoap"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="GetItem"><soap:operation soapAction="urn:GetItem"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
    <operation name="Ghost"><soap:operation soapAction="urn:Ghost"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <binding name="B2" type="tns:ClashAdmin"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="GetItem"><soap:operation soapAction="urn:GetItem"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="Clash"><port name="p1" binding="tns:B1"><soap:address location="http://127.0.0.1:9/clash"/></port>
    <port name="p2" binding="tns:B2"><soap:address location="http://127.0.0.1:9/clash"/></port></service>
</definitions>`
	src := filepath.Join(t.TempDir(), "clash.wsdl")
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
	p := string(res.Proto)
	for _, want := range []string{
		"rpc GetItem(GetItemRequest) returns (GetItemResponse)",                                   // the RPC keeps the standard names
		"rpc GetItem(ClashAdminServiceGetItemRequest) returns (ClashAdminServiceGetItemResponse)", // the second service's
		"message GetItemRequest2 {", // the complex type gives way
		"message Item2 {",           // o:Item beside tns:Item
		`string id_2 = `,            // the attribute beside the element
		`string note_2 = `,          // o:note beside note
		"A_B_C = 1",
		"A_B_C_2 = 2",
		"AB_UNSPECIFIED = 0",
		"AB_UNSPECIFIED_2 = 2",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("the proto has no %q", want)
		}
	}
	if !strings.Contains(strings.Join(res.Report.Inexact, "\n"), "{urn:clash}Ghost is not declared") {
		t.Errorf("the undeclared element is not reported: %v", res.Report.Inexact)
	}
	buildImported(t, dir, res)
	if buf := os.Getenv("AGENTBRIDGE_BUF"); buf != "" {
		lintImported(t, buf, dir)
	}
}
