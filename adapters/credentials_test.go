package adapters_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// secretFile writes a secret to a file of the test's own, with the newline editors add.
func secretFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthCheck(t *testing.T) {
	t.Parallel()
	const clear = "hunter2-in-clear"
	for _, tt := range []struct {
		name string
		auth adapters.Auth
		want string // in the error; "" means none
	}{
		{"env reference", adapters.Auth{Basic: &adapters.BasicAuth{User: "u", Password: "${BACKEND_PW}"}}, ""},
		{"file", adapters.Auth{Basic: &adapters.BasicAuth{User: "u", PasswordFile: "/run/secrets/pw"}}, ""},
		{"literal password", adapters.Auth{Basic: &adapters.BasicAuth{User: "u", Password: clear}}, "basic.password: a secret cannot be written in the config in clear; pass it as basic.password: ${ENV_VAR} or basic.password_file"},
		{"partial reference", adapters.Auth{Basic: &adapters.BasicAuth{User: "u", Password: "x${BACKEND_PW}"}}, "cannot be written in the config in clear"},
		{"both", adapters.Auth{Basic: &adapters.BasicAuth{User: "u", Password: "${A}", PasswordFile: "/f"}}, "set basic.password or basic.password_file, not both"},
		{"missing", adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: "u"}}, "ws_security.password: missing"},
		{"literal api key", adapters.Auth{APIKey: &adapters.APIKeyAuth{Header: "X-Key", Key: clear}}, "api_key.key: a secret cannot be written"},
		{"api key nowhere", adapters.Auth{APIKey: &adapters.APIKeyAuth{Key: "${K}"}}, "set header or query"},
		{"literal client secret", adapters.Auth{OAuth2: &adapters.OAuth2Auth{TokenURL: "https://idp/token", ClientID: "c", ClientSecret: clear}}, "oauth2.client_secret: a secret cannot be written"},
		{"basic and oauth2", adapters.Auth{Basic: &adapters.BasicAuth{User: "u", Password: "${A}"}, OAuth2: &adapters.OAuth2Auth{TokenURL: "https://idp/token", ClientID: "c", ClientSecret: "${B}"}}, "choose one"},
		{"password type", adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: "u", Password: "${A}", PasswordType: "md5"}}, "neither digest nor text"},
		{"cert without key", adapters.Auth{TLS: &adapters.ClientTLS{CertFile: "c.pem"}}, "cert_file and key_file go together"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.auth.Check(`backend "erp": auth`)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), clear):
				t.Fatalf("the error repeats the secret: %v", err)
			}
		})
	}
}

// TestCredentialsFromEnv is not parallel: it sets environment variables.
func TestCredentialsFromEnv(t *testing.T) {
	t.Setenv("AB_TEST_USER", "svc-bridge")
	t.Setenv("AB_TEST_PW", "env-pa55word")
	t.Setenv("AB_TEST_KEY", "env-k3y-in-header")
	var got, key atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		key.Store(r.Header.Get("X-Legacy-Key"))
	}))
	t.Cleanup(srv.Close)
	b := adapters.Backend{Name: "erp", Endpoint: srv.URL, Headers: map[string]string{"X-Legacy-Key": "${AB_TEST_KEY}"},
		Auth: &adapters.Auth{Basic: &adapters.BasicAuth{User: "${AB_TEST_USER}", Password: "${AB_TEST_PW}"}}}
	tr := adapters.NewTransport(b, nil)
	if _, err := tr.Post(t.Context(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-bridge:env-pa55word")); got.Load() != want {
		t.Fatalf("Authorization %q, want %q", got.Load(), want)
	}
	if key.Load() != "env-k3y-in-header" {
		t.Fatalf("X-Legacy-Key %q", key.Load())
	}
	if r := tr.Redactor().Replace("echo env-k3y-in-header env-pa55word"); r != "echo [redacted] [redacted]" {
		t.Fatalf("redacted: %q", r)
	}
	b.Auth.Basic.Password = "${AB_TEST_UNSET}"
	err := adapters.NewTransport(b, nil).Err()
	if err == nil || !strings.Contains(err.Error(), "environment variable AB_TEST_UNSET is not set") {
		t.Fatalf("unset variable: %v", err)
	}
}

func TestCredentialsSent(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-k3y-value"
	for _, tt := range []struct {
		name  string
		auth  *adapters.Auth
		check func(r *http.Request) bool
	}{
		{"basic", &adapters.Auth{Basic: &adapters.BasicAuth{User: "bridge"}}, func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			return ok && u == "bridge" && p == secret
		}},
		{"api key header", &adapters.Auth{APIKey: &adapters.APIKeyAuth{Header: "X-API-Key"}}, func(r *http.Request) bool {
			return r.Header.Get("X-API-Key") == secret
		}},
		{"api key query", &adapters.Auth{APIKey: &adapters.APIKeyAuth{Query: "apikey"}}, func(r *http.Request) bool {
			return r.URL.Query().Get("apikey") == secret && r.URL.Query().Get("keep") == "1"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ok atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ok.Store(tt.check(r)) }))
			t.Cleanup(srv.Close)
			f := secretFile(t, secret)
			if tt.auth.Basic != nil {
				tt.auth.Basic.PasswordFile = f
			} else {
				tt.auth.APIKey.KeyFile = f
			}
			tr := adapters.NewTransport(adapters.Backend{Name: "erp", Endpoint: srv.URL + "/soap?keep=1", Auth: tt.auth}, nil)
			if _, err := tr.Post(t.Context(), nil, nil); err != nil {
				t.Fatal(err)
			}
			if !ok.Load() {
				t.Fatal("the backend did not get the credentials")
			}
			if got := tr.Redactor().Replace("echo: " + secret); strings.Contains(got, secret) {
				t.Fatalf("the redactor left the secret: %s", got)
			}
		})
	}
}

// tokenEndpoint is an OAuth2 token endpoint that issues tok-1, tok-2, ... for the client
// credentials grant, each valid for expiresIn seconds.
func tokenEndpoint(t *testing.T, clientSecret string, expiresIn int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var issued atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, sec, _ := r.BasicAuth()
		if r.FormValue("grant_type") != "client_credentials" || id != "bridge-client" || sec != clientSecret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			// A careless IdP that echoes what it got: none of it may reach a caller.
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "bad secret " + sec})
			return
		}
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("tok-%d-opaque", n), "token_type": "Bearer", "expires_in": expiresIn, "scope": r.FormValue("scope")})
	}))
	t.Cleanup(srv.Close)
	return srv, &issued
}

func TestOAuth2ClientCredentials(t *testing.T) {
	t.Parallel()
	const clientSecret = "cl1ent-s3cret"
	for _, tt := range []struct {
		name      string
		expiresIn int
		calls     int
		fetches   int32
		lastToken string
	}{
		// One token serves many calls while it is valid.
		{"cached", 3600, 5, 1, "tok-1-opaque"},
		// A token within oauth2's expiry margin (10s) counts as expired: every call refreshes.
		{"refreshed on expiry", 1, 3, 3, "tok-3-opaque"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idp, issued := tokenEndpoint(t, clientSecret, tt.expiresIn)
			var last atomic.Value
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { last.Store(r.Header.Get("Authorization")) }))
			t.Cleanup(backend.Close)
			tr := adapters.NewTransport(adapters.Backend{Name: "erp", Endpoint: backend.URL, Auth: &adapters.Auth{OAuth2: &adapters.OAuth2Auth{
				TokenURL: idp.URL, ClientID: "bridge-client", ClientSecretFile: secretFile(t, clientSecret), Scopes: []string{"erp.read"},
			}}}, nil)
			for range tt.calls {
				if _, err := tr.Post(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := issued.Load(); got != tt.fetches {
				t.Errorf("%d token fetches for %d calls, want %d", got, tt.calls, tt.fetches)
			}
			if got := last.Load(); got != "Bearer "+tt.lastToken {
				t.Errorf("backend got Authorization %q, want Bearer %s", got, tt.lastToken)
			}
			if got := tr.Redactor().Replace("echo " + tt.lastToken); strings.Contains(got, tt.lastToken) {
				t.Errorf("the redactor left the bearer token: %s", got)
			}
		})
	}
	t.Run("token endpoint refuses", func(t *testing.T) {
		t.Parallel()
		idp, _ := tokenEndpoint(t, "another-secret", 3600)
		var reached atomic.Bool
		backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) }))
		t.Cleanup(backend.Close)
		tr := adapters.NewTransport(adapters.Backend{Name: "erp", Endpoint: backend.URL, Auth: &adapters.Auth{OAuth2: &adapters.OAuth2Auth{
			TokenURL: idp.URL, ClientID: "bridge-client", ClientSecretFile: secretFile(t, clientSecret),
		}}}, nil)
		_, err := tr.Post(t.Context(), nil, nil)
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "HTTP 401 invalid_client") {
			t.Fatalf("got %v, want Unavailable naming HTTP 401 invalid_client", err)
		}
		if strings.Contains(fmt.Sprint(st.Proto()), clientSecret) {
			t.Fatalf("the status leaks the client secret: %v", st.Proto())
		}
		if reached.Load() {
			t.Fatal("the backend was called without a token")
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		t.Parallel()
		tr := adapters.NewTransport(adapters.Backend{Name: "erp", Endpoint: "http://127.0.0.1:1/", Auth: &adapters.Auth{OAuth2: &adapters.OAuth2Auth{
			TokenURL: refusedEndpoint(t), ClientID: "bridge-client", ClientSecretFile: secretFile(t, clientSecret),
		}}}, nil)
		_, err := tr.Post(t.Context(), nil, nil)
		if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "token endpoint could not be reached") {
			t.Fatalf("got %v", err)
		}
	})
}

// writePEM writes a PEM block to a new file in dir.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientTLS serves a backend that requires a client certificate, with a certificate of
// its own that only a custom CA file vouches for.
func TestClientTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bridge"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", der)
	keyFile := writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", srv.Certificate().Raw)

	for _, tt := range []struct {
		name string
		tls  *adapters.ClientTLS
		ok   bool
	}{
		{"client certificate and CA", &adapters.ClientTLS{CertFile: certFile, KeyFile: keyFile, CAFile: caFile}, true},
		{"no client certificate", &adapters.ClientTLS{CAFile: caFile}, false},
		{"system CAs only", &adapters.ClientTLS{CertFile: certFile, KeyFile: keyFile}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := adapters.NewTransport(adapters.Backend{Name: "erp", Endpoint: srv.URL, Auth: &adapters.Auth{TLS: tt.tls}}, nil)
			if err := tr.Err(); err != nil {
				t.Fatal(err)
			}
			reply, err := tr.Post(t.Context(), nil, nil)
			if tt.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && string(reply.Body) != "bridge" {
				t.Fatalf("backend saw %q", reply.Body)
			}
		})
	}
}
