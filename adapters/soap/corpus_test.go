package soap_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
)

// readCorpus reads a file of ../shared/corpus/soap-messages in place, skipping the test where
// the corpus is not checked out beside the repository.
func readCorpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../shared/corpus/soap-messages/" + name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("the shared corpus is not checked out beside the repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorpusMagentoMultiCall decodes the corpus's Magento rpc/encoded reply (s07) and compares
// it with node-soap's reading of it (response.json). The values agree; the shapes differ on
// purpose: node-soap keeps each element's xsi:type and arrayType attributes and makes a
// one-item array an object holding its text ("$value": "true"), where the contract types the
// SOAP-encoded array as a repeated bool, so the agent gets [true], the same for one item or
// many.
func TestCorpusMagentoMultiCall(t *testing.T) {
	t.Parallel()
	reply := readCorpus(t, "s07-rpc-encoded-magento-soapenc-array/response.xml")
	var nodeSOAP struct {
		MultiCallReturn struct {
			Item struct {
				Value string `json:"$value"`
			} `json:"item"`
		} `json:"multiCallReturn"`
	}
	if err := json.Unmarshal(readCorpus(t, "s07-rpc-encoded-magento-soapenc-array/response.json"), &nodeSOAP); err != nil {
		t.Fatal(err)
	}
	md := encodedMethod(t, "MultiCall")
	_, a := newRecordingBackend(t, string(reply), nil)
	resp, err := bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := protojson.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var ours struct {
		MultiCallReturn []bool `json:"multiCallReturn"`
	}
	if err := json.Unmarshal(got, &ours); err != nil {
		t.Fatal(err)
	}
	if len(ours.MultiCallReturn) != 1 || nodeSOAP.MultiCallReturn.Item.Value != "true" || !ours.MultiCallReturn[0] {
		t.Errorf("agentbridge %s, node-soap item %q: want the one item true in both", got, nodeSOAP.MultiCallReturn.Item.Value)
	}
}

// emptyResponseProto is the contract of the corpus's s03 WSDL: RequestHeaders takes a Request
// and answers a Response, both elements without content.
const emptyResponseProto = `syntax = "proto3";
package agentbridge.corpustest.v1;
import "agentbridge/v1/options.proto";
service MyService {
  rpc RequestHeaders(Request) returns (Response) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {action: "RequestHeaders" request: {name: "Request" namespace: "http://www.example.com/v1"} response: {name: "Response" namespace: "http://www.example.com/v1"}}};
  }
}
message Request {}
message Response {}
`

// TestCorpusEmptyResponse decodes the corpus's empty Response element (s03). node-soap reads
// it as null (response.json); the contract's Response is a message with no fields, so it reads
// as {}: on purpose, as an element that is there and empty is not a nil one (xsi:nil), which
// is the only thing the codec reads as null.
func TestCorpusEmptyResponse(t *testing.T) {
	t.Parallel()
	reply := readCorpus(t, "s03-wsse-usernametoken-timestamp/response.xml")
	if js := string(readCorpus(t, "s03-wsse-usernametoken-timestamp/response.json")); js != "null" && js != "null\n" {
		t.Fatalf("node-soap's reading changed: %q", js)
	}
	md := prototest.Compile(t, "agentbridge/corpustest/v1/empty.proto", emptyResponseProto).Services().ByName("MyService").Methods().ByName("RequestHeaders")
	_, a := newRecordingBackend(t, string(reply), nil)
	resp, err := bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp, newMessage(t, md.Output(), `{}`); !proto.Equal(got, want) {
		t.Errorf("got %v, want the empty Response", got)
	}
}
