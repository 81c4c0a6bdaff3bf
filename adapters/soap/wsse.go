package soap

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // SHA-1 is what the UsernameToken Profile's PasswordDigest is defined with
	"encoding/base64"
	"encoding/xml"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
)

// WS-Security namespaces and token types (OASIS WSS 1.0, Username Token Profile 1.0).
const (
	NamespaceWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NamespaceWSU  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

	wssePasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	wssePasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	wsseBase64Binary   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// wsseTime is the lexical form of Created and Expires: UTC to the second, as the profile's
// examples and node-soap write it.
const wsseTime = "2006-01-02T15:04:05Z"

// securityHeader returns a wsse:Security header for one request: a wsu:Timestamp when the
// config asks for one, then the UsernameToken. Every request gets a fresh nonce and Created,
// so a captured digest cannot be replayed once the backend's window has passed.
func securityHeader(ws *adapters.WSSecurity) ([]byte, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return appendSecurity(nil, ws, time.Now(), nonce), nil
}

// PasswordDigest is the UsernameToken Profile's digest: Base64(SHA-1(nonce + created +
// password)), with the nonce's raw bytes.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New() //nolint:gosec // see the import
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// appendSecurity writes the wsse:Security element for ws at now with nonce; the structure is
// that of node-soap's WSSecurity (corpus s03-wsse-usernametoken-timestamp).
func appendSecurity(dst []byte, ws *adapters.WSSecurity, now time.Time, nonce []byte) []byte {
	created := now.UTC().Format(wsseTime)
	dst = append(dst, `<wsse:Security xmlns:wsse="`+NamespaceWSSE+`" xmlns:wsu="`+NamespaceWSU+`">`...)
	if ws.Timestamp > 0 {
		dst = append(dst, `<wsu:Timestamp wsu:Id="Timestamp-`...)
		dst = append(dst, created...)
		dst = append(dst, `"><wsu:Created>`...)
		dst = append(dst, created...)
		dst = append(dst, `</wsu:Created><wsu:Expires>`...)
		dst = append(dst, now.Add(ws.Timestamp).UTC().Format(wsseTime)...)
		dst = append(dst, `</wsu:Expires></wsu:Timestamp>`...)
	}
	dst = append(dst, `<wsse:UsernameToken wsu:Id="SecurityToken-`...)
	dst = append(dst, created...)
	dst = append(dst, `"><wsse:Username>`...)
	dst = appendEscaped(dst, ws.Username)
	dst = append(dst, `</wsse:Username>`...)
	if ws.Digest {
		dst = append(dst, `<wsse:Password Type="`+wssePasswordDigest+`">`...)
		dst = append(dst, PasswordDigest(nonce, created, ws.Password)...)
		dst = append(dst, `</wsse:Password><wsse:Nonce EncodingType="`+wsseBase64Binary+`">`...)
		dst = append(dst, base64.StdEncoding.EncodeToString(nonce)...)
		dst = append(dst, `</wsse:Nonce>`...)
	} else {
		dst = append(dst, `<wsse:Password Type="`+wssePasswordText+`">`...)
		dst = appendEscaped(dst, ws.Password)
		dst = append(dst, `</wsse:Password>`...)
	}
	dst = append(dst, `<wsu:Created>`...)
	dst = append(dst, created...)
	return append(dst, `</wsu:Created></wsse:UsernameToken></wsse:Security>`...)
}

func appendEscaped(dst []byte, s string) []byte {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return append(dst, b.Bytes()...)
}
