package adapters_test

import (
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters"
)

func TestRedactor(t *testing.T) {
	t.Parallel()
	r := adapters.NewRedactor(adapters.Backend{
		Name:     "erp",
		Endpoint: "https://svc:s3cr3t-pw@erp.example.com/soap?apikey=k3y-in-query",
		Headers:  map[string]string{"X-API-Key": "ak_live_0123456789", "Authorization": "Basic " + "dXNlcjpodW50ZXIyMjI="},
	})
	for _, tt := range []struct{ in, want string }{
		{"POST https://svc:s3cr3t-pw@erp.example.com/soap?apikey=k3y-in-query failed", "POST [endpoint] failed"},
		{"at https://erp.example.com/soap", "at [endpoint]"},
		{"password s3cr3t-pw refused", "password [redacted] refused"},
		{"key k3y-in-query unknown", "key [redacted] unknown"},
		{"echo: X-API-Key: ak_live_0123456789", "echo: X-API-Key: [redacted]"},
		{"echo: Authorization: Basic dXNlcjpodW50ZXIyMjI=", "echo: Authorization: [redacted]"},
		{"token dXNlcjpodW50ZXIyMjI= expired", "token [redacted] expired"},
		{"user:hunter222 is locked", "[redacted] is locked"},
		{"hunter222", "[redacted]"},
		{"Basic auth as c3ZjOnMzY3IzdC1wdw==", "Basic auth as [redacted]"}, // svc:s3cr3t-pw, as the client sends it
		{"Cannot connect: jdbc:oracle:thin:@db01.corp:1521/ORCL (pool exhausted)", "Cannot connect: [internal address] (pool exhausted)"},
		{"upstream postgres://app@10.1.2.3:5432/erp down", "upstream [internal address] down"},
		{"host sap-prd.acme.internal:8443 timed out", "host [internal address] timed out"},
		{"from 192.168.10.4 and 172.20.0.9:80", "from [internal address] and [internal address]"},
		{"see https://docs.example.com/errors/42", "see https://docs.example.com/errors/42"},
		{"order 10 of 12 failed", "order 10 of 12 failed"},
	} {
		if got := r.Replace(tt.in); got != tt.want {
			t.Errorf("Replace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (*adapters.Redactor)(nil).Replace("db at 10.0.0.1"); !strings.Contains(got, "[internal address]") {
		t.Errorf("nil redactor: %q", got)
	}
}
