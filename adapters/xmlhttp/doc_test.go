package xmlhttp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/agentbridge/agentbridge/server"
)

// docBlock returns the first fenced block of the given language in docs/xml-over-http.md.
func docBlock(t *testing.T, lang string) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/xml-over-http.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "\n```"+lang+"\n")
	if !ok {
		t.Fatalf("docs/xml-over-http.md has no %s block", lang)
	}
	block, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("the %s block is not closed", lang)
	}
	return block + "\n"
}

// The guide's example, proto and config as written, against the peer.
func TestDocExample(t *testing.T) {
	peer := startPeer(t)
	dir := t.TempDir()
	protoPath := filepath.Join(dir, "acme", "catalog", "v1", "catalog.proto")
	if err := os.MkdirAll(filepath.Dir(protoPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(protoPath, []byte(docBlock(t, "proto")), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := strings.ReplaceAll(docBlock(t, "yaml"), "http://xml-gateway.internal:8080/api", peer)
	cfg, err := server.ParseConfig([]byte(yml))
	if err != nil {
		t.Fatalf("the guide's config: %v", err)
	}
	cfg.ProtoPaths = []string{dir}
	cfg.Audit.Sink = server.AuditOff
	b := serveConfig(t, cfg, "acme.catalog.v1.CatalogService")

	if got, want := b.call(t, "GetItem", `{"sku":"A-100"}`).json(t), `{"sku":"A-100","name":"Cordless drill","quantity":42,"tags":["power","cordless"]}`; got != want {
		t.Errorf("GetItem: %s; want %s", got, want)
	}
	for _, o := range b.each(t, "PlaceOrder", `{"sku":"A-200","quantity":2,"customer":"Müller"}`) {
		if got := o.json(t); !strings.Contains(got, `"customer":"Müller"`) {
			t.Errorf("PlaceOrder: %s", got)
		}
	}
	want{code: codes.FailedPrecondition, reason: "OUT_OF_STOCK", message: "Order fewer, or another item."}.
		check(t, b.call(t, "PlaceOrder", `{"sku":"A-200","quantity":1000,"customer":"Müller"}`))
}
