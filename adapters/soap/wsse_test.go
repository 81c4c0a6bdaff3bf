package soap

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // the digest formula under test is SHA-1
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
)

// securityShape reads the wsse:Security element of a document and returns its structure:
// each element's expanded name with its attributes' names, and each text by its element, so
// two headers with different values compare equal when built alike. texts collects the text
// of each element by local name.
func securityShape(t *testing.T, doc []byte) (shape []string, texts map[string]string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	texts = map[string]string{}
	in := false
	var path []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if x.Name.Space == NamespaceWSSE && x.Name.Local == "Security" {
				in = true
			}
			if !in {
				continue
			}
			var attrs []string
			for _, a := range x.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue // where a namespace is declared does not matter
				}
				attrs = append(attrs, a.Name.Space+" "+a.Name.Local+"="+attrValueShape(a.Value))
			}
			slices.Sort(attrs)
			path = append(path, x.Name.Local)
			shape = append(shape, "<"+x.Name.Space+" "+x.Name.Local+" "+strings.Join(attrs, ","))
		case xml.EndElement:
			if !in {
				continue
			}
			shape = append(shape, "</"+x.Name.Local)
			path = path[:len(path)-1]
			if x.Name.Local == "Security" {
				in = false
			}
		case xml.CharData:
			if in && len(path) > 0 {
				texts[strings.Join(path, "/")] = string(x)
			}
		}
	}
	return shape, texts
}

// attrValueShape keeps the values that are part of the structure (token type URIs) and hides
// those that vary per message (Id values).
func attrValueShape(v string) string {
	if strings.HasPrefix(v, "http") {
		return v
	}
	return "*"
}

func TestSecurityHeaderMatchesCorpus(t *testing.T) {
	t.Parallel()
	sample, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "corpus", "soap-messages", "s03-wsse-usernametoken-timestamp", "request.xml"))
	if err != nil {
		t.Fatalf("the shared corpus sample is missing (%v); it is read in place from ../shared/corpus", err)
	}
	want, wantTexts := securityShape(t, sample)
	// The sample's values: node-soap's WSSecurity with basicuser/basicpass at
	// 2014-10-12T01:02:03Z and its default ten-minute Timestamp.
	now := time.Date(2014, 10, 12, 1, 2, 3, 0, time.UTC)
	ours := appendSecurity(nil, &adapters.WSSecurity{Username: "basicuser", Password: "basicpass", Timestamp: 10 * time.Minute}, now, nil)
	got, gotTexts := securityShape(t, ours)
	if !slices.Equal(got, want) {
		t.Fatalf("structure differs from the corpus sample:\n got %q\nwant %q", got, want)
	}
	if !maps.Equal(gotTexts, wantTexts) {
		t.Fatalf("values differ:\n got %v\nwant %v", gotTexts, wantTexts)
	}
}

func TestSecurityHeaderDigest(t *testing.T) {
	t.Parallel()
	nonce := []byte("0123456789abcdef")
	now := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	const created, password = "2026-11-29T20:00:00Z", "pa&ss<word"
	ours := appendSecurity(nil, &adapters.WSSecurity{Username: "svc", Password: password, Digest: true}, now, nonce)
	if bytes.Contains(ours, []byte("pa&amp;ss")) || bytes.Contains(ours, []byte(password)) {
		t.Fatalf("the password crossed the wire with PasswordDigest: %s", ours)
	}
	shape, texts := securityShape(t, ours)
	h := sha1.New() //nolint:gosec // as above
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	for key, want := range map[string]string{
		"Security/UsernameToken/Username": "svc",
		"Security/UsernameToken/Password": base64.StdEncoding.EncodeToString(h.Sum(nil)),
		"Security/UsernameToken/Nonce":    base64.StdEncoding.EncodeToString(nonce),
		"Security/UsernameToken/Created":  created,
	} {
		if texts[key] != want {
			t.Errorf("%s = %q, want %q", key, texts[key], want)
		}
	}
	joined := strings.Join(shape, "\n")
	for _, want := range []string{wssePasswordDigest, "<" + NamespaceWSSE + " Nonce  EncodingType=" + wsseBase64Binary, "<" + NamespaceWSU + " Created"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q in\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "Timestamp") {
		t.Error("a Timestamp without timestamp configured")
	}
	// Two requests never share a nonce.
	a, _ := securityHeader(&adapters.WSSecurity{Username: "svc", Password: password, Digest: true})
	b, _ := securityHeader(&adapters.WSSecurity{Username: "svc", Password: password, Digest: true})
	_, ta := securityShape(t, a)
	_, tb := securityShape(t, b)
	if ta["Security/UsernameToken/Nonce"] == tb["Security/UsernameToken/Nonce"] {
		t.Error("two requests got the same nonce")
	}
}
