package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCommandErrors checks what a user who gets the import command wrong is told.
func TestImportCommandErrors(t *testing.T) {
	wsdl := filepath.Join("..", "..", "..", "shared", "corpus", "wsdl", "postman-numberConversion.wsdl")
	out := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"import"}, `import needs a kind`},
		{[]string{"import", "openapi", "x"}, `import needs a kind`},
		{[]string{"import", "wsdl", "-o", out}, "needs SOURCE and -o DIR"},
		{[]string{"import", "wsdl", wsdl}, "needs SOURCE and -o DIR"},
		{[]string{"import", "wsdl", wsdl, "-o", out, "--binding", "Nope"}, "--binding Nope: no such binding; the WSDL has NumberConversionSoapBinding, NumberConversionSoapBinding12"},
		{[]string{"import", "wsdl", wsdl, "-o", out, "--package", "Bad.Package"}, `--package "Bad.Package" is not a proto package`},
		{[]string{"import", "wsdl", wsdl, "-o", out, "--read-only", "[Get"}, `--read-only "[Get"`},
		{[]string{"import", "wsdl", filepath.Join(out, "missing.wsdl"), "-o", out}, "missing.wsdl: no such file"},
		{[]string{"import", "wsdl", "a.wsdl", "b.wsdl", "-o", out}, "one SOURCE only"},
	}
	for _, c := range cases {
		err := run(context.Background(), c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error holding %q", c.args, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("failed imports wrote %d entries into the output directory", len(entries))
	}
}

// TestImportCommandBinding imports the SOAP 1.2 binding of a WSDL that has both, with flags
// after and before SOURCE, and checks the report and the files.
func TestImportCommandBinding(t *testing.T) {
	wsdl := filepath.Join("..", "..", "..", "shared", "corpus", "wsdl", "postman-numberConversion.wsdl")
	out := t.TempDir()
	var report bytes.Buffer
	args := []string{"import", "wsdl", "--binding", "NumberConversionSoapBinding12", wsdl, "-o", out, "--package", "numbers.v1", "--backend", "numbers", "--endpoint", "http://127.0.0.1:9/numbers"}
	if err := run(context.Background(), args, &report, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), "binding NumberConversionSoapBinding12 (SOAP 1.2); not used: NumberConversionSoapBinding (SOAP 1.1)") {
		t.Errorf("report:\n%s", report.String())
	}
	proto, err := os.ReadFile(filepath.Join(out, "numbers", "v1", "number_conversion.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(proto), "SOAP_VERSION_1_2") || strings.Contains(string(proto), "SOAP_VERSION_1_1") {
		t.Errorf("want only SOAP 1.2 bindings:\n%s", proto)
	}
	cfg, err := os.ReadFile(filepath.Join(out, "agentbridge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  numbers:\n", `endpoint: "http://127.0.0.1:9/numbers"`, `"numbers.v1.NumberConversionService"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("agentbridge.yaml has no %q:\n%s", want, cfg)
		}
	}
	if err := run(context.Background(), []string{"config", "validate", "-config", filepath.Join(out, "agentbridge.yaml")}, io.Discard, io.Discard); err != nil {
		t.Errorf("config validate: %v", err)
	}
}
