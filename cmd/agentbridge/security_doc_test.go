package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// securityDocConfig returns the production config of docs/security.md, with /etc/agentbridge/
// pointed at dir.
func securityDocConfig(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- config validate checks this example: cmd/agentbridge/security_doc_test.go -->\n```yaml\n"
	_, rest, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatal("docs/security.md has no marked production config")
	}
	yaml, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the production config block does not end")
	}
	return strings.ReplaceAll(yaml, "/etc/agentbridge/", dir+"/")
}

// writeSelfSigned writes a certificate and key (PEM) that serve as the server's pair and as a CA.
func writeSelfSigned(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bridge.example.com"},
		DNSNames: []string{"bridge.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if keyPath != "" {
		if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecurityDocConfig validates the production config docs/security.md shows, as written but
// for where its TLS files live, and checks that without its auth section it is refused: it
// binds beyond loopback.
func TestSecurityDocConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeSelfSigned(t, filepath.Join(dir, "tls", "server.crt"), filepath.Join(dir, "tls", "server.key"))
	writeSelfSigned(t, filepath.Join(dir, "tls", "clients-ca.pem"), "")
	config := securityDocConfig(t, dir)
	withoutAuth, _, _ := strings.Cut(config, "auth:\n")
	for _, c := range []struct {
		name, config, want string
		ok                 bool
	}{
		{"as documented", config, "config is valid", true},
		{"without auth", withoutAuth, "http_addr 0.0.0.0:8443 is reachable beyond loopback and no authentication is configured", false},
		{"without auth, insecure", withoutAuth + "auth: {insecure: true}\n", "config is valid", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bridge.yaml")
			if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := run(t.Context(), []string{"config", "validate", "-config", path}, &out, io.Discard)
			text := out.String()
			if err != nil {
				text += err.Error()
			}
			if (err == nil) != c.ok || !strings.Contains(text, c.want) {
				t.Fatalf("got %v, output %q; want ok=%v and %q", err, out.String(), c.ok, c.want)
			}
		})
	}
}

// TestHashKey checks that hash-key prints what sha256sum prints for the key without its
// newline, as the doc's recipe says.
func TestHashKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, key string }{
		{"trailing newline", "example-key-do-not-use\n", "example-key-do-not-use"},
		{"no newline", "example-key-do-not-use", "example-key-do-not-use"},
		{"CRLF", "k-1\r\n", "k-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := hashKey(strings.NewReader(c.in), &out); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(c.key))
			if got := strings.TrimSpace(out.String()); got != hex.EncodeToString(sum[:]) {
				t.Errorf("got %s", got)
			}
		})
	}
	if err := hashKey(strings.NewReader("\n"), io.Discard); err == nil {
		t.Error("an empty key was hashed")
	}
}
