package soap_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/agentbridge/agentbridge/adapters"
)

// TestStrictReplies: what a reply holds that the contract does not know fails the call with
// BACKEND_REPLY_INVALID naming where, unless the backend is lenient, which skips it and counts
// each skip.
func TestStrictReplies(t *testing.T) {
	t.Parallel()
	const unknownChild = `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><GetItemResponse xmlns="urn:acme:inventory">` +
		`<item sku="C-300"><name>Ladder</name><unitPrice>7</unitPrice><category>outdoor</category><status>Backordered</status><quantityOnHand>1</quantityOnHand><updatedAt>2025-12-31T23:59:59Z</updatedAt>` +
		`<addedInV2>kept nowhere</addedInV2></item></GetItemResponse></env:Body></env:Envelope>`
	const otherNamespace = `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><GetItemResponse xmlns="urn:acme:other">` +
		`<item sku="C-300"><name>Ladder</name><unitPrice>7</unitPrice><category>outdoor</category><status>Backordered</status><quantityOnHand>1</quantityOnHand><updatedAt>2025-12-31T23:59:59Z</updatedAt>` +
		`</item></GetItemResponse></env:Body></env:Envelope>`
	// Header blocks nobody binds are the envelope's, not the reply's content: they pass.
	const unboundHeader = `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Header><trace xmlns="urn:x"><id>1</id></trace></env:Header>` +
		`<env:Body><GetItemResponse xmlns="urn:acme:inventory"><item sku="C-300"><name>Ladder</name><unitPrice>7</unitPrice><category>outdoor</category><status>Backordered</status><quantityOnHand>1</quantityOnHand><updatedAt>2025-12-31T23:59:59Z</updatedAt>` +
		`</item></GetItemResponse></env:Body></env:Envelope>`
	tests := []struct {
		name, reply, element, says string
	}{
		{"unknown child element", unknownChild, "GetItemResponse/item/addedInV2", "no field for this element"},
		{"response element in another namespace", otherNamespace, "GetItemResponse", `namespace "urn:acme:other", expected namespace "urn:acme:inventory"`},
		{"unbound header block", unboundHeader, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, tt.reply)
			})
			_, strict := newCannedBackend(t, h, nil)
			_, err := bindMethod(t, strict, getItemMethod)(context.Background(), requestFor(getItemMethod))
			if tt.element == "" {
				if err != nil {
					t.Fatalf("strict: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("strict: the call succeeded; want BACKEND_REPLY_INVALID")
			}
			st, ei := statusOf(t, err)
			if st.Code() != codes.Internal || ei.GetReason() != string(adapters.ReasonBackendReplyInvalid) || ei.GetMetadata()["element"] != tt.element || !strings.Contains(st.Message(), tt.says) {
				t.Errorf("strict: got %v (%s, element %q), want %s at %s saying %q", st.Code(), ei.GetReason(), ei.GetMetadata()["element"], adapters.ReasonBackendReplyInvalid, tt.element, tt.says)
			}

			backend := "lenient-" + strings.ReplaceAll(tt.name, " ", "-") // a series of its own
			_, lenient := newCannedBackend(t, h, func(b *adapters.Backend) { b.Name, b.Lenient = backend, true })
			call := bindMethod(t, lenient, getItemMethod)
			for range 2 {
				if _, err := call(context.Background(), requestFor(getItemMethod)); err != nil {
					t.Fatalf("lenient: %v", err)
				}
			}
			if n := adapters.SkippedCount(backend); n != 2 {
				t.Errorf("lenient: %v skips counted, want 2 (one per call)", n)
			}
		})
	}
}
