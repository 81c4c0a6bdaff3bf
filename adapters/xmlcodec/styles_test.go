package xmlcodec_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// stylesCodecProto holds the message shapes the SOAP styles add to the codec: a message whose
// only field is its text (a document/literal bare part of a simple type), and header fields.
const stylesCodecProto = `syntax = "proto3";
package agentbridge.dyntest.styles;
import "agentbridge/v1/options.proto";

message Simple {
  string value = 1 [(agentbridge.v1.xml) = {text: true}];
}
message Token {
  string id = 1;
}
message WithHeaders {
  Token token = 1 [(agentbridge.v1.xml) = {header: true name: "Token" namespace: "urn:h"}];
  int32 sequence = 2 [(agentbridge.v1.xml) = {header: true namespace: "urn:h"}];
  string body = 3;
}
`

func stylesCodecMessage(t *testing.T, name protoreflect.Name) protoreflect.MessageDescriptor {
	t.Helper()
	return prototest.Compile(t, "styles.proto", stylesCodecProto).Messages().ByName(name)
}

// TestTextOnlyMessage: a message whose only field is text is written and read as the text of
// its element, with nothing else.
func TestTextOnlyMessage(t *testing.T) {
	t.Parallel()
	md := stylesCodecMessage(t, "Simple")
	p, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("value"), protoreflect.ValueOfString(" a < b "))
	out, err := p.AppendElement(nil, xmlcodec.Name{Space: "urn:x", Local: "BareDocument"}, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<ns0:BareDocument xmlns:ns0="urn:x"> a &lt; b </ns0:BareDocument>`; string(out) != want {
		t.Errorf("wrote %s, want %s", out, want)
	}
	back := dynamicpb.NewMessage(md)
	if err := decode(out, back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, m) {
		t.Errorf("read back %v, want %v", back, m)
	}
	if err := decode([]byte(`<BareDocument>x<extra/></BareDocument>`), dynamicpb.NewMessage(md)); err == nil || !strings.Contains(err.Error(), "element extra") {
		t.Errorf("an element inside the text: %v, want an error naming it", err)
	}
}

// TestHeaderFields: header fields are written by AppendHeaders only, read by Headers only, and
// a header field without presence that the reply lacks is an error.
func TestHeaderFields(t *testing.T) {
	t.Parallel()
	md := stylesCodecMessage(t, "WithHeaders")
	p, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasHeaders() {
		t.Fatal("HasHeaders is false")
	}
	m := dynamicpb.NewMessage(md)
	tok := dynamicpb.NewMessage(md.Fields().ByName("token").Message())
	tok.Set(tok.Descriptor().Fields().ByName("id"), protoreflect.ValueOfString("T"))
	m.Set(md.Fields().ByName("token"), protoreflect.ValueOfMessage(tok))
	m.Set(md.Fields().ByName("sequence"), protoreflect.ValueOfInt32(4))
	m.Set(md.Fields().ByName("body"), protoreflect.ValueOfString("b"))
	body, err := p.AppendElement(nil, xmlcodec.Name{Local: "op"}, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<op><body>b</body></op>`; string(body) != want {
		t.Errorf("body %s, want %s", body, want)
	}
	headers, err := p.AppendHeaders(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<ns0:Token xmlns:ns0="urn:h"><id>T</id></ns0:Token><ns1:sequence xmlns:ns1="urn:h">4</ns1:sequence>`; string(headers) != want {
		t.Errorf("headers %s, want %s", headers, want)
	}

	read := func(blocks string) (proto.Message, error) {
		got := dynamicpb.NewMessage(md)
		h := p.Headers(got)
		d := xmlcodec.NewScanner([]byte("<Header>" + blocks + "</Header>"))
		_, _ = d.Token()
		for {
			tok, err := d.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				ok, err := h.Decode(d, t)
				if err != nil {
					return nil, err
				}
				if !ok {
					_ = xmlcodec.Skip(d)
				}
			case xml.EndElement:
				return got, h.Done()
			}
		}
	}
	got, err := read(`<h:Token xmlns:h="urn:h"><id>T</id></h:Token><other/><h:sequence xmlns:h="urn:h">4</h:sequence>`)
	if err != nil {
		t.Fatal(err)
	}
	m.Clear(md.Fields().ByName("body"))
	if !proto.Equal(got, m) {
		t.Errorf("read %v, want %v", got, m)
	}
	if _, err := read(`<h:Token xmlns:h="urn:h"><id>T</id></h:Token>`); err == nil || !strings.Contains(err.Error(), "sequence: the reply has no such header block") {
		t.Errorf("without the sequence block: %v, want an error naming it", err)
	}
}
