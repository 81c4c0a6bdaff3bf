package wsdl_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

// orderWSDL is a small WSDL whose Order type the stability test changes.
func orderWSDL(orderFields string) string {
	return `<?xml version="1.0"?>
<definitions name="Orders" targetNamespace="urn:example:orders" xmlns="http://schemas.xmlsoap.org/wsdl/"
  xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:example:orders">
  <types>
    <xsd:schema targetNamespace="urn:example:orders" elementFormDefault="qualified">
      <xsd:complexType name="Order"><xsd:sequence>` + orderFields + `</xsd:sequence></xsd:complexType>
      <xsd:element name="GetOrder"><xsd:complexType><xsd:sequence><xsd:element name="id" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="GetOrderResponse"><xsd:complexType><xsd:sequence><xsd:element name="order" type="tns:Order"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="Ping"><xsd:complexType><xsd:sequence><xsd:element name="text" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="PingResponse"><xsd:complexType><xsd:sequence><xsd:element name="text" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </types>
  <message name="GetOrderIn"><part name="p" element="tns:GetOrder"/></message>
  <message name="GetOrderOut"><part name="p" element="tns:GetOrderResponse"/></message>
  <message name="PingIn"><part name="p" element="tns:Ping"/></message>
  <message name="PingOut"><part name="p" element="tns:PingResponse"/></message>
  <portType name="OrdersPort">
    <operation name="GetOrder"><input message="tns:GetOrderIn"/><output message="tns:GetOrderOut"/></operation>
    <operation name="Ping"><input message="tns:PingIn"/><output message="tns:PingOut"/></operation>
  </portType>
  <binding name="OrdersBinding" type="tns:OrdersPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="GetOrder"><soap:operation soapAction="urn:GetOrder"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
    <operation name="Ping"><soap:operation soapAction="urn:Ping"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="Orders"><port name="p" binding="tns:OrdersBinding"><soap:address location="http://127.0.0.1:9/orders"/></port></service>
</definitions>`
}

// TestImportAgainKeepsNumbers imports a WSDL, changes it (an element added, one removed, one
// retyped) and imports it again over the first output: fields keep their numbers, the
// removed one is reserved, the report names the changed tool, and buf breaking (WIRE_JSON)
// reports exactly the change that breaks callers: the retyped field.
func TestImportAgainKeepsNumbers(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "orders.wsdl")
	write := func(fields string) {
		if err := os.WriteFile(src, []byte(orderWSDL(fields)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, old := t.TempDir(), t.TempDir()
	write(`<xsd:element name="id" type="xsd:string"/><xsd:element name="note" type="xsd:string"/><xsd:element name="quantity" type="xsd:int"/><xsd:element name="placedAt" type="xsd:dateTime"/>`)
	first, err := wsdl.Import(ctx, src, wsdl.Options{OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, old} {
		if err := first.WriteTo(d); err != nil {
			t.Fatal(err)
		}
	}
	// note removed, quantity retyped, customer added before placedAt.
	write(`<xsd:element name="id" type="xsd:string"/><xsd:element name="quantity" type="xsd:decimal"/><xsd:element name="customer" type="xsd:string"/><xsd:element name="placedAt" type="xsd:dateTime"/>`)
	second, err := wsdl.Import(ctx, src, wsdl.Options{OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	order := messageText(t, string(second.Proto), "Order")
	for _, want := range []string{
		`string id = 1 `,
		`string quantity = 3 `,
		`string placed_at = 4 `,
		`string customer = 5 `,
		`reserved 2;`,
		`reserved "note";`,
	} {
		if !strings.Contains(order, want) {
			t.Errorf("message Order has no %q:\n%s", want, order)
		}
	}
	changed := strings.Join(second.Report.Changed, "\n")
	if !strings.Contains(changed, "OrdersService_GetOrder: response or binding changed") || strings.Contains(changed, "Ping") {
		t.Errorf("report of changed tools:\n%s", changed)
	}

	buf := os.Getenv("AGENTBRIDGE_BUF")
	if buf == "" {
		t.Skip("AGENTBRIDGE_BUF not set (make test sets it): buf breaking not run")
	}
	bufWorkspace(t, dir)
	bufWorkspace(t, old)
	out, err := runBuf(t, buf, dir, "breaking", "--against", old)
	if err == nil {
		t.Fatalf("buf breaking found nothing; want the retyped quantity")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"quantity"`) || !strings.Contains(lines[0], "type") {
		t.Errorf("buf breaking reported:\n%s\nwant exactly the type change of quantity", out)
	}
}

// messageText returns the text of one message of a proto.
func messageText(t *testing.T, proto, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\nmessage ` + name + ` \{\n.*?\n\}\n`).FindString(proto)
	if m == "" {
		t.Fatalf("no message %s in:\n%s", name, proto)
	}
	return m
}
