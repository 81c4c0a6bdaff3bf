package server

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCurrentSubmitter: a batch runs as its submitter as the auth config knows it when the run
// starts; one the config no longer knows gets a refusal for every item.
func TestCurrentSubmitter(t *testing.T) {
	t.Parallel()
	a := &authenticator{
		keys:  []apiKey{{principal: &Principal{ID: "buyer", Scopes: []string{"batch"}, Method: AuthAPIKey}}},
		certs: map[string]*Principal{"spiffe://acme/etl": {ID: "spiffe://acme/etl", Scopes: []string{"etl"}, Method: AuthMTLS}},
	}
	s := &Server{auth: a}
	tests := []struct {
		name    string
		by      *batchPrincipal
		scopes  []string // the principal's scopes, when it runs
		refused string   // part of the refusal, when it does not
	}{
		{name: "no submitter", by: nil},
		{name: "a key, scopes as configured now", by: &batchPrincipal{ID: "buyer", Scopes: []string{"batch", "reserve"}, Method: AuthAPIKey}, scopes: []string{"batch"}},
		{name: "a key no longer configured", by: &batchPrincipal{ID: "clerk", Scopes: []string{"batch"}, Method: AuthAPIKey}, refused: `the API key that submitted this batch ("clerk") is no longer configured`},
		{name: "a certificate identity", by: &batchPrincipal{ID: "spiffe://acme/etl", Scopes: []string{"etl", "admin"}, Method: AuthMTLS}, scopes: []string{"etl"}},
		{name: "a certificate identity no longer configured", by: &batchPrincipal{ID: "spiffe://acme/old", Method: AuthMTLS}, refused: "the client certificate identity"},
		{name: "a token subject without an issuer configured", by: &batchPrincipal{ID: "alice", Scopes: []string{"batch"}, Method: AuthJWT}, refused: "the OIDC issuer of the token"},
		{name: "the local operator", by: &batchPrincipal{ID: "operator", Scopes: []string{"*"}, Method: AuthLocal}, scopes: []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := s.currentSubmitter(tt.by)
			switch {
			case tt.refused != "":
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), tt.refused) || p != nil {
					t.Errorf("got %v, %v; want PermissionDenied saying %q", p, err, tt.refused)
				}
			case err != nil:
				t.Errorf("refused: %v", err)
			case tt.by == nil && p != nil:
				t.Errorf("got %+v for no submitter", p)
			case tt.by != nil && (p == nil || p.ID != tt.by.ID || p.Method != tt.by.Method || !slices.Equal(p.Scopes, tt.scopes)):
				t.Errorf("got %+v, want %s with scopes %v", p, tt.by.ID, tt.scopes)
			}
		})
	}
	// Without auth now, items run as every call does.
	if p, err := (&Server{}).currentSubmitter(&batchPrincipal{ID: "buyer", Method: AuthAPIKey}); p != nil || err != nil {
		t.Errorf("without auth: %v %v", p, err)
	}
}
