package server_test

import (
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/server"
)

// TestConfigFaultRules checks backends.NAME.faults: decoded strictly, and checked at load so
// a broken rule names its backend and index before anything is built.
func TestConfigFaultRules(t *testing.T) {
	t.Parallel()
	const head = "services: [agentbridge.testing.v1.VatService]\nbackends:\n  vat:\n    kind: soap\n    endpoint: http://127.0.0.1:1/vat\n    faults:\n"
	tests := []struct {
		name, faults string
		want         string // an error it contains; "" for none
	}{
		{"every field", `      - fault_code: Server
        fault_subcode: Busy
        fault_string: ^INVALID_INPUT$
        fault_detail: {element: err, path: id, value: "7"}
        status: INVALID_ARGUMENT
        reason: INVALID_INPUT
        message: the VAT number is not valid
        hint: Send the two-letter country code and the number without spaces.
`, ""},
		{"proto enum name", "      - {fault_code: Server, status: STATUS_CODE_UNAVAILABLE, reason: MS_UNAVAILABLE}\n", ""},
		{"unknown key in a rule", "      - {fault_code: Server, status: INTERNAL, reason: X_FAULT, code: Client}\n", "field code not found in type adapters.FaultRule"},
		{"unknown key in a detail match", "      - {fault_detail: {element: err, xpath: id}, status: INTERNAL, reason: X_FAULT}\n", "field xpath not found in type adapters.FaultDetailMatch"},
		{"bad pattern", "      - {fault_code: Server, status: INTERNAL, reason: X_FAULT}\n      - {fault_string: 'INVALID_(', status: INVALID_ARGUMENT, reason: INVALID_INPUT}\n",
			`config: backend "vat": faults[1]: fault_string "INVALID_(" is not an RE2 regular expression`},
		{"bad status", "      - {fault_code: Server, status: InvalidArgument, reason: INVALID_INPUT}\n",
			`config: backend "vat": faults[0]: status "InvalidArgument" is not a status code name (one of CANCELLED, UNKNOWN, INVALID_ARGUMENT`},
		{"missing reason", "      - {fault_code: Server, status: INVALID_ARGUMENT}\n", `config: backend "vat": faults[0]: reason is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := server.ParseConfig([]byte(head + tt.faults))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := c.Backends["vat"]
			b.Name = "vat"
			if _, err := b.FaultRules(); err != nil {
				t.Errorf("FaultRules: %v", err)
			}
		})
	}
	t.Run("decoded as written", func(t *testing.T) {
		t.Parallel()
		c, err := server.ParseConfig([]byte(head + "      - {fault_detail: {element: flag, value: ''}, status: NOT_FOUND, reason: NO_FLAG}\n"))
		if err != nil {
			t.Fatal(err)
		}
		got := c.Backends["vat"].Faults
		if len(got) != 1 || got[0].FaultDetail == nil || got[0].FaultDetail.Value == nil || *got[0].FaultDetail.Value != "" || got[0].Status != "NOT_FOUND" {
			t.Errorf("got %+v", got)
		}
	})
}

// TestConfigAuth checks backends.NAME.auth at load: a secret written in clear is an error
// that says how to pass it and never repeats it; references and files are accepted.
func TestConfigAuth(t *testing.T) {
	t.Parallel()
	const head = "services: [agentbridge.testing.v1.VatService]\nbackends:\n  vat:\n    kind: soap\n    endpoint: http://127.0.0.1:1/vat\n    auth:\n"
	const clear = "Tr0ub4dor-in-yaml"
	for _, tt := range []struct{ name, auth, want string }{
		{"basic from env", "      basic: {user: svc, password: '${VAT_PASSWORD}'}\n", ""},
		{"ws-security from a file", "      ws_security: {username: svc, password_file: secrets/vat, password_type: digest, timestamp: 5m}\n", ""},
		{"oauth2", "      oauth2: {token_url: 'https://idp.example/token', client_id: bridge, client_secret: '${VAT_CLIENT_SECRET}', scopes: [vat]}\n", ""},
		{"api key and tls", "      api_key: {header: X-API-Key, key_file: secrets/key}\n      tls: {cert_file: c.pem, key_file: c.key, ca_file: ca.pem}\n", ""},
		{"basic in clear", "      basic: {user: svc, password: " + clear + "}\n",
			`config: backend "vat": auth.basic.password: a secret cannot be written in the config in clear; pass it as basic.password: ${ENV_VAR} or basic.password_file: /path/to/file`},
		{"api key in clear", "      api_key: {query: key, key: " + clear + "}\n", "auth.api_key.key: a secret cannot be written in the config in clear"},
		{"unknown kind", "      kerberos: {principal: svc}\n", "field kerberos not found in type adapters.Auth"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := server.ParseConfig([]byte(head + tt.auth))
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), clear):
				t.Fatalf("the error repeats the secret: %v", err)
			}
		})
	}
}
