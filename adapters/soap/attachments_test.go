package soap_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
)

// attachmentsProto is the contract of the corpus's s08 WSDL (node-soap's MTOM sample,
// rpc/encoded getAttachments): the two parts as the references they are (string), and as the
// attachments' content (bytes).
const attachmentsProto = `syntax = "proto3";
package acme.mtom.v1;
import "agentbridge/v1/options.proto";
service MTOMService {
  rpc GetAttachmentRefs(GetAttachmentsRequest) returns (AttachmentRefs) {
    option (agentbridge.v1.binding) = {backend: "mtom" soap: {
      request: {name: "getAttachments" namespace: "urn:examples:MTOMService"}
      response: {name: "getAttachmentsResponse" namespace: "urn:examples:MTOMService"}
      use: SOAP_USE_ENCODED}};
  }
  rpc GetAttachments(GetAttachmentsRequest) returns (Attachments) {
    option (agentbridge.v1.binding) = {backend: "mtom" soap: {
      request: {name: "getAttachments" namespace: "urn:examples:MTOMService"}
      response: {name: "getAttachmentsResponse" namespace: "urn:examples:MTOMService"}
      use: SOAP_USE_ENCODED}};
  }
  rpc GetAttachmentsLiteral(GetAttachmentsRequest) returns (Attachments) {
    option (agentbridge.v1.binding) = {backend: "mtom" soap: {
      request: {name: "getAttachments" namespace: "urn:examples:MTOMService"}
      response: {name: "getAttachmentsResponse" namespace: "urn:examples:MTOMService"}}};
  }
}
message GetAttachmentsRequest {}
message AttachmentRefs {
  string attachment1 = 1;
  string attachment2 = 2;
}
message Attachments {
  bytes attachment1 = 1;
  bytes attachment2 = 2;
}
`

// cannedWithType answers every call with body and the Content-Type the corpus recorded.
func cannedWithType(ct, body string) http.HandlerFunc { return canned(200, ct, body) }

// TestCorpusMultipartRelated decodes the corpus's multipart/related reply (s08): the envelope
// is read out of its part, and the references read as node-soap reads them
// (response.json). Bound as bytes, the references name attachments the reply does not carry
// (the sample's binary part has no Content-ID), which is an error, not an empty field.
func TestCorpusMultipartRelated(t *testing.T) {
	t.Parallel()
	reply := string(readCorpus(t, "s08-multipart-related-attachments-response/response.xml"))
	var header map[string]string
	if err := json.Unmarshal(readCorpus(t, "s08-multipart-related-attachments-response/responseHttpHeader.json"), &header); err != nil {
		t.Fatal(err)
	}
	var nodeSOAP struct {
		Attachment1 struct {
			Value string `json:"$value"`
		} `json:"attachment1"`
		Attachment2 struct {
			Value string `json:"$value"`
		} `json:"attachment2"`
	}
	if err := json.Unmarshal(readCorpus(t, "s08-multipart-related-attachments-response/response.json"), &nodeSOAP); err != nil {
		t.Fatal(err)
	}
	svc := prototest.Compile(t, "acme/mtom/v1/mtom.proto", attachmentsProto).Services().ByName("MTOMService")
	_, a := newCannedBackend(t, cannedWithType(header["content-type"], reply), func(b *adapters.Backend) { b.Name = "mtom-corpus" })

	refs := svc.Methods().ByName("GetAttachmentRefs")
	before := adapters.SkippedCount("mtom-corpus")
	resp, err := bindMethod(t, a, refs)(context.Background(), newMessage(t, refs.Input(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	// The sample's binary part has no Content-ID and no field holds it: counted, not dropped
	// unseen.
	if got := adapters.SkippedCount("mtom-corpus") - before; got != 1 {
		t.Errorf("parts counted as skipped: %v, want 1", got)
	}
	got, _ := protojson.Marshal(resp)
	var ours struct{ Attachment1, Attachment2 string }
	if err := json.Unmarshal(got, &ours); err != nil {
		t.Fatal(err)
	}
	if ours.Attachment1 != nodeSOAP.Attachment1.Value || ours.Attachment2 != nodeSOAP.Attachment2.Value || ours.Attachment1 != "cid:1186818862128" {
		t.Errorf("agentbridge %s, node-soap %+v", got, nodeSOAP)
	}

	content := svc.Methods().ByName("GetAttachments")
	_, err = bindMethod(t, a, content)(context.Background(), newMessage(t, content.Input(), `{}`))
	st, ei := statusOf(t, err)
	if st.Code() != codes.Internal || ei.GetReason() != string(adapters.ReasonBackendReplyInvalid) || !strings.Contains(st.Message(), "the reply has no attachment cid:1186818862128") {
		t.Errorf("bytes from a missing attachment: %v %s %q", st.Code(), ei.GetReason(), st.Message())
	}
}

// TestMultipartRelatedAttachments: with Content-IDs, a bytes field gets its part's content;
// the root part is the one start names, wherever it is; a reply that is not well-formed
// multipart is a bad reply.
func TestMultipartRelatedAttachments(t *testing.T) {
	t.Parallel()
	svc := prototest.Compile(t, "acme/mtom/v1/mtom.proto", attachmentsProto).Services().ByName("MTOMService")
	content := svc.Methods().ByName("GetAttachments")
	envelope := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:urn="urn:examples:MTOMService"><soapenv:Body>` +
		`<urn:getAttachmentsResponse><attachment1 xsi:type="xsd:base64Binary">cid:one@acme</attachment1><attachment2 xsi:type="xsd:base64Binary">AAEC</attachment2></urn:getAttachmentsResponse></soapenv:Body></soapenv:Envelope>`
	body := "--B\r\nContent-Type: image/tiff\r\nContent-ID: <one@acme>\r\n\r\n\x00\xffbinary\r\n--B\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <root@acme>\r\n\r\n" + envelope + "\r\n--B--\r\n"
	_, a := newCannedBackend(t, cannedWithType(`multipart/related; boundary=B; type="text/xml"; start="<root@acme>"`, body), func(b *adapters.Backend) { b.Name = "mtom" })
	resp, err := bindMethod(t, a, content)(context.Background(), newMessage(t, content.Input(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := protojson.Marshal(resp)
	if want := `{"attachment1":"AP9iaW5hcnk=","attachment2":"AAEC"}`; strings.ReplaceAll(string(got), " ", "") != want {
		t.Errorf("got %s, want %s", got, want)
	}

	_, bad := newCannedBackend(t, cannedWithType(`multipart/related; boundary=B`, "--B\r\nContent-Type: text/xml\r\n\r\n<x/>"), func(b *adapters.Backend) { b.Name = "mtom" })
	_, err = bindMethod(t, bad, content)(context.Background(), newMessage(t, content.Input(), `{}`))
	if st, ei := statusOf(t, err); st.Code() != codes.Unavailable || ei.GetReason() != string(adapters.ReasonBackendBadReply) {
		t.Errorf("a cut-off multipart reply: %v %s %q", st.Code(), ei.GetReason(), st.Message())
	}
}

// TestTextOutsideTheEnvelope: a multipart reply labelled text/xml, or any text before the
// Envelope or between its children, is not read as if it were not there.
func TestTextOutsideTheEnvelope(t *testing.T) {
	t.Parallel()
	svc := prototest.Compile(t, "acme/mtom/v1/mtom.proto", attachmentsProto).Services().ByName("MTOMService")
	refs := svc.Methods().ByName("GetAttachmentRefs")
	envelope := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:examples:MTOMService">%s<soapenv:Body><urn:getAttachmentsResponse><attachment1>a</attachment1><attachment2>b</attachment2></urn:getAttachmentsResponse></soapenv:Body></soapenv:Envelope>`
	for name, tc := range map[string]struct {
		body, want string
	}{
		"multipart framing as text/xml": {"--MIME_boundary\nContent-Type: text/xml\n\n" + strings.Replace(envelope, "%s", "", 1) + "\n--MIME_boundary--\n", "did not answer with a SOAP envelope"},
		"text inside the Envelope":      {strings.Replace(envelope, "%s", "stray text", 1), "text in the Envelope outside its Header and Body"},
	} {
		_, a := newCannedBackend(t, cannedWithType("text/xml", tc.body), func(b *adapters.Backend) { b.Name = "mtom" })
		_, err := bindMethod(t, a, refs)(context.Background(), newMessage(t, refs.Input(), `{}`))
		if st, ei := statusOf(t, err); st.Code() != codes.Unavailable || ei.GetReason() != string(adapters.ReasonBackendBadReply) || !strings.Contains(st.Message(), tc.want) {
			t.Errorf("%s: %v %s %q", name, st.Code(), ei.GetReason(), st.Message())
		}
	}
}

// TestMTOMInclude: an MTOM reply (application/xop+xml root, document/literal) refers to its
// parts with xop:Include; a bytes field gets the part's content, and an Include naming no part
// is an error.
func TestMTOMInclude(t *testing.T) {
	t.Parallel()
	svc := prototest.Compile(t, "acme/mtom/v1/mtom.proto", attachmentsProto).Services().ByName("MTOMService")
	content := svc.Methods().ByName("GetAttachmentsLiteral")
	reply := func(href string) string {
		envelope := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:examples:MTOMService" xmlns:xop="http://www.w3.org/2004/08/xop/include"><soapenv:Body>` +
			`<urn:getAttachmentsResponse><attachment1><xop:Include href="` + href + `"/></attachment1><attachment2>AAEC</attachment2></urn:getAttachmentsResponse></soapenv:Body></soapenv:Envelope>`
		return "--B\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\nContent-ID: <root@acme>\r\n\r\n" + envelope +
			"\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <one@acme>\r\n\r\n\x00\xffbinary\r\n--B--\r\n"
	}
	ct := `multipart/related; boundary=B; type="application/xop+xml"; start="<root@acme>"; start-info="text/xml"`
	_, a := newCannedBackend(t, cannedWithType(ct, reply("cid:one@acme")), func(b *adapters.Backend) { b.Name = "mtom" })
	resp, err := bindMethod(t, a, content)(context.Background(), newMessage(t, content.Input(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := protojson.Marshal(resp); strings.ReplaceAll(string(got), " ", "") != `{"attachment1":"AP9iaW5hcnk=","attachment2":"AAEC"}` {
		t.Errorf("got %s", got)
	}
	_, missing := newCannedBackend(t, cannedWithType(ct, reply("cid:two@acme")), func(b *adapters.Backend) { b.Name = "mtom" })
	_, err = bindMethod(t, missing, content)(context.Background(), newMessage(t, content.Input(), `{}`))
	if st, ei := statusOf(t, err); ei.GetReason() != string(adapters.ReasonBackendReplyInvalid) || !strings.Contains(st.Message(), "no attachment cid:two@acme") {
		t.Errorf("an Include naming no part: %v %s %q", st.Code(), ei.GetReason(), st.Message())
	}
}
