package soap_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"google.golang.org/grpc/codes"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// TestReplyCharsets: replies in ISO-8859-1, windows-1252 and UTF-16, named by the XML
// declaration, the Content-Type or a byte order mark, decode to the same text; a body that is
// not UTF-8 and names no charset says so.
func TestReplyCharsets(t *testing.T) {
	t.Parallel()
	const name = "Säge für Äste – 5 €" // the dash and the euro sign are in windows-1252, not in ISO-8859-1
	const latin1Name = "Säge für Äste"
	reply := func(decl, name string) string {
		return decl + `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><GetItemResponse xmlns="urn:acme:inventory">` +
			`<item sku="C-300"><name>` + name + `</name><unitPrice>7</unitPrice><category>outdoor</category><status>Backordered</status><quantityOnHand>1</quantityOnHand><updatedAt>2025-12-31T23:59:59Z</updatedAt>` +
			`</item></GetItemResponse></env:Body></env:Envelope>`
	}
	encode := func(e encoding.Encoding, s string) string {
		b, err := e.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	utf16le := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	utf16be := unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	tests := []struct {
		name, contentType, body, want string
	}{
		{"ISO-8859-1 by the XML declaration", "text/xml", encode(charmap.ISO8859_1, reply(`<?xml version="1.0" encoding="ISO-8859-1"?>`, latin1Name)), latin1Name},
		{"windows-1252 by the XML declaration", "text/xml", encode(charmap.Windows1252, reply(`<?xml version="1.0" encoding="windows-1252"?>`, name)), name},
		{"windows-1252 by the Content-Type", `text/xml; charset="windows-1252"`, encode(charmap.Windows1252, reply(`<?xml version="1.0"?>`, name)), name},
		{"ISO-8859-1 by the Content-Type, no declaration", "text/xml;charset=ISO-8859-1", encode(charmap.ISO8859_1, reply("", latin1Name)), latin1Name},
		{"UTF-16LE with a byte order mark", "text/xml", encode(utf16le, reply(`<?xml version="1.0" encoding="UTF-16"?>`, name)), name},
		{"UTF-16BE with a byte order mark", "text/xml; charset=utf-16", encode(utf16be, reply(`<?xml version="1.0" encoding="UTF-16"?>`, name)), name},
		{"UTF-8 with a byte order mark", "text/xml; charset=utf-8", "\uFEFF" + reply(`<?xml version="1.0" encoding="UTF-8"?>`, name), name},
		{"undeclared ISO-8859-1", "text/xml", encode(charmap.ISO8859_1, reply("", latin1Name)), ""},
		{"undeclared ISO-8859-1 in the first element", "text/xml", encode(charmap.ISO8859_1, "<Envelöpe/>"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = io.WriteString(w, tt.body)
			}), nil)
			resp, err := bindMethod(t, a, getItemMethod)(context.Background(), requestFor(getItemMethod))
			if tt.want == "" {
				if err == nil {
					t.Fatal("the call succeeded; want BACKEND_BAD_REPLY")
				}
				st, ei := statusOf(t, err)
				if st.Code() != codes.Unavailable || ei.GetReason() != string(adapters.ReasonBackendBadReply) || !strings.Contains(st.Message(), "not UTF-8 and names no charset") {
					t.Errorf("got %v %s %q, want BACKEND_BAD_REPLY saying the reply is not UTF-8", st.Code(), ei.GetReason(), st.Message())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.(*demov1.GetItemResponse).GetItem().GetName(); got != tt.want {
				t.Errorf("name %q, want %q", got, tt.want)
			}
		})
	}
}
