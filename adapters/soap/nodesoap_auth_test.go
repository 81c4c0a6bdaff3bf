package soap_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server"
)

// Credentials the peer's calculator accepts (PEER_USER, PEER_PASSWORD in server.js).
const (
	nodePeerUser     = "bridge"
	nodePeerPassword = "peer-pa55-w0rd"
)

// nodeAuthRecord is a recorded call with what the peer's authenticate hook found.
type nodeAuthRecord struct {
	Operation string         `json:"operation"`
	Args      map[string]any `json:"args"`
	Auth      *struct {
		Basic *bool `json:"basic,omitempty"`
		WSSE  *struct {
			Username     string `json:"username"`
			PasswordType string `json:"passwordType"`
			Valid        bool   `json:"valid"`
			Timestamp    bool   `json:"timestamp"`
		} `json:"wsse,omitempty"`
	} `json:"auth"`
}

// TestNodeSOAPCredentials sends basic auth and WS-Security UsernameTokens to the node-soap
// peer, which checks them itself: the digest with the profile's formula in JavaScript.
func TestNodeSOAPCredentials(t *testing.T) {
	p := nodeSOAP(t)
	dir := t.TempDir()
	write := func(name, secret string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	good, bad := write("good", nodePeerPassword), write("bad", "not-the-pa55word")
	for i, tt := range []struct {
		name string
		auth *adapters.Auth
		ok   bool
		want string // the peer's verdict, as JSON
	}{
		{"basic", &adapters.Auth{Basic: &adapters.BasicAuth{User: nodePeerUser, PasswordFile: good}}, true, `{"basic":true}`},
		{"ws-security digest and timestamp", &adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: nodePeerUser, PasswordFile: good, Timestamp: 5 * time.Minute}}, true,
			`{"wsse":{"username":"bridge","passwordType":"PasswordDigest","valid":true,"timestamp":true}}`},
		{"ws-security text", &adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: nodePeerUser, PasswordFile: good, PasswordType: adapters.PasswordText}}, true,
			`{"wsse":{"username":"bridge","passwordType":"PasswordText","valid":true,"timestamp":false}}`},
		{"ws-security wrong password", &adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: nodePeerUser, PasswordFile: bad}}, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := serveNodeBridge(t, &server.Config{
				Services: []string{nodeCalculatorService},
				Backends: map[string]adapters.Backend{"calculator": {Kind: "soap", Endpoint: p.Calculator, Auth: tt.auth}},
			}, nil)
			marker := int32(70001 + i) // tells this subtest's record from the others'
			resp, err := b.calculator.Add(nodeCallContext(t), &testingv1.AddRequest{IntA: marker, IntB: 1})
			if !tt.ok {
				if err == nil {
					t.Fatal("the peer accepted a wrong password")
				}
				if strings.Contains(err.Error(), "not-the-pa55word") || strings.Contains(err.Error(), nodePeerPassword) {
					t.Fatalf("the error shows a password: %v", err)
				}
				return
			}
			if err != nil || resp.GetValue() != marker+1 {
				t.Fatalf("Add: %v %v", resp, err)
			}
			rec := findAuthRecord(t, p, fmt.Sprint(marker))
			got, _ := json.Marshal(rec.Auth)
			if string(got) != tt.want {
				t.Fatalf("the peer found %s, want %s", got, tt.want)
			}
		})
	}
}

// findAuthRecord returns the peer's record of the add call whose intA is marker.
func findAuthRecord(t *testing.T, p *nodeSOAPPeer, marker string) nodeAuthRecord {
	t.Helper()
	u, _ := url.Parse(p.Calculator)
	u.Path = "/_received"
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	var recs []nodeAuthRecord
	if err := json.Unmarshal(body, &recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Operation == "add" && fmt.Sprint(r.Args["intA"]) == marker {
			return r
		}
	}
	t.Fatalf("no add call with intA %s recorded", marker)
	return nodeAuthRecord{}
}
