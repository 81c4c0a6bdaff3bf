package wsdl_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

// TestImportFromURL serves corpus directories over HTTP and imports by URL: a wsdl:import and
// the xsd:import inside it are fetched relative to the WSDL's URL, the SOAP encoding namespace
// (imported by a remote URL) is not fetched, and the result matches the import from files.
func TestImportFromURL(t *testing.T) {
	var mu sync.Mutex
	var fetched []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched = append(fetched, r.URL.Path)
		mu.Unlock()
		http.FileServer(http.Dir(corpus)).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, name := range []string{"zeep-import/soap_import_main.wsdl", "wso2-calculator/calculator.wsdl", "nodesoap-cybersource/CyberSourceTransaction_1.26.wsdl"} {
		fetched = nil
		byURL, err := wsdl.Import(context.Background(), srv.URL+"/"+name+"?wsdl", wsdl.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		byFile, err := wsdl.Import(context.Background(), filepath.Join(corpus, name), wsdl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if strip(byURL.Proto) != strip(byFile.Proto) {
			t.Errorf("%s: the import by URL differs from the import from the file", name)
		}
		if len(fetched) < 2 {
			t.Errorf("%s: fetched %v; want the WSDL and what it imports", name, fetched)
		}
		for _, p := range fetched {
			if strings.Contains(p, "soap/encoding") {
				t.Errorf("%s: fetched %s, a built-in namespace", name, p)
			}
		}
	}
}

// strip drops the header comment, which names the source.
func strip(proto []byte) string {
	s := string(proto)
	return s[strings.Index(s, "syntax"):]
}

// TestImportCatalogAndCycles reads absolute locations through a catalog and ends import
// cycles: two WSDLs that import each other, and a schema that includes itself by way of
// another.
func TestImportCatalogAndCycles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.wsdl": `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="urn:cyc" targetNamespace="urn:cyc" name="Cyc">
  <import namespace="urn:cyc" location="https://schemas.example.com/b.wsdl"/>
  <binding name="B" type="tns:P"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Echo"><soap:operation soapAction="urn:Echo"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="Cyc"><port name="p" binding="tns:B"><soap:address location="http://127.0.0.1:9/cyc"/></port></service>
</definitions>`,
		"b.wsdl": `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:cyc" targetNamespace="urn:cyc">
  <import namespace="urn:cyc" location="a.wsdl"/>
  <types><xsd:schema targetNamespace="urn:cyc"><xsd:include schemaLocation="one.xsd"/></xsd:schema></types>
  <message name="In"><part name="p" element="tns:Echo"/></message>
  <message name="Out"><part name="p" element="tns:EchoResponse"/></message>
  <portType name="P"><operation name="Echo"><input message="tns:In"/><output message="tns:Out"/></operation></portType>
</definitions>`,
		"one.xsd": `<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:cyc" targetNamespace="urn:cyc"><xsd:include schemaLocation="two.xsd"/>
  <xsd:element name="Echo"><xsd:complexType><xsd:sequence><xsd:element name="text" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element></xsd:schema>`,
		"two.xsd": `<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:cyc" targetNamespace="urn:cyc"><xsd:include schemaLocation="one.xsd"/>
  <xsd:element name="EchoResponse"><xsd:complexType><xsd:sequence><xsd:element name="text" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element></xsd:schema>`,
		"catalog.txt": "# absolute locations read locally\nhttps://schemas.example.com/ .\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wsdl.Import(context.Background(), filepath.Join(dir, "a.wsdl"), wsdl.Options{}); err == nil || !strings.Contains(err.Error(), "https://schemas.example.com/b.wsdl") {
		t.Fatalf("without a catalog: %v; want a failure to fetch b.wsdl", err)
	}
	catalog, err := wsdl.ReadCatalog(filepath.Join(dir, "catalog.txt"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := wsdl.Import(context.Background(), filepath.Join(dir, "a.wsdl"), wsdl.Options{Catalog: catalog})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(res.Proto), "rpc Echo(EchoRequest) returns (EchoResponse)") != 1 || len(res.Services) != 1 {
		t.Errorf("want one service with one Echo method (a.wsdl read once, though b.wsdl names it by URL):\n%s", res.Proto)
	}
}

// TestImportErrorsAreLocated checks that a broken WSDL fails with the document, line and
// column and what is wrong.
func TestImportErrorsAreLocated(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ text, want string }{
		"unbound.wsdl":  {`<definitions xmlns="http://schemas.xmlsoap.org/wsdl/">` + "\n  <tns:message/></definitions>", `unbound.wsdl:2:3: element <tns:message> uses the prefix "tns"`},
		"badqname.wsdl": {`<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:x"><portType name="P"><operation name="O"><input message="nope:In"/><output message="nope:Out"/></operation></portType>` + "\n" + `<binding name="B" type="x:P" xmlns:x="urn:x" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"><soap:binding/><operation name="O"/></binding></definitions>`, `uses the prefix "nope"`},
		"notxml.wsdl":   {`<html><body>Service Unavailable`, "notxml.wsdl"},
		"doctype.wsdl":  {`<!DOCTYPE x [<!ENTITY a "b">]><definitions/>`, "document type declaration"},
		"html.wsdl":     {`<html><body>hi</body></html>`, "neither a WSDL"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := wsdl.Import(context.Background(), p, wsdl.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error holding %q", name, err, c.want)
		}
	}
}

// TestImportEncodings reads WSDLs in the encodings older SOAP stacks write: ISO-8859-1
// declared, UTF-16 with a byte order mark, and UTF-8 with one.
func TestImportEncodings(t *testing.T) {
	const body = `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:enc" targetNamespace="urn:enc" name="Enc">
  <types><xsd:schema targetNamespace="urn:enc"><xsd:element name="Size"><xsd:complexType><xsd:sequence><xsd:element name="size" type="xsd:string"><xsd:annotation><xsd:documentation>Größe in mm²</xsd:documentation></xsd:annotation></xsd:element></xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="SizeResponse"><xsd:complexType><xsd:sequence><xsd:element name="ok" type="xsd:boolean"/></xsd:sequence></xsd:complexType></xsd:element></xsd:schema></types>
  <message name="In"><part name="p" element="tns:Size"/></message><message name="Out"><part name="p" element="tns:SizeResponse"/></message>
  <portType name="P"><operation name="Size"><input message="tns:In"/><output message="tns:Out"/></operation></portType>
  <binding name="B" type="tns:P"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/><operation name="Size"><soap:operation soapAction=""/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation></binding>
  <service name="Enc"><port name="p" binding="tns:B"><soap:address location="http://127.0.0.1:9/enc"/></port></service>
</definitions>`
	latin1 := []byte(`<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n")
	for _, r := range body {
		latin1 = append(latin1, byte(r)) // every character of body is in Latin-1
	}
	utf16 := []byte{0xFF, 0xFE}
	for _, r := range `<?xml version="1.0" encoding="UTF-16"?>` + "\n" + body {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"latin1.wsdl":  latin1,
		"utf16.wsdl":   utf16,
		"utf8bom.wsdl": append([]byte{0xEF, 0xBB, 0xBF}, body...),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := wsdl.Import(context.Background(), p, wsdl.Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.Contains(string(res.Proto), "// Größe in mm²") {
			t.Errorf("%s: the documentation did not survive:\n%s", name, res.Proto)
		}
	}
}

// TestImportReportsUnmappedContent: XSD 1.1 content the importer does not map (openContent,
// assert) is named in the report rather than passed over.
func TestImportReportsUnmappedContent(t *testing.T) {
	doc := `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:u" targetNamespace="urn:u" name="U">
  <types><xsd:schema targetNamespace="urn:u"><xsd:element name="Op"><xsd:complexType><xsd:openContent mode="interleave"><xsd:any/></xsd:openContent><xsd:sequence><xsd:element name="a" type="xsd:int"/></xsd:sequence><xsd:assert test="a gt 0"/></xsd:complexType></xsd:element>
  <xsd:element name="OpResponse"><xsd:complexType><xsd:sequence><xsd:element name="ok" type="xsd:boolean"/></xsd:sequence></xsd:complexType></xsd:element></xsd:schema></types>
  <message name="In"><part name="p" element="tns:Op"/></message><message name="Out"><part name="p" element="tns:OpResponse"/></message>
  <portType name="P"><operation name="Op"><input message="tns:In"/><output message="tns:Out"/></operation></portType>
  <binding name="B" type="tns:P"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/><operation name="Op"><soap:operation soapAction=""/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation></binding>
  <service name="U"><port name="p" binding="tns:B"><soap:address location="http://127.0.0.1:9/u"/></port></service>
</definitions>`
	p := filepath.Join(t.TempDir(), "u.wsdl")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := wsdl.Import(context.Background(), p, wsdl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	report := strings.Join(res.Report.Inexact, "\n")
	for _, want := range []string{"xsd:openContent is not mapped", "xsd:assert is not mapped"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report does not say %q:\n%s", want, report)
		}
	}
}
